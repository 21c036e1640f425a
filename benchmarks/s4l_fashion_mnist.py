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

r"""S4L's comparison at Fashion-MNIST scale: few labels, many images.

At 1% and 10% of the labels of the 50,000 training images (50 and 500 per
class, drawn by the class-balanced sampler), trains every row of the S4L
README's table (the supervised baseline, S4L-Rotation, S4L-Exemplar and
its variant with the exemplar crops on the labelled images, pseudo-labels,
VAT, VAT + EntMin, MOAM steps 1, 2 and 3) and SimCLRv2's recipe
(fine-tune, fine-tune + distil) with its `config/s4l_fashion_mnist/*.sh`
script and measures top-1 accuracy of the class head:

1. Selection (`s4l_search`): the learning rate of each method and
   fraction among its rates (`s4l_stages.Method.lrs`, seed 0), measured on
   the validation split (the last 10,000 of the 60,000 training images,
   which no run trains on, labelled or not), then at the best so far VAT's
   perturbation norm, the training length, and the baseline's weight
   decay; the methods of `s4l_search.LR_FROM` take their relative's choice
   (MOAM step 1 at the original's ratio to S4L-Rotation's rate),
   SimCLRv2's fine-tuning at 10% takes its 1% rate.
2. Finals: the choice with seeds 0, 1, 2 (the seed draws the labelled
   subset too, so the spread includes the subset's), each read once on the
   test split (`--run_eval --test_split test`). MOAM step 2 trains on the
   labels the step 1 model of the same seed gives, step 3 fine-tunes the
   step 2 model of the same seed.
3. Controls (seed 0, validation; run before the finals): at 10%, MOAM
   step 1's trained weights beside its Polyak averages, its task with
   S4L-Rotation's loss beside S4L-Rotation, VAT at weight 0 beside the
   baseline; at 1%, the baseline with a stem for 32-pixel images (root
   convolution at stride 1) beside the baseline at the same rate and
   length, and the baseline's choice with a plain six-convolution network
   (`plain_cnn.py`) beside the baseline (`controls`).

It writes `benchmarks/S4L_RESULTS.md` with the tables, the test of the
paper's claim (S4L-Rotation beats the supervised baseline on the same labels
by more than the seeds' spread), the controls, the rows before the configs
took the original's ratios (from the ledger's old keys), the commands and
the wall time of every stage. Run by hand (several hours on two CPU
cores); finished stages are reused when it is run again: their numbers
are kept in `benchmarks/s4l_fashion_mnist_ledger.json` (commit it), so that
the benchmark resumes even on a machine without the old --workdir. The models
themselves are not kept: one lost between its validation and its test read
(or a model that pseudo-labels or a fine-tuning still need) is trained
again with the same seed and labelled subset, and the report names it.

  .venv/bin/python benchmarks/s4l_fashion_mnist.py

SimCLRv2's rows fine-tune the SimCLR networks of benchmarks/fashion_mnist.py
(its `simclr` row's chosen length, seeds 0 to 2, in its --workdir, given
here as --comparison_workdir; trained there when missing): run
`benchmarks/fashion_mnist.py --rows simclr` first.

The fractions are independent (but for SimCLRv2's 1% rate, which 10%
takes), so two drivers may share the work and the ledger (each its own
--workdir), then one more run writes the report from the ledger alone:

  .venv/bin/python benchmarks/s4l_fashion_mnist.py --fractions 1p \
      --workdir workdirs/s4l_1p --results /tmp/S4L_1p.md &
  .venv/bin/python benchmarks/s4l_fashion_mnist.py --fractions 10p \
      --workdir workdirs/s4l_10p --results /tmp/S4L_10p.md
  .venv/bin/python benchmarks/s4l_fashion_mnist.py --report_only

The page has every method whose stages the ledger holds, whichever run
measured them, and names each row still missing with the first stage it
lacks; `--report_only` writes it without training anything.
"""

import argparse
import os
import re
import sys

import comparison_network
import experiment
from experiment import REPO
import fashion_mnist
import s4l_report
import s4l_search
from s4l_search import choose, needed
import s4l_stages
from s4l_stages import (
  DISTIL,
  FINETUNE,
  FRACTIONS,
  METHODS,
  MOAM_1,
  SEEDS,
  SIMCLR_ROW,
  Stage,
  chosen_stage,
  config_value,
)

