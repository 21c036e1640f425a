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

r"""The exact convex probe on feature sets a cached linear evaluation stored.

`--linear_eval_mode cached` stores each split's features under
`<workdir>/features/<key>/`; this fits L2-regularised multinomial logistic
regression to convergence on one set (`probes/convex_probe.py`),
chooses the L2 strength on a second and, when given, reads a third once:

  python tools/convex_probe.py --train WORKDIR/features/KEY_TRAIN \
      --val WORKDIR/features/KEY_VAL [--test WORKDIR/features/KEY_TEST] \
      --end_points pre_logits,block4

It prints one line per end point and L2 strength (validation top-1, L-BFGS
iterations, whether it converged to `--tol`) and the chosen one's accuracies;
`--json PATH` also writes them (end point -> training examples per class,
or "all" -> the numbers) for a benchmark to read.

Low-shot: `--labels_per_class 10,100,all` fits the probe on N training
examples of every class, drawn by S4L's class-balanced sampler
(`data_sources.label_subsets.sample`, `--label_subset_seed`) over the
stored order of the training set, and also reports the weighted kNN
classifier (`probes/streamed_knn.py`, with the cached linear
evaluation's defaults of k and temperature) with those examples as its
bank, on the validation and (when given) test sets.

Another model's choices: `--l2_from PATH` (an earlier run's `--json`)
fits, for each end point and subset size that file lists, only the L2
strength chosen there, instead of a path over `--l2`; the rest still
search `--l2`. A benchmark chooses the strength on one seed's validation
set and reuses it for the other seeds, as it does with its other choices.
"""

import argparse
import inspect
import json
import os
import sys
from typing import Any

import numpy as np

from revisiting_ssl.data_sources import label_subsets
from revisiting_ssl.probes import convex_probe, feature_store, streamed_knn
from revisiting_ssl.probes.linear_eval import LinearEvalTask

_KNN_DEFAULTS = {name: inspect.signature(LinearEvalTask).parameters[
    name].default for name in ('knn_k', 'knn_temperature')}


def parse_args(argv: list[str] | None):
  """(flags, split name -> stored set); errors name the flag."""
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--train', required=True,
                      help='feature set to fit on (a directory with meta.json)')
  parser.add_argument('--val', required=True,
                      help='feature set that chooses the L2 strength')
  parser.add_argument('--test', help='feature set read once at the end')
  parser.add_argument('--end_points', default='pre_logits',
                      help='comma-separated end points, or "all"')
  parser.add_argument('--l2', default=','.join(
      f'{v:g}' for v in convex_probe.DEFAULT_L2_GRID),
                      help='comma-separated weight decays to try')
  parser.add_argument('--l2_patience', type=int,
                      help='stop the L2 path (strong to weak) once this many '
                      'strengths weaker than the best have scored below it '
                      'on --val (default: try the whole grid)')
  parser.add_argument('--l2_from',
                      help="another run's --json: fit the L2 strength "
                      'chosen there for each end point and subset size it '
                      'lists (the rest search --l2)')
  parser.add_argument('--tol', type=float, default=convex_probe.DEFAULT_TOL,
                      help="L-BFGS's gradient tolerance")
  parser.add_argument('--labels_per_class', default='all',
                      help='comma-separated training examples per class '
                      '(e.g. 10,100,all): low-shot probes and kNN')
  parser.add_argument('--label_subset_seed', type=int, default=0,
                      help='seed of the class-balanced draw')
  parser.add_argument('--json', help='also write the results to this file')
  parser.add_argument('--knn_k', type=int, default=_KNN_DEFAULTS['knn_k'])
  parser.add_argument('--knn_temperature', type=float,
                      default=_KNN_DEFAULTS['knn_temperature'])
  args = parser.parse_args(argv)
  try:
    args.l2 = [float(v) for v in args.l2.split(',')]
  except ValueError:
    parser.error(f'--l2 takes comma-separated numbers; got {args.l2!r}.')
  shots = args.labels_per_class.split(',')
  if not args.tol > 0:
    parser.error(f'--tol must be > 0; got {args.tol}.')
  args.l2_from = _chosen_strengths(parser, args.l2_from)
  if args.l2_patience is not None and args.l2_patience < 1:
    parser.error(f'--l2_patience must be at least 1; got {args.l2_patience}.')
  if not all(v == 'all' or (v.isdigit() and int(v) > 0) for v in shots):
    parser.error('--labels_per_class takes positive integers or "all"; got '
                 f'{args.labels_per_class!r}.')
  args.labels_per_class = [None if v == 'all' else int(v) for v in shots]
  sets = {}
  for name in ('train', 'val', 'test'):
    path = getattr(args, name)
    if path is None:
      continue
    sets[name] = feature_store.load(path)
    if sets[name] is None:
      parser.error(f'--{name}: {path} holds no complete feature set '
                   '(no meta.json).')
  return args, sets


def _chosen_strengths(parser: argparse.ArgumentParser, path: str | None
                      ) -> dict[tuple[str, str], float]:
  """(end point, subset size) -> the L2 strength `path` chose; {}: none."""
  if path is None:
    return {}
  try:
    with open(path) as f:
      results = json.load(f)
    chosen = {(end_point, shots): float(result['l2'])
              for end_point, by_shots in results.items()
              for shots, result in by_shots.items()}
  except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
    parser.error(f'--l2_from: {path} is not the --json of an earlier run '
                 f'(end point -> subset size -> {{"l2": ...}}): {e!r}')
  bad = {k: v for k, v in chosen.items() if not v > 0}
  if bad:
    parser.error(f'--l2_from: {path} has strengths that are not > 0: {bad}')
  return chosen


