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

"""benchmarks/S4L_RESULTS.md from what benchmarks/s4l_fashion_mnist.py ran."""

import dataclasses
import datetime
import os
import statistics
import textwrap
from typing import Any

import experiment
from s4l_search import (
  GRIDS,
  LENGTHS,
  MAX_LENGTH,
  WEIGHT_DECAYS,
  at_longest,
)
from s4l_stages import (
  DISTIL,
  FINETUNE,
  LRS,
  METHODS,
  SEEDS,
  SimCLRPretraining,
  beyond,
)

# The seed README's ImageNet numbers (top-5, 10% of the labels unless
# noted), for reference.
PAPER_TOP5 = {('supervised', '1p'): 48.43, ('supervised', '10p'): 80.43,
              ('S4L-Rotation', '10p'): 83.82, ('S4L-Exemplar', '10p'): 83.72,
              ('Pseudo-labels', '10p'): 82.41, ('VAT', '10p'): 82.78,
              ('VAT + EntMin', '10p'): 83.39, ('MOAM step 1', '10p'): 88.80,
              ('MOAM step 2', '10p'): 89.96, ('MOAM step 3', '10p'): 91.23}
# SimCLRv2's ResNet-50 (1x) fine-tuned from the head's first layer (top-1;
# google-research/simclr's README), for reference.
PAPER_TOP1 = {(FINETUNE, '1p'): 57.9, (FINETUNE, '10p'): 68.4}
LABELS = {'1p': '1% (50 per class)', '10p': '10% (500 per class)'}


@dataclasses.dataclass
class Results:
  """What the driver measured (numbers in %).

  Attributes:
    fractions: the label fractions run.
    selection: (method, fraction) -> ({(lr, settings): val top-1}, chosen).
    finals: (method, fraction) -> [(test top-1, top-5, training minutes)]
      per seed.
    stages: key -> every stage this run read.
    commands: the final models' training commands.
    retrained: keys of the stages trained a second time.
    controls: [(fraction, what, top-1, compared with, its top-1, stage
      key)].
    before: (method, fraction) -> (val top-1 per lr, chosen lr, test
      top-1s) of the stages before the rescaling.
    missing: [(method, fraction, the first stage it lacks)] of the rows not
      measured yet.
  """
  fractions: list[str]
  selection: dict[Any, Any]
  finals: dict[Any, Any]
  stages: dict[str, Any]
  commands: list[str]
  retrained: list[str]
  controls: list[Any]
  before: dict[Any, Any]
  missing: list[Any] = dataclasses.field(default_factory=list)


def scores_text(scores):
  """`{(lr, settings): val top-1}` as "choice: top-1, ..."."""
  return ', '.join(f'{choice_text(*c)}: {v:.1f}' for c, v in scores.items())


def choice_text(lr, settings):
  """'0.1', or '0.1, vat_eps 2' for a setting beside the rate."""
  return ', '.join([lr] + [f'{flag} {value}' for flag, value in settings])


def rankings(fractions, finals):
  """One line per fraction: the methods by mean test top-1, then the paper's.

  Adjacent methods are joined by '>' when the first is ahead beyond the
  seeds' spread (`experiment.compare`), by '≈' otherwise.
  """
  lines = []
  for fraction in fractions:
    top1 = {m: [r[0] for r in finals[m, fraction]] for m in METHODS
            if (m, fraction) in finals}
    if not top1:
      continue
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
      'network from random weights, trains on all 50,000 images to match '
      "the fine-tuned model's predictions (temperature 1) at the "
      "fine-tuning's rate, for the length chosen on the validation split "
      '(1 epoch, its config\'s, then longer: SimCLRv2 distils for 100 '
      'epochs of ImageNet, 8 times its fine-tuning\'s steps). Their ImageNet '
      "column is top-1 (SimCLRv2's ResNet-50, fine-tuned).", 79)


def _paper(method, fraction):
  if (method, fraction) in PAPER_TOP5:
    return f'top-5 {PAPER_TOP5[method, fraction]}'
  if (method, fraction) in PAPER_TOP1:
    return f'top-1 {PAPER_TOP1[method, fraction]}'
  return '-'


def tables(results):
  """The per-fraction tables of the methods."""
  lines = []
  for fraction in results.fractions:
    lines += [f'### {LABELS[fraction]} of the labels', '',
              '| method | val top-1 per choice (seed 0) | chosen | test top-1 '
              '(mean ± std, 3 seeds) | test top-5 | training (min per run) '
              '| ImageNet (paper) |',
              '| --- | --- | --- | --- | --- | --- | --- |']
    for method in [m for m in METHODS if (m, fraction) in results.finals]:
      scores, best = results.selection[method, fraction]
      finals = results.finals[method, fraction]
      top1 = experiment.mean_std([r[0] for r in finals])
      top5 = experiment.mean_std([r[1] for r in finals])
      train_minutes = statistics.mean(r[2] for r in finals)
      longest = (' (the longest tried: may improve on)'
                 if at_longest(method, fraction, best) else '')
      lines.append(
          f'| {method} | {scores_text(scores)} | '
          f'{choice_text(*best)}{longest} | {top1[0]:.2f} ± '
          f'{top1[1]:.2f} | '
          f'{top5[0]:.2f} ± {top5[1]:.2f} | {train_minutes:.1f} | '
          f'{_paper(method, fraction)} |')
    lines.append('')
  return lines