# The methods' controls run on the 10% subset, where the gaps they check
# were seen; the baseline's on the 1%, where it stayed furthest below a
# plain six-layer CNN (83.6% with 60 labels per class).
CONTROL_FRACTION = '10p'
STEM_FRACTION = '1p'
# The architecture control's network, plain_cnn.py of this folder (the
# PYTHONPATH of its command).
PLAIN_CNN = (('import', 'plain_cnn'), ('architecture', 'plain_cnn'))


def controls(args, wanted, stages, fractions):
  """Checks of the code paths behind the gaps (seed 0, validation split).

  Each is a stage (or an evaluation) compared with the stage it should
  match. At 10%: MOAM step 1's trained weights against its Polyak
  averages; its task (rotation_vat) without VAT and EntMin and weighted so
  that its loss is S4L-Rotation's halved (sup_weight 0.5; twice the rate
  and half the weight decay give S4L-Rotation's updates, at its batch and
  schedule; its trained weights are read) against S4L-Rotation; VAT at
  weight 0 (the supervised loss with the unlabelled images in the batch
  norm's batch), at the supervised baseline's choice, against the
  baseline. At 1%: the baseline at its rate and its config's length with
  the root convolution at stride 1 (32-pixel images reach the last block
  at 2x2, not 1x1) against the same without; the baseline's choice with a
  plain six-convolution network (`plain_cnn.py`) in place of the ResNet
  against the baseline. When only reading, a control whose stages have not
  run is left out.

  Returns:
    [(fraction, what, top-1, what it is compared with, its top-1, stage
    key)].
  """
  checks = []
  if CONTROL_FRACTION in fractions:
    if MOAM_1 in wanted:
      checks += [(_moam_raw_weights, CONTROL_FRACTION),
                 (_rotation_vat_as_s4l_rotation, CONTROL_FRACTION)]
    if 'VAT' in wanted:
      checks.append((_vat_at_weight_0, CONTROL_FRACTION))
  if STEM_FRACTION in fractions and 'supervised' in wanted:
    checks += [(_baseline_stem_at_stride_1, STEM_FRACTION),
               (_baseline_plain_cnn, STEM_FRACTION)]
  found = []
  for check, fraction in checks:
    try:
      found.append((fraction, *check(args, fraction, stages)))
    except comparison_network.NotDoneError as e:
      print(f'Not in the report: the control {check.__name__} ({e}).')
  return found


def _control_key(name, fraction, lr, settings):
  """A control's ledger key: its name, then the stage it mirrors."""
  return (f'control_{name}_{fraction}/lr{lr}'
          f'{s4l_stages.settings_text(settings)}_seed0')


def _moam_raw_weights(args, fraction, stages):
  choose(args, MOAM_1, fraction, stages)
  moam = chosen_stage(args, MOAM_1, fraction, 0)
  return ('MOAM step 1, trained weights (the averages: its row)',
          moam.validation(raw_weights=True), 'MOAM step 1, Polyak averages',
          moam.validation(), moam.key)


def _rotation_vat_as_s4l_rotation(args, fraction, stages):
  choose(args, 'S4L-Rotation', fraction, stages)
  rotation = chosen_stage(args, 'S4L-Rotation', fraction, 0)
  rotation_lr, rotation_settings = args.chosen['S4L-Rotation', fraction]
  lr = f'{2 * float(rotation_lr):g}'
  settings = [('sup_weight', '0.5'), ('vat_weight', '0'),
              ('entmin_factor', '0'),
              ('batch_size', config_value('S4L-Rotation', fraction,
                                          'batch_size'))]
  epochs = dict(rotation_settings).get('epochs')
  settings.append(('schedule', s4l_stages.stretched_schedule(
      'S4L-Rotation', fraction, epochs) if epochs else config_value(
          'S4L-Rotation', fraction, 'schedule')))
  wd = float(config_value('S4L-Rotation', fraction, 'weight_decay'))
  settings.append(('weight_decay', f'{wd / 2:g}'))
  stage = Stage(args, MOAM_1, fraction, lr, 0, settings,
                key=_control_key('rotation_vat_as_s4l_rotation', fraction, lr,
                                 rotation_settings))
  found = ("rotation_vat with S4L-Rotation's loss (halved), at twice its "
           f'rate ({lr})', stage.validation(raw_weights=True),
           'S4L-Rotation', rotation.validation(), stage.key)
  stages[stage.key] = stage
  return found


