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

r"""The paper's comparison of methods, layers, widths and networks, small.

Every row is a network pretrained on Fashion-MNIST's first 50,000 training
images (`train`) with its `config/<task>/fashion_mnist.sh`, exported, and
probed on every end point:

1. the paper's probe (`config/evaluation/*_fashion_mnist.sh`, SGD on
   cached features), trained on `train`, read on `val` (the last 10,000
   training images);
2. for final models only, the same heads read once on `test`, and, for
   the main rows (`CONVEX_GROUPS`), the exact convex probe
   (`tools/convex_probe.py`: logistic regression solved by L-BFGS, L2
   strength chosen on `val`) with its low-shot subsets (10 and 100 images
   per class, S4L's sampler) and kNN, on the best end point (the paper's
   probe's choice on `val`) and `pre_logits`.

Choices are made on seed 0 and the validation split: each row's
pretraining length (in epochs; `ROWS`) by the best end point's validation
top-1, trying lengths from the shortest until one improves on the best so
far by less than `MIN_GAIN` (so a search ends where the probe has stopped
improving, or is flagged in the report when its longest length still won);
rows that take another row's choice say so. Then the chosen setting is
trained with seeds 0, 1 and 2 (seed 0 reused) and the test split is read
once per final model; seeds 1 and 2 fit the convex probe's L2 strengths
that seed 0 chose on `val`. benchmarks/comparison_report.py writes
`benchmarks/RESULTS.md` (means, standard deviations, the findings) and its
plots beside it.

Run by hand; stages are resumable (a second run reuses every finished
stage), and `--rows` runs a part. What each finished stage measured goes at
once to `benchmarks/fashion_mnist_ledger.json` (commit it), so that a run
resumes on a machine without the old --workdir; a network lost before all
its stages ran (its stored features, its checkpoints) is trained again with
the same seed, and the report names it. A network's stored features (about
2.5 GB at width 1, the bulk of the disk it takes) are deleted once its last
stage that reads them has run: a setting not chosen after its row's
search, a final model after its test probe and convex probe.

  .venv/bin/pip install -e '.[bench,probe]'   # matplotlib, scikit-learn
  .venv/bin/python benchmarks/fashion_mnist.py --rows main
"""

import argparse
import csv
import dataclasses
import json
import os
import shutil
import sys
from typing import Any

import comparison_report
import experiment
from experiment import REPO

SEEDS = (0, 1, 2)
IMAGE_EVAL = 'config/evaluation/rotation_or_exemplar_fashion_mnist.sh'
PATCH_EVAL = ('config/evaluation/'
              'jigsaw_or_relative_patch_location_fashion_mnist.sh')
SUPERVISED = 'config/supervised/fashion_mnist.sh'
ROTATION = 'config/rotation/fashion_mnist.sh'
RELATIVE = 'config/relative_patch_location/fashion_mnist.sh'
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
# The convex probe runs on the main rows (the methods, their references):
# the widths and networks are compared with the paper's probe at every end
# point, and filters_factor 4's block1 is too big for it (16,384
# dimensions: the probe's copies of `train` would take about 16 GB of this
# machine's 24).
CONVEX_GROUPS = ('main',)
# A longer pretraining length counts as an improvement only when its best
# end point gains at least this much validation top-1 (points) over the
# best so far: about the spread of one probe's top-1 between seeds, and a
# doubling of rotation's length that gains less costs as much as all the
# shorter lengths together.
MIN_GAIN = 0.25


def lengths(*epochs: float, decay: float) -> tuple[dict[str, str], ...]:
  """Settings that train for each length, decaying at the same fraction."""
  return tuple({'--epochs': f'{e:g}', '--decay_epochs': f'{e * decay:g}'}
               for e in epochs)


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
      first, until one gains less than `MIN_GAIN` (the best trained is
      chosen; ties go to the cheaper one).
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