def claims(results):
  """Each semi-supervised method against the baseline, per fraction."""
  lines = []
  finals = results.finals
  for fraction in results.fractions:
    if ('supervised', fraction) not in finals:
      lines.append(f'- {fraction}: the supervised baseline is not measured '
                   'yet (see "Not measured yet"): no claim is tested.')
      continue
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
      lines.append(f'- {fraction}: {method} {statistics.mean(ours):.2f} vs '
                   f'supervised {statistics.mean(base):.2f}: {gain:+.2f} '
                   f'points, seeds\' spread (larger std) {spread:.2f}: '
                   f'{verdict}. Per seed, on the same labelled subset: '
                   f'{paired}{experiment.paired_test(ours, base)}.')
  return lines


def control_lines(results):
  """The controls' table, or a line saying none ran."""
  if not results.controls:
    return ['None ran (they need the 10% fraction and MOAM step 1 or VAT, '
            'or the 1% fraction and the supervised baseline).']
  lines = ['| fraction | control | val top-1 | compared with | its val top-1 '
           '| difference | minutes |',
           '| --- | --- | --- | --- | --- | --- | --- |']
  for fraction, what, ours, other, theirs, key in results.controls:
    lines.append(f'| {fraction} | {what} | {ours:.1f} | {other} | '
                 f'{theirs:.1f} | '
                 f'{ours - theirs:+.1f} | '
                 f'{results.stages[key].minutes():.1f} |')
  return lines


def before_lines(results):
  """The rows before the rescaling beside the rows now."""
  lines = ['| method | fraction | val top-1 per lr (seed 0), before | chosen '
           'lr | test top-1 before | test top-1 now |',
           '| --- | --- | --- | --- | --- | --- |']
  for (method, fraction), (val, lr, tests) in sorted(results.before.items()):
    top1 = experiment.mean_std(tests)
    now = results.finals.get((method, fraction))
    now_text = '-'
    if now:
      now_top1 = experiment.mean_std([r[0] for r in now])
      now_text = f'{now_top1[0]:.2f} ± {now_top1[1]:.2f}'
    lines.append(
        f'| {method} | {fraction} | ' + ', '.join(
            f'{k}: {v:.1f}' for k, v in sorted(val.items(), key=lambda x:
                                                float(x[0]))) +
        f' | {lr} | {top1[0]:.2f} ± {top1[1]:.2f} | {now_text} |')
  return lines


def missing_lines(results):
  """The rows the ledger cannot fill yet, each with what it lacks first."""
  if not results.missing:
    return []
  return ['## Not measured yet', '',
          'Rows whose stages have not all run (the benchmark resumes with '
          'them; each with the first stage it lacks):', ''] + [
              f'- {method}, {fraction}: {why}.'
              for method, fraction, why in results.missing] + ['']


def cost_lines(results):
  """Minutes per method and fraction: the search, the finals, the rest."""
  lines = ['| stages | count | minutes |', '| --- | --- | --- |']
  groups = {}
  for key, stage in sorted(results.stages.items()):
    group = key.split('/')[0]
    count, minutes = groups.get(group, (0, 0.0))
    groups[group] = (count + 1, minutes + stage.minutes())
  for group, (count, minutes) in groups.items():
    lines.append(f'| {group} | {count} | {minutes:.0f} |')
  return lines


