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

Each network's stages are benchmarks/comparison_network.py's `Model`; this
script chooses, runs the final models and writes the report.

Choices are made on seed 0 and the validation split: each row's
pretraining length (in epochs; `ROWS`) by the best end point's validation
top-1, trying lengths from the shortest until one improves on the best so
far by less than `MIN_GAIN` (so a search ends where the probe has stopped
improving, or is flagged in the report when its longest length still won;
longer lengths that the ledger has numbers for are shown, not chosen);
rows that take another row's choice say so. Then the chosen setting is
trained with seeds 0, 1 and 2 (seed 0 reused) and the test split is read
once per final model; seeds 1 and 2 fit the convex probe's L2 strengths
that seed 0 chose on `val`. benchmarks/comparison_results.py writes
`benchmarks/RESULTS.md` (the means, standard deviations and findings of
benchmarks/comparison_report.py, the rows still to run) and the plots of
benchmarks/comparison_plots.py beside it.

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
import os
import sys

import comparison_network
import comparison_report
import comparison_results
import experiment
from experiment import REPO

SEEDS = (0, 1, 2)
# The row table's vocabulary.
Row = comparison_network.Row
PATCH_EVAL = comparison_network.PATCH_EVAL
SUPERVISED = 'config/supervised/fashion_mnist.sh'
ROTATION = 'config/rotation/fashion_mnist.sh'
RELATIVE = 'config/relative_patch_location/fashion_mnist.sh'
SIMCLR_EVAL = 'config/evaluation/simclr_fashion_mnist.sh'
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
    # Its own head's validation top-1 at every checkpoint (each 2 epochs;
    # the last 20 kept) shows whether it plateaued. Seed 0's best end point
    # on val: 90.5 at 16 epochs, 91.4 at 32, 92.1 at 64 (an hour).
    Row('supervised', 'main', SUPERVISED,
        settings=lengths(16, 32, 64, decay=2 / 3),
        flags=('--save_checkpoints_steps', '1563', '--keep_checkpoint_max',
               '20'),
        own_metric='top1_accuracy_logits'),
    Row('rotation', 'main', ROTATION, settings=ROTATION_LENGTHS),
    # The costliest per epoch (about 9 minutes on two shared cores): its
    # lengths stop at 12.8 epochs (about two hours per seed), flagged if
    # still improving there. 6.4 epochs still gained 0.9 points over 3.2.
    Row('exemplar', 'main', 'config/exemplar/fashion_mnist.sh',
        settings=lengths(0.05, 0.2, 0.8, 3.2, 6.4, 12.8, decay=0.8)),
    # Probed at [0, 1], its pretraining's input range; the head's layers
    # are end points too. Its cosine decay needs no --decay_epochs.
    Row('simclr', 'main', 'config/simclr/fashion_mnist.sh', SIMCLR_EVAL,
        settings=tuple({'--epochs': e} for e in ('0.25', '1', '4', '16'))),
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
      val = comparison_network.Model(args, row, setting, 0).probe('val')
      scores[comparison_report.setting_name(setting)] = (setting, val)
      top = max(val.values())
      if best is not None and top < best + MIN_GAIN:
        still_improving = False  # Longer lengths are not trained.
        break
      best = top
    # Longer lengths an earlier run measured anyway: shown, not chosen.
    beyond = {}
    if not still_improving:
      for setting in row.settings[len(scores):]:
        val = comparison_network.Model(args, row, setting, 0).measured('val')
        if val:
          beyond[comparison_report.setting_name(setting)] = (setting, val)
    chosen[row.name] = comparison_report.Selection.best_of(
        scores, still_improving, beyond)
    for setting, _ in [*scores.values(), *beyond.values()]:
      if setting != chosen[row.name].setting:
        comparison_network.Model(args, row, setting, 0).release_features()
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
      model = comparison_network.Model(args, row, chosen[row.name].setting,
                                       seed)
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
          retrained=bool(args.ledger.get(model.key).get('retrained')),
          val_again=model.val_again()))
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
  chosen, results, missing = {}, {}, {}
  for row in ROWS:
    try:
      selection = select(args, [row])
      results.update(finals(args, [row], selection))
      chosen.update(selection)
    except comparison_network.NotDoneError as e:
      print(f'Not in the report: {row.name} ({e} has not run).')
      if row in rows:
        missing[row.name] = str(e)
  # Each reported row's cost in all: every setting its search trained and
  # every seed, from the ledger (so earlier machines' stages count).
  minutes = {row: sum(sum(entry.get('times', {}).values())
                      for key, entry in args.ledger.entries.items()
                      if key.split('/')[0] == comparison_network.slug(row))
                  / 60 for row in results}
  text = comparison_results.write(args.results, chosen, results, minutes,
                                  experiment.versions(), missing)
  print(text)


if __name__ == '__main__':
  main()
