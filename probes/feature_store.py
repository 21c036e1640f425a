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

"""Pooled features of a frozen module: extraction and sharded storage.

The cached linear evaluation (`linear_eval_cached.py`) encodes every example
of a split once with the module of a `linear_eval.LinearEvalTask` and trains
the heads on the result. A feature set lives in `<workdir>/features/<key>/`
(`feature_key` hashes everything that determines the features) and is never
held in memory as a whole: at ImageNet scale it is far larger than memory
(ResNet-50 at width 4, 1.28M images: about 320 GB).

On disk. The examples are split into shards of `examples_per_shard`
(chosen so that a shard holds about `StreamOptions.shard_bytes`). Shard `i`
is one file per end point, `shard-<i>.<j>.f32` (the j-th end point in sorted
order, each example's pooled features flattened), and `shard-<i>.labels.i32`,
as raw little-endian arrays without headers. `meta.json` (end points, their
pooled shapes, counts, format) is written last, so a directory without it
(an interrupted extraction) or with another format is recomputed.

Why raw column files, not TFRecord or `.npy`: `tf.io.read_file` and
`tf.io.decode_raw` turn a shard into `[n, d]` tensors inside the input
graph (no Python, no GIL, any `tf.io.gfile` file system such as `gs://`)
without any work per example, where a TFRecord costs a protocol-buffer
parse per example and `.npy` needs Python to skip its header. One file
per end point lets kNN read the single end point it needs, not all of
them.

Extraction (`extract`) writes every encoded batch to the current shard
straight away: memory holds one batch. Training (`training_stream`) is a
`tf.data` pipeline: each epoch visits the shards (of every pass) in a new
random order, reads a few in parallel, gathers them into windows of about
`StreamOptions.window_bytes` and gathers batches from each window in a
random order (a batch may span windows and epochs). Memory is bounded by
about three windows and a few shards (about 1 GB with the defaults),
whatever the split's size. A split that fits in one window is shuffled as
a whole, as in memory; a larger one mixes the examples of a few random
shards per window, so the split's own order should not be sorted by class
(ImageNet's and Fashion-MNIST's files are not). The order is a function of
the seed and the epoch, so a resumed run continues the same sequence.
Evaluation (`evaluation_stream`) reads the shards in order, every example
exactly once.
"""

from collections.abc import Mapping, Sequence
import dataclasses
import hashlib
import json
import os
import time
from typing import Any

from absl import logging
import numpy as np
import tensorflow as tf

from revisiting_ssl import utils

FEATURES_DIR = 'features'
FORMAT = 'raw-shards-1'
_META = 'meta.json'
_LABELS = 'labels.i32'


@dataclasses.dataclass(frozen=True)
class StreamOptions:
  """Sizes that bound the memory of the cached linear evaluation.

  Attributes:
    shard_bytes: target size of a shard (all of its files together).
    window_bytes: the training stream's shuffle window.
    knn_block_bytes: bound on the kNN queries held at once, and on their
      similarity matrix with a chunk of the training features.
    parallel_reads: shards read at once.
  """

  shard_bytes: int = 32 << 20
  window_bytes: int = 256 << 20
  knn_block_bytes: int = 128 << 20
  parallel_reads: int = 2


DEFAULTS = StreamOptions()


def module_stamp(path: str) -> str:
  """Size and time of a module's graph file: a re-export changes it."""
  for name in ('saved_model.pb', 'tfhub_module.pb'):
    full = os.path.join(path, name)
    if tf.io.gfile.exists(full):
      stat = tf.io.gfile.stat(full)
      return f'{stat.length}:{stat.mtime_nsec}'
  return ''


def feature_key(options: Mapping[str, Any], split: str, variant: str) -> str:
  """The directory name of one stored feature set.

  Args:
    options: everything else that determines the features (the module and
      its stamp, signature, pooling, preprocessing); JSON-serialisable.
    split: the data split.
    variant: `eval` (evaluation preprocessing) or `train<i>` (the i-th pass
      with the training preprocessing).

  Returns:
    `<split>-<variant>-<hash>`.
  """
  text = json.dumps(dict(options, split=split, variant=variant),
                    sort_keys=True)
  return f'{split}-{variant}-{hashlib.sha1(text.encode()).hexdigest()[:12]}'


