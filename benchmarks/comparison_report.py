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

"""Tables and findings of `benchmarks/fashion_mnist.py`.

Works on the numbers the driver collected (`Selection` per row, `Final` per
row and seed), so that it can be checked without training anything;
`comparison_results.write` puts them in RESULTS.md. Every number in a table
is a mean ± standard deviation over the seeds; a finding holds only when
`experiment.compare` finds the difference beyond the seeds' spread.
"""

from collections.abc import Callable, Sequence
import dataclasses
import statistics
from typing import Any

import experiment

ORDER = ('after_root', 'block1', 'block2', 'block3', 'block4', 'block5',
         'fc6', 'pre_logits', 'logits')
# Best linear-probe top-1 on ImageNet of each method's best network in the
# paper (Table 4: RevNet-50 x16, ResNet-50 v1 x2 / x3 / x2).
PAPER_IMAGENET = {'rotation': 55.4, 'relative patch location': 51.4,
                  'exemplar': 46.0, 'jigsaw': 44.6}
# SimCLR's linear probe on ImageNet (top-1, ResNet-50 at width 1; Chen et
# al., 2020): a reference from the paper that followed, not one of the
# revisiting paper's findings.
SIMCLR_IMAGENET = 69.3
# The patch tasks are probed on patches, so their random-weights reference
# is probed that way too (benchmarks/fashion_mnist.py, `ROWS`).
_PATCH_METHODS = ('relative patch location', 'jigsaw')
# Width and network are compared with rotation at width 1 trained as long
# as they are (benchmarks/fashion_mnist.py, `ROWS`).
WIDTHS = ('rotation (1 epoch)', 'rotation (filters_factor 2)',
          'rotation (filters_factor 4)')
NETWORKS = (WIDTHS[0], 'rotation (revnet50)', 'rotation (vgg19)')


@dataclasses.dataclass
class Selection:
  """A row's choice on the validation split (seed 0).

  Attributes:
    scores: setting name -> (setting, end point -> validation top-1).
    setting: the chosen setting (its flags).
    source: the row whose choice this row takes, if not its own.
    still_improving: the search ran out of settings while the last one
      still improved enough on the best before it.
    beyond: longer settings the search stopped before but the ledger has
      numbers for (from a run under an earlier rule), as `scores`: shown
      in the table and the plot, never chosen.
  """
  scores: dict[str, tuple[dict[str, str], dict[str, float]]]
  setting: dict[str, str]
  source: str | None = None
  still_improving: bool = False
  beyond: dict[str, tuple[dict[str, str], dict[str, float]]] = (
      dataclasses.field(default_factory=dict))

  @classmethod
  def best_of(cls, scores, still_improving: bool = False, beyond=None
              ) -> 'Selection':
    """The setting whose best end point scores highest; ties: the first."""
    best = None
    for name, (_, val) in scores.items():
      if best is None or max(val.values()) > max(scores[best][1].values()):
        best = name
    return cls(scores, scores[best][0], still_improving=still_improving,
               beyond=beyond or {})

  @property
  def name(self) -> str:
    return setting_name(self.setting)


def setting_name(setting: dict[str, str]) -> str:
  """`epochs1` for {'--epochs': '1', ...}: the length names a setting."""
  return f'epochs{setting["--epochs"]}' if setting else 'initial'


@dataclasses.dataclass
class Final:
  """One final model: its probes (top-1, %) and what its stages cost.

  Attributes:
    seed: the random seed (of initialisation, data order and subsets).
    val: end point -> the paper's probe on the validation split.
    test: end point -> the same heads on the test split (read once).
    best: the end point with the best validation top-1.
    convex: `tools/convex_probe.py --json`: end point -> examples per class
      (or "all") -> numbers.
    minutes: stage -> wall seconds.
    commands: the command that made the network (its training, or for
      random weights the export).
    own: for a supervised network, its own head's top-1: `test` and
      `val_curve` ((step, top-1) per checkpoint).
    retrained: whether the network was trained a second time (same seed)
      for stages that were still to run when the first went with its
      machine.
    val_again: for a network trained again, its own `val` numbers (`val`
      stays the first network's), where it was probed on `val` again.
  """
  seed: int
  val: dict[str, float]
  test: dict[str, float]
  best: str
  convex: dict[str, dict[str, dict[str, Any]]]
  minutes: dict[str, float]
  commands: list[str]
  own: dict[str, Any] | None = None
  retrained: bool = False
  val_again: dict[str, float] | None = None


Finals = dict[str, list[Final]]


def sort_end_points(names) -> list[str]:
  return sorted(names, key=lambda e: (ORDER.index(e) if e in ORDER
                                      else len(ORDER), e))


