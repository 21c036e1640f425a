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

"""Prints the demo's table: top-1 per end point, pretrained vs random."""

import argparse
import csv
import os
import sys

# Network order, shallow to deep.
ORDER = ('after_root', 'block1', 'block2', 'block3', 'block4', 'block5',
         'fc6', 'pre_logits', 'logits')


def read_top1(workdir: str, split: str) -> dict[str, float]:
  """End point -> top-1 accuracy from a linear evaluation's results."""
  path = os.path.join(workdir, 'linear_eval_results.csv')
  with open(path) as f:
    return {r['end_point']: float(r['top1_accuracy'])
            for r in csv.DictReader(f) if r['split'] == split}


def format_table(columns: dict[str, dict[str, float]]) -> str:
  """A text table, one row per end point, one column per model."""
  names = list(columns)
  end_points = sorted({e for c in columns.values() for e in c},
                      key=lambda e: (ORDER.index(e) if e in ORDER
                                     else len(ORDER), e))
  lines = [f'{"end point":<12}' + ''.join(f'{n:>14}' for n in names)]
  for e in end_points:
    cells = ''.join(
        f'{100 * columns[n][e]:>13.1f}%' if e in columns[n] else f'{"-":>14}'
        for n in names)
    lines.append(f'{e:<12}' + cells)
  best = {n: max(c.values()) for n, c in columns.items() if c}
  lines.append(f'{"best":<12}' + ''.join(f'{100 * best[n]:>13.1f}%'
                                         for n in names))
  return '\n'.join(lines)


def main(argv=None) -> int:
  """Reads both results files and prints the comparison."""
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument('--rotation', required=True)
  parser.add_argument('--random_init', required=True)
  parser.add_argument('--split', default='test')
  args = parser.parse_args(argv)
  columns = {'rotation': read_top1(args.rotation, args.split),
             'random init': read_top1(args.random_init, args.split)}
  print(f'Linear evaluation on Fashion-MNIST ({args.split} split), top-1:')
  print(format_table(columns))
  return 0


if __name__ == '__main__':
  sys.exit(main())