def _vat_at_weight_0(args, fraction, stages):
  choose(args, 'supervised', fraction, stages)
  lr, settings = args.chosen['supervised', fraction]
  stage = Stage(args, 'VAT', fraction, lr, 0,
                (*settings, ('vat_weight', '0')))
  choice = s4l_report.choice_text(lr, settings)
  found = (f"VAT with --vat_weight 0, at the baseline's choice ({choice})",
           stage.validation(), 'supervised',
           chosen_stage(args, 'supervised', fraction, 0).validation(),
           stage.key)
  stages[stage.key] = stage
  return found


def _baseline_stem_at_stride_1(args, fraction, stages):
  # At the config's length, not the baseline's chosen one: a step costs
  # several times as much at stride 1. The rate search's stage is the
  # stride-2 run of the same rate and length.
  lr = s4l_search.rate(args, 'supervised', fraction, stages)
  baseline = Stage(args, 'supervised', fraction, lr, 0)
  settings = (('root_conv_stride', '1'),)
  stage = Stage(args, 'supervised', fraction, lr, 0, settings,
                key=_control_key('stem_stride_1', fraction, lr, settings))
  found = ('supervised with --root_conv_stride 1 (the last block at 2x2), '
           f"at the baseline's rate ({lr}) and its config's length",
           stage.validation(), 'supervised, the same rate and length',
           baseline.validation(), stage.key)
  stages[stage.key] = stage
  return found


def _baseline_plain_cnn(args, fraction, stages):
  choose(args, 'supervised', fraction, stages)
  baseline = chosen_stage(args, 'supervised', fraction, 0)
  lr, chosen = args.chosen['supervised', fraction]
  stage = Stage(args, 'supervised', fraction, lr, 0, (*chosen, *PLAIN_CNN),
                key=_control_key('plain_cnn', fraction, lr, chosen),
                python_path='benchmarks')
  found = ("supervised with a plain six-convolution network (0.29 million "
           "weights) in place of the ResNet-50, at the baseline's choice",
           stage.validation(), 'supervised (the ResNet-50), the same choice',
           baseline.validation(), stage.key)
  stages[stage.key] = stage
  return found


def before(args, fractions):
  """The rows before the rescaling, from the ledger's old keys alone.

  Returns:
    {(method, fraction): (val top-1 per lr, the rate with three tested
    seeds, their test top-1s)}, for the methods of `s4l_stages.BEFORE`
    with such a rate.
  """
  found = {}
  for fraction in fractions:
    for method, prefix in s4l_stages.BEFORE.items():
      pattern = re.compile(rf'{re.escape(prefix)}_{fraction}/lr([^_]+)'
                           r'_seed(\d+)$')
      metric = METHODS[method].metric
      val, tests = {}, {}
      for key, entry in args.ledger.entries.items():
        match = pattern.match(key)
        if not match:
          continue
        lr, seed = match.group(1), int(match.group(2))
        rows = entry.get('rows', {})
        if seed == 0 and 'val' in rows:
          val[lr] = 100 * float(rows['val'][metric])
        if 'test' in rows:
          tests.setdefault(lr, {})[seed] = 100 * float(rows['test'][metric])
      finals = [lr for lr, by_seed in tests.items()
                if set(SEEDS) <= set(by_seed)]
      if finals:
        found[method, fraction] = (val, finals[0],
                                   [tests[finals[0]][s] for s in SEEDS])
  return found


def simclr_networks(args):
  """The comparison's arguments and its simclr row's chosen setting.

  Raises:
    comparison_network.NotDoneError: the comparison has not chosen the
      length yet (its search, seed 0, validation split, comes first).
  """
  comparison = argparse.Namespace(
      workdir=args.comparison_workdir, dataset_dir=args.dataset_dir,
      ledger=experiment.Ledger(args.comparison_ledger), convex_l2='',
      read_only=True)
  selection = fashion_mnist.select(comparison, [SIMCLR_ROW])[SIMCLR_ROW.name]
  comparison.read_only = args.read_only
  return comparison, selection.setting


def finals_of(args, method, fraction, stages, commands):
  """[(test top-1, top-5, training minutes)] of a method's three seeds.

  Makes its choice first (`choose`), then trains and reads each seed's
  final model, method by method so that a model is seldom lost between its
  validation and its test read.
  """
  choose(args, method, fraction, stages)
  results = []
  for seed in SEEDS:
    stage = chosen_stage(args, method, fraction, seed)
    results.append((*stage.test(), stage.seconds().get('train', 0) / 60))
    stages[stage.key] = stage
    commands.append(' '.join(stage.commands[0]))
  return results


