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

"""The exact convex probe: optimality, the choice on validation, I/O."""

import json
import re
import sys
from unittest import mock

import knn_reference
import numpy as np
import pytest

from revisiting_ssl.data_sources import label_subsets
from revisiting_ssl.probes import convex_probe, feature_store


def _blobs(n, d=6, k=3, seed=0, spread=1.5):
  """Gaussian classes with overlapping means: not separable."""
  rng = np.random.default_rng(seed)
  centres = np.random.default_rng(99).normal(size=(k, d))
  labels = rng.integers(0, k, n)
  features = centres[labels] + spread * rng.normal(size=(n, d))
  # Dimensions of very different scales, one constant: standardisation's job.
  features = features * np.array([1, 100, 0.01, 1, 1, 1])[:d]
  features[:, -1] = 3.0
  return features.astype(np.float32), labels.astype(np.int32)


def _objective_gradient(fit, features, labels, l2):
  """Gradient of mean CE + l2/2 |W|^2 at the fit, computed independently."""
  x = (features.astype(np.float64) - fit.mean) / fit.scale
  logits = x @ fit.weights + fit.bias
  p = np.exp(logits - logits.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  p[np.arange(len(labels)), labels] -= 1
  grad_w = x.T @ p / len(labels) + l2 * fit.weights
  grad_b = p.mean(0)
  return grad_w, grad_b


def test_solution_is_the_optimum():
  train, val = _blobs(600, seed=1), _blobs(300, seed=2)
  fit = convex_probe.fit(train, val, l2_grid=[1e-2], tol=1e-10)
  assert fit.converged[1e-2]
  grad_w, grad_b = _objective_gradient(fit, *train, 1e-2)
  # At the minimum of the convex objective the gradient vanishes.
  assert np.abs(grad_w).max() < 1e-6 and np.abs(grad_b).max() < 1e-6
  # ... and it is not the gradient of a different problem (no penalty).
  grad_w_unpenalised, _ = _objective_gradient(fit, *train, 0.0)
  assert np.abs(grad_w_unpenalised).max() > 1e-4
  # The constant dimension gets scale 1 and no weight.
  assert fit.scale[-1] == 1.0
  np.testing.assert_allclose(fit.weights[-1], 0.0, atol=1e-8)


def test_l2_strength_is_chosen_on_validation():
  train, val = _blobs(60, seed=3, spread=3.0), _blobs(2000, seed=4,
                                                      spread=3.0)
  grid = [10.0, 1e-1, 1e-5]
  fit = convex_probe.fit(train, val, l2_grid=grid)
  assert set(fit.val_top1) == set(grid)
  assert fit.val_top1[fit.l2] == max(fit.val_top1.values())
  # The returned classifier is the chosen one: its own validation accuracy.
  assert fit.top1(*val) == pytest.approx(fit.val_top1[fit.l2])
  # Strong decay shrinks the weights: not all L2 strengths agree.
  assert len(set(fit.val_top1.values())) > 1
  assert all(fit.iterations[l2] >= 1 for l2 in grid)


def test_patience_stops_the_path_once_weaker_strengths_stop_helping():
  train, val = _blobs(60, seed=5, spread=3.0), _blobs(2000, seed=6,
                                                      spread=3.0)
  grid = [1e2, 10.0, 1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5]
  full = convex_probe.fit(train, val, l2_grid=grid)
  # Where the whole path peaks, and how many weaker strengths follow it.
  weaker = [v for v in grid if v < full.l2]
  assert weaker, 'the grid must reach past the optimum for this test'
  early = convex_probe.fit(train, val, l2_grid=grid, patience=1)
  assert early.l2 == full.l2
  fitted = sorted(early.val_top1, reverse=True)
  # Strong to weak, past the ties at chance of the strong end, up to the
  # first weaker strength that scores below the best.
  assert full.val_top1[1e2] == full.val_top1[10.0]
  assert fitted == sorted(grid, reverse=True)[:len(fitted)]
  assert early.val_top1[min(fitted)] < early.val_top1[early.l2]
  assert all(early.val_top1[v] == early.val_top1[early.l2]
             for v in fitted[:-1] if v < early.l2)
  assert len(fitted) < len(grid)
  for l2 in fitted:
    assert early.val_top1[l2] == pytest.approx(full.val_top1[l2])
  np.testing.assert_allclose(early.weights, full.weights)
  with pytest.raises(ValueError, match='patience must be at least 1'):
    convex_probe.fit(train, val, l2_grid=grid, patience=0)


def test_ties_go_to_the_stronger_decay():
  # One example per class: every L2 strength fits it perfectly.
  features = np.eye(3, dtype=np.float32)
  labels = np.arange(3, dtype=np.int32)
  fit = convex_probe.fit((features, labels), (features, labels),
                         l2_grid=[1e-3, 1e-1])
  assert fit.val_top1 == {1e-3: 1.0, 1e-1: 1.0}
  assert fit.l2 == 1e-1


def test_classes_missing_from_training_are_never_predicted():
  features, labels = _blobs(200, seed=5)
  keep = labels != 1
  fit = convex_probe.fit((features[keep], labels[keep]),
                         (features, labels), l2_grid=[1e-2])
  assert fit.weights.shape == (6, 3)
  assert 1 not in np.argmax(fit.logits(features), 1)


@pytest.mark.parametrize('train, val, grid, message', [
    ((np.zeros((4, 2)), np.zeros(3)), None, [1.0], 'must be [n, d]'),
    ((np.zeros((0, 2)), np.zeros(0)), None, [1.0], 'training set is empty'),
    (None, (np.zeros((4, 3)), np.zeros(4)), [1.0], 'have 3 dimensions'),
    (None, None, [], 'L2 grid needs values > 0'),
    (None, None, [1.0, -1.0], 'L2 grid needs values > 0'),
])
def test_bad_input(train, val, grid, message):
  default = (np.zeros((4, 2)), np.array([0, 1, 0, 1]))
  with pytest.raises(ValueError, match=message.replace('[', r'\[')):
    convex_probe.fit(train or default, val or default, l2_grid=grid)


def test_missing_scikit_learn_names_the_extra():
  with mock.patch.dict(sys.modules, {'sklearn': None}):
    with pytest.raises(ImportError, match=r'pip install -e "\.\[probe\]"'):
      convex_probe.fit(_blobs(10), _blobs(10), l2_grid=[1.0])


def test_reads_a_stored_set(tmp_path):
  rng = np.random.default_rng(0)
  writer = feature_store.ShardWriter(str(tmp_path / 'set'), shard_bytes=400)
  batches = [({'a': rng.normal(size=(n, 2, 2)), 'b': rng.normal(size=(n, 3))},
              rng.integers(0, 5, n)) for n in (7, 9)]
  for features, labels in batches:
    writer.write(features, labels)
  stored = writer.finish({})
  assert stored.num_shards > 1
  features, labels = convex_probe.read(stored, 'a', batch_size=4)
  np.testing.assert_array_equal(
      features, np.concatenate([f['a'] for f, _ in batches]).reshape(16, 4)
      .astype(np.float32))
  np.testing.assert_array_equal(labels,
                                np.concatenate([y for _, y in batches]))
  with pytest.raises(ValueError, match="No end point 'c'.*stored: a, b"):
    convex_probe.read(stored, 'c')


def test_tool_on_stored_sets(tmp_path, capsys):
  from revisiting_ssl.tools import convex_probe as tool  # noqa: PLC0415
  paths = {}
  for name, seed in (('train', 6), ('val', 7), ('test', 8)):
    features, labels = _blobs(300, seed=seed)
    writer = feature_store.ShardWriter(str(tmp_path / name), 1 << 20)
    writer.write({'pre_logits': features}, labels)
    writer.finish({})
    paths[name] = str(tmp_path / name)
  tool.main([f'--{k}={v}' for k, v in paths.items()] + ['--l2=1,0.001'])
  out = capsys.readouterr().out
  assert 'pre_logits (all, 300 examples) l2 1: val top-1 ' in out
  assert 'pre_logits (all, 300 examples) l2 0.001: val top-1 ' in out
  assert 'test top-1 ' in out and 'chosen l2 ' in out

  # Low-shot: the S4L sampler's subset, probe and kNN on it.
  tool.main([f'--{k}={v}' for k, v in paths.items()] +
            ['--l2=0.1', '--labels_per_class=5,all', '--knn_k=3',
             f'--json={tmp_path / "probe.json"}'])
  (line,) = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith('pre_logits (5 per class, 15 examples): '
                                'chosen l2')]
  knn_test = float(re.search(r'test top-1 [\d.]+ \(kNN ([\d.]+)\)',
                             line).group(1))
  train = _blobs(300, seed=6)
  chosen = label_subsets.sample(np.arange(300), train[1], num_classes=3,
                                per_class=5, seed=0)
  expected, _ = knn_reference.knn_accuracy(
      train[0][chosen], train[1][chosen], *_blobs(300, seed=8),
      num_classes=3, k=3, temperature=0.07)
  assert knn_test == pytest.approx(100 * expected, abs=0.006)
  # The same numbers, for a benchmark to read.
  written = json.loads((tmp_path / 'probe.json').read_text())['pre_logits']
  assert sorted(written) == ['5', 'all']
  assert written['5']['examples'] == 15 and written['all']['examples'] == 300
  assert written['5']['knn_test_top1'] == pytest.approx(100 * expected)
  assert f'test top-1 {written["5"]["test_top1"]:.2f} ' in line
  assert written['5']['l2'] == 0.1 and written['5']['converged'] == {
      '0.1': True}
  with pytest.raises(SystemExit, match='--labels_per_class 500 exceeds'):
    tool.main([f'--{k}={v}' for k, v in paths.items()] +
              ['--labels_per_class=500'])
  with pytest.raises(SystemExit):
    tool.main([f'--{k}={v}' for k, v in paths.items()] +
              ['--labels_per_class=0'])
  assert 'positive integers or "all"' in capsys.readouterr().err
  with pytest.raises(SystemExit):
    tool.main([f'--{k}={v}' for k, v in paths.items()] +
              ['--l2_patience=0'])
  assert '--l2_patience must be at least 1; got 0' in capsys.readouterr().err
  # Patience: the path stops early, the JSON lists only the fitted ones.
  tool.main([f'--{k}={v}' for k, v in paths.items()] +
            ['--l2=100,10,1,0.1,0.01,0.001,1e-4,1e-5', '--l2_patience=1',
             f'--json={tmp_path / "early.json"}'])
  early = json.loads((tmp_path / 'early.json').read_text())['pre_logits']
  fitted = [float(v) for v in early['all']['iterations']]
  assert 1 <= len(fitted) < 8 and early['all']['l2'] in fitted
  # Another run's choices: only its strength is fitted where it chose one
  # (the same solution as a path that picks it), the rest search --l2.
  tool.main([f'--{k}={v}' for k, v in paths.items()] +
            ['--l2=100,10,1', '--labels_per_class=5,all', '--tol=1e-4',
             f'--l2_from={tmp_path / "early.json"}',
             f'--json={tmp_path / "reused.json"}'])
  assert '(from --l2_from)' in capsys.readouterr().out
  reused = json.loads((tmp_path / 'reused.json').read_text())['pre_logits']
  assert reused['all']['l2_reused'] and not reused['5']['l2_reused']
  assert list(reused['all']['iterations']) == [f'{early["all"]["l2"]:g}']
  assert reused['all']['l2'] == early['all']['l2']
  assert reused['all']['val_top1'] == pytest.approx(
      early['all']['val_top1'], abs=0.5)
  assert sorted(map(float, reused['5']['iterations'])) == [1, 10, 100]
  (tmp_path / 'broken.json').write_text('{"pre_logits": {"all": {}}}')
  for flags, message in (
      (['--l2_from=/no/such.json'], '--l2_from: /no/such.json is not'),
      ([f'--l2_from={tmp_path / "broken.json"}'], "KeyError\\('l2'\\)"),
      (['--tol=0'], '--tol must be > 0; got 0.0')):
    with pytest.raises(SystemExit):
      tool.main([f'--{k}={v}' for k, v in paths.items()] + flags)
    assert re.search(message, capsys.readouterr().err), message
  with pytest.raises(SystemExit):
    tool.main([f'--train={tmp_path}', f'--val={paths["val"]}'])
  assert 'holds no complete feature set' in capsys.readouterr().err
  with pytest.raises(SystemExit, match="No end point 'x'"):
    tool.main([f'--train={paths["train"]}', f'--val={paths["val"]}',
               '--end_points=x'])
