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

"""The data source contract: splits, batching, padding and masking.

Every data set is a `DataSource` with four splits: `train`, `val`, `trainval`
and `test` (docs/data.md lists ImageNet's). `DataSource.make` builds the input
pipeline for one split and one input pipeline (host) and yields batches of
dicts `{'image', 'label', 'mask'}`:

* training: shuffled, repeated forever, `drop_remainder=True`, mask all 1;
* evaluation: every example of the split exactly once over all input
  pipelines; each pipeline yields `eval_steps(...)` full batches, the tail
  padded with copies of a real example whose mask is 0.

Sources implement `num_examples`, `check` and `_examples`; the rest of the
contract lives here so that every source behaves the same. The readers'
assertions (a corrupt record, a truncated file, a label out of range)
become one-line errors through `input_data_error`.
"""

from collections.abc import Callable, Sequence
import math
import re
import sys
from typing import Any

import numpy as np
import tensorflow as tf

from revisiting_ssl import utils
from revisiting_ssl.preprocess_ops.base import SEED_KEY

SPLITS = ('train', 'val', 'trainval', 'test')
SHUFFLE_BUFFER = 10_000

# Messages of the readers' assertions: a user's data problem, reported as
# one line naming the file.
_DATA_ERROR_MARKERS = ('TFRecord file', 'Corrupt record', 'Label out of range',
                       'does not have the expected')


def input_data_error(error: tf.errors.OpError) -> utils.UsageError | None:
  """The one-line UsageError for a reader's failed assertion, or None."""
  message = getattr(error, 'message', None) or str(error)
  match = re.search(r'assertion failed: (.*)', message)
  if not match:
    return None
  # Assert prints each of its data items in brackets.
  items = re.findall(r'\[([^\[\]]*)\]', match.group(1))
  text = ' '.join(i.strip() for i in items if i.strip()) or match.group(1)
  if not any(marker in text for marker in _DATA_ERROR_MARKERS):
    return None
  return utils.UsageError(
      f'Bad input data: {text} (--skip_corrupt_examples skips undecodable '
      f'records).')


def unnamed_input_failure(error: tf.errors.OpError) -> bool:
  """Whether a step failed on bad input data that its error does not name.

  A decode or parse op of the input pipeline (failed in a read that the
  reader did not check: a pipeline restored from a saved iterator, a file
  damaged mid-run), surfacing at the iterator's `IteratorGetNext`;
  `DataSource.locate_bad_record` then finds the file.
  """
  message = getattr(error, 'message', None) or str(error)
  return isinstance(error, (tf.errors.InvalidArgumentError,
                            tf.errors.DataLossError)) and (
                                'IteratorGetNext' in message)


def check_dir_exists(dataset_dir: str, dataset: str, hint: str = '') -> None:
  """Raises a UsageError naming --dataset_dir if it is not a directory."""
  if not tf.io.gfile.isdir(dataset_dir):
    raise utils.UsageError(
        f'--dataset_dir {dataset_dir} (for --dataset {dataset}) does not '
        f'exist or is not a directory.{" " + hint if hint else ""}')


def valid_splits_message() -> str:
  """The sentence that lists the valid split names."""
  return f'Valid splits: {", ".join(SPLITS)}.'


def check_split_name(split: str) -> None:
  """Raises a UsageError listing the valid splits for an unknown name."""
  if split not in SPLITS:
    raise utils.UsageError(
        f'Unknown split {split!r}. {valid_splits_message()}')


def pipeline_of(input_context: tf.distribute.InputContext | None
                ) -> tuple[int, int]:
  """Returns (num_input_pipelines, input_pipeline_id)."""
  if input_context is None:
    return 1, 0
  return input_context.num_input_pipelines, input_context.input_pipeline_id


def examples_in_pipeline(num_examples: int, num_pipelines: int,
                          pipeline_id: int) -> int:
  """Examples pipeline `pipeline_id` gets from `Dataset.shard`."""
  return max(0, math.ceil((num_examples - pipeline_id) / num_pipelines))