def cell(values: Sequence[float]) -> str:
  if not values:
    return '-'
  mean, std = experiment.mean_std(values)
  return f'{mean:.1f} ± {std:.1f}'


# What a row's seeds give for each column of the tables.
def best_layer(f: Final) -> float:
  return f.test[f.best]


def pre_logits(f: Final) -> float:
  return f.test['pre_logits']


def convex(end_point: str, shots: str = 'all', key: str = 'test_top1'
           ) -> Callable[[Final], float | None]:
  """A measure of the convex probe's results; None for a row without it."""
  def get(f: Final) -> float | None:
    if not f.convex:
      return None
    name = f.best if end_point == 'best' else end_point
    return f.convex[name][shots][key]
  return get


def drop(f: Final) -> float:
  """Points lost from the best end point to pre_logits (test)."""
  return f.test[f.best] - f.test['pre_logits']


def values(finals: Finals, row: str, measure: Callable[[Final], float]
           ) -> list[float]:
  return [measure(f) for f in finals.get(row, [])]


COLUMNS = (
    ('best end point (paper probe)', best_layer),
    ('pre_logits (paper probe)', pre_logits),
    ('best end point (convex)', convex('best')),
    ('pre_logits (convex)', convex('pre_logits')),
    ('kNN, best end point', convex('best', key='knn_test_top1')),
)
LOW_SHOT_COLUMNS = tuple(
    (f'{name}, {shots} per class', convex('best', shots, key))
    for shots in ('10', '100')
    for name, key in (('convex', 'test_top1'), ('kNN', 'knn_test_top1')))


def table(finals: Finals, columns) -> str:
  lines = ['| row | ' + ' | '.join(c for c, _ in columns) + ' |',
           '| --- ' * (len(columns) + 1) + '|']
  for row, seeds in finals.items():
    lines.append(f'| {row} | ' + ' | '.join(
        cell([v for f in seeds if (v := measure(f)) is not None])
        for _, measure in columns) + ' |')
  return '\n'.join(lines)


def probed_end_points(finals: Finals) -> list[str]:
  """Every end point some final model was probed at, shallow to deep."""
  return sort_end_points({e for seeds in finals.values() for f in seeds
                          for e in f.test})


def depth_table(finals: Finals) -> str:
  end_points = probed_end_points(finals)
  lines = ['| row | ' + ' | '.join(end_points) + ' |',
           '| --- ' * (len(end_points) + 1) + '|']
  for row, seeds in finals.items():
    lines.append(f'| {row} | ' + ' | '.join(
        cell([f.test[e] for f in seeds if e in f.test]) for e in end_points)
                 + ' |')
  return '\n'.join(lines)


def selection_table(chosen: dict[str, Selection]) -> str:
  lines = ['| row | best end point on val (seed 0) per setting | chosen |',
           '| --- | --- | --- |']
  for row, selection in chosen.items():
    if selection.source:
      tried = f'as {selection.source}'
    else:
      tried = ', '.join(
          [f'{name}: {max(val.values()):.1f}'
           for name, (_, val) in selection.scores.items()] +
          [f'{name}: {max(val.values()):.1f} (past the stop)'
           for name, (_, val) in selection.beyond.items()])
    lines.append(f'| {row} | {tried} | {selection.name} |')
  return '\n'.join(lines)


def verdict(ours: Sequence[float], base: Sequence[float]) -> str:
  return {1: 'higher', -1: 'lower', 0: 'within the spread'}[
      experiment.compare(ours, base)]


def reference(method: str) -> str:
  """The random-weights row that `method` is compared with."""
  return ('random init (patches)' if method in _PATCH_METHODS
          else 'random init')


