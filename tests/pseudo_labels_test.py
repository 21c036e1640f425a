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

"""The pseudo-label tool and training on its records."""

import json
import os
import subprocess
import sys

from conftest import REPO
import numpy as np
from PIL import Image
import pytest
import tensorflow as tf
import testdata

from revisiting_ssl import datasets
from revisiting_ssl.data_sources import label_subsets
from revisiting_ssl.tools import build_tfrecords
from revisiting_ssl.tools import generate_pseudo_labels as tool
from revisiting_ssl.training import hub_export

CLASSES = ('n01', 'n02', 'n03')


class Brightness(tf.Module):
  """A fixed 'classifier': class = which third of [-1, 1] the mean is in."""

  def serve(self, images, training=False):
    del training
    mean = tf.reduce_mean(images, axis=[1, 2, 3])
    logits = tf.stack([-(mean + 0.66) ** 2, -mean ** 2,
                       -(mean - 0.66) ** 2], axis=1) * 100
    return logits, {'classes': logits, 'pre_logits': logits}


@pytest.fixture(scope='module')
def labelled(tmp_path_factory):
  """Records of dark, grey and bright images, a list, and a module."""
  root = tmp_path_factory.mktemp('pseudo')
  rng = np.random.default_rng(0)
  for split, count in (('train', 6), ('val', 2)):
    for c, name in enumerate(CLASSES):
      folder = root / split / name
      folder.mkdir(parents=True)
      for i in range(count):
        level = 40 + 85 * c
        pixels = rng.integers(level - 20, level + 20, (40, 30, 3))
        Image.fromarray(pixels.astype(np.uint8)).save(
            folder / f'{name}_{split}{i}.JPEG', format='JPEG')
  tfrecords = root / 'tfrecords'
  build_tfrecords.convert(str(root / 'train'), str(root / 'val'),
                          str(tfrecords), train_shards=2,
                          validation_shards=1)
  # The first two images of each class are labelled.
  names = [f'{n}_train{i}.JPEG' for n in CLASSES for i in range(2)]
  label_list = root / 'labels'
  label_subsets.write(str(label_list), names)
  module = hub_export.export_hub_module(
      Brightness().serve, {}, str(root / 'module'), [None, 24, 24, 3])
  return tfrecords, str(label_list), module, set(names)


def _read(path):
  out = []
  for record in tf.data.TFRecordDataset(path):
    f = tf.train.Example.FromString(record.numpy()).features.feature
    out.append({k: (v.int64_list.value or v.float_list.value or
                    v.bytes_list.value) for k, v in f.items()})
  return out


def test_records_keep_true_labels_and_flag_the_labelled(labelled, tmp_path):
  tfrecords, label_list, module, names = labelled
  out = tmp_path / 'out'
  tool.run(hub_module=module, input_glob=str(tfrecords / '*-of-*'),
           output_folder=str(out), labels_file=label_list,
           smaller_size=28, crop_size=24, batch_size=4)
  assert sorted(os.listdir(out)) == sorted(os.listdir(tfrecords))
  flagged = 0
  for shard in sorted(out.glob('train-*')):
    for r in _read(shard):
      name = r['image/filename'][0].decode()
      assert r['image/class/label_flag'][0] == (name in names)
      flagged += r['image/class/label_flag'][0]
      # The classifier gets these easy images right: pseudo = original.
      assert r['image/class/label'][0] == r['image/class/original_label'][0]
      assert len(r['image/class/logits']) == 3
      assert len(r['logit_avg_croprot']) == 3
      assert r['predicted_labels_avg_croprot'][0] in (1, 2, 3)
  assert flagged == len(names)

  # Training reads the true label where the flag is set, the pseudo label
  # elsewhere; evaluation splits the original label.
  data = datasets.get_dataset(
      'tfrecord', str(out), pseudo_label_key='image/class/label',
      original_label_key='image/class/original_label')
  source = datasets.get_dataset('tfrecord', str(tfrecords))
  for split in ('trainval', 'test'):
    ours = sorted(int(label) for batch in data.make(
        split, preprocess_fn=None, batch_size=1, training=False)
                  for label in batch['label'])
    theirs = sorted(int(label) for batch in source.make(
        split, preprocess_fn=None, batch_size=1, training=False)
                    for label in batch['label'])
    assert ours == theirs