def warn_if(condition: tf.Tensor, *message: Any) -> None:
  """Prints a warning from inside a tf.data function if `condition`.

  It goes to stderr because TF_CPP_MIN_LOG_LEVEL may hide `tf.print`s to
  the log, and absl logging cannot be called from a dataset function.
  """

  def warn():
    tf.print('WARNING:', *message, output_stream=sys.stderr)

  tf.cond(condition, warn, lambda: None)


class DataSource:
  """A data set with the splits `train`, `val`, `trainval` and `test`.

  Subclasses set `num_classes` and `class_names`, and implement
  `num_examples`, `check`, `example_ids` and `_examples`; the batching,
  padding and masking contract lives here so that every source behaves the
  same.

  Every example has an id, unique within the data set: its file name for
  TFRecords (`image/filename`, as S4L's label lists name ImageNet's
  images), `<part>-<index>` for Fashion-MNIST, TFDS's `tfds_id`. A stream
  can be restricted to a set of ids (a labelled subset).
  """

  num_classes: int
  class_names: list[str] | None = None

  def num_examples(self, split: str) -> int:
    """Number of examples in `split`.

    Raises:
      UsageError: for an unknown split.
    """
    raise NotImplementedError

  def check(self, split: str) -> None:
    """Raises UsageError if `split` cannot be read (missing files, ...)."""
    raise NotImplementedError

  def example_ids(self, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The id (str) and label (int) of every example of `split`, in order.

    A pass over the split's labels (no image is decoded), for drawing
    labelled subsets.
    """
    raise NotImplementedError

  def _examples(self, split: str, *, training: bool, seed: int | None,
                num_pipelines: int, pipeline_id: int,
                skip_corrupt_examples: bool,
                keep_ids: Sequence[str] | None = None,
                cache: bool = False) -> tf.data.Dataset:
    """Decoded examples `{'image': uint8 [H,W,3], 'label': int32}`.

    Training: this pipeline's share, shuffled and repeated forever.
    Evaluation: exactly the examples `i` with `i % num_pipelines ==
    pipeline_id` of a fixed order, one pass. With `keep_ids`, only those
    examples, and with `cache` they are kept in memory after one pass.
    """
    raise NotImplementedError

  def _examples_from(self, start: int, split: str,
                     **kwargs: Any) -> tf.data.Dataset:
    """The training examples of `_examples` from position `start` on.

    This version reads and drops the first `start` examples, which costs
    a pass over them; a source whose order is a function of the seed and
    the epoch overrides it to jump there directly.

    Args:
      start: examples of this pipeline's stream to pass over.
      split: the split.
      **kwargs: the other arguments of `_examples`.

    Returns:
      The stream, from its `start`-th example on.
    """
    ds = self._examples(split, **kwargs)
    return ds.skip(start) if start else ds

  def locate_bad_record(self, split: str) -> utils.UsageError | None:
    """The error naming the first bad record of `split`, if one is found.

    Called after an input pipeline failed with an error that names no file;
    sources whose readers check only some reads override it. This version
    finds nothing.
    """
    del split
    return None

  def _padding_example(self, split: str) -> tf.data.Dataset:
    """One real example of `split` used to pad evaluation batches."""
    return self._examples(
        split, training=False, seed=None, num_pipelines=1, pipeline_id=0,
        skip_corrupt_examples=True).take(1)

  def eval_steps(self, split: str, batch_size: int,
                 num_pipelines: int = 1,
                 num_examples: int | None = None) -> int:
    """Batches each input pipeline yields in evaluation (covers the split).

    Args:
      split: the split name.
      batch_size: the per-pipeline batch size.
      num_pipelines: the number of input pipelines.
      num_examples: the examples evaluated (default: the split's).

    Returns:
      `ceil(num_examples / (num_pipelines * batch_size))`.
    """
    if batch_size < 1 or num_pipelines < 1:
      raise utils.UsageError(
          f'batch_size and num_pipelines must be positive, got {batch_size} '
          f'and {num_pipelines}.')
    if num_examples is None:
      num_examples = self.num_examples(split)
    return math.ceil(num_examples / (num_pipelines * batch_size))

  def make(self,
           split: str,
           *,
           preprocess_fn: Callable[[dict[str, tf.Tensor]],
                                   dict[str, tf.Tensor]] | None,
           batch_size: int,
           training: bool,
           seed: int | None = None,
           input_context: tf.distribute.InputContext | None = None,
           skip_corrupt_examples: bool = False,
           keep_ids: Sequence[str] | None = None,
           cache: bool = False,
           start: int = 0) -> tf.data.Dataset:
    """Builds the input pipeline of one split for one input pipeline.

    Args:
      split: `train`, `val`, `trainval` or `test`.
      preprocess_fn: maps a dict `{'image': uint8 [H,W,3], 'label': int32}`
        to the dict the task wants (one example); None keeps it unchanged.
      batch_size: examples per batch of this pipeline (per replica).
      training: shuffle, repeat and drop the remainder if True; otherwise
        one padded pass (see the module docstring).
      seed: seeds file and example shuffling; also makes the order
        deterministic. In training, every example then also carries its own
        seed (from `seed`, this pipeline and its position in the stream)
        for the preprocessing's random ops, so that its augmentation does
        not depend on how many examples were preprocessed before it in this
        process (a resumed run continues exactly).
      input_context: from `distribute_datasets_from_function`; selects this
        pipeline's share of the data.
      skip_corrupt_examples: drop undecodable records (with a warning on
        stderr) instead of failing.
      keep_ids: only the examples with these ids (see the class
        docstring); evaluation then pads to `len(keep_ids)` examples and
        checks that each was found.
      cache: with `keep_ids`, keep the kept examples' records in memory
        after the first pass (S4L's `--cache_dataset`): later epochs replay
        its order, reshuffled by the shuffle buffer only.
      start: in training, begin at this example of the pipeline's stream,
        as if as many had been read before (with a seed, the examples and
        their per-example seeds are then those an uninterrupted stream
        has there: a resumed run continues it exactly).

    Returns:
      A dataset of dicts with `image`, `label` and `mask` (float32 per
      example), batched.

    Raises:
      UsageError: for an unknown split, a missing file or a bad batch size.
    """
    check_split_name(split)
    if batch_size < 1:
      raise utils.UsageError(f'batch_size must be positive, got {batch_size}.')
    self.check(split)
    count = (self.num_examples(split) if keep_ids is None
             else len(keep_ids))
    if count == 0:
      # Repeating an empty split would loop forever without an element, and
      # an empty evaluation has nothing to pad with.
      raise utils.UsageError(
          f'Split {split!r} has no examples to '
          f'{"train on" if training else "evaluate"}.')
    if start < 0 or (start and not training):
      raise ValueError(f'start must be 0 in evaluation and never negative, '
                       f'got {start}.')
    num_pipelines, pipeline_id = pipeline_of(input_context)
    preprocess_fn = preprocess_fn or (lambda features: features)
    ds = self._examples_from(
        start, split, training=training, seed=seed, num_pipelines=num_pipelines,
        pipeline_id=pipeline_id, skip_corrupt_examples=skip_corrupt_examples,
        keep_ids=None if keep_ids is None else tuple(keep_ids),
        cache=cache and keep_ids is not None)

    def with_mask(mask):
      def fn(example):
        return dict(example, mask=tf.constant(mask, tf.float32))
      return fn

    if not training:
      # Evaluation pads with mask-0 copies; in training every example is
      # real and the preprocessing map adds the mask (one map less for
      # every training example).
      ds = ds.map(with_mask(1.0))
    if training and seed is not None:
      def with_seed(index, example):
        example_seed = tf.stack([tf.constant(seed, tf.int64),
                                 index * num_pipelines + pipeline_id])
        return dict(example, **{SEED_KEY: example_seed})

      ds = ds.enumerate(start=start).map(with_seed)
    if not training:
      ds = self._pad_eval_stream(
          ds, split, num_examples=count, batch_size=batch_size,
          num_pipelines=num_pipelines, pipeline_id=pipeline_id,
          check_count=not skip_corrupt_examples)

    def apply_preprocess(example):
      # The preprocessing ops see only the image and the label; the mask
      # travels around them.
      inputs = {'image': example['image'], 'label': example['label']}
      if SEED_KEY in example:
        inputs[SEED_KEY] = example[SEED_KEY]
      out = dict(preprocess_fn(inputs))
      out.pop(SEED_KEY, None)
      out['mask'] = example.get('mask', tf.constant(1.0, tf.float32))
      return out

    ds = ds.map(apply_preprocess, num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=(seed is not None) or not training)
    # Evaluation streams are padded to whole batches, so dropping the
    # remainder drops nothing and gives a static batch dimension.
    ds = ds.batch(batch_size, drop_remainder=True)
    return ds.prefetch(tf.data.AUTOTUNE)

  def _pad_eval_stream(self, ds: tf.data.Dataset, split: str, *,
                       num_examples: int, batch_size: int,
                       num_pipelines: int, pipeline_id: int,
                       check_count: bool) -> tf.data.Dataset:
    """Pads one evaluation pipeline to `eval_steps * batch_size` examples."""
    total = self.eval_steps(split, batch_size, num_pipelines,
                            num_examples) * batch_size
    expected = examples_in_pipeline(num_examples, num_pipelines, pipeline_id)
    padding = self._padding_example(split).map(
        lambda example: dict(example, mask=tf.constant(0.0))).repeat()
    ds = ds.take(expected + 1).concatenate(padding)
    if check_count:
      # The split sizes are known in advance (hard-coded for ImageNet); a
      # data set that disagrees would silently be evaluated on the wrong
      # number of examples, so compare while streaming.
      def verify(index, example):
        real = example['mask'] > 0
        ok = tf.where(index < expected, real, tf.logical_not(real))
        tf.debugging.Assert(ok, [
            f'Split {split!r} does not have the expected {expected} '
            f'examples in input pipeline {pipeline_id} (element', index,
            'is', tf.where(real, 'real', 'padding'), ').'
        ])
        return example

      ds = ds.enumerate().map(verify)
    return ds.take(total)


def keep_table(keep_ids: Sequence[str]) -> tf.lookup.StaticHashTable:
  """A lookup of ids: 1 for the kept ones, 0 for every other."""
  keys = tf.constant(list(keep_ids), tf.string)
  return tf.lookup.StaticHashTable(
      tf.lookup.KeyValueTensorInitializer(
          keys, tf.ones_like(keys, tf.int32)), default_value=0)


def shuffle_buffer(num_examples: int) -> int:
  """The example shuffle buffer: 10,000, or the split size if smaller.

  The shuffle follows the repeat, so a buffer much larger than the split
  would only hold many copies of it, and filling it means reading the split
  that many times before the first batch.
  """
  return max(1, min(SHUFFLE_BUFFER, num_examples))


def epoch_orders(num: int, seed: int | None,
                 start: int = 0) -> tf.data.Dataset:
  """Indices 0..num-1 in a new random order every epoch, forever (int64).

  With a seed, the order of epoch e is a stateless function of (seed, e), so
  an iterator restored from a checkpoint continues it exactly, and so does
  a stream that starts at position `start` (whole epochs are jumped over
  without being drawn). (TF's
  `shuffle(..., reshuffle_each_iteration=True)` keeps its per-epoch seeds
  outside the iterator's saved state: a restored iterator shuffles the
  following epochs differently.)
  """
  if seed is None:
    ds = tf.data.Dataset.range(num).shuffle(
        num, reshuffle_each_iteration=True).repeat()
    return ds.skip(start) if start else ds

  def epoch(index):
    noise = tf.random.stateless_uniform(
        [num], tf.stack([tf.constant(seed, tf.int64), index]))
    return tf.data.Dataset.from_tensor_slices(
        tf.argsort(noise, stable=True))

  ds = tf.data.Dataset.counter(start // num).flat_map(epoch)
  return ds.skip(start % num) if start % num else ds


def tile_to_rgb(image: tf.Tensor) -> tf.Tensor:
  """Makes a uint8 image with 1 or 3 channels have 3 channels."""
  channels = image.shape[-1]
  if channels == 3:
    return image
  if channels == 1:
    return tf.tile(image, [1, 1, 3])
  image = tf.cond(tf.equal(tf.shape(image)[-1], 1),
                  lambda: tf.tile(image, [1, 1, 3]), lambda: image)
  image.set_shape([None, None, 3])
  return image