def findings(finals: Finals, chosen: dict[str, Selection]) -> list[str]:
  """The paper's findings, each with its numbers and whether it holds."""
  lines = []

  def show(row, measure):
    return f'{row} {cell(values(finals, row, measure))}'

  for method in PAPER_IMAGENET:
    base = reference(method)
    if method not in finals or base not in finals:
      continue
    parts = []
    for name, measure in (('best end point', best_layer),
                          ('pre_logits', pre_logits),
                          ('convex, best end point', convex('best'))):
      ours, ref = values(finals, method, measure), values(finals, base,
                                                          measure)
      parts.append(f'{name}: {cell(ours)} vs {cell(ref)}, '
                   f'{verdict(ours, ref)}')
    holds = experiment.compare(values(finals, method, best_layer),
                               values(finals, base, best_layer)) > 0
    lines.append(f'- **{method} against {base}**: ' + '; '.join(parts) +
                 '. Beats random weights at its best end point: ' +
                 ('reproduces' if holds else 'does not reproduce') + '.')
  lines += probe_artefacts(finals)
  for method in PAPER_IMAGENET:
    base = reference(method)
    if method not in finals or base not in finals:
      continue
    gains = {shots: statistics.mean(values(finals, method, convex(
        'best', shots))) - statistics.mean(values(finals, base, convex(
            'best', shots))) for shots in ('10', '100', 'all')}
    grows = gains['10'] > gains['all']
    beyond = experiment.compare(
        values(finals, method, convex('best', '10')),
        values(finals, base, convex('best', '10'))) > 0
    # A larger gain with 10 labels counts only if that gain is itself
    # beyond the seeds' spread; the line says which condition failed.
    answer = ('yes' if grows and beyond else
              'no: the gain grows with fewer labels, but with 10 per class '
              'it is within the seeds\' spread' if grows else 'no')
    lines.append(
        f'- **{method}, low-shot**: gain over {base} (convex, best end '
        'point) with 10 / 100 / all labelled images per class: ' +
        ' / '.join(f'{gains[s]:+.1f}' for s in gains) +
        f'. Separates more clearly with fewer labels: {answer}.')
  if all(w in finals for w in WIDTHS):
    steps = [experiment.compare(values(finals, wide, best_layer),
                                values(finals, narrow, best_layer))
             for narrow, wide in zip(WIDTHS, WIDTHS[1:])]
    lines.append(
        '- **Width** (rotation, best end point): ' + ', '.join(
            show(w, best_layer) for w in WIDTHS) +
        '; pre_logits: ' + ', '.join(show(w, pre_logits) for w in WIDTHS) +
        '. Wider is better at each step: ' +
        ('reproduces' if all(s > 0 for s in steps) else
         'does not reproduce' if any(s < 0 for s in steps) else
         'not beyond the spread') + '.')
  if all(n in finals for n in NETWORKS):
    vgg = values(finals, 'rotation (vgg19)', drop)
    skips = [values(finals, n, drop) for n in NETWORKS[:2]]
    holds = all(experiment.compare(vgg, s) > 0 for s in skips)
    lines.append(
        '- **Architecture** (rotation; points lost from the best end point '
        'to pre_logits): ' + ', '.join(show(n, drop) for n in NETWORKS) +
        '. Quality falls towards the last layers for VGG more than for '
        f'the networks with skip connections: '
        f'{"reproduces" if holds else "does not reproduce"}.')
  methods = [m for m in PAPER_IMAGENET if m in finals]
  if len(methods) > 1:
    ours = sorted(methods, key=lambda m: -statistics.mean(
        values(finals, m, best_layer)))
    separated = [experiment.compare(values(finals, a, best_layer),
                                    values(finals, b, best_layer)) > 0
                 for a, b in zip(ours, ours[1:])]
    order = ours[0] + ''.join(f' {">" if s else "≈"} {m}'
                              for s, m in zip(separated, ours[1:]))
    paper = ' > '.join(f'{m} ({PAPER_IMAGENET[m]})' for m in methods)
    # A partial ranking says so: the four-method finding is still untested.
    name = ('Ranking' if len(methods) == len(PAPER_IMAGENET) else
            f'Ranking of the {len(methods)} methods run so far')
    lines.append(f'- **{name}** (best end point, "≈": within the spread): '
                 f'here {order}; the paper on ImageNet: {paper}. Same '
                 f'order: {"yes" if ours == methods else "no"}.')
  lines += contrastive(finals)
  for row, selection in chosen.items():
    if len(selection.scores) > 1 and selection.still_improving:
      lines.append(f'- **{row}**: the longest setting tried was the best on '
                   'the validation split and still improving, so longer '
                   'pretraining might still help.')
  owned = [f.own for f in finals.get('supervised', []) if f.own]
  if owned:
    lines.append(plateau(owned))
  return lines + untested(finals)


