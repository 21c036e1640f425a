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


"""Writes a jigsaw permutation set chosen for large Hamming distances.

Noroozi & Favaro's greedy selection (ECCV 2016, Algorithm 1): start from a
random permutation of the tiles; then repeatedly add, among all length!
permutations not yet chosen, the one with the largest *average* Hamming
distance to those already chosen (criterion `mean`, the paper's; it
reproduces the published file's mean pairwise distance of 8.08).
`--criterion min` instead maximises the *minimum* distance to the chosen set
(a larger minimum, a slightly smaller mean). Ties are broken uniformly at
random; everything is drawn from a generator seeded with `--seed`, so a run
is reproducible. The identity is never chosen (as in the published file).

The file has the original binary format, so it is a
drop-in for `permutations_100_max.bin`:

  python tools/make_permutations.py --output permutations_100_max.bin

prints the minimum and mean pairwise Hamming distance of the set.
"""

import argparse
import itertools
import math

import numpy as np

CRITERIA = ('mean', 'min')


def all_permutations(length: int) -> np.ndarray:
  """Every permutation of 0..length-1, lexicographic (identity first)."""
  return np.array(list(itertools.permutations(range(length))), np.int8)


def select_permutations(count: int = 100, length: int = 9, *,
                        criterion: str = 'mean',
                        seed: int = 0) -> np.ndarray:
  """Greedy maximal-Hamming-distance selection.

  Args:
    count: permutations to choose (at most length! - 1).
    length: tiles per puzzle.
    criterion: `mean` (maximise the summed distance to the chosen set, the
      paper's rule) or `min` (maximise the minimum distance).
    seed: seed of the random start and the tie-breaking.

  Returns:
    int32 `[count, length]`, 0-based, in the order chosen.

  Raises:
    ValueError: for an unknown criterion or an impossible count.
  """
  if criterion not in CRITERIA:
    raise ValueError(f'criterion must be one of {CRITERIA}, got '
                     f'{criterion!r}.')
  if not 1 <= count < math.factorial(length):
    raise ValueError(f'count must be in 1..{math.factorial(length) - 1} '
                     f'for length {length}, got {count}.')
  candidates = all_permutations(length)
  rng = np.random.default_rng(seed)
  available = np.ones(len(candidates), bool)
  available[0] = False  # The identity (lexicographic order puts it first).
  # Per candidate: summed or minimum distance to the chosen set.
  if criterion == 'mean':
    score = np.zeros(len(candidates), np.int64)
  else:
    score = np.full(len(candidates), length + 1, np.int64)
  index = int(rng.choice(np.flatnonzero(available)))
  chosen = []
  while True:
    chosen.append(index)
    available[index] = False
    if len(chosen) == count:
      break
    distance = np.count_nonzero(candidates != candidates[index], axis=1)
    if criterion == 'mean':
      score += distance
    else:
      np.minimum(score, distance, out=score)
    masked = np.where(available, score, -1)
    best = np.flatnonzero(masked == masked.max())
    index = int(best[rng.integers(len(best))])
  return candidates[chosen].astype(np.int32)


def hamming_stats(permutations: np.ndarray) -> tuple[int, float]:
  """Minimum and mean Hamming distance over all pairs of rows."""
  perms = np.asarray(permutations)
  distances = np.count_nonzero(perms[:, None, :] != perms[None, :, :],
                               axis=2)
  upper = distances[np.triu_indices(len(perms), k=1)]
  return int(upper.min()), float(upper.mean())


def main(argv: list[str] | None = None) -> None:
  """Parses the command line, writes the file, prints its statistics."""
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--output', required=True,
                      help='The permutation file to write.')
  parser.add_argument('--count', type=int, default=100,
                      help='Number of permutations.')
  parser.add_argument('--length', type=int, default=9,
                      help='Tiles per puzzle (9 for a 3x3 grid).')
  parser.add_argument('--criterion', choices=CRITERIA, default='mean',
                      help='Greedy rule: maximal mean (the paper) or '
                      'maximal minimum distance to the chosen set.')
  parser.add_argument('--seed', type=int, default=0, help='Random seed.')
  args = parser.parse_args(argv)

  # The file format lives with the code that reads it. Imported here, only
  # to write: selecting and --help need no TensorFlow.
  from revisiting_ssl.self_supervision import patch_utils  # noqa: PLC0415

  perms = select_permutations(args.count, args.length,
                              criterion=args.criterion, seed=args.seed)
  patch_utils.write_permutations(args.output, perms)
  minimum, mean = hamming_stats(perms)
  print(f'Wrote {len(perms)} permutations of {args.length} tiles to '
        f'{args.output}: pairwise Hamming distance min {minimum}, mean '
        f'{mean:.4f}.')


def run_cli() -> None:
  """The `revisiting-ssl-make-permutations` command."""
  main()


if __name__ == '__main__':
  run_cli()