# Lengths double (or quadruple) so that the longest trained costs about as
# much as the rest together; the search stops at the first that does not
# improve enough, so the longer ones are only an upper bound.
# `comparison_sizing.py` measures what a row's lengths will cost.
ROTATION_LENGTHS = lengths(0.25, 0.5, 1, 2, 4, 8, 16, decay=5 / 6)
PATCH_LENGTHS = lengths(0.25, 1, 4, decay=0.8)
# Width and network are compared at one common length, shorter than the
# main rotation row's: rotation at filters_factor 4 costs about 5 times as
# much per epoch as at 1 (benchmarks/comparison_sizing.py), and the paper
# compares them at equal epochs too. The reference is rotation at width 1
# and that same length.
WIDE_REFERENCE = comparison_report.WIDTHS[0]
ROWS = (
    Row('random init', 'main', ROTATION, train=False),
    # The patch tasks are probed on patches; their reference is the patch
    # network with random weights under that same protocol.
    Row('random init (patches)', 'main', RELATIVE, PATCH_EVAL, train=False),
    # One length: its own head's validation top-1 at every checkpoint (each
    # 2 epochs, all kept) shows whether it plateaued, at a third of the cost
    # of a search over lengths.
    Row('supervised', 'main', SUPERVISED, settings=lengths(16, decay=2 / 3),
        flags=('--save_checkpoints_steps', '1563', '--keep_checkpoint_max',
               '20'),
        own_metric='top1_accuracy_logits'),
    Row('rotation', 'main', ROTATION, settings=ROTATION_LENGTHS),
    # The costliest per epoch (about 9 minutes on two shared cores): its
    # lengths stop at 12.8 epochs (about two hours per seed), flagged if
    # still improving there. 6.4 epochs still gained 0.9 points over 3.2.
    Row('exemplar', 'main', 'config/exemplar/fashion_mnist.sh',
        settings=lengths(0.05, 0.2, 0.8, 3.2, 6.4, 12.8, decay=0.8)),
    Row('relative patch location', 'main', RELATIVE, PATCH_EVAL,
        settings=PATCH_LENGTHS),
    Row('jigsaw', 'main', 'config/jigsaw/fashion_mnist.sh', PATCH_EVAL,
        settings=PATCH_LENGTHS),
    Row(WIDE_REFERENCE, 'width', ROTATION, settings=lengths(1, decay=5 / 6)),
    Row('rotation (filters_factor 2)', 'width', ROTATION,
        flags=('--filters_factor', '2'), settings_from=WIDE_REFERENCE),
    Row('rotation (filters_factor 4)', 'width', ROTATION,
        flags=('--filters_factor', '4'), settings_from=WIDE_REFERENCE),
    Row('rotation (revnet50)', 'architecture', ROTATION,
        flags=('--architecture', 'revnet50'), settings_from=WIDE_REFERENCE),
    Row('rotation (vgg19)', 'architecture', ROTATION,
        flags=('--architecture', 'vgg19'), settings_from=WIDE_REFERENCE),
)
GROUPS = ('main', 'width', 'architecture')


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
      raise NotDoneError(f'{self.directory}: {name}')
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
    if self.row.train and not os.path.exists(
        os.path.join(self.pretrain_dir, 'TRAINING_IS_DONE')):
      # Numbers in the ledger without the network: it went with its
      # machine, and this one (same seed) serves the stages still to run.
      retrained = bool(self.ledger.get(self.key))
      self._stage('pretrain', self.pretrain)
      if retrained:
        self.ledger.put(self.key, retrained=True)
    if not os.path.isdir(base):
      self._stage('export', self.pretrain + ['--export_only'])
    stamps = sorted(int(d) for d in os.listdir(base) if d.isdigit())
    module = os.path.join(base, str(stamps[-1]), 'module')
    with open(pinned, 'w') as f:
      f.write(module)
    return module

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
      # Every checkpoint is exported again: all kept, the probed one too.
      self._stage('own_eval', self.pretrain + [
          '--run_eval', '--eval_timeout_secs', '1', '--test_split', 'test',
          '--keep_exports', '100'])
    with open(results) as f:
      rows = list(csv.DictReader(f))
    return self._keep('own', {
        'test': 100 * float(last_rows(results, 'split')['test', 'test'][
            metric]),
        'val_curve': [(int(r['step']), 100 * float(r[metric]))
                      for r in rows if r['split'] == 'val']})

  def probe(self, split: str) -> dict[str, float]:
    """End point -> the paper's probe's top-1 (%) on `val` or `test`."""
    known = self._known('probe') or {}
    if split in known:
      return known[split]
    results = os.path.join(self.probe_dir, 'linear_eval_results.csv')
    rows = last_rows(results, 'end_point')
    if not any(s == split for _, s in rows):
      command = self._probe(self.module())
      if split == 'val':
        self._stage('probe', command)
      else:  # The trained heads, read once on the test split.
        self._stage('probe_test', command + ['--run_eval', '--val_split',
                                             'test'])
      rows = last_rows(results, 'end_point')
    values = {e: 100 * float(r['top1_accuracy'])
              for (e, s), r in rows.items() if s == split}
    self._keep('probe', {**known, split: values})
    return values

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
      self._stage('probe', command)
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


