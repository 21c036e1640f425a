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
README's table (the supervised baseline, S4L-Rotation, S4L-Exemplar,
pseudo-labels, VAT, VAT + EntMin, MOAM step 1) and SimCLRv2's recipe
(fine-tune, fine-tune + distil) with its `config/s4l_fashion_mnist/*.sh`
script and measures top-1 accuracy of the class head:

1. Selection: the learning rate of each method and fraction among LRS
   (seed 0), measured on the validation split (the last 10,000 of the
   60,000 training images, which no run trains on, labelled or not);
   the methods of LR_FROM take their relative's, SimCLRv2's fine-tuning
   at 10% takes its 1% rate. Nothing else is chosen.
2. Finals: the chosen learning rate with seeds 0, 1, 2 (the seed draws the
   labelled subset too, so the spread includes the subset's), each read
   once on the test split (`--run_eval --test_split test`).

It writes `benchmarks/S4L_RESULTS.md` with the tables, the test of the
paper's claim (S4L-Rotation beats the supervised baseline on the same labels
by more than the seeds' spread), the commands and the wall time of every
stage. Run by hand (several hours on two CPU cores); finished stages are
reused when it is run again: their numbers are kept in
`benchmarks/s4l_fashion_mnist_ledger.json` (commit it), so that the
benchmark resumes even on a machine without the old --workdir. The models
themselves are not kept: one lost between its validation and its test read
(or a supervised model the pseudo-labels still need) is trained again with
the same seed and labelled subset, and the report names it.

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
"""

import argparse
import csv
import datetime
import os
import statistics
import sys
import textwrap

import comparison_network
import experiment
from experiment import REPO
import fashion_mnist

# 0.3 was added after the first selection runs: S4L-Rotation's best rate was
# the grid's largest (0.1) at both fractions, so the optimum could lie beyond.
LRS = ('0.01', '0.03', '0.1', '0.3')
# A search whose best rate is its largest goes on up these, one at a time,
# while the largest stays the best: the optimum may lie beyond (SimCLRv2's
# fine-tuning with LARS rose from 57% at 0.01 to 79% at 0.3 on 1%).
LRS_BEYOND = ('1', '3')
SEEDS = (0, 1, 2)
FRACTIONS = ('1p', '10p')
# method -> (config prefix, the metric of its class head on unrotated,
# uncropped images), in the seed README's order.
METHODS = {
    'supervised': ('supervised', 'top1_accuracy_logits'),
    'S4L-Rotation': ('s4l_rotation', 'top1_accuracy_unrotated'),
    'S4L-Exemplar': ('s4l_exemplar', 'top1_accuracy_classes'),
    'Pseudo-labels': ('pseudo_labels', 'top1_accuracy_logits'),
    'VAT': ('vat', 'top1_accuracy_classes'),
    'VAT + EntMin': ('vat_entmin', 'top1_accuracy_classes'),
    'MOAM step 1': ('moam_step_1', 'top1_accuracy_unrotated'),
    # SimCLRv2's recipe: fine-tuned from a SimCLR network pretrained on
    # every training image (one per seed, shared by the fractions), then
    # distilled into a student on every image.
    'SimCLRv2 fine-tune': ('simclr_finetune', 'top1_accuracy_classes'),
    'SimCLRv2 fine-tune + distil': ('simclr_distill',
                                    'top1_accuracy_student'),
}
# The seed README's ImageNet numbers (top-5, 10% of the labels unless
# noted), for reference.
PAPER_TOP5 = {('supervised', '1p'): 48.43, ('supervised', '10p'): 80.43,
              ('S4L-Rotation', '10p'): 83.82, ('S4L-Exemplar', '10p'): 83.72,
              ('Pseudo-labels', '10p'): 82.41, ('VAT', '10p'): 82.78,
              ('VAT + EntMin', '10p'): 83.39, ('MOAM step 1', '10p'): 88.80}
# SimCLRv2's ResNet-50 (1x) fine-tuned from the head's first layer (top-1;
# google-research/simclr's README), for reference.
PAPER_TOP1 = {('SimCLRv2 fine-tune', '1p'): 57.9,
              ('SimCLRv2 fine-tune', '10p'): 68.4}
PSEUDO = 'Pseudo-labels'
FINETUNE = 'SimCLRv2 fine-tune'
DISTIL = 'SimCLRv2 fine-tune + distil'
(SIMCLR_ROW,) = [r for r in fashion_mnist.ROWS if r.name == 'simclr']
# Methods that take the learning rate another method chose on the
# validation split, instead of a search of their own (two CPU cores cannot
# afford one for each): their closest relative's.
LR_FROM = {'Pseudo-labels': 'supervised', 'VAT + EntMin': 'VAT',
           'MOAM step 1': 'S4L-Rotation', DISTIL: FINETUNE}
# SimCLRv2 fine-tunes both fractions at one rate (LARS, 0.16 at batch 1024):
# ours is searched on 1% and taken for 10%.
FRACTION_FROM = {FINETUNE: '1p'}


def rate_source(method, fraction):
  """The (method, fraction) whose chosen rate this one takes; None: its own."""
  if method in LR_FROM:
    return LR_FROM[method], fraction
  source = FRACTION_FROM.get(method, fraction)
  return (method, source) if source != fraction else None


def choose(args, method, fraction, stages):
  """The learning rate of `method` at `fraction`, chosen once.

  Its own search (every rate of LRS, then LRS_BEYOND while the largest
  is the best; seed 0, validation split), or its source's choice
  (`rate_source`), searched first if it has not been; `args.selection`
  keeps the validation scores for the report.
  """
  if (method, fraction) not in args.chosen:
    source = rate_source(method, fraction)
    rates = [choose(args, *source, stages)] if source else list(LRS)
    beyond = [] if source else list(LRS_BEYOND)
    scores = {}
    while rates:
      lr = rates.pop(0)
      stage = Stage(args, method, fraction, lr, 0)
      scores[lr] = stage.validation()
      stages[stage.key] = stage
      if not rates and beyond and max(scores, key=scores.get) == lr:
        rates.append(beyond.pop(0))
    best = max(scores, key=scores.get)
    args.selection[method, fraction] = (scores, best)
    args.chosen[method, fraction] = best
  return args.chosen[method, fraction]


def read_results(workdir):
  """Split name -> the last row of `eval_results.csv` for it."""
  rows = {}
  path = os.path.join(workdir, 'eval_results.csv')
  if os.path.exists(path):
    with open(path) as f:
      for row in csv.DictReader(f):
        rows[row['split']] = row
  return rows


def simclr_networks(args):
  """The comparison's arguments and its simclr row's chosen setting.

  Exits, before any work, when the comparison has not chosen the length
  yet: its search (seed 0, validation split) comes first.
  """
  comparison = argparse.Namespace(
      workdir=args.comparison_workdir, dataset_dir=args.dataset_dir,
      ledger=experiment.Ledger(args.comparison_ledger), convex_l2='',
      read_only=True)
  try:
    selection = fashion_mnist.select(comparison, [SIMCLR_ROW])[
        SIMCLR_ROW.name]
  except comparison_network.NotDoneError as e:
    sys.exit(f'SimCLRv2 starts from the SimCLR networks of '
             f'benchmarks/fashion_mnist.py, whose length search has not run '
             f'({e}; ledger {args.comparison_ledger}): run '
             f'`benchmarks/fashion_mnist.py --rows simclr` first.')
  comparison.read_only = False
  return comparison, selection.setting


class Stage:
  """One training run and its evaluations, done once, timed, resumable.

  What it measured (the rows of `eval_results.csv`, the seconds of each
  step) goes to the ledger as soon as it is known; a stage the ledger
  knows is not run again, even when its workdir is gone.
  """

  def __init__(self, args, method, fraction, lr, seed):
    prefix, self.metric = METHODS[method]
    self.config = os.path.join('config', 's4l_fashion_mnist',
                               f'{prefix}_{fraction}.sh')
    self.key = f'{prefix}_{fraction}/lr{lr}_seed{seed}'
    self.workdir = os.path.join(args.workdir, self.key)
    self.ledger = args.ledger
    dataset_dir = args.dataset_dir
    self.before = None
    if method == PSEUDO:
      # Labelled by the supervised model of the same seed (chosen lr).
      self.before = PseudoLabels(args, fraction, seed)
      dataset_dir = self.before.output
    elif method == FINETUNE:
      self.before = SimCLRPretraining(args, seed)
    elif method == DISTIL:
      # Taught by the fine-tuned model of the same seed (chosen lr).
      self.before = Teacher(args, fraction, seed)
    self.flags = ['--nouse_tpu', '--dataset_dir', dataset_dir,
                  '--workdir', self.workdir, '--lr', lr,
                  '--random_seed', str(seed), '--label_subset_seed',
                  str(seed)]
    if method in (PSEUDO, DISTIL):
      # Its subset is the supervised run's, or its teacher's.
      self.flags = self.flags[:-2]
    self.log = os.path.join(args.workdir, 'log.txt')
    self.times = experiment.StageTimes(self.workdir)

  @property
  def commands(self):
    extra = self.before.flags() if self.before is not None else []
    train = ['bash', self.config, *self.flags, *extra]
    return train, train + ['--run_eval', '--eval_timeout_secs', '1']

  def rows(self):
    """Split -> results: the ledger's, else this workdir's."""
    return {**read_results(self.workdir),
            **self.ledger.get(self.key).get('rows', {})}

  def seconds(self):
    """Step -> wall seconds: the ledger's, updated by this workdir's."""
    return self.ledger.seconds(self.key, self.times)

  def minutes(self):
    return sum(self.seconds().values()) / 60

  def _save(self, **fields):
    self.ledger.put(self.key, rows=self.rows(), times=self.seconds(),
                    **fields)

  def _train(self):
    if os.path.exists(os.path.join(self.workdir, 'TRAINING_IS_DONE')):
      return False
    if self.before is not None:
      seconds = self.before.make()
      if seconds:
        self.times.record(self.before.name, seconds)
    self.times.run('train', self.commands[0], self.log)
    return True

  def validation(self):
    """Trains (once) and returns the metric on the validation split."""
    if 'val' not in self.rows():
      self._train()
      self.times.run('val', self.commands[1], self.log)
      self._save()
    return 100 * float(self.rows()['val'][self.metric])

  def test(self):
    """(top-1, top-5) on the test split, read once."""
    self.validation()
    if 'test' not in self.rows():
      # When the workdir went with its machine between the validation and
      # the test read, the model is trained again (same seed, same labelled
      # subset) and the ledger says so.
      retrained = self._train()
      self.times.run('test', self.commands[1] + ['--test_split', 'test'],
                     self.log)
      self._save(**({'retrained': True} if retrained else {}))
    test = self.rows()['test']
    top5 = self.metric.replace('top1', 'top5')
    return 100 * float(test[self.metric]), 100 * float(test[top5])

  def module(self):
    """The exported hub module (trained and exported again if it went)."""
    exports = os.path.join(self.workdir, 'export', 'hub')
    if not os.path.isdir(exports):
      retrained = self._train()
      experiment.run(self.commands[1], self.log)  # --run_eval exports.
      if retrained:
        self._save(retrained=True)
    return os.path.join(exports, max(os.listdir(exports), key=int), 'module')


class PseudoLabels:
  """Fashion-MNIST labelled by a final supervised model."""

  name = 'pseudo_labels'

  def __init__(self, args, fraction, seed):
    self.args = args
    self.fraction = fraction
    self.seed = seed
    self.output = os.path.join(args.workdir, f'pseudo_dataset_{fraction}',
                               f'seed{seed}')

  def make(self):
    """Writes the data set once; returns the seconds it took (0: done)."""
    if os.path.exists(os.path.join(self.output, 'dataset_info.json')):
      return 0.0
    lr = self.args.chosen[('supervised', self.fraction)]
    model = Stage(self.args, 'supervised', self.fraction, lr, self.seed)
    module = model.module()
    (label_list,) = [f for f in os.listdir(model.workdir)
                     if f.startswith('label_map_count_')]
    return experiment.run(
        ['bash', 'config/s4l_fashion_mnist/generate_pseudo_dataset.sh',
         '--dataset_dir', self.args.dataset_dir, '--hub_module', module,
         '--labels_file', os.path.join(model.workdir, label_list),
         '--output_folder', self.output],
        os.path.join(self.args.workdir, 'log.txt'))


  def flags(self):
    """Nothing: the data set is the stage's --dataset_dir."""
    return []


class SimCLRPretraining:
  """The comparison's SimCLR network of a seed, shared by both fractions.

  benchmarks/fashion_mnist.py's `simclr` row chooses SimCLR's pretraining
  length on the validation split and trains seeds 0, 1 and 2 on the same
  50,000 training images; SimCLRv2's rows fine-tune those networks (trained
  here, in the comparison's workdir, when they are missing), so the linear
  probe and the fine-tuning read one pretraining.
  """

  name = 'simclr_pretraining'

  def __init__(self, args, seed):
    self.model = comparison_network.Model(
        args.comparison, SIMCLR_ROW, args.simclr_setting, seed)

  def make(self):
    """Trains once (or waits for the comparison's driver training it).

    Returns 0: the time is the comparison's, in its ledger, and the report
    gives it apart.
    """
    self.model.pretrained()
    return 0.0

  def flags(self):
    return ['--path_to_initial_ckpt', self.model.pretrain_dir]


class Teacher:
  """The fine-tuned model of a seed (its chosen rate), exported."""

  name = 'teacher'

  def __init__(self, args, fraction, seed):
    self.args = args
    self.fraction = fraction
    self.seed = seed

  def _stage(self):
    lr = self.args.chosen[(FINETUNE, self.fraction)]
    return Stage(self.args, FINETUNE, self.fraction, lr, self.seed)

  def make(self):
    """Exports the teacher if needed; its time is the fine-tuning's."""
    self._stage().module()
    return 0.0

  def flags(self):
    return ['--hub_module', self._stage().module()]


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
  if FINETUNE in wanted or DISTIL in wanted:
    args.comparison, args.simclr_setting = simclr_networks(args)
  # Every claim is against the supervised baseline (whose models the
  # pseudo-labels also come from); the methods of LR_FROM need their
  # relative's choice.
  wanted = {'supervised', *wanted, *(LR_FROM[m] for m in wanted
                                     if m in LR_FROM)}
  args.chosen, args.selection = {}, {}
  finals, stages, commands = {}, {}, []
  # Method by method (relatives first, as METHODS lists them): the choice,
  # then the finals and their test reads, so that a model is seldom lost
  # between its validation and its test read.
  for fraction in fractions:
    for method in [m for m in METHODS if m in wanted]:
      best = choose(args, method, fraction, stages)
      results = []
      for seed in SEEDS:
        stage = Stage(args, method, fraction, best, seed)
        results.append((*stage.test(), stage.seconds().get('train', 0) / 60))
        stages[stage.key] = stage
        commands.append(' '.join(stage.commands[0]))
      finals[method, fraction] = results
  minutes = sum(stage.minutes() for stage in stages.values())
  retrained = sorted(key for key in stages
                     if args.ledger.get(key).get('retrained'))
  write(args, fractions, args.selection, finals, minutes, commands,
        retrained)


def rankings(fractions, finals):
  """One line per fraction: the methods by mean test top-1, then the paper's.

  Adjacent methods are joined by '>' when the first is ahead beyond the
  seeds' spread (`experiment.compare`), by '≈' otherwise.
  """
  lines = []
  for fraction in fractions:
    top1 = {m: [r[0] for r in finals[m, fraction]] for m in METHODS
            if (m, fraction) in finals}
    order = sorted(top1, key=lambda m: -statistics.mean(top1[m]))
    text = order[0] + ''.join(
        f' {">" if experiment.compare(top1[a], top1[b]) > 0 else "≈"} {b}'
        for a, b in zip(order, order[1:]))
    lines.append(f'- {fraction}, here: {text}.')
  paper = sorted((m for m, f in PAPER_TOP5 if f == '10p'),
                 key=lambda m: -PAPER_TOP5[m, '10p'])
  lines.append('- 10%, the paper (top-5): ' + ' > '.join(
      f'{m} {PAPER_TOP5[m, "10p"]}' for m in paper) + '.')
  return lines


def simclr_paragraph(args):
  """What SimCLRv2's rows start from and how they train."""
  epochs = args.simclr_setting['--epochs']
  minutes = [SimCLRPretraining(args, seed).model.seconds().get('pretrain', 0)
             / 60 for seed in SEEDS]
  return textwrap.fill(
      "SimCLRv2's rows start from the SimCLR networks of "
      "benchmarks/fashion_mnist.py's `simclr` row (ResNet-50 v1 at "
      f'`filters_factor` 1; seeds 0, 1, 2; {epochs} epochs of the 50,000 '
      'training images, the length that benchmark chose on the validation '
      f'split; {statistics.mean(minutes):.0f} minutes each, not counted in '
      'the total above): each is fine-tuned from its projection head\'s '
      'first layer on the labelled subset with LARS and no weight decay (60 '
      'passes at 1%, 30 at 10%, as SimCLRv2), at the rate chosen on 1% '
      '(SimCLRv2 uses one rate for both); the distilled student, the same '
      'network from random weights, trains one epoch on all 50,000 images to '
      "match the fine-tuned model's predictions (temperature 1) at the "
      "fine-tuning's rate. Their ImageNet column is top-1 (SimCLRv2's "
      'ResNet-50, fine-tuned).', 79)


def write(args, fractions, selection, finals, minutes, commands, retrained):
  lines = []
  for fraction in fractions:
    label = {'1p': '1% (50 per class)', '10p': '10% (500 per class)'}[
        fraction]
    lines += [f'### {label} of the labels', '',
              '| method | val top-1 per lr (seed 0) | chosen lr | test top-1 '
              '(mean ± std, 3 seeds) | test top-5 | training (min per run) '
              '| ImageNet (paper) |',
              '| --- | --- | --- | --- | --- | --- | --- |']
    for method in [m for m in METHODS if (m, fraction) in finals]:
      scores, best = selection[method, fraction]
      top1 = experiment.mean_std([r[0] for r in finals[method, fraction]])
      top5 = experiment.mean_std([r[1] for r in finals[method, fraction]])
      train_minutes = statistics.mean(r[2] for r in finals[method, fraction])
      paper = ('-' if (method, fraction) not in {**PAPER_TOP5, **PAPER_TOP1}
               else f'top-5 {PAPER_TOP5[method, fraction]}'
               if (method, fraction) in PAPER_TOP5
               else f'top-1 {PAPER_TOP1[method, fraction]}')
      lines.append(
          f'| {method} | ' + ', '.join(f'{lr}: {v:.1f}'
                                       for lr, v in scores.items()) +
          f' | {best} | {top1[0]:.2f} ± {top1[1]:.2f} | '
          f'{top5[0]:.2f} ± {top5[1]:.2f} | {train_minutes:.1f} | '
          f'{paper} |')
    lines.append('')
  claims = []
  for fraction in fractions:
    base = [r[0] for r in finals['supervised', fraction]]
    for method in [m for m in METHODS if m != 'supervised' and
                   (m, fraction) in finals]:
      ours = [r[0] for r in finals[method, fraction]]
      gain = statistics.mean(ours) - statistics.mean(base)
      spread = max(experiment.mean_std(base)[1], experiment.mean_std(ours)[1])
      verdict = ('holds' if experiment.compare(ours, base) > 0 else
                 'does not hold (the gain is not beyond the spread)'
                 if gain > 0 else 'does not hold (no gain)')
      paired = ', '.join(f'{o - b:+.2f}' for o, b in zip(ours, base))
      claims.append(f'- {fraction}: {method} {statistics.mean(ours):.2f} vs '
                    f'supervised {statistics.mean(base):.2f}: {gain:+.2f} '
                    f'points, seeds\' spread (larger std) {spread:.2f}: '
                    f'{verdict}. Per seed, on the same labelled subset: '
                    f'{paired}{experiment.paired_test(ours, base)}.')
  command_text = '\n'.join(f'    {c}' for c in commands)
  retrained_text = ''
  if retrained:
    retrained_text = (
        '\nTrained a second time (same seed and labelled subset) because the '
        'first model went with its machine before its test read or its '
        f'pseudo-labels: {", ".join(retrained)}.')
  today = datetime.date.today().isoformat()
  simclr_text = ''
  if any(method in (FINETUNE, DISTIL) for method, _ in finals):
    simclr_text = '\n\n' + simclr_paragraph(args)
  text = f"""# S4L at Fashion-MNIST scale

Written by `benchmarks/s4l_fashion_mnist.py` on {today}; the stages took
{minutes:.0f} minutes in all.{retrained_text}
{experiment.versions()}

Every model but SimCLRv2's is ResNet-50 v2 at `filters_factor` 1 on 32x32
images, trained with its `config/s4l_fashion_mnist/<method>_<fraction>.sh`:
a labelled batch of 32 (and, for the semi-supervised methods, 32
unlabelled images from all 50,000 training images), weight decay 1e-3,
S4L's schedule in proportion.
The labelled subset is drawn from the 50,000 training images with the
run's seed. Pseudo-labels trains on all 50,000 images, labelled by the
supervised model of the same seed (the subset keeps its labels), for 5
epochs. VAT's perturbation norm is S4L's per pixel (5.7 for VAT, 4.6 for
MOAM at 32x32x3); MOAM step 1 keeps width 1 (MOAM's own network is 4x as
wide as S4L-Rotation's). Numbers are the top-1 (and top-5) accuracy (%) of
the class head: on the unrotated image for S4L-Rotation and MOAM, on the
central crop otherwise.{simclr_text}

The learning rate is the only choice, made on the validation split (the
last 10,000 training images, seed 0) among {", ".join(LRS)} (and on up
{", ".join(LRS_BEYOND)} while the largest tried is the best); Pseudo-labels,
VAT + EntMin and MOAM step 1 take the one chosen for the supervised
baseline, VAT and S4L-Rotation respectively (one search each was more than
two cores could afford). The test split (10,000 images) is read once per
final model, three seeds each.

{chr(10).join(lines)}
## The paper's claim

Every semi-supervised method should beat the supervised baseline trained
on the same labels. A gain counts only beyond the seeds' spread (the larger
of the two standard deviations); with three seeds, the paired t-test's p
says how far that is from chance:

{chr(10).join(claims)}

The order of the methods, by mean test top-1 ("≈": the next one is within
the seeds' spread), and the paper's on ImageNet (top-5, 10% of the labels):

{chr(10).join(rankings(fractions, finals))}

The ImageNet column is the seed README's top-5 for reference only: a
different data set, network size and budget. Training minutes are wall
time on the machine named above, with other work sharing its two cores at
times (the stages of one method are comparable only roughly).

## Commands

Each final model (seed s, chosen lr), then the same command with
`--run_eval --eval_timeout_secs 1 --test_split test`:

{command_text}
"""
  os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
  with open(args.results, 'w') as f:
    f.write(text)
  print(text)


if __name__ == '__main__':
  main()
