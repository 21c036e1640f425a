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

"""Tests of the sharded feature store, its streams and the streamed kNN."""

import json
import os

import knn_reference
import numpy as np
import pytest
import tensorflow as tf

from revisiting_ssl.probes import feature_store, streamed_knn

SHAPES = {'block1': (2, 2, 3), 'pre_logits': (5,)}
# 4 * (12 + 5 + 1) = 72 bytes an example: 3 examples in 216-byte shards.
EXAMPLE_BYTES = 72


def _arrays(num, seed=0):
  rng = np.random.default_rng(seed)
  features = {k: rng.normal(size=[num, *s]).astype(np.float32)
              for k, s in SHAPES.items()}
  return features, np.arange(num, dtype=np.int32)


def _write(directory, num, *, shard_bytes=3 * EXAMPLE_BYTES, batch=4,
           seed=0):
  features, labels = _arrays(num, seed)
  writer = feature_store.ShardWriter(str(directory), shard_bytes)
  for begin in range(0, num, batch):
    writer.write({k: v[begin:begin + batch] for k, v in features.items()},
                 labels[begin:begin + batch])
  return writer.finish({'note': 'test'}), features, labels


def _collect(dataset, num_batches=None):
  features, labels = {}, []
  for i, (batch, batch_labels) in enumerate(dataset):
    if num_batches is not None and i == num_batches:
      break
    for k, v in batch.items():
      features.setdefault(k, []).append(v.numpy())
    labels.append(batch_labels.numpy())
  return ({k: np.concatenate(v) for k, v in features.items()},
          np.concatenate(labels))


def test_shards_round_trip_exactly(tmp_path):
  stored, features, labels = _write(tmp_path / 'set', 11)
  assert stored.example_bytes == EXAMPLE_BYTES
  assert stored.examples_per_shard == 3
  assert stored.shard_sizes() == [3, 3, 3, 2]
  assert feature_store.load(stored.directory) == stored
  with open(tmp_path / 'set' / 'meta.json') as f:
    meta = json.load(f)
  assert meta['note'] == 'test' and meta['shapes']['block1'] == [2, 2, 3]
  # Raw arrays: a shard's file is exactly its examples' bytes.
  assert os.path.getsize(stored.shard_prefix(3) + '.0.f32') == 2 * 12 * 4
  got, got_labels = _collect(feature_store.evaluation_stream(stored, 4))
  np.testing.assert_array_equal(got_labels, labels)
  for k, v in features.items():
    np.testing.assert_array_equal(got[k], v.reshape(11, -1))


@pytest.mark.parametrize('batch_size', [1, 4, 5, 100])
def test_evaluation_reads_every_example_once_in_order(tmp_path, batch_size):
  stored, _, labels = _write(tmp_path / 'set', 13)
  sizes = [int(b[1].shape[0]) for b in
           feature_store.evaluation_stream(stored, batch_size)]
  assert all(s == batch_size for s in sizes[:-1]) and sum(sizes) == 13
  _, got = _collect(feature_store.evaluation_stream(stored, batch_size,
                                                    ['pre_logits']))
  np.testing.assert_array_equal(got, labels)


def test_one_end_point_is_read_alone(tmp_path):
  stored, features, _ = _write(tmp_path / 'set', 7)
  got, _ = _collect(feature_store.evaluation_stream(stored, 3,
                                                    ['pre_logits']))
  assert list(got) == ['pre_logits']
  np.testing.assert_array_equal(got['pre_logits'], features['pre_logits'])


def test_writer_keeps_one_shard_open_and_one_batch_in_memory(tmp_path,
                                                             monkeypatch):
  opened, open_now, most = [], [0], [0]
  real_open = feature_store._open

  class Counted:
    def __init__(self, path, mode):
      self._file = real_open(path, mode)
      opened.append(path)
      open_now[0] += 1
      most[0] = max(most[0], open_now[0])

    def write(self, data):
      return self._file.write(data)

    def close(self):
      open_now[0] -= 1
      self._file.close()

  monkeypatch.setattr(feature_store, '_open', Counted)
  stored, _, _ = _write(tmp_path / 'set', 20, batch=7)
  # Three files a shard (two end points and the labels), one shard at once.
  assert stored.num_shards == 7
  assert len(opened) == 3 * 7
  assert most[0] == 3 and open_now[0] == 0


