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

"""One network of `benchmarks/fashion_mnist.py`'s comparison and its stages.

A `Row` says how a line of the comparison is trained and probed; a `Model`
is one of its networks (a setting and a seed) and runs each of its stages
once: pretraining and export, the paper's probe on `val` and then on
`test`, a classifier's own head, and the convex probe with its low-shot
subsets and kNN (`tools/convex_probe.py`). What each stage measured goes
to the ledger (`experiment.Ledger`), so that the driver can choose,
resume and report without the stages' directories.
"""

import argparse
import csv
import dataclasses
import fcntl
import json
import os
import shutil
import sys
from typing import Any

import comparison_report
import experiment

# The two probe protocols: whole images, or the patch tasks' nine patches.
IMAGE_EVAL = 'config/evaluation/rotation_or_exemplar_fashion_mnist.sh'
PATCH_EVAL = ('config/evaluation/'
              'jigsaw_or_relative_patch_location_fashion_mnist.sh')
# The convex probe: its low-shot subsets (labelled images per class), and
# how far it solves.
LOW_SHOT = (10, 100)
# The convex probe's L2 path (strong to weak, ten times weaker each step)
# stops at the first strength weaker than the best that scores below it:
# the weakest fits of 50,000 examples take L-BFGS the most iterations.
# Measured on rotation's block1 (4 epochs, seed 0; validation top-1 from
# l2 1e2 to 1e-5: 72.5, 78.4, 83.6, 87.4, 89.2, 89.9, 89.5, 88.5, one
# peak), a second strength below the best (1e-5) took 1,210 of the path's
# 3,045 iterations.
CONVEX_PATIENCE = 1
# L-BFGS's gradient tolerance here (scikit-learn's default). Measured on
# rotation's pre_logits (50,000 examples, l2 1e-2): 182 iterations reach
# 1e-4, 253 more reach 1e-6, and validation top-1 moves by 0.01 points;
# at 4,096 dimensions (block1) an iteration costs about half a second on
# two idle cores, so the tighter tolerance would double the probe's hours.
CONVEX_TOL = 1e-4


@dataclasses.dataclass(frozen=True)
class Row:
  """One line of the comparison: a network, how it is trained and probed.

  Attributes:
    name: the row's label in the tables.
    group: `main`, `width` or `architecture` (what `--rows` selects).
    config: the pretraining script.
    probe: the evaluation script (the image or the patch protocol).
    flags: flags added to every pretraining command of the row.
    settings: pretraining settings searched with seed 0 on `val`, shortest
      first, until one gains less than the driver's `MIN_GAIN` (the best
      trained is chosen; ties go to the cheaper one).
    settings_from: take this row's chosen setting instead of a search; that
      row is run (and reported) with this one, as its reference.
    train: False for a network with its initial weights.
    own_metric: for a classifier, the metric of its own head, evaluated on
      every checkpoint (the plateau) and once on the test split.
  """
  name: str
  group: str
  config: str
  probe: str = IMAGE_EVAL
  flags: tuple[str, ...] = ()
  settings: tuple[dict[str, str], ...] = ({},)
  settings_from: str | None = None
  train: bool = True
  own_metric: str | None = None


def slug(text: str) -> str:
  return ''.join(c if c.isalnum() or c == '.' else '_' for c in text).strip(
      '_')


def last_rows(path: str, key: str) -> dict[tuple[str, str], dict[str, str]]:
  """(row[key], split) -> the last row of a results CSV with that pair."""
  rows = {}
  if os.path.exists(path):
    with open(path) as f:
      for row in csv.DictReader(f):
        rows[row[key], row['split']] = row
  return rows


def feature_sets(probe_dir: str) -> dict[str, str]:
  """Split -> the directory of its stored evaluation-preprocessing set."""
  root = os.path.join(probe_dir, 'features')
  sets = {}
  for name in sorted(os.listdir(root)) if os.path.isdir(root) else ():
    meta = os.path.join(root, name, 'meta.json')
    if os.path.exists(meta):
      with open(meta) as f:
        info = json.load(f)
      if info.get('variant') == 'eval':
        sets[info['split']] = os.path.join(root, name)
  return sets


def _top1(rows: dict[tuple[str, str], dict[str, str]], split: str
          ) -> dict[str, float]:
  """End point -> top-1 (%) on `split`, from `last_rows(..., 'end_point')`."""
  return {e: 100 * float(r['top1_accuracy'])
          for (e, s), r in rows.items() if s == split}


class NotDoneError(Exception):
  """A stage that has not run, met when only reading finished results."""


