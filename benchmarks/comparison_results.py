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

"""RESULTS.md of `benchmarks/fashion_mnist.py`: its text and its plots.

The tables and findings come from `comparison_report`, the drawing from
`comparison_plots`; this module lays them out, with what the rows cost,
which networks were trained twice and which rows are still to run.
"""

import datetime
import os
import statistics

import comparison_plots
import comparison_report as report


def costs(finals: report.Finals,
          row_minutes: dict[str, float] | None = None) -> str:
  """Per row, its minutes in all, then each final-model stage's mean."""
  lines = []
  for row, seeds in finals.items():
    stages = sorted({s for f in seeds for s in f.minutes})
    whole = (f'{row_minutes[row]:.0f} min in all; '
             if row in (row_minutes or {}) else '')
    lines.append(f'- {row}: {whole}' + ', '.join(
        f'{s} {statistics.mean(f.minutes.get(s, 0) for f in seeds) / 60:.1f}'
        for s in stages) + ' min per seed')
  return '\n'.join(lines)


def _val_again(final: report.Final) -> str:
  """A network trained again: its `val` top-1 beside the first one's."""
  if not final.val_again or final.best not in final.val_again:
    return ''
  return (f' (val top-1 at {final.best}: {final.val[final.best]:.2f} the '
          f'first, {final.val_again[final.best]:.2f} the second)')


def _still_to_run(missing: dict[str, str]) -> str:
  """The rows not in the report yet, each with the first stage to run."""
  if not missing:
    return ''
  rows = ', '.join(f'{row} ({stage})' for row, stage in missing.items())
  return ('\n**Not complete.** These rows are not in the tables, the plots '
          'or the findings yet, their stages still to run (the first of '
          f'each: network, then stage): {rows}.\n')


def write(path: str, chosen: dict[str, report.Selection],
          finals: report.Finals, row_minutes: dict[str, float],
          versions: str,
          missing: dict[str, str] | None = None) -> str:
  """Writes RESULTS.md and its plots beside it.

  Args:
    path: where RESULTS.md goes; its folder is made if need be.
    chosen: each reported row's choice on the validation split.
    finals: each reported row's final models.
    row_minutes: what each reported row's stages cost in all (its
      search's settings and its seeds).
    versions: the software and machine the numbers were measured on.
    missing: rows asked for but not done, each with the first stage of
      theirs still to run.

  Returns:
    The text written.
  """
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  # Each plot's file and its link on the page; a plot with nothing to
  # draw is neither drawn nor linked.
  plots = {'depth': 'fashion_mnist.png',
           'networks': 'fashion_mnist_networks.png',
           'lengths': 'fashion_mnist_lengths.png',
           'low_shot': 'fashion_mnist_low_shot.png'}
  links = dict.fromkeys(plots, '')

  def drawn(plot: str, alt: str) -> None:
    links[plot] = f'![{alt}]({plots[plot]})'

  # The methods in one plot, rotation's widths and networks (trained
  # shorter, with end points of their own) in another.
  networks = {r: s for r, s in finals.items()
              if r in report.WIDTHS + report.NETWORKS}
  methods = {r: s for r, s in finals.items() if r not in networks}

  def plot_depth(rows: report.Finals, plot: str, title: str) -> None:
    # The supervised head's logits are not a representation.
    axis = [e for e in report.probed_end_points(rows) if e != 'logits']
    comparison_plots.plot_depth(rows, axis,
                                os.path.join(folder, plots[plot]), title)

  if methods:
    plot_depth(methods, 'depth', 'Representation quality against depth')
    drawn('depth', 'top-1 against depth')
  if set(networks) - {report.WIDTHS[0]}:  # The reference alone: no plot.
    plot_depth(networks, 'networks',
               'Rotation: widths and networks against depth')
    drawn('networks', 'widths and networks')
  if comparison_plots.plot_lengths(
      chosen, os.path.join(folder, plots['lengths'])):
    drawn('lengths', 'probe against pretraining length')
  # The convex probe, its low-shot subsets and kNN: the main rows only.
  probed = {r: s for r, s in finals.items() if all(f.convex for f in s)}
  if probed:
    comparison_plots.plot_low_shot(
        probed, os.path.join(folder, plots['low_shot']))
    drawn('low_shot', 'low-shot')
  commands = '\n'.join(f'    {c}' for seeds in finals.values()
                       for f in seeds for c in f.commands)
  nl = '\n'
  retrained = [f'{row} seed {f.seed}{_val_again(f)}'
               for row, seeds in finals.items() for f in seeds if f.retrained]
  again = ''
  if retrained:
    again = ('\nTrained a second time (same seed) because the first network '
             'went with its machine before all its stages ran: '
             f'{", ".join(retrained)}. The second serves the stages still to '
             "run; the end point was chosen on the first's validation "
             'numbers.')
  seeds = ', '.join(str(f.seed) for f in next(iter(finals.values()), []))
  pending = _still_to_run(missing or {})
  total = sum(row_minutes.values())
  text = f"""# Fashion-MNIST reproduction of the paper's comparison

Written by `benchmarks/fashion_mnist.py` on {datetime.date.today()}; the
stages of the rows below took {total:.0f} minutes in all.{again}
{versions}
{pending}
Protocol. Pretraining uses the first 50,000 training images; each row's
setting (pretraining length) was chosen with seed 0 by the best end
point's top-1 on the validation split (the last 10,000 training images),
trying lengths from the shortest until a longer one stopped gaining
(`MIN_GAIN` in benchmarks/fashion_mnist.py); rotation's widths and
networks share one shorter length with their reference, rotation at width
1 trained as long. The chosen setting was then trained with seeds
{seeds}; the test split (10,000 images) was read once per final model. Every
number is a test top-1 (%) as mean ± standard deviation over the seeds. A
difference counts only beyond the seeds' spread (the larger standard
deviation). "Paper probe": SGD on cached features (the original's
schedule), one head per end point; the best end point is the one with the
best validation top-1. "Convex": multinomial logistic regression solved
by L-BFGS (tolerance `CONVEX_TOL` in benchmarks/comparison_network.py), L2
strength chosen on the validation split with seed 0 (per end point and
subset) and reused for the other seeds; kNN: weighted, on the same
features. Both run on the main rows, not on rotation's widths and
networks ("-"). Image tasks are probed on 32x32 images, the patch tasks
(and their random reference) on nine 16x16 patches of a 48x48 crop.

## All labels

{report.table(finals, report.COLUMNS)}

{links['depth']}

{links['networks']}

## Low-shot (the S4L sampler's class-balanced subsets of `train`)

{report.table(probed, report.LOW_SHOT_COLUMNS)}

{links['low_shot']}

## Every end point (paper probe)

{report.depth_table(finals)}

## The paper's findings

{nl.join(report.findings(finals, chosen))}

## Choices

{report.selection_table(chosen)}

{links['lengths']}

## What each stage costs

Wall time on the machine above: each row's minutes in all (every
setting its search trained, every seed, on whichever machine ran it),
then the mean per seed of each stage of its final models.

{costs(finals, row_minutes)}

## Commands

{commands}
"""
  with open(path, 'w') as f:
    f.write(text)
  return text