def run(args, fractions, wanted):
  """Trains what `wanted` needs (what a method needs first)."""
  if FINETUNE in wanted or DISTIL in wanted:
    try:
      args.comparison, args.simclr_setting = simclr_networks(args)
    except comparison_network.NotDoneError as e:
      sys.exit(f'SimCLRv2 starts from the SimCLR networks of '
               f'benchmarks/fashion_mnist.py, whose length search has not '
               f'run ({e}; ledger {args.comparison_ledger}): run '
               f'`benchmarks/fashion_mnist.py --rows simclr` first.')
  # The methods of LR_FROM need their relative's choice, those of
  # STARTS_FROM its models. (The report compares with the supervised
  # baseline whenever the ledger has it.)
  wanted = needed(wanted)
  # The controls first: seed-0 checks on the validation split that say how
  # much of a gap is a code path's before three seeds measure it.
  controls(args, wanted, {}, fractions)
  for fraction in fractions:
    for method in [m for m in METHODS if m in wanted]:
      finals_of(args, method, fraction, {}, [])


def report(args, fractions):
  """The page of every method whose stages the ledger has, run or not."""
  args.read_only = True
  args.chosen, args.selection, args.searched = {}, {}, {}
  finals, stages, commands, missing = {}, {}, [], []
  try:
    args.comparison, args.simclr_setting = simclr_networks(args)
  except comparison_network.NotDoneError as e:
    why = f"benchmarks/fashion_mnist.py's SimCLR length search ({e})"
    missing += [(m, f, why) for f in fractions for m in (FINETUNE, DISTIL)]
  waiting = {(m, f) for m, f, _ in missing}
  for fraction in fractions:
    for method in METHODS:
      if (method, fraction) in waiting:
        continue
      try:
        finals[method, fraction] = finals_of(args, method, fraction, stages,
                                             commands)
      except comparison_network.NotDoneError as e:
        # A search that has not ended says where it stands.
        so_far = args.searched.get((method, fraction))
        missing.append((method, fraction, str(e) + (
            f' (so far, seed 0, validation top-1: '
            f'{s4l_report.scores_text(so_far)})' if so_far else '')))
  missing.sort(key=lambda m: (fractions.index(m[1]), list(METHODS).index(
      m[0])))
  checks = controls(args, METHODS, stages, fractions)
  retrained = sorted(key for key in stages
                     if args.ledger.get(key).get('retrained'))
  s4l_report.write(args, s4l_report.Results(
      fractions=fractions, selection=args.selection, finals=finals,
      stages=stages, commands=commands, retrained=retrained,
      controls=checks, before=before(args, fractions), missing=missing))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir',
                      default=os.path.join(REPO, 'workdirs', 's4l_benchmark'))
  parser.add_argument('--dataset_dir',
                      default='/usr/share/datasets/fashion-mnist')
  parser.add_argument('--results', default=os.path.join(
      REPO, 'benchmarks', 'S4L_RESULTS.md'))
  parser.add_argument('--fractions', default=','.join(FRACTIONS))
  parser.add_argument('--methods', default=','.join(METHODS),
                      help='Comma-separated methods to run (their finished '
                      'stages are reused; the report has every method with '
                      'finished finals).')
  parser.add_argument('--report_only', action='store_true',
                      help='run no stage: write the report of what the '
                      'ledger has')
  experiment.Ledger.add_flag(parser, 's4l_fashion_mnist')
  parser.add_argument(
      '--comparison_workdir',
      default=os.path.join(REPO, 'workdirs', 'comparison'),
      help="benchmarks/fashion_mnist.py's --workdir: SimCLRv2's rows "
      "fine-tune its simclr row's networks (trained there if missing)")
  parser.add_argument(
      '--comparison_ledger',
      default=os.path.join(REPO, 'benchmarks', 'fashion_mnist_ledger.json'),
      help="benchmarks/fashion_mnist.py's ledger, where its simclr row's "
      'length choice is read')
  args = parser.parse_args()
  fractions = args.fractions.split(',')
  wanted = args.methods.split(',')
  unknown = set(wanted) - set(METHODS)
  if unknown:
    sys.exit(f'Unknown methods {sorted(unknown)}; valid: {list(METHODS)}.')
  bad = set(fractions) - set(FRACTIONS)
  if bad:
    sys.exit(f'Unknown fractions {sorted(bad)}; valid: {list(FRACTIONS)}.')
  os.makedirs(args.workdir, exist_ok=True)
  args.ledger = experiment.Ledger(args.ledger)
  args.read_only = False
  args.chosen, args.selection, args.searched = {}, {}, {}
  if not args.report_only:
    run(args, fractions, wanted)
  report(args, fractions)


if __name__ == '__main__':
  main()