def contrastive(finals: Finals) -> list[str]:
  """SimCLR against random weights and each pretext task run so far.

  Returns:
    One line (none without the simclr row): each probe's test top-1 at the
    best end point with the verdict against every other row, then whether
    SimCLR is ahead of every pretext task here, as on ImageNet.
  """
  if 'simclr' not in finals:
    return []
  others = [m for m in ('random init', *PAPER_IMAGENET) if m in finals]
  if not others:
    return []
  measures = [('paper probe', best_layer)]
  if all(f.convex for m in ('simclr', *others) for f in finals[m]):
    measures += [('convex', convex('best')),
                 ('convex, 10 labels per class', convex('best', '10'))]
  parts = []
  for name, measure in measures:
    ours = values(finals, 'simclr', measure)
    parts.append(f'{name}: {cell(ours)} against ' + ', '.join(
        f'{m} {cell(values(finals, m, measure))} '
        f'({verdict(ours, values(finals, m, measure))})' for m in others))
  pretext = [m for m in others if m in PAPER_IMAGENET]
  ahead = all(experiment.compare(values(finals, 'simclr', best_layer),
                                 values(finals, m, best_layer)) > 0
              for m in pretext)
  best = max(PAPER_IMAGENET, key=PAPER_IMAGENET.get)
  return ['- **SimCLR against the pretext tasks** (best end point; '
          '"higher": SimCLR is ahead beyond the spread): '
          + '; '.join(parts) +
          f'. On ImageNet its ResNet-50 reached {SIMCLR_IMAGENET} (linear '
          f'probe, top-1) against the best pretext task\'s '
          f'{PAPER_IMAGENET[best]} ({best}). Ahead of every pretext task run '
          f'here ({", ".join(pretext) or "none yet"}), paper probe: '
          f'{"yes" if ahead and pretext else "no"}.']


def untested(finals: Finals) -> list[str]:
  """The findings above that rows not in `finals` leave untested.

  Returns:
    One line naming each such finding and the rows it waits for; none when
    every row is there.
  """
  waiting = []
  for method in PAPER_IMAGENET:
    base = reference(method)
    absent = [r for r in (method, base) if r not in finals]
    if absent:
      waiting.append(f'{method} against {base}, with its low-shot gain '
                     f'(needs {", ".join(absent)})')
  for finding, rows in (('width', WIDTHS), ('architecture', NETWORKS),
                        ('the ranking of the four methods', PAPER_IMAGENET)):
    absent = [r for r in rows if r not in finals]
    if absent:
      waiting.append(f'{finding} (needs {", ".join(absent)})')
  if not waiting:
    return []
  return ['- **Not tested yet**, their rows still to run: ' +
          '; '.join(waiting) + '.']


def probe_artefacts(finals: Finals) -> list[str]:
  """The paper's SGD probe against the converged one, on the same features.

  Returns:
    One finding (none without convex probes): the gap per row, and the
    verdicts against random weights that depend on which probe is read.
  """
  probed = [r for r, seeds in finals.items() if all(f.convex for f in seeds)]
  if not probed:
    return []

  def gap(end_point, paper_probe):
    return lambda f: convex(end_point)(f) - paper_probe(f)

  gaps = []
  for row in probed:
    best, last = (cell(values(finals, row, gap(e, m)))
                  for e, m in (('best', best_layer),
                               ('pre_logits', pre_logits)))
    gaps.append(f'{row} {best} ({last})')
  changed = []
  for method in PAPER_IMAGENET:
    base = reference(method)
    if method in probed and base in probed:
      paper, converged = (verdict(values(finals, method, m),
                                  values(finals, base, m))
                          for m in (best_layer, convex('best')))
      if paper != converged:
        changed.append(f'{method} against {base} (paper probe: {paper}; '
                       f'convex: {converged})')
  return ["- **The paper's probe against the converged one** (convex minus "
          'paper probe, test top-1 points, best end point (pre_logits)): '
          f'{", ".join(gaps)}. Verdicts at the best end point that change '
          f'with the probe: {"; ".join(changed) or "none"}.']


def plateau(owned: list[dict[str, Any]]) -> str:
  """The supervised head's test top-1 and whether its training plateaued.

  Plateaued: the validation top-1 of the last checkpoint is not above the
  one three quarters of the way through beyond the seeds' spread.
  """
  test = [o['test'] for o in owned]
  curves = [dict(o['val_curve']) for o in owned]
  steps = sorted(set.intersection(*(set(c) for c in curves)))
  last = steps[-1]
  quarter = min(s for s in steps if s >= 0.75 * last)
  if quarter == last:
    trend = 'too few checkpoints to tell whether it plateaued'
  else:
    flat = experiment.compare([c[last] for c in curves],
                              [c[quarter] for c in curves]) <= 0
    trend = (f'from step {quarter} to {last}: '
             f'{"plateaued" if flat else "still rising"}')
  curve = ', '.join(f'{s}: {cell([c[s] for c in curves])}' for s in steps)
  return (f'- **Supervised reference**, its own head on the test split: '
          f'{cell(test)} (at least 92 asked: '
          f'{"met" if min(test) >= 92 else "not met"}). Validation top-1 '
          f'by training step: {curve}; {trend}.')