def subset(train: tuple[np.ndarray, np.ndarray], per_class: int | None,
           seed: int) -> tuple[np.ndarray, np.ndarray]:
  """`per_class` examples of every class (None: all), S4L's sampler."""
  if per_class is None:
    return train
  features, labels = train
  chosen = label_subsets.sample(
      np.arange(len(labels)), labels, num_classes=int(labels.max()) + 1,
      per_class=per_class, seed=seed)
  index = np.asarray(chosen, np.int64)
  return features[index], labels[index]


def knn_top1(bank: tuple[np.ndarray, np.ndarray],
             queries: tuple[np.ndarray, np.ndarray], num_classes: int,
             args: argparse.Namespace) -> float:
  """Weighted kNN top-1 of `queries` against the labelled `bank`."""
  chunk = streamed_knn.BANK_CHUNK

  def bank_chunks():
    for begin in range(0, len(bank[1]), chunk):
      yield bank[0][begin:begin + chunk], bank[1][begin:begin + chunk]

  blocks = ((queries[0][b:b + 1024], queries[1][b:b + 1024])
            for b in range(0, len(queries[1]), 1024))
  top1, _ = streamed_knn.knn_accuracy(
      bank_chunks, blocks, bank_size=len(bank[1]), num_classes=num_classes,
      k=args.knn_k, temperature=args.knn_temperature)
  return top1


def subset_key(per_class: int | None) -> str:
  """Names a training subset in `--json` and `--l2_from`: 'all' or a count."""
  return 'all' if per_class is None else str(per_class)


def report(end_point: str, arrays: dict[str, tuple[np.ndarray, np.ndarray]],
           per_class: int | None, args: argparse.Namespace
           ) -> dict[str, Any]:
  """Fits the probe (and kNN) on one training subset; prints the lines.

  Returns:
    The chosen L2 strength, top-1 (%) of the probe and of kNN on `val` (and
    `test` when given), the number of training examples, whether the
    strength came from `--l2_from`, and the L-BFGS iterations and
    convergence of every strength fitted.
  """
  train = subset(arrays['train'], per_class, args.label_subset_seed)
  shots = 'all' if per_class is None else f'{per_class} per class'
  name = f'{end_point} ({shots}, {len(train[1])} examples)'
  reused = args.l2_from.get((end_point, subset_key(per_class)))
  grid = args.l2 if reused is None else [reused]
  fit = convex_probe.fit(train, arrays['val'], grid, tol=args.tol,
                         patience=args.l2_patience)
  for l2 in sorted(fit.val_top1, reverse=True):
    print(f'{name} l2 {l2:g}: val top-1 {100 * fit.val_top1[l2]:.2f}, '
          f'{fit.iterations[l2]} L-BFGS iterations'
          f'{"" if fit.converged[l2] else " (did not converge)"}')
  num_classes = fit.weights.shape[1]
  knn = {split: knn_top1(train, arrays[split], num_classes, args)
         for split in ('val', 'test') if split in arrays}
  note = (' (from --l2_from)' if reused is not None else
          ' (the edge of the grid: extend --l2)'
          if fit.l2 in (min(grid), max(grid)) and len(grid) > 1 else '')
  line = (f'{name}: chosen l2 {fit.l2:g}{note}, val top-1 '
          f'{100 * fit.val_top1[fit.l2]:.2f} (kNN {100 * knn["val"]:.2f})')
  result = {'examples': len(train[1]), 'l2': fit.l2,
            'val_top1': 100 * fit.val_top1[fit.l2],
            'knn_val_top1': 100 * knn['val'],
            'l2_reused': reused is not None,
            'iterations': {f'{k:g}': v for k, v in fit.iterations.items()},
            'converged': {f'{k:g}': v for k, v in fit.converged.items()}}
  if 'test' in arrays:
    result.update(test_top1=100 * fit.top1(*arrays['test']),
                  knn_test_top1=100 * knn['test'])
    line += (f', test top-1 {result["test_top1"]:.2f} '
             f'(kNN {result["knn_test_top1"]:.2f})')
  print(line, flush=True)
  return result


def main(argv: list[str] | None = None) -> None:
  """Fits, chooses and reports the probe of each end point."""
  args, sets = parse_args(argv)
  end_points = (sets['train'].end_points if args.end_points == 'all'
                else args.end_points.split(','))
  results = {}
  for end_point in end_points:
    try:
      arrays = {name: convex_probe.read(stored, end_point)
                for name, stored in sets.items()}
      results[end_point] = {
          subset_key(per_class): report(end_point, arrays, per_class, args)
          for per_class in args.labels_per_class}
    except (ValueError, ImportError) as e:  # UsageError is a ValueError.
      sys.exit(f'{end_point}: {e}')
  if args.json:
    # Written whole, under a temporary name first: a reader never sees a
    # half-written file as a finished probe.
    with open(args.json + '.tmp', 'w') as f:
      json.dump(results, f, indent=2)
    os.replace(args.json + '.tmp', args.json)


def run_cli() -> None:
  """The `revisiting-ssl-convex-probe` command."""
  main()


if __name__ == '__main__':
  run_cli()