def _open(path: str, mode: str):
  # tf.io.gfile writes large local files several times slower than Python.
  if '://' in path:
    return tf.io.gfile.GFile(path, mode)
  return open(path, mode)  # noqa: SIM115


# -- A stored set --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StoredFeatures:
  """A complete feature set on disk (what `meta.json` describes)."""

  directory: str
  end_points: tuple[str, ...]
  shapes: tuple[tuple[int, ...], ...]
  num_examples: int
  examples_per_shard: int

  @property
  def dims(self) -> dict[str, int]:
    """End point -> flat feature size."""
    return {k: int(np.prod(s)) for k, s in zip(self.end_points, self.shapes)}

  @property
  def example_bytes(self) -> int:
    """Bytes of one example: its features of every end point and label."""
    return 4 * (sum(self.dims.values()) + 1)

  @property
  def num_shards(self) -> int:
    return -(-self.num_examples // self.examples_per_shard)

  def shard_sizes(self) -> list[int]:
    """Examples in each shard (the last one may be short)."""
    full, rest = divmod(self.num_examples, self.examples_per_shard)
    return [self.examples_per_shard] * full + ([rest] if rest else [])

  def shard_prefix(self, index: int) -> str:
    return os.path.join(self.directory, f'shard-{index:05d}')


def _column_suffix(index: int) -> str:
  return f'.{index}.f32'


def load(directory: str) -> StoredFeatures | None:
  """The feature set in `directory`; None if incomplete or of another format.

  Old stores (whole-split `.npy` files) count as absent and are recomputed.
  """
  meta_path = os.path.join(directory, _META)
  if not tf.io.gfile.exists(meta_path):
    return None
  with tf.io.gfile.GFile(meta_path) as f:
    meta = json.load(f)
  if meta.get('format') != FORMAT:
    return None
  return StoredFeatures(
      directory=directory, end_points=tuple(meta['end_points']),
      shapes=tuple(tuple(meta['shapes'][k]) for k in meta['end_points']),
      num_examples=int(meta['num_examples']),
      examples_per_shard=int(meta['examples_per_shard']))


class ShardWriter:
  """Appends batches of features to the shards of a new feature set.

  At most one shard's files are open; nothing is kept in memory beyond the
  batch being written.
  """

  def __init__(self, directory: str, shard_bytes: int):
    """Empties `directory` (the leftovers of an incomplete set).

    Args:
      directory: where the set goes.
      shard_bytes: target bytes of a shard.
    """
    self.directory = directory
    self._shard_bytes = shard_bytes
    self._end_points: list[str] | None = None
    self._shapes: dict[str, list[int]] = {}
    self._per_shard = 0
    self._files: list[Any] = []
    self._in_shard = 0
    self.num_shards = 0
    self.num_examples = 0
    if tf.io.gfile.exists(directory):
      # `meta.json` first: a removal cut short (on an object store, one
      # object at a time) must not leave a set that looks complete.
      meta_path = os.path.join(directory, _META)
      if tf.io.gfile.exists(meta_path):
        tf.io.gfile.remove(meta_path)
      tf.io.gfile.rmtree(directory)
    tf.io.gfile.makedirs(directory)

  def write(self, features: Mapping[str, np.ndarray],
            labels: np.ndarray) -> None:
    """Appends a batch: end point -> `[n, ...]` features, `[n]` labels."""
    if self._end_points is None:
      self._end_points = sorted(features)
      self._shapes = {k: list(features[k].shape[1:]) for k in features}
      example_bytes = 4 * (1 + sum(int(np.prod(s))
                                   for s in self._shapes.values()))
      self._per_shard = max(1, self._shard_bytes // example_bytes)
    rows = {k: np.ascontiguousarray(v, '<f4').reshape(len(labels), -1)
            for k, v in features.items()}
    labels = np.ascontiguousarray(labels, '<i4')
    begin = 0
    while begin < len(labels):
      if not self._files:
        self._open_shard()
      end = min(len(labels), begin + self._per_shard - self._in_shard)
      for f, end_point in zip(self._files, self._end_points):
        f.write(rows[end_point][begin:end].tobytes())
      self._files[-1].write(labels[begin:end].tobytes())
      self._in_shard += end - begin
      self.num_examples += end - begin
      begin = end
      if self._in_shard == self._per_shard:
        self._close_shard()

  def _open_shard(self) -> None:
    prefix = os.path.join(self.directory, f'shard-{self.num_shards:05d}')
    suffixes = [_column_suffix(j) for j in range(len(self._end_points))]
    self._files = [_open(prefix + s, 'wb') for s in suffixes + ['.' + _LABELS]]
    self.num_shards += 1
    self._in_shard = 0

  def _close_shard(self) -> None:
    for f in self._files:
      f.close()
    self._files = []

  def finish(self, meta: Mapping[str, Any]) -> StoredFeatures:
    """Closes the last shard and writes `meta.json` (with `meta`) last.

    Raises:
      RuntimeError: if nothing was written.
    """
    self._close_shard()
    if self._end_points is None:
      raise RuntimeError(f'No example was written to {self.directory}.')
    meta = dict(meta, format=FORMAT, end_points=self._end_points,
                shapes=self._shapes, num_examples=self.num_examples,
                examples_per_shard=self._per_shard)
    temporary = os.path.join(self.directory, _META + '.tmp')
    with tf.io.gfile.GFile(temporary, 'w') as f:
      json.dump(meta, f, indent=2)
    tf.io.gfile.rename(temporary, os.path.join(self.directory, _META),
                       overwrite=True)
    stored = load(self.directory)
    assert stored is not None
    return stored


def extract(task: Any, dataset: tf.data.Dataset, device_fn: Any,
            num_examples: int, description: str, directory: str,
            meta: Mapping[str, Any],
            options: StreamOptions = DEFAULTS) -> StoredFeatures:
  """Runs the frozen module once over a padded stream; stores the features.

  Args:
    task: a built `linear_eval.LinearEvalTask` (its `features`).
    dataset: batches of `{'image', 'label', 'mask'}`, every example of the
      split once, padding masked.
    device_fn: the device part of the preprocessing, or None.
    num_examples: the split's size, checked against what was encoded.
    description: names the split and preprocessing in the log line.
    directory: where the set goes (emptied first).
    meta: recorded in `meta.json` beside the store's own fields.
    options: the shard size.

  Returns:
    The stored set.

  Raises:
    RuntimeError: if the stream did not hold `num_examples` real examples.
  """

  @tf.function
  def encode(batch):
    batch = task.device_preprocess(batch, device_fn)
    keep = batch['mask'] > 0
    features = {k: tf.boolean_mask(v, keep)
                for k, v in task.features(batch['image']).items()}
    return features, tf.boolean_mask(tf.cast(batch['label'], tf.int32), keep)

  writer = ShardWriter(directory, options.shard_bytes)
  start = time.time()
  progress = utils.Progress(f'Encoding {description}', num_examples)
  for batch in dataset:
    features, labels = encode(batch)
    writer.write({k: v.numpy() for k, v in features.items()}, labels.numpy())
    progress.update(len(labels))
  if writer.num_examples != num_examples:
    raise RuntimeError(f'{description} yielded {writer.num_examples} '
                       f'examples, expected {num_examples}.')
  stored = writer.finish(meta)
  elapsed = time.time() - start
  logging.info('Encoded %d examples of %s in %.1fs (%.0f images/s) into %d '
               'shards of %d.', num_examples, description, elapsed,
               num_examples / max(elapsed, 1e-9), stored.num_shards,
               stored.examples_per_shard)
  return stored


# -- Streams -------------------------------------------------------------------


def _reader(stored: StoredFeatures, end_points: Sequence[str]):
  """`read(prefix, size)` -> (end point -> `[size, d]`, `[size]` labels)."""
  dims = stored.dims
  columns = [(k, stored.end_points.index(k), dims[k]) for k in end_points]

  def read(prefix, size):
    features = {}
    for end_point, index, dim in columns:
      raw = tf.io.read_file(prefix + _column_suffix(index))
      # A truncated file fails here, in the reshape.
      features[end_point] = tf.reshape(tf.io.decode_raw(raw, tf.float32),
                                       [size, dim])
    raw = tf.io.read_file(prefix + '.' + _LABELS)
    return features, tf.reshape(tf.io.decode_raw(raw, tf.int32), [size])

  return read


def _shards(sets: Sequence[StoredFeatures]) -> tuple[tf.Tensor, tf.Tensor]:
  prefixes, sizes = [], []
  for stored in sets:
    for index, size in enumerate(stored.shard_sizes()):
      prefixes.append(stored.shard_prefix(index))
      sizes.append(size)
  return tf.constant(prefixes), tf.constant(sizes, tf.int64)


def evaluation_stream(stored: StoredFeatures, batch_size: int,
                      end_points: Sequence[str] | None = None,
                      options: StreamOptions = DEFAULTS
                      ) -> tf.data.Dataset:
  """Every example once, in stored order, in batches (the last may be short).

  Args:
    stored: the feature set.
    batch_size: examples per batch.
    end_points: the end points to read (default all).
    options: the parallel reads.

  Returns:
    Batches of (end point -> `[b, d]` flat features, `[b]` labels).
  """
  read = _reader(stored, end_points or stored.end_points)
  return (tf.data.Dataset.from_tensor_slices(_shards([stored]))
          .map(read, num_parallel_calls=options.parallel_reads,
               deterministic=True)
          .rebatch(batch_size).prefetch(1))


def training_stream(sets: Sequence[StoredFeatures], batch_size: int, *,
                    seed: int | None, start_step: int = 0,
                    options: StreamOptions = DEFAULTS
                    ) -> tf.data.Dataset:
  """Shuffled, repeated batches of the examples of every set, pooled.

  Args:
    sets: feature sets with the same end points (e.g. several passes).
    batch_size: examples per batch (every batch full).
    seed: the shuffle's seed (None: a random one).
    start_step: batches to skip, for a resumed run.
    options: the window and the parallel reads.

  Returns:
    Batches of (end point -> `[batch_size, d]` features, labels), as a
    shuffled, repeated stream with `drop_remainder` gives them.

  Raises:
    ValueError: if the sets differ in their end points.
  """
  first = sets[0]
  for other in sets[1:]:
    if (other.end_points, other.shapes) != (first.end_points, first.shapes):
      raise ValueError(f'Feature sets {first.directory} and '
                       f'{other.directory} have different end points.')
  prefixes, sizes = _shards(sets)
  num_shards = int(prefixes.shape[0])
  total = sum(s.num_examples for s in sets)
  window = max(batch_size, options.window_bytes // first.example_bytes)
  first_epoch, skip = divmod(start_step * batch_size, total)
  if seed is None:
    seed = int(np.random.default_rng().integers(2**31))
  read = _reader(first, first.end_points)

  def epoch_stream(epoch):
    key = tf.stack([tf.constant(seed, tf.int64), epoch])
    order = tf.random.experimental.stateless_shuffle(tf.range(num_shards),
                                                     seed=key)
    shards = tf.data.Dataset.from_tensor_slices(
        (tf.gather(prefixes, order), tf.gather(sizes, order)))

    def batches(index, part):
      # Batches gathered straight from the window in a random order; the
      # last one is short and is completed from the next window.
      count = tf.shape(part[1], out_type=tf.int64)[0]
      perm = tf.random.experimental.stateless_shuffle(
          tf.range(count),
          seed=tf.random.experimental.stateless_fold_in(key, index))
      starts = tf.data.Dataset.range(0, count, batch_size)
      return tf.data.Dataset.zip(
          tf.data.Dataset.from_tensors((part, perm)).repeat(), starts)

    return (shards.map(read, num_parallel_calls=options.parallel_reads,
                       deterministic=True)
            .rebatch(window).enumerate().flat_map(batches))

  def gather(window, begin):
    part, perm = window
    return tf.nest.map_structure(
        lambda t: tf.gather(t, perm[begin:begin + batch_size]), part)

  stream = tf.data.Dataset.range(first_epoch, 2**62).flat_map(
      epoch_stream).map(gather)
  if skip:
    def drop(left, part):
      count = tf.cast(tf.shape(part[1])[0], tf.int64)
      dropped = tf.minimum(left, count)
      return left - dropped, tf.nest.map_structure(lambda t: t[dropped:],
                                                   part)

    stream = stream.scan(tf.constant(skip, tf.int64), drop).filter(
        lambda features, labels: tf.shape(labels)[0] > 0)
  return stream.rebatch(batch_size, drop_remainder=True).prefetch(2)