def test_pseudo_labels_replace_the_unlabelled_images_labels(labelled,
                                                             tmp_path):
  tfrecords, label_list, _, names = labelled
  # A module that always says class 3: only the labelled keep their label.
  class Always(tf.Module):

    def serve(self, images, training=False):
      del training
      logits = tf.tile(tf.constant([[0.0, 0.0, 5.0]]),
                       [tf.shape(images)[0], 1])
      return logits, {'classes': logits}

  module = hub_export.export_hub_module(
      Always().serve, {}, str(tmp_path / 'always'), [None, 24, 24, 3])
  out = tmp_path / 'out'
  tool.run(hub_module=module, input_glob=str(tfrecords / 'train-*'),
           output_folder=str(out), labels_file=label_list, smaller_size=28,
           crop_size=24, batch_size=5)
  data = datasets.get_dataset(
      'tfrecord', str(out), pseudo_label_key='image/class/label',
      original_label_key='image/class/original_label')
  labels = [int(label) for batch in data.make(
      'trainval', preprocess_fn=None, batch_size=1, training=False)
            for label in batch['label']]
  counts = np.bincount(labels, minlength=3)
  # 2 labelled per class keep theirs; the other 12 are pseudo-labelled 2.
  assert counts.tolist() == [2, 2, 2 + 12]


def test_a_folder_is_marked_complete_only_after_its_last_shard(labelled,
                                                              tmp_path):
  tfrecords, label_list, module, _ = labelled
  out = tmp_path / 'out'
  flags = dict(input_glob=str(tfrecords / '*-of-*'), output_folder=str(out),
               labels_file=label_list, smaller_size=28, crop_size=24,
               batch_size=4)
  tool.run(hub_module=module, **flags)
  assert (out / 'dataset_info.json').exists()

  class FailsOnBrightImages(Brightness):
    """Stops part way: the first shard's dark images pass, bright fail."""

    def serve(self, images, training=False):
      with tf.control_dependencies([tf.debugging.assert_less(
          tf.reduce_mean(images), 0.3, message='a bright image')]):
        return super().serve(tf.identity(images), training)

  failing = hub_export.export_hub_module(
      FailsOnBrightImages().serve, {}, str(tmp_path / 'failing'),
      [None, 24, 24, 3])
  with pytest.raises(tf.errors.InvalidArgumentError, match='a bright image'):
    tool.run(hub_module=failing, **flags)
  # A reader waiting for the info file does not take the half-rewritten
  # folder (nor the earlier run's info) for a finished one.
  assert not (out / 'dataset_info.json').exists()


def test_a_data_set_of_this_project_is_written_as_tfrecords(data_dir,
                                                            tmp_path):
  module = hub_export.export_hub_module(
      Brightness().serve, {}, str(tmp_path / 'module'), [None, 24, 24, 3])
  out = tmp_path / 'out'
  tool.run(hub_module=module, dataset='fashion_mnist', dataset_dir=data_dir,
           output_folder=str(out), smaller_size=28, crop_size=24,
           batch_size=16)
  info = json.loads((out / 'dataset_info.json').read_text())
  assert info['splits']['train']['num_examples'] == testdata.NUM_TRAIN
  assert info['splits']['test']['num_examples'] == testdata.NUM_TEST
  data = datasets.get_dataset(
      'tfrecord', str(out), pseudo_label_key='image/class/label',
      original_label_key='image/class/original_label')
  original = datasets.get_dataset('fashion_mnist', data_dir)
  for split in ('train', 'test'):
    ours = next(iter(data.make(split, preprocess_fn=None, batch_size=8,
                               training=False)))
    theirs = next(iter(original.make(split, preprocess_fn=None,
                                     batch_size=8, training=False)))
    # Stored losslessly (PNG), in the same order.
    np.testing.assert_array_equal(ours['image'], theirs['image'])
  test_labels = [int(x) for b in data.make('test', preprocess_fn=None,
                                           batch_size=8, training=False)
                 for x, m in zip(b['label'], b['mask']) if m]
  assert test_labels == original.example_ids('test')[1].tolist()


@pytest.mark.slow
def test_command_line_errors_are_one_line(tmp_path):
  proc = subprocess.run(
      [sys.executable, str(REPO / 'tools' / 'generate_pseudo_labels.py'),
       '--hub_module', str(tmp_path), '--input_glob',
       str(tmp_path / 'none-*'), '--output_folder', str(tmp_path / 'o')],
      capture_output=True, text=True, timeout=120, check=False,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines()[-1] == (
      f'Error: --input_glob {tmp_path / "none-*"} matches no file.')