def select(args: argparse.Namespace, rows: list[Row]
           ) -> dict[str, comparison_report.Selection]:
  """Each row's setting, chosen with seed 0 on the validation split."""
  chosen = {}
  for row in rows:
    if row.settings_from:
      source = chosen.get(row.settings_from)
      if source is None:
        source = select(args, [r for r in ROWS
                               if r.name == row.settings_from])[
                                   row.settings_from]
      chosen[row.name] = comparison_report.Selection(
          {}, source.setting, row.settings_from)
      continue
    scores, best, still_improving = {}, None, True
    for setting in row.settings:
      val = Model(args, row, setting, 0).probe('val')
      scores[comparison_report.setting_name(setting)] = (setting, val)
      top = max(val.values())
      if best is not None and top < best + MIN_GAIN:
        still_improving = False  # Longer lengths are not trained.
        break
      best = top
    chosen[row.name] = comparison_report.Selection.best_of(
        scores, still_improving)
    for setting, _ in scores.values():
      if setting != chosen[row.name].setting:
        Model(args, row, setting, 0).release_features()
  return chosen


def finals(args: argparse.Namespace, rows: list[Row],
           chosen: dict[str, comparison_report.Selection]
           ) -> dict[str, list[comparison_report.Final]]:
  """Seeds 0, 1, 2 of each row's chosen setting, read on the test split.

  Each model runs all its stages before the next starts, so that its
  stored features can go: besides the seed-0 models the searches chose,
  at most one final model's are on disk (kept, the main rows' 21 would
  take about 50 GB). A row outside `CONVEX_GROUPS` has no
  convex probe; seeds 1 and 2 fit the L2 strengths seed 0 chose.
  """
  results = {}
  for row in rows:
    results[row.name] = []
    for seed in SEEDS:
      model = Model(args, row, chosen[row.name].setting, seed)
      val = model.probe('val')
      best = max(val, key=val.get)
      test = model.probe('test')
      convex = {}
      if row.group in CONVEX_GROUPS:
        convex = model.convex(best, results[row.name][0].convex
                              if results[row.name] else None)
      model.release_features()
      results[row.name].append(comparison_report.Final(
          seed=seed, val=val, test=test, best=best,
          convex=convex,
          own=model.own_accuracy(),
          minutes=model.seconds(), commands=[' '.join(model.made_by())],
          retrained=bool(args.ledger.get(model.key).get('retrained'))))
  return results


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir',
                      default=os.path.join(REPO, 'workdirs', 'comparison'))
  parser.add_argument('--dataset_dir',
                      default='/usr/share/datasets/fashion-mnist')
  parser.add_argument('--rows', default=','.join(GROUPS),
                      help='comma-separated groups (main, width, '
                      'architecture) or row names; the report covers every '
                      'row whose stages are done')
  parser.add_argument('--convex_l2', default='',
                      help='L2 strengths for the convex probe (default: '
                      'its own grid)')
  parser.add_argument('--results',
                      default=os.path.join(REPO, 'benchmarks', 'RESULTS.md'))
  parser.add_argument('--report_only', action='store_true',
                      help='run no stage: write the report of the rows '
                      'done so far')
  experiment.Ledger.add_flag(parser, 'fashion_mnist')
  args = parser.parse_args()
  wanted = set(args.rows.split(','))
  unknown = wanted - set(GROUPS) - {r.name for r in ROWS}
  if unknown:
    sys.exit(f'--rows: unknown {sorted(unknown)}; valid: groups '
             f'{list(GROUPS)} or rows {[r.name for r in ROWS]}.')
  rows = [r for r in ROWS if r.group in wanted or r.name in wanted]
  # A row whose setting another takes is that row's reference: run with it.
  sources = {r.settings_from for r in rows}
  rows = [r for r in ROWS if r in rows or r.name in sources]
  os.makedirs(args.workdir, exist_ok=True)
  args.ledger = experiment.Ledger(args.ledger)
  args.read_only = False
  if not args.report_only:
    finals(args, rows, select(args, rows))
  # The report: every row whose stages are all done, this run's or not.
  args.read_only = True
  chosen, results = {}, {}
  for row in ROWS:
    try:
      selection = select(args, [row])
      results.update(finals(args, [row], selection))
      chosen.update(selection)
    except NotDoneError as e:
      print(f'Not in the report: {row.name} ({e} has not run).')
  reported = {slug(row) for row in results}
  total = sum(sum(entry.get('times', {}).values())
              for key, entry in args.ledger.entries.items()
              if key.split('/')[0] in reported) / 60
  text = comparison_report.write(args.results, chosen, results, total,
                                 experiment.versions())
  print(text)


if __name__ == '__main__':
  main()
