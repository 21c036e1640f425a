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

"""The plots of `benchmarks/fashion_mnist.py`'s RESULTS.md.

`comparison_results.write` decides which rows go in which plot and where it
is saved; this module only draws them. Error bars are the standard
deviation over the seeds (`experiment.mean_std`).
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

import experiment

if TYPE_CHECKING:
  from comparison_report import Finals, Selection


def _pyplot():
  # matplotlib comes with the `bench` and `test` extras; the stages run
  # without it.
  import matplotlib  # noqa: PLC0415
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # noqa: PLC0415
  return plt


def _save(plt, fig, ax, path: str) -> None:
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def _style(row: str) -> str:
  # Random weights are the reference every method is read against.
  return '--' if row.startswith('random init') else '-'


def plot_depth(finals: 'Finals', axis: Sequence[str], path: str,
               title: str) -> None:
  """Test top-1 against depth per row, error bars over the seeds.

  Args:
    finals: row -> its final models.
    axis: the end points on the x axis, shallow to deep; a row is drawn at
      those that all its seeds have.
    path: where the PNG goes.
    title: the plot's title.
  """
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(8, 5))
  for row, seeds in finals.items():
    points = [e for e in axis if all(e in f.test for f in seeds)]
    stats = [experiment.mean_std([f.test[e] for f in seeds]) for e in points]
    ax.errorbar([axis.index(e) for e in points], [m for m, _ in stats],
                yerr=[s for _, s in stats], capsize=3, marker='o',
                linestyle=_style(row), label=row)
  ax.set_xticks(range(len(axis)), axis)
  ax.set_xlabel('end point (shallow to deep)')
  ax.set_ylabel('linear probe top-1, test (%)')
  ax.set_title(f'{title} (mean ± std over seeds)')
  _save(plt, fig, ax, path)


def plot_lengths(chosen: 'dict[str, Selection]', path: str) -> bool:
  """Best validation top-1 (seed 0) against pretraining epochs.

  Lengths measured past a search's stop (`Selection.beyond`) are drawn
  hollow.

  Returns:
    Whether any row searched more than one length (else nothing is drawn).
  """
  def points(scores):
    return sorted((float(s['--epochs']), max(val.values()))
                  for s, val in scores.values() if s)

  curves = {row: (points(s.scores), points(s.beyond))
            for row, s in chosen.items() if len(s.scores) > 1}
  if not curves:
    return False
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(6, 4))
  past = 'past the search\'s stop (not chosen from)'
  for row, (searched, beyond) in curves.items():
    (line,) = ax.plot(*zip(*searched), marker='o', label=row)
    if beyond:
      ax.plot(*zip(*(searched[-1:] + beyond)), marker='o', linestyle=':',
              color=line.get_color(), markerfacecolor='none', label=past)
      past = None  # One legend entry for them all.
  ax.set_xscale('log', base=2)
  ax.set_xlabel('pretraining epochs')
  ax.set_ylabel('best end point, validation top-1 (%)')
  ax.set_title('Probe quality against pretraining length (seed 0)')
  _save(plt, fig, ax, path)
  return True


def plot_low_shot(finals: 'Finals', path: str) -> None:
  """Convex probe top-1 at the best end point against images per class."""
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(6, 4))
  for row, seeds in finals.items():
    xs, means, stds = [], [], []
    for shots in ('10', '100', 'all'):
      picked = [f.convex[f.best][shots] for f in seeds]
      per_class = (int(shots) if shots != 'all' else
                   picked[0]['examples'] // 10)
      mean, std = experiment.mean_std([p['test_top1'] for p in picked])
      xs.append(per_class)
      means.append(mean)
      stds.append(std)
    ax.errorbar(xs, means, yerr=stds, capsize=3, marker='o', label=row,
                linestyle=_style(row))
  ax.set_xscale('log')
  ax.set_xlabel('labelled training images per class')
  ax.set_ylabel('convex probe top-1, test (%)')
  ax.set_title('Low-shot probes, best end point (mean ± std)')
  _save(plt, fig, ax, path)