def write(args, results):
  """Writes (and prints) the results page."""
  minutes = sum(stage.minutes() for stage in results.stages.values())
  command_text = '\n'.join(f'    {c}' for c in results.commands)
  retrained_text = ''
  if results.retrained:
    retrained_text = (
        '\nTrained a second time (same seed and labelled subset; the minutes '
        'count both trainings) because the first model went with its '
        'machine before its test read or its '
        f'pseudo-labels: {", ".join(results.retrained)}.')
  today = datetime.date.today().isoformat()
  simclr_text = ''
  if any(method in (FINETUNE, DISTIL) for method, _ in results.finals):
    simclr_text = '\n\n' + simclr_paragraph(args)
  missing_text = ''
  if results.missing:
    missing_text = (f'\n{len(results.missing)} rows are not measured yet '
                    '(see the end of the tables).')
  text = f"""# S4L at Fashion-MNIST scale

Written by `benchmarks/s4l_fashion_mnist.py` on {today}; the stages took
{minutes:.0f} minutes in all.{retrained_text}{missing_text}
{experiment.versions()}

Every model but SimCLRv2's is ResNet-50 v2 at `filters_factor` 1 on 32x32
images, trained with its
`config/s4l_fashion_mnist/<method>_<fraction>.sh`: a labelled batch of 32
(and, for the semi-supervised methods, 32 unlabelled images from all
50,000 training images), weight decay 1e-3, S4L's schedule in proportion
over 10 epochs of the subset at 10% and 100 at 1% (about 1,500 steps),
but for MOAM, unless the searches below chose otherwise. The labelled
subset is drawn from the 50,000 training images with the run's seed.
S4L-Exemplar's labelled images get 4 crops of the supervised baseline's
augmentation (its variant row keeps the exemplar crops). Pseudo-labels
trains on all 50,000 images, labelled by the
supervised model of the same seed (the subset keeps its labels), for 5
epochs. VAT's perturbation norm is S4L's per pixel (5.7 for VAT, 4.6 for
MOAM at 32x32x3) or the one chosen. MOAM step 1 keeps width 1 (MOAM's own
network is 4x as wide as S4L-Rotation's) and the original's ratios to
S4L-Rotation: 10/3 of its rate, a fifth of its weight decay, half its batch
(16 + 16), MOAM's schedule shape over its length, a Polyak half-life of
0.5% of training. MOAM step 2 is Pseudo-labels labelled by the MOAM step 1
model of the same seed (weight decay 2e-4), step 3 fine-tunes it on the
labelled subset for 15% of the baseline's length. Numbers are the top-1
(and top-5) accuracy (%) of the class head: on the unrotated image for
S4L-Rotation and MOAM step 1, on the central crop otherwise.{simclr_text}

Each method's settings are chosen on the validation split (the last
10,000 training images, seed 0), one after another at the best so far:
the learning rate among {", ".join(LRS)} (MOAM step 3 among
{", ".join(METHODS["MOAM step 3"].lrs)}), going on up (to
{", ".join(beyond(LRS))}) while the largest tried is the best; VAT's
perturbation norm among {", ".join(GRIDS["VAT"][1])}; the training length,
{", ".join(f"{f}" for f in LENGTHS)} times the config's, doubling (up to
{MAX_LENGTH} times) while the longest is the best (not for SimCLRv2's
fine-tuning, which keeps its paper's lengths, nor the exemplar-crops
variant, kept as it was before the rescaling); and the baseline's weight
decay among {", ".join(WEIGHT_DECAYS["supervised"])}. One setting at a time:
a rate chosen at the config's length is kept at longer ones. Pseudo-labels,
VAT + EntMin, MOAM step 2 and SimCLRv2's distillation take the rate of the
supervised baseline, VAT, Pseudo-labels and SimCLRv2's fine-tuning
respectively, MOAM step 1 10/3 of S4L-Rotation's rate (one search each was
more than two cores could afford; SimCLRv2's student searches its length
at the rate it takes); VAT + EntMin takes VAT's norm and
length, MOAM step 1 S4L-Rotation's length, Pseudo-labels the baseline's
weight decay (its length is its config's, 5 epochs of all 50,000 images);
SimCLRv2's fine-tuning at 10% takes its rate at 1%. The test split (10,000
images) is read once per final model, three seeds each.

{chr(10).join(tables(results) + missing_lines(results))}
## The paper's claim

Every semi-supervised method should beat the supervised baseline trained
on the same labels. A gain counts only beyond the seeds' spread (the larger
of the two standard deviations); with three seeds, the paired t-test's p
says how far that is from chance:

{chr(10).join(claims(results))}

The order of the methods, by mean test top-1 ("≈": the next one is within
the seeds' spread), and the paper's on ImageNet (top-5, 10% of the labels):

{chr(10).join(rankings(results.fractions, results.finals))}

The ImageNet column is the seed README's top-5 for reference only: a
different data set, network size and budget. Training minutes are wall
time on the machine named above, with other work sharing its two cores at
times (the stages of one method are comparable only roughly).

## Controls

Seed 0, on the validation split: each control beside the model it should
match, to tell a method's own effect from its code path's (the methods'
at 10% of the labels, the baseline's stem and network at 1%).

{chr(10).join(control_lines(results))}

## Before the rescaling

The rows the configs gave before MOAM step 1 took the original's ratios to
S4L-Rotation and S4L-Exemplar's labelled images the baseline's crops, with
only the rate searched (every method at its config's length, the baseline
at its weight decay, VAT at its config's perturbation norm), read from the
ledger's stages of those settings (S4L-Exemplar's are its variant row's
now):

{chr(10).join(before_lines(results))}

## Cost

Stages read by this report, by method and fraction (search, finals,
controls; a stage's minutes include the pseudo-labels it made):

{chr(10).join(cost_lines(results))}

## Commands

Each final model (seed s, chosen lr), then the same command with
`--run_eval --eval_timeout_secs 1 --test_split test`:

{command_text}
"""
  os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
  with open(args.results, 'w') as f:
    f.write(text)
  print(text)