def test_training_epochs_visit_every_example_once(tmp_path):
  # Two passes pooled, a window of 4 examples: the shuffle mixes shards but
  # each epoch of 2 * 12 examples holds every example once.
  first, _, labels = _write(tmp_path / 'a', 12)
  second, _, _ = _write(tmp_path / 'b', 12)
  options = feature_store.StreamOptions(window_bytes=4 * EXAMPLE_BYTES)
  stream = feature_store.training_stream([first, second], 6, seed=3,
                                         options=options)
  _, got = _collect(stream, num_batches=12)
  expected = np.sort(np.concatenate([labels, labels]))
  epochs = got.reshape(3, 24)
  for epoch in epochs:
    np.testing.assert_array_equal(np.sort(epoch), expected)
  assert not np.array_equal(epochs[0], epochs[1])  # A new order each epoch.
  assert not np.array_equal(epochs[0], np.concatenate([labels, labels]))


def test_training_order_follows_the_seed_and_resumes(tmp_path):
  stored, features, _ = _write(tmp_path / 'set', 10)
  options = feature_store.StreamOptions(window_bytes=5 * EXAMPLE_BYTES)

  def labels(seed, start_step, num_batches):
    stream = feature_store.training_stream([stored], 4, seed=seed,
                                           start_step=start_step,
                                           options=options)
    return _collect(stream, num_batches)

  whole, order = labels(7, 0, 9)
  assert np.array_equal(labels(7, 0, 9)[1], order)
  assert not np.array_equal(labels(8, 0, 9)[1], order)
  # Batches span epochs (10 examples, batch 4): step 3 starts mid-epoch.
  resumed, tail = labels(7, 3, 6)
  np.testing.assert_array_equal(tail, order[12:])
  np.testing.assert_array_equal(resumed['block1'], whole['block1'][12:])
  np.testing.assert_array_equal(
      resumed['block1'], features['block1'].reshape(10, -1)[tail])


def test_missing_or_old_metadata_means_absent(tmp_path):
  stored, _, _ = _write(tmp_path / 'set', 5)
  meta_path = os.path.join(stored.directory, 'meta.json')
  with open(meta_path) as f:
    meta = json.load(f)
  meta.pop('format')  # The whole-split .npy store had none.
  with open(meta_path, 'w') as f:
    json.dump(meta, f)
  assert feature_store.load(stored.directory) is None
  os.remove(meta_path)
  assert feature_store.load(stored.directory) is None
  # A new writer starts from an empty directory.
  stored, _, _ = _write(tmp_path / 'set', 4, shard_bytes=1 << 20)
  assert sorted(os.listdir(stored.directory)) == [
      'meta.json', 'shard-00000.0.f32', 'shard-00000.1.f32',
      'shard-00000.labels.i32']


def test_truncated_shard_fails_loudly(tmp_path):
  stored, _, _ = _write(tmp_path / 'set', 6)
  path = stored.shard_prefix(1) + '.1.f32'
  with open(path, 'rb+') as f:
    f.truncate(os.path.getsize(path) - 4)
  with pytest.raises(tf.errors.InvalidArgumentError, match='reshape'):
    _collect(feature_store.evaluation_stream(stored, 2))


@pytest.mark.parametrize('chunk,block', [(3, 2), (100, 100), (1, 7)])
def test_streamed_knn_matches_knn_in_memory(chunk, block):
  rng = np.random.default_rng(1)
  bank = rng.normal(size=[23, 6]).astype(np.float32)
  # Duplicates make ties, which both must break alike.
  bank[10] = bank[3]
  bank_labels = rng.integers(0, 4, size=[23]).astype(np.int32)
  queries = rng.normal(size=[9, 6]).astype(np.float32)
  query_labels = rng.integers(0, 4, size=[9]).astype(np.int32)

  def pieces(x, y, size):
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(y), size)]

  for k, temperature in ((5, 0.1), (40, 1.0), (1, 0.07)):
    expected = knn_reference.knn_accuracy(
        bank, bank_labels, queries, query_labels, num_classes=4, k=k,
        temperature=temperature)
    got = streamed_knn.knn_accuracy(
        lambda: pieces(bank, bank_labels, chunk),
        pieces(queries, query_labels, block), bank_size=23, num_classes=4,
        k=k, temperature=temperature)
    np.testing.assert_allclose(got, expected, atol=1e-6)
