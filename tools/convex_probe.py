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
regression to convergence on one set (`self_supervision/convex_probe.py`),
chooses the L2 strength on a second and, when given, reads a third once:

  python tools/convex_probe.py --train WORKDIR/features/KEY_TRAIN \
      --val WORKDIR/features/KEY_VAL [--test WORKDIR/features/KEY_TEST] \
      --end_points pre_logits,block4

It prints one line per end point and L2 strength (validation top-1, L-BFGS
iterations, whether it converged) and the chosen one's accuracies.
"""

import argparse
import sys

from self_supervision import convex_probe, feature_store


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
  args = parser.parse_args(argv)
  try:
    args.l2 = [float(v) for v in args.l2.split(',')]
  except ValueError:
    parser.error(f'--l2 takes comma-separated numbers; got {args.l2!r}.')
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


def main(argv: list[str] | None = None) -> None:
  """Fits, chooses and reports the probe of each end point."""
  args, sets = parse_args(argv)
  end_points = (sets['train'].end_points if args.end_points == 'all'
                else args.end_points.split(','))
  for end_point in end_points:
    try:
      arrays = {name: convex_probe.read(stored, end_point)
                for name, stored in sets.items()}
      fit = convex_probe.fit(arrays['train'], arrays['val'], args.l2)
    except (ValueError, ImportError) as e:
      sys.exit(f'{end_point}: {e}')
    for l2 in sorted(fit.val_top1, reverse=True):
      print(f'{end_point} l2 {l2:g}: val top-1 {100 * fit.val_top1[l2]:.2f}, '
            f'{fit.iterations[l2]} L-BFGS iterations'
            f'{"" if fit.converged[l2] else " (did not converge)"}')
    line = (f'{end_point}: chosen l2 {fit.l2:g}, val top-1 '
            f'{100 * fit.val_top1[fit.l2]:.2f}')
    if 'test' in arrays:
      line += f', test top-1 {100 * fit.top1(*arrays["test"]):.2f}'
    print(line, flush=True)


if __name__ == '__main__':
  main()
