# Copyright 2026 The Revisiting Self-Supervised TF2 Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Exports and feature sets on a store without atomic directory rename.

`ObjectStore` gives the file operations the code uses the semantics of
GCS: one object appears whole or not at all, but renaming a directory
copies and then deletes its objects one by one, deleting a tree deletes
object after object, and a SavedModel is uploaded file by file. Each
object operation counts, and the process "dies" (`KilledError`) after a seeded
number of them, so kills land at every stage of an export.
"""

import os
import random
import shutil

from hub_export_test import make_net  # A sibling test module.
import numpy as np
import pytest
import tensorflow as tf

from revisiting_ssl import utils
from revisiting_ssl.probes import feature_store, module_features
from revisiting_ssl.training import committed_dirs, hub_export


class KilledError(Exception):
  """The process died at this object operation."""


class ObjectStore:
  """Patches tf.io.gfile and tf.saved_model.save with GCS-like semantics."""

  def __init__(self, monkeypatch, kill_after=None):
    self.ops = 0
    self.kill_after = kill_after
    self.directory_renames = []
    self.committed_at = None
    self._save = tf.saved_model.save
    self._write = committed_dirs._write  # pylint: disable=protected-access
    monkeypatch.setattr(tf.io.gfile, 'rename', self.rename)
    monkeypatch.setattr(tf.io.gfile, 'rmtree', self.rmtree)
    monkeypatch.setattr(tf.io.gfile, 'remove', self.remove)
    monkeypatch.setattr(tf.saved_model, 'save', self.save_model)
    monkeypatch.setattr(committed_dirs, '_write', self.write_marker)

  def tick(self):
    self.ops += 1
    if self.kill_after is not None and self.ops > self.kill_after:
      raise KilledError(f'killed at object operation {self.ops}')

  def _files(self, root):
    return sorted(os.path.join(d, f) for d, _, files in os.walk(root)
                  for f in files)

  def rename(self, src, dst, overwrite=False):
    if not os.path.isdir(src):
      self.tick()
      if os.path.exists(dst) and not overwrite:
        raise tf.errors.AlreadyExistsError(None, None, dst)
      os.replace(src, dst)
      return
    self.directory_renames.append((src, dst))
    for path in self._files(src):
      target = os.path.join(dst, os.path.relpath(path, src))
      os.makedirs(os.path.dirname(target), exist_ok=True)
      self.tick()
      shutil.copyfile(path, target)
    self.rmtree(src)

  def rmtree(self, path):
    for name in self._files(path):
      self.tick()
      os.remove(name)
    shutil.rmtree(path, ignore_errors=True)

  def remove(self, path):
    self.tick()
    os.remove(path)

  def write_marker(self, path, text):
    self.tick()
    if path.endswith(committed_dirs.COMPLETE):
      self.committed_at = self.ops
    self._write(path, text)

  def save_model(self, obj, export_dir, signatures=None, **kwargs):
    staging = export_dir.rstrip('/') + '.staging'
    self._save(obj, staging, signatures=signatures, **kwargs)
    try:
      for path in self._files(staging):
        target = os.path.join(export_dir, os.path.relpath(path, staging))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        self.tick()
        shutil.copyfile(path, target)
    finally:
      shutil.rmtree(staging)


def test_the_double_renames_a_directory_object_by_object(tmp_path,
                                                         monkeypatch):
  """What an export renamed into place would meet: half a directory."""
  src = tmp_path / 'src'
  src.mkdir()
  for name in 'abc':
    (src / name).write_text(name)
  store = ObjectStore(monkeypatch, kill_after=1)
  with pytest.raises(KilledError):
    tf.io.gfile.rename(str(src), str(tmp_path / 'dst'))
  assert os.listdir(tmp_path / 'dst') == ['a']
  assert store.directory_renames


def check_listed(workdir):
  """Every listed export loads and runs; returns their paths."""
  listed = hub_export.list_exports(workdir)
  for path in listed:
    module = module_features.FrozenModule(path, 'representation')
    assert module(tf.zeros([1, 8, 8, 3]))['pre_logits'].shape == [1, 4]
  return listed


def stamp_dirs(workdir):
  base = os.path.join(workdir, 'export', 'hub')
  return sorted(os.path.join(base, d) for d in os.listdir(base))


def test_exports_killed_at_seeded_object_operations(tmp_path, monkeypatch):
  net = make_net()
  clock = iter(range(100, 200))
  monkeypatch.setattr(hub_export, '_timestamp', lambda: next(clock))

  def export(workdir):
    return hub_export.export_for_checkpoint(net, {'net': net}, workdir,
                                            [None, 8, 8, 3], keep=1)

  # How many object operations one export over an older one takes.
  counting = str(tmp_path / 'counting')
  export(counting)
  with monkeypatch.context() as patch:
    store = ObjectStore(patch)
    export(counting)
  total, committed_at = store.ops, store.committed_at
  assert not store.directory_renames
  seed = 20261206
  rng = random.Random(seed)
  # The first and last operations, and a few in between (inside the
  # module's upload and the old export's removal).
  kills = sorted({0, total - 1, *rng.sample(range(1, total - 1), 2)})
  for kill_after in kills:
    context = f'seed {seed}, killed after {kill_after} of {total}'
    workdir = str(tmp_path / f'killed_{kill_after}')
    (first,) = [export(workdir)]
    with monkeypatch.context() as patch:
      store = ObjectStore(patch, kill_after=kill_after)
      with pytest.raises(KilledError):
        export(workdir)
    assert store.ops == kill_after + 1, context
    listed = check_listed(workdir)
    # The old export goes only after the new one is committed.
    assert listed, context
    new_dir = stamp_dirs(workdir)[-1]
    if kill_after + 1 <= committed_at:
      # KilledError before its commit: the new export is never used.
      assert listed == [first], context
      assert new_dir != os.path.dirname(first), context
      if committed_dirs.is_uncommitted(new_dir):
        with pytest.raises(utils.UsageError, match='never completed'):
          module_features.load_module(os.path.join(new_dir, 'module'),
                                      'representation')
    else:
      # KilledError while removing the old one: the new one is listed.
      assert listed[-1] == os.path.join(new_dir, 'module'), context
    # The next export cleans up what the killed one left.
    newest = export(workdir)
    assert check_listed(workdir) == [newest], context
    assert stamp_dirs(workdir) == [os.path.dirname(newest)], context


def test_a_feature_set_removed_half_way_is_not_complete(tmp_path,
                                                        monkeypatch):
  directory = str(tmp_path / 'set')
  writer = feature_store.ShardWriter(directory, 72 * 3)
  for begin in range(0, 8, 4):
    writer.write({'a': np.ones([4, 3], np.float32)},
                 np.arange(begin, begin + 4, dtype=np.int32))
  writer.finish({})
  assert feature_store.load(directory) is not None
  # Recomputed (another format, say): the removal dies after one object.
  with monkeypatch.context() as patch:
    ObjectStore(patch, kill_after=1)
    with pytest.raises(KilledError):
      feature_store.ShardWriter(directory, 72 * 3)
  assert os.listdir(directory)  # Shards are left, but not the marker.
  assert feature_store.load(directory) is None
