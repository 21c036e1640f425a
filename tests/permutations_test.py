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


"""Tests of tools/make_permutations.py and the permutation file loader."""

import hashlib
import itertools
import subprocess
import sys

from conftest import REPO, SHARED_DATA
import numpy as np
import pytest
import testdata

from revisiting_ssl import utils
from revisiting_ssl.self_supervision import patch_utils

# The tool is a script, not a module of the package.
make_permutations = testdata.load_script('tools/make_permutations.py',
                                        'make_permutations')

PUBLISHED = SHARED_DATA / 'permutations_100_max.bin'
PUBLISHED_SHA256 = (
    'c329e21a1dc7c5df5e0800cab6577285e7fad9e71ac31cab2e5a7914e52975bc')




def test_shipped_file_is_the_default_and_well_spread():
  path = patch_utils.default_permutations_path()
  assert path == str(REPO / 'permutations_100_max.bin')
  perms = patch_utils.load_permutations(path)
  assert perms.shape == (100, 9)
  assert all(sorted(row) == list(range(9)) for row in perms)
  assert not (perms == np.arange(9)).all(axis=1).any()  # No identity.
  minimum, mean = make_permutations.hamming_stats(perms)
  assert mean >= 8.0
  assert minimum >= 2


@pytest.mark.skipif(
    not PUBLISHED.exists(),
    reason=f'{PUBLISHED} is absent: the published permutation file is not '
    'ours to ship; CI has it (../shared/data).')
def test_published_file_is_a_drop_in():
  assert hashlib.sha256(PUBLISHED.read_bytes()).hexdigest() == (
      PUBLISHED_SHA256)
  perms = patch_utils.load_permutations(str(PUBLISHED))
  assert perms.shape == (100, 9)
  np.testing.assert_array_equal(perms[0] + 1, [8, 7, 6, 9, 5, 4, 3, 2, 1])
  minimum, mean = make_permutations.hamming_stats(perms)
  assert minimum == 2 and mean == pytest.approx(8.08)


def test_write_then_load_round_trips(tmp_path):
  perms = np.array(list(itertools.permutations(range(4)))[1:6])
  path = str(tmp_path / 'p.bin')
  patch_utils.write_permutations(path, perms)
  data = (tmp_path / 'p.bin').read_bytes()
  assert data[:8] == np.array([5, 4], '<i4').tobytes()
  np.testing.assert_array_equal(patch_utils.load_permutations(path), perms)


@pytest.mark.parametrize('criterion', ['mean', 'min'])
def test_selection_is_reproducible_and_greedy(criterion):
  a = make_permutations.select_permutations(12, 5, criterion=criterion, seed=3)
  b = make_permutations.select_permutations(12, 5, criterion=criterion, seed=3)
  c = make_permutations.select_permutations(12, 5, criterion=criterion, seed=4)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  assert len({tuple(r) for r in a}) == 12
  assert not (a == np.arange(5)).all(axis=1).any()
  # Each added row is a best candidate for the rule given the rows before.
  candidates = make_permutations.all_permutations(5)[1:]
  for i in range(1, len(a)):
    chosen = a[:i]
    distances = (candidates[:, None, :] != chosen[None]).sum(-1)
    scores = distances.sum(1) if criterion == 'mean' else distances.min(1)
    taken = (candidates[:, None, :] == chosen[None]).all(-1).any(1)
    scores[taken] = -1
    row = np.flatnonzero((candidates == a[i]).all(1))[0]
    assert scores[row] == scores.max()


def test_tool_writes_a_loadable_file(tmp_path):
  out = tmp_path / 'perms.bin'
  result = subprocess.run(
      [sys.executable, str(REPO / 'tools' / 'make_permutations.py'),
       '--output', str(out), '--count', '10', '--seed', '1'],
      capture_output=True, text=True, check=False, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'min' in result.stdout and 'mean' in result.stdout
  perms = patch_utils.load_permutations(str(out))
  np.testing.assert_array_equal(
      perms, make_permutations.select_permutations(10, 9, seed=1))


def write_raw(path, header, values):
  path.write_bytes(np.array(header, '<i4').tobytes() +
                   np.array(values, '<i4').tobytes())
  return str(path)


@pytest.mark.parametrize('header,values,problem', [
    ((2, 3), [1, 2, 3, 3, 2, 1, 1], 'bytes'),
    ((0, 3), [], 'header says 0'),
    ((2, 3), [1, 2, 3, 1, 1, 3], 'not a permutation'),
    ((2, 3), [0, 1, 2, 2, 1, 0], 'not a permutation'),
    ((2, 3), [1, 2, 3, 1, 2, 3], 'appears 2 times'),
])
def test_malformed_files_are_usage_errors(tmp_path, header, values, problem):
  path = write_raw(tmp_path / 'bad.bin', header, values)
  with pytest.raises(utils.UsageError, match=problem) as info:
    patch_utils.load_permutations(path)
  assert path in str(info.value)


def test_missing_and_short_files(tmp_path):
  with pytest.raises(utils.UsageError, match='does not exist'):
    patch_utils.load_permutations(str(tmp_path / 'none.bin'))
  (tmp_path / 'short.bin').write_bytes(b'\x01\x00')
  with pytest.raises(utils.UsageError, match='8-byte header'):
    patch_utils.load_permutations(str(tmp_path / 'short.bin'))