class Model:
  """One pretrained network (row, setting, seed) and its probes.

  Each stage runs once; its wall time goes to `<directory>/times.json`,
  its numbers and times to the ledger under `key`. With `args.read_only`,
  a stage the ledger does not know raises `NotDoneError` instead.
  """

  def __init__(self, args: argparse.Namespace, row: Row,
               setting: dict[str, str], seed: int):
    self.row = row
    self.seed = seed
    name = comparison_report.setting_name(setting)
    self.directory = os.path.join(args.workdir, slug(row.name),
                                  f'{name}_seed{seed}')
    self.pretrain_dir = os.path.join(self.directory, 'pretrain')
    self.probe_dir = os.path.join(self.directory, 'probe')
    self.convex_path = os.path.join(self.directory, 'convex.json')
    self.log = os.path.join(args.workdir, 'log.txt')
    self.times = experiment.StageTimes(self.directory)
    self.key = os.path.relpath(self.directory, args.workdir)
    self.ledger = args.ledger
    common = ['--nouse_tpu', '--random_seed', str(seed), '--dataset_dir',
              args.dataset_dir]
    flags = [*row.flags, *(x for kv in setting.items() for x in kv)]
    self.pretrain = ['bash', row.config, '--workdir', self.pretrain_dir,
                     *common, '--val_split', 'val', *flags]
    self.convex_l2 = args.convex_l2
    self.read_only = args.read_only

    def probe(module):
      return ['bash', row.probe, '--workdir', self.probe_dir, '--hub_module',
              module, '--linear_eval_mode', 'cached', *common,
              '--train_split', 'train', '--val_split', 'val']
    self._probe = probe

  def made_by(self) -> list[str]:
    """The command that makes the network: training, or only exporting."""
    return self.pretrain + ([] if self.row.train else ['--export_only'])

  def _stage(self, name: str, cmd: list[str]) -> None:
    if self.read_only:
      raise NotDoneError(f'{self.key}: {name}')
    self.times.run(name, cmd, self.log)

  def seconds(self) -> dict[str, float]:
    """Stage -> wall seconds: the ledger's, updated by the directory's."""
    return self.ledger.seconds(self.key, self.times)

  def _known(self, field: str) -> Any:
    return self.ledger.get(self.key).get(field)

  def _keep(self, field: str, value: Any) -> Any:
    self.ledger.put(self.key, times=self.seconds(), **{field: value})
    return value

  def module(self) -> str:
    """Pretrains (once) and exports; returns the module probed.

    The first export is the one probed, always: a later `--run_eval`
    exports the same weights again under a new name, and features are
    stored under the module's name.
    """
    pinned = os.path.join(self.directory, 'module.txt')
    if os.path.exists(pinned):
      with open(pinned) as f:
        return f.read().strip()
    base = os.path.join(self.pretrain_dir, 'export', 'hub')
    if self.row.train:
      self.pretrained()
    if not os.path.isdir(base):
      self._stage('export', self.pretrain + ['--export_only'])
    stamps = sorted(int(d) for d in os.listdir(base) if d.isdigit())
    module = os.path.join(base, str(stamps[-1]), 'module')
    with open(pinned, 'w') as f:
      f.write(module)
    return module

  def pretrained(self) -> str:
    """Pretrains (once); returns the workdir with the network's checkpoints.

    Other benchmarks start from it too (SimCLRv2's fine-tuning in
    benchmarks/s4l_fashion_mnist.py), so one network serves every protocol.
    """
    os.makedirs(self.directory, exist_ok=True)
    with open(os.path.join(self.directory, 'pretrain.lock'), 'a') as lock:
      # Drivers running side by side may want the same network: the second
      # waits for the first's (released when the file closes).
      fcntl.flock(lock, fcntl.LOCK_EX)
      if not os.path.exists(os.path.join(self.pretrain_dir,
                                         'TRAINING_IS_DONE')):
        # Numbers in the ledger without the network: it went with its
        # machine, and this one (same seed) serves the stages still to run.
        retrained = bool(self.ledger.get(self.key))
        if retrained and not self.read_only:
          self.times.keep_lost(self._known('times') or {}, 'pretrain')
        self._stage('pretrain', self.pretrain)
        self.ledger.put(self.key, times=self.seconds(),
                        **({'retrained': True} if retrained else {}))
    return self.pretrain_dir

  def own_accuracy(self) -> dict[str, Any] | None:
    """A classifier's own head: top-1 per checkpoint on `val`, then test."""
    metric = self.row.own_metric
    if metric is None:
      return None
    if self._known('own'):
      return self._known('own')
    results = os.path.join(self.pretrain_dir, 'eval_results.csv')
    if ('test', 'test') not in last_rows(results, 'split'):
      self.module()
      # Every checkpoint (the curve), each exported again: all kept, the
      # probed one too.
      self._stage('own_eval', self.pretrain + [
          '--run_eval', '--eval_every_checkpoint', '--eval_timeout_secs',
          '1', '--test_split', 'test', '--keep_exports', '100'])
    with open(results) as f:
      rows = list(csv.DictReader(f))
    return self._keep('own', {
        'test': 100 * float(last_rows(results, 'split')['test', 'test'][
            metric]),
        'val_curve': [(int(r['step']), 100 * float(r[metric]))
                      for r in rows if r['split'] == 'val']})

  def measured(self, split: str) -> dict[str, float] | None:
    """The paper's probe's top-1 on `split` if the ledger has it; no stage."""
    return (self._known('probe') or {}).get(split)

  def probe(self, split: str) -> dict[str, float]:
    """End point -> the paper's probe's top-1 (%) on `val` or `test`."""
    known = self._known('probe') or {}
    if split in known:
      return known[split]
    results = os.path.join(self.probe_dir, 'linear_eval_results.csv')
    rows = last_rows(results, 'end_point')
    if not any(s == split for _, s in rows):
      command = self._probe(self.module())
      if split == 'val' or not any(s == 'val' for _, s in rows):
        # The test read evaluates trained heads: a network trained again
        # (its probe went with the first) has to train them first.
        self._train_heads(command)
      if split == 'test':  # The trained heads, read once.
        self._stage('probe_test', command + ['--run_eval', '--val_split',
                                             'test'])
      rows = last_rows(results, 'end_point')
    values = _top1(rows, split)
    self._keep('probe', {**known, split: values})
    return values

  def _train_heads(self, command: list[str]) -> None:
    """The paper's probe trained (features stored) and scored on `val`.

    For a network trained again, the ledger's `val` numbers stay the
    first network's (the search and the end point were chosen on them);
    this one's go beside them as `val_again`, which shows how far two
    trainings of one seed differ.
    """
    self._stage('probe', command)
    if self._known('retrained') and self.measured('val'):
      results = os.path.join(self.probe_dir, 'linear_eval_results.csv')
      self._keep('val_again', _top1(last_rows(results, 'end_point'), 'val'))

  def val_again(self) -> dict[str, float] | None:
    """The network trained again's `val` top-1 (`_train_heads`), if any."""
    return self._known('val_again')

  def release_features(self) -> None:
    """Deletes the stored features: no stage still to run reads them.

    What was measured on them is in the ledger; a stage that needs them
    after all (a lost convex result) stores them again (`_feature_sets`).
    """
    if not self.read_only:
      shutil.rmtree(os.path.join(self.probe_dir, 'features'),
                    ignore_errors=True)

  def _feature_sets(self) -> dict[str, str]:
    """Split -> stored features, probing again if they went (retrained)."""
    sets = feature_sets(self.probe_dir)
    if {'train', 'val', 'test'} - set(sets):
      command = self._probe(self.module())
      self._train_heads(command)
      self._stage('probe_test', command + ['--run_eval', '--val_split',
                                           'test'])
      sets = feature_sets(self.probe_dir)
    return sets

  def convex(self, best: str, reuse: dict[str, dict[str, dict]] | None
             ) -> dict[str, dict[str, dict]]:
    """The convex probe's results on `best` and pre_logits (once).

    Args:
      best: the best end point on `val` (the paper's probe).
      reuse: seed 0's results, whose L2 strengths (chosen on `val`) are
        fitted instead of a path, for the end points they cover; None: the
        path.

    Returns:
      `tools/convex_probe.py --json`'s results.
    """
    if self._known('convex'):
      return self._known('convex')
    if not os.path.exists(self.convex_path):
      self.probe('test')  # Stores the test features too.
      sets = self._feature_sets()
      end_points = sorted({best, 'pre_logits'})
      command = [sys.executable, 'tools/convex_probe.py',
                 '--train', sets['train'], '--val', sets['val'], '--test',
                 sets['test'], '--end_points', ','.join(end_points),
                 '--labels_per_class',
                 ','.join([*map(str, LOW_SHOT), 'all']),
                 '--label_subset_seed', str(self.seed), '--json',
                 self.convex_path, '--l2_patience', str(CONVEX_PATIENCE),
                 '--tol', f'{CONVEX_TOL:g}']
      if self.convex_l2:
        command += ['--l2', self.convex_l2]
      if reuse:
        # Written from the ledger: seed 0's own file may have gone with
        # its machine.
        chosen = os.path.join(self.directory, 'convex_l2_from.json')
        with open(chosen, 'w') as f:
          json.dump(reuse, f, indent=2)
        command += ['--l2_from', chosen]
      self._stage('convex', command)
    with open(self.convex_path) as f:
      return self._keep('convex', json.load(f))
