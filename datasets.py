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

"""Data sets and their `tf.data` input pipelines.

Every data set is a `DataSource` with four splits: `train`, `val`, `trainval`
and `test` (see SPEC A4 for ImageNet's). `DataSource.make` builds the input
pipeline for one split and one input pipeline (host) and yields batches of
dicts `{'image', 'label', 'mask'}`:

* training: shuffled, repeated forever, `drop_remainder=True`, mask all 1;
* evaluation: every example of the split exactly once over all input
  pipelines; each pipeline yields `eval_steps(...)` full batches, the tail
  padded with copies of a real example whose mask is 0.

Sources:

* `imagenet`: the slim TFRecord shards (`train-?????-of-01024`,
  `validation-?????-of-00128`), labels 1-based on disk.
* `tfrecord`: the same record format for your own data, described by the
  `dataset_info.json` that `tools/build_tfrecords.py` writes beside the shards.
* `fashion_mnist`: the four MNIST-format IDX files.
* `tfds:NAME`: a TFDS image classification data set already prepared in the
  data directory (never downloaded).

All file access goes through `tf.io.gfile`, so `gs://` paths work.
"""

from collections.abc import Callable, Mapping, Sequence
import concurrent.futures
import gzip
import io
import json
import math
import os
import posixpath
import sys
import threading
from typing import Any

import numpy as np
import tensorflow as tf

import preprocess
import utils

SPLITS = ('train', 'val', 'trainval', 'test')

DATASETS = utils.Registry('dataset', flag='--dataset')

DEFAULT_DIRS = {'fashion_mnist': '/usr/share/datasets/fashion-mnist'}

# Name of the JSON file that describes a `tfrecord` data set.
DATASET_INFO_FILE = 'dataset_info.json'
DATASET_INFO_FORMAT = 'slim-tfrecord'

# Input pipeline constants of the original (SPEC A4 / C1 item 7).
READ_BUFFER_BYTES = 8 * 1024 * 1024
FILE_CYCLE_LENGTH = 64
SHUFFLE_BUFFER = 10_000

# ImageNet in the slim layout: shard counts and the paper's split scheme.
IMAGENET_TRAIN_SHARDS = 1024
IMAGENET_VALIDATION_SHARDS = 128
IMAGENET_VAL_FIRST_SHARD = 984
IMAGENET_SPLIT_SIZES = {
    'train': 1_231_121,
    'val': 50_046,
    'trainval': 1_281_167,
    'test': 50_000,
}
IMAGENET_NUM_CLASSES = 1000

FASHION_MNIST_FILES = {
    'train_images': 'train-images-idx3-ubyte.gz',
    'train_labels': 'train-labels-idx1-ubyte.gz',
    'test_images': 't10k-images-idx3-ubyte.gz',
    'test_labels': 't10k-labels-idx1-ubyte.gz',
}
FASHION_MNIST_CLASS_NAMES = [
    'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
    'Sneaker', 'Bag', 'Ankle boot'
]
FASHION_MNIST_TRAIN_SIZE = 50_000

_IDX_IMAGES_MAGIC = 2051
_IDX_LABELS_MAGIC = 2049

# TFRecord framing: 8 bytes length, 4 bytes length CRC, data, 4 bytes CRC.
_TFRECORD_OVERHEAD_BYTES = 16


def _valid_splits_message() -> str:
  return f'Valid splits: {", ".join(SPLITS)}.'


def _check_split_name(split: str) -> None:
  if split not in SPLITS:
    raise utils.UsageError(
        f'Unknown split {split!r}. {_valid_splits_message()}')


def _pipeline_of(input_context: tf.distribute.InputContext | None
                ) -> tuple[int, int]:
  """Returns (num_input_pipelines, input_pipeline_id)."""
  if input_context is None:
    return 1, 0
  return input_context.num_input_pipelines, input_context.input_pipeline_id


def _examples_in_pipeline(num_examples: int, num_pipelines: int,
                          pipeline_id: int) -> int:
  """Examples pipeline `pipeline_id` gets from `Dataset.shard`."""
  return max(0, math.ceil((num_examples - pipeline_id) / num_pipelines))


def _warn_if(condition: tf.Tensor, *message: Any) -> None:
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
  `num_examples`, `check` and `_examples`; the batching, padding and masking
  contract lives here so that every source behaves the same.
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

  def _examples(self, split: str, *, training: bool, seed: int | None,
                num_pipelines: int, pipeline_id: int,
                skip_corrupt_examples: bool) -> tf.data.Dataset:
    """Decoded examples `{'image': uint8 [H,W,3], 'label': int32}`.

    Training: this pipeline's share, shuffled and repeated forever.
    Evaluation: exactly the examples `i` with `i % num_pipelines ==
    pipeline_id` of a fixed order, one pass.
    """
    raise NotImplementedError

  def _padding_example(self, split: str) -> tf.data.Dataset:
    """One real example of `split` used to pad evaluation batches."""
    return self._examples(
        split, training=False, seed=None, num_pipelines=1, pipeline_id=0,
        skip_corrupt_examples=True).take(1)

  def eval_steps(self, split: str, batch_size: int,
                 num_pipelines: int = 1) -> int:
    """Batches each input pipeline yields in evaluation (covers the split).

    Args:
      split: the split name.
      batch_size: the per-pipeline batch size.
      num_pipelines: the number of input pipelines.

    Returns:
      `ceil(num_examples / (num_pipelines * batch_size))`.
    """
    if batch_size < 1 or num_pipelines < 1:
      raise utils.UsageError(
          f'batch_size and num_pipelines must be positive, got {batch_size} '
          f'and {num_pipelines}.')
    return math.ceil(self.num_examples(split) / (num_pipelines * batch_size))

  def make(self,
           split: str,
           *,
           preprocess_fn: Callable[[dict[str, tf.Tensor]],
                                   dict[str, tf.Tensor]] | None,
           batch_size: int,
           training: bool,
           seed: int | None = None,
           input_context: tf.distribute.InputContext | None = None,
           skip_corrupt_examples: bool = False) -> tf.data.Dataset:
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

    Returns:
      A dataset of dicts with `image`, `label` and `mask` (float32 per
      example), batched.

    Raises:
      UsageError: for an unknown split, a missing file or a bad batch size.
    """
    _check_split_name(split)
    if batch_size < 1:
      raise utils.UsageError(f'batch_size must be positive, got {batch_size}.')
    self.check(split)
    if training and self.num_examples(split) == 0:
      # Repeating an empty split would loop forever without an element.
      raise utils.UsageError(f'Split {split!r} has no examples to train on.')
    num_pipelines, pipeline_id = _pipeline_of(input_context)
    preprocess_fn = preprocess_fn or (lambda features: features)
    ds = self._examples(
        split, training=training, seed=seed, num_pipelines=num_pipelines,
        pipeline_id=pipeline_id, skip_corrupt_examples=skip_corrupt_examples)

    def with_mask(mask):
      def fn(example):
        return dict(example, mask=tf.constant(mask, tf.float32))
      return fn

    ds = ds.map(with_mask(1.0))
    if training and seed is not None:
      def with_seed(index, example):
        example_seed = tf.stack([tf.constant(seed, tf.int64),
                                 index * num_pipelines + pipeline_id])
        return dict(example, **{preprocess.SEED_KEY: example_seed})

      ds = ds.enumerate().map(with_seed)
    if not training:
      ds = self._pad_eval_stream(
          ds, split, batch_size=batch_size, num_pipelines=num_pipelines,
          pipeline_id=pipeline_id, check_count=not skip_corrupt_examples)

    def apply_preprocess(example):
      # The preprocessing ops see only the image and the label; the mask
      # travels around them.
      inputs = {'image': example['image'], 'label': example['label']}
      if preprocess.SEED_KEY in example:
        inputs[preprocess.SEED_KEY] = example[preprocess.SEED_KEY]
      out = dict(preprocess_fn(inputs))
      out.pop(preprocess.SEED_KEY, None)
      out['mask'] = example['mask']
      return out

    ds = ds.map(apply_preprocess, num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=(seed is not None) or not training)
    # Evaluation streams are padded to whole batches, so dropping the
    # remainder drops nothing and gives a static batch dimension.
    ds = ds.batch(batch_size, drop_remainder=True)
    return ds.prefetch(tf.data.AUTOTUNE)

  def _pad_eval_stream(self, ds: tf.data.Dataset, split: str, *,
                       batch_size: int, num_pipelines: int, pipeline_id: int,
                       check_count: bool) -> tf.data.Dataset:
    """Pads one evaluation pipeline to `eval_steps * batch_size` examples."""
    total = self.eval_steps(split, batch_size, num_pipelines) * batch_size
    expected = _examples_in_pipeline(
        self.num_examples(split), num_pipelines, pipeline_id)
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


def _shuffle_buffer(num_examples: int) -> int:
  """The example shuffle buffer: 10,000, or the split size if smaller.

  The shuffle follows the repeat, so a buffer much larger than the split
  would only hold many copies of it, and filling it means reading the split
  that many times before the first batch.
  """
  return max(1, min(SHUFFLE_BUFFER, num_examples))


def _epoch_orders(num: int, seed: int | None) -> tf.data.Dataset:
  """Indices 0..num-1 in a new random order every epoch, forever (int64).

  With a seed, the order of epoch e is a stateless function of (seed, e), so
  an iterator restored from a checkpoint continues it exactly. (TF's
  `shuffle(..., reshuffle_each_iteration=True)` keeps its per-epoch seeds
  outside the iterator's saved state: a restored iterator shuffles the
  following epochs differently.)
  """
  if seed is None:
    return tf.data.Dataset.range(num).shuffle(
        num, reshuffle_each_iteration=True).repeat()

  def epoch(index):
    noise = tf.random.stateless_uniform(
        [num], tf.stack([tf.constant(seed, tf.int64), index]))
    return tf.data.Dataset.from_tensor_slices(
        tf.argsort(noise, stable=True))

  return tf.data.Dataset.counter().flat_map(epoch)


def _tile_to_rgb(image: tf.Tensor) -> tf.Tensor:
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


################################################################################
# Slim-format TFRecords (imagenet, tfrecord).
################################################################################


def _file_sizes(files: Sequence[str]) -> list[int]:
  """Sizes in bytes, stat'ed in parallel (each is a request on GCS)."""
  with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
    return list(pool.map(lambda f: tf.io.gfile.stat(f).length, files))


class SlimTFRecordSource(DataSource):
  """Slim-format TFRecords: `tf.train.Example`s with a JPEG and a label.

  The features read are `image/encoded` (JPEG) and `image/class/label`
  (int64), as written by slim's converter and by ours.

  Every record keeps the name of its file, so that a corrupt image, a
  truncated file or a bad label can be reported with the file it came from.
  """

  def __init__(self, *, split_files: Mapping[str, Sequence[str]],
               split_sizes: Mapping[str, int], num_classes: int,
               class_names: list[str] | None, label_offset: int,
               description: str):
    """Creates the source.

    Args:
      split_files: split name -> the files of that split, in order.
      split_sizes: split name -> number of examples.
      num_classes: number of classes (labels after the offset are in
        `[0, num_classes)`).
      class_names: names by 0-based label, or None.
      label_offset: subtracted from the stored labels.
      description: names the data set in error messages.
    """
    self._split_files = {k: list(v) for k, v in split_files.items()}
    self._split_sizes = dict(split_sizes)
    self.num_classes = num_classes
    self.class_names = class_names
    self._label_offset = label_offset
    self._description = description
    self._sizes_cache: dict[str, int] = {}

  def files(self, split: str) -> list[str]:
    """The files of `split`, in order."""
    _check_split_name(split)
    if split not in self._split_files:
      raise utils.UsageError(
          f'{self._description} has no {split!r} split. Available: '
          f'{", ".join(s for s in SPLITS if s in self._split_files)}.')
    return self._split_files[split]

  def num_examples(self, split: str) -> int:
    """See base class."""
    self.files(split)
    return self._split_sizes[split]

  def check(self, split: str) -> None:
    """Checks that every file of `split` exists.

    Raises:
      UsageError: naming the first missing file and how many are missing.
    """
    files = self.files(split)
    missing = [f for f in files if not tf.io.gfile.exists(f)]
    if missing:
      raise utils.UsageError(
          f'{self._description}: {len(missing)} of the {len(files)} files of '
          f'split {split!r} are missing; the first is {missing[0]}.')

  def _sizes(self, files: Sequence[str]) -> list[int]:
    todo = [f for f in files if f not in self._sizes_cache]
    if todo:
      self._sizes_cache.update(zip(todo, _file_sizes(todo)))
    return [self._sizes_cache[f] for f in files]

  def _read_file(self, skip_corrupt: bool):
    """Returns a function: (filename, size) -> dataset of (filename, record).

    TFRecordDataset's DataLossError for a truncated or corrupt file does not
    name the file. So errors are swallowed per file and the bytes of the
    records that were read are compared with the file size at its end: a
    mismatch means records were lost, reported with the file name.
    """

    def read(filename, size):
      records = tf.data.TFRecordDataset(
          filename, buffer_size=READ_BUFFER_BYTES).ignore_errors()
      records = records.map(lambda r: (r, False))
      end = tf.data.Dataset.from_tensors((tf.constant(b''), True))

      def count_bytes(total, item):
        record, is_end = item
        framed = tf.cast(tf.strings.length(record),
                         tf.int64) + _TFRECORD_OVERHEAD_BYTES
        total += tf.where(is_end, tf.constant(0, tf.int64), framed)
        return total, (record, is_end, total)

      stream = records.concatenate(end).scan(tf.constant(0, tf.int64),
                                             count_bytes)

      def verify(record, is_end, total):
        intact = tf.logical_or(tf.logical_not(is_end), tf.equal(total, size))
        if skip_corrupt:
          _warn_if(tf.logical_not(intact),
                   'Skipped records of a truncated or corrupt TFRecord file',
                   filename)
        else:
          tf.debugging.Assert(intact, [
              'Truncated, corrupt or unreadable TFRecord file', filename,
              '(read', total, 'of', size, 'bytes).'
          ])
        return record, is_end

      stream = stream.map(verify).filter(lambda record, is_end: not is_end)
      return stream.map(lambda record, is_end: (filename, record))

    return read

  def _parse_and_decode(self, filename, record):
    features = tf.io.parse_single_example(record, {
        'image/encoded': tf.io.FixedLenFeature([], tf.string),
        'image/class/label': tf.io.FixedLenFeature([], tf.int64),
    })
    image = tf.io.decode_jpeg(features['image/encoded'], channels=3)
    label = tf.cast(features['image/class/label'] - self._label_offset,
                    tf.int32)
    return filename, image, label, tf.constant(True)

  def _decode(self, skip_corrupt: bool, deterministic: bool):
    """Returns a transformation decoding (filename, record) streams.

    A failing op in a tf.data map aborts the pipeline with a message that
    does not say which record failed. Each record is therefore decoded in a
    one-element dataset whose errors are dropped, followed by a failure
    marker: the first element that comes out is the decoded example or the
    marker, and the marker is turned into an error naming the file.
    """

    def try_decode(filename, record):
      decoded = tf.data.Dataset.from_tensors((filename, record)).map(
          self._parse_and_decode).ignore_errors()
      failed = tf.data.Dataset.from_tensors(
          (filename, tf.zeros([0, 0, 3], tf.uint8), tf.constant(-1),
           tf.constant(False)))
      return decoded.concatenate(failed).take(1)

    num_classes = self.num_classes

    def check_label(filename, image, label):
      tf.debugging.Assert(
          tf.logical_and(label >= 0, label < num_classes), [
              'Label out of range [0,', num_classes, ') after subtracting '
              f'the label offset {self._label_offset}:', label, 'in file',
              filename
          ])
      return {'image': image, 'label': label}

    def apply(ds):
      ds = ds.interleave(try_decode, cycle_length=tf.data.AUTOTUNE,
                         block_length=1, num_parallel_calls=tf.data.AUTOTUNE,
                         deterministic=deterministic)
      if skip_corrupt:
        def count(skipped, item):
          ok = item[-1]
          skipped += tf.cast(tf.logical_not(ok), tf.int64)
          _warn_if(tf.logical_not(ok), 'Skipping corrupt image record in',
                   item[0], '(', skipped,
                   'skipped so far in this input pipeline)')
          return skipped, item

        ds = ds.scan(tf.constant(0, tf.int64), count)
        ds = ds.filter(lambda filename, image, label, ok: ok)
      else:
        def fail_if_corrupt(filename, image, label, ok):
          tf.debugging.Assert(ok, [
              'Corrupt record (cannot parse it or decode its JPEG image) in '
              'file', filename
          ])
          return filename, image, label

        ds = ds.map(fail_if_corrupt)
        return ds.map(check_label)
      return ds.map(lambda filename, image, label, ok: check_label(
          filename, image, label))

    return apply

  def _records(self, files: Sequence[str], *, training: bool,
               seed: int | None, deterministic: bool,
               skip_corrupt: bool, cycle_length: int) -> tf.data.Dataset:
    sizes = self._sizes(files)
    names = tf.constant(list(files), tf.string)
    sizes = tf.constant(sizes, tf.int64)
    if training:
      ds = _epoch_orders(len(files), seed).map(
          lambda i: (tf.gather(names, i), tf.gather(sizes, i)))
    else:
      ds = tf.data.Dataset.from_tensor_slices((names, sizes))
    return ds.interleave(
        self._read_file(skip_corrupt),
        cycle_length=max(1, min(cycle_length, len(files))), block_length=1,
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)

  def _examples(self, split, *, training, seed, num_pipelines, pipeline_id,
                skip_corrupt_examples):
    files = self.files(split)
    deterministic = (seed is not None) or not training
    shard_files = training and len(files) >= num_pipelines
    if shard_files and num_pipelines > 1:
      files = files[pipeline_id::num_pipelines]
    ds = self._records(files, training=training, seed=seed,
                       deterministic=deterministic,
                       skip_corrupt=skip_corrupt_examples,
                       cycle_length=FILE_CYCLE_LENGTH)
    if not shard_files and num_pipelines > 1:
      # Evaluation always shards examples, so that counts are exact.
      ds = ds.shard(num_pipelines, pipeline_id)
    if training:
      ds = ds.shuffle(_shuffle_buffer(self.num_examples(split)), seed=seed)
    return ds.apply(self._decode(skip_corrupt_examples, deterministic))

  def _padding_example(self, split):
    # The first good record, read sequentially and simply: opening
    # FILE_CYCLE_LENGTH files for one example would cost up to 64 read
    # buffers, and errors are reported by the main stream anyway.
    ds = tf.data.TFRecordDataset(self.files(split))
    ds = ds.map(lambda record: self._parse_and_decode('', record)[1:3])
    ds = ds.ignore_errors().take(1)
    return ds.map(lambda image, label: {'image': image, 'label': label})


def _expand(path: str) -> str:
  return os.path.expanduser(path)


def _require_dir(dataset_dir: str | None, dataset: str) -> str:
  if not dataset_dir:
    raise utils.UsageError(f'--dataset_dir is required for --dataset '
                           f'{dataset}.')
  dataset_dir = _expand(dataset_dir)
  if not tf.io.gfile.isdir(dataset_dir):
    raise utils.UsageError(
        f'--dataset_dir {dataset_dir} (for --dataset {dataset}) does not '
        f'exist or is not a directory.')
  return dataset_dir


def shard_name(prefix: str, index: int, num_shards: int) -> str:
  """`train-00003-of-01024` style shard file names."""
  return f'{prefix}-{index:05d}-of-{num_shards:05d}'


class ImageNetSource(SlimTFRecordSource):
  """ImageNet in slim TFRecords, with the paper's split scheme (SPEC A4)."""

  def __init__(self, dataset_dir: str):
    """Creates the source; no file is touched until `check`/`make`."""
    self.dataset_dir = dataset_dir
    train = [
        posixpath.join(dataset_dir,
                       shard_name('train', i, IMAGENET_TRAIN_SHARDS))
        for i in range(IMAGENET_TRAIN_SHARDS)
    ]
    test = [
        posixpath.join(dataset_dir, shard_name('validation', i,
                                               IMAGENET_VALIDATION_SHARDS))
        for i in range(IMAGENET_VALIDATION_SHARDS)
    ]
    super().__init__(
        split_files={
            'train': train[:IMAGENET_VAL_FIRST_SHARD],
            'val': train[IMAGENET_VAL_FIRST_SHARD:],
            'trainval': train,
            'test': test,
        },
        # Read at construction so tests can substitute tiny sizes.
        split_sizes=dict(IMAGENET_SPLIT_SIZES),
        num_classes=IMAGENET_NUM_CLASSES,
        class_names=None,
        label_offset=1,
        description=f'ImageNet in {dataset_dir}')

  def check(self, split: str) -> None:
    """Checks the directory and every shard of `split` (one listing)."""
    files = self.files(split)
    if not tf.io.gfile.isdir(self.dataset_dir):
      raise utils.UsageError(
          f'--dataset_dir {self.dataset_dir} (for --dataset imagenet) does '
          f'not exist or is not a directory.')
    present = set(tf.io.gfile.listdir(self.dataset_dir))
    missing = [f for f in files if posixpath.basename(f) not in present]
    if missing:
      raise utils.UsageError(
          f'ImageNet shard {missing[0]} is missing ({len(missing)} of the '
          f'{len(files)} shards of split {split!r} are missing in '
          f'--dataset_dir {self.dataset_dir}).')


@DATASETS.register('imagenet')
def _imagenet(dataset_dir: str | None) -> DataSource:
  if not dataset_dir:
    raise utils.UsageError('--dataset_dir is required for --dataset imagenet.')
  return ImageNetSource(_expand(dataset_dir).rstrip('/') or '/')


def val_shard_count(num_train_shards: int) -> int:
  """Training shards held out as `val` (ImageNet holds out 40 of 1024).

  Returns 0 when there is a single training shard (nothing to split).
  """
  if num_train_shards < 2:
    return 0
  return max(1, num_train_shards * 40 // 1024)


def make_dataset_info(
    *, class_names: Sequence[str], train_shards: Sequence[tuple[str, int]],
    validation_shards: Sequence[tuple[str, int]] = (), label_offset: int = 1
) -> dict[str, Any]:
  """The `dataset_info.json` content for a converted data set.

  Schema (version 1):

      {
        "format": "slim-tfrecord",
        "version": 1,
        "num_classes": 3,
        "class_names": ["n01", "n02", "n03"],   # by 0-based label
        "label_offset": 1,                      # stored label - offset
        "splits": {                             # all optional
          "train":    {"files": [...], "num_examples": 9},
          "val":      {"files": [...], "num_examples": 1},
          "trainval": {"files": [...], "num_examples": 10},
          "test":     {"files": [...], "num_examples": 4}
        },
        "shards": {"train-00000-of-00004": 3, ...}   # informational
      }

  `files` entries are paths relative to the JSON file (absolute paths and
  `gs://` URLs are used as they are) or glob patterns, expanded in sorted
  order. Split mapping: `trainval` = all training shards, `test` = the
  validation shards, `val` = the last `val_shard_count(n)` training shards
  and `train` = the others (no `train`/`val` with a single training shard,
  no `test` without validation shards).

  Args:
    class_names: class names in label order (stored label 1 = first name).
    train_shards: (file name, number of examples) of the training shards.
    validation_shards: the same for the validation shards.
    label_offset: what to subtract from the stored labels.

  Returns:
    The JSON-serialisable dict.
  """

  def split(shards):
    return {'files': [name for name, _ in shards],
            'num_examples': sum(count for _, count in shards)}

  splits = {}
  num_val = val_shard_count(len(train_shards))
  if num_val:
    splits['train'] = split(train_shards[:-num_val])
    splits['val'] = split(train_shards[-num_val:])
  if train_shards:
    splits['trainval'] = split(train_shards)
  if validation_shards:
    splits['test'] = split(validation_shards)
  return {
      'format': DATASET_INFO_FORMAT,
      'version': 1,
      'num_classes': len(class_names),
      'class_names': list(class_names),
      'label_offset': label_offset,
      'splits': splits,
      'shards': {name: count for name, count in
                 list(train_shards) + list(validation_shards)},
  }


def _has_glob(path: str) -> bool:
  return any(c in path for c in '*?[')


class TFRecordSource(SlimTFRecordSource):
  """Slim-format TFRecords described by a `dataset_info.json`."""

  def __init__(self, dataset_dir: str):
    """Reads and validates `<dataset_dir>/dataset_info.json`."""
    self.dataset_dir = dataset_dir
    info_path = posixpath.join(dataset_dir, DATASET_INFO_FILE)
    if not tf.io.gfile.exists(info_path):
      raise utils.UsageError(
          f'{info_path} does not exist: --dataset tfrecord needs the '
          f'{DATASET_INFO_FILE} that tools/build_tfrecords.py writes beside '
          'the shards.')
    try:
      with tf.io.gfile.GFile(info_path, 'r') as f:
        info = json.load(f)
      num_classes = int(info['num_classes'])
      class_names = info.get('class_names')
      label_offset = int(info.get('label_offset', 0))
      split_files, split_sizes = {}, {}
      for name, entry in info['splits'].items():
        if name not in SPLITS:
          raise ValueError(f'unknown split {name!r}; '
                           f'{_valid_splits_message()}')
        split_files[name] = self._resolve(entry['files'], dataset_dir)
        split_sizes[name] = int(entry['num_examples'])
    except (ValueError, KeyError, TypeError) as e:
      raise utils.UsageError(f'Malformed {info_path}: {e!r}.') from None
    if class_names is not None and len(class_names) != num_classes:
      raise utils.UsageError(
          f'Malformed {info_path}: {len(class_names)} class_names for '
          f'num_classes {num_classes}.')
    super().__init__(split_files=split_files, split_sizes=split_sizes,
                     num_classes=num_classes, class_names=class_names,
                     label_offset=label_offset,
                     description=f'The data set in {dataset_dir}')

  @staticmethod
  def _resolve(entries: Sequence[str], dataset_dir: str) -> list[str]:
    files = []
    for entry in entries:
      if not isinstance(entry, str):
        raise ValueError(f'file entries must be strings, got {entry!r}')
      path = entry if ('://' in entry or entry.startswith('/')) else (
          posixpath.join(dataset_dir, entry))
      if _has_glob(path):
        matches = sorted(tf.io.gfile.glob(path))
        if not matches:
          raise ValueError(f'pattern {path} matches no file')
        files.extend(matches)
      else:
        files.append(path)
    return files


@DATASETS.register('tfrecord')
def _tfrecord(dataset_dir: str | None) -> DataSource:
  return TFRecordSource(_require_dir(dataset_dir, 'tfrecord').rstrip('/'))


################################################################################
# Fashion-MNIST from IDX files.
################################################################################

_FASHION_MNIST_CACHE: dict[str, dict[str, np.ndarray]] = {}
_FASHION_MNIST_LOCK = threading.Lock()


def _read_idx(path: str, magic: int, rank: int) -> np.ndarray:
  """Reads a gzipped IDX file (big-endian header, uint8 data)."""
  if not tf.io.gfile.exists(path):
    raise utils.UsageError(f'Fashion-MNIST file {path} does not exist.')
  with tf.io.gfile.GFile(path, 'rb') as f:
    compressed = f.read()
  try:
    data = gzip.GzipFile(fileobj=io.BytesIO(compressed)).read()
  except (OSError, EOFError) as e:
    raise utils.UsageError(
        f'Fashion-MNIST file {path} is not a valid gzip file ({e}).') from None
  header_bytes = 4 * (1 + rank)
  if len(data) < header_bytes:
    raise utils.UsageError(f'Fashion-MNIST file {path} is truncated (no '
                           'complete IDX header).')
  header = np.frombuffer(data, dtype='>u4', count=1 + rank)
  if int(header[0]) != magic:
    raise utils.UsageError(
        f'Fashion-MNIST file {path} has IDX magic number {int(header[0])}, '
        f'expected {magic}.')
  dims = [int(d) for d in header[1:]]
  expected = math.prod(dims)
  if len(data) - header_bytes != expected:
    raise utils.UsageError(
        f'Fashion-MNIST file {path} has {len(data) - header_bytes} data '
        f'bytes; its header {dims} says {expected} (truncated?).')
  return np.frombuffer(data, dtype=np.uint8,
                       offset=header_bytes).reshape(dims)


def _load_fashion_mnist(dataset_dir: str) -> dict[str, np.ndarray]:
  with _FASHION_MNIST_LOCK:
    if dataset_dir not in _FASHION_MNIST_CACHE:
      arrays = {}
      for part in ('train', 'test'):
        images = _read_idx(
            posixpath.join(dataset_dir,
                           FASHION_MNIST_FILES[f'{part}_images']),
            _IDX_IMAGES_MAGIC, rank=3)
        labels = _read_idx(
            posixpath.join(dataset_dir,
                           FASHION_MNIST_FILES[f'{part}_labels']),
            _IDX_LABELS_MAGIC, rank=1)
        if len(images) != len(labels):
          raise utils.UsageError(
              f'Fashion-MNIST in {dataset_dir}: {len(images)} {part} images '
              f'but {len(labels)} labels.')
        if labels.size and labels.max() >= len(FASHION_MNIST_CLASS_NAMES):
          raise utils.UsageError(
              f'Fashion-MNIST in {dataset_dir}: label {labels.max()} out of '
              'range in ' + FASHION_MNIST_FILES[f'{part}_labels'] + '.')
        arrays[f'{part}_images'] = images
        arrays[f'{part}_labels'] = labels.astype(np.int32)
      _FASHION_MNIST_CACHE[dataset_dir] = arrays
    return _FASHION_MNIST_CACHE[dataset_dir]


class FashionMnistSource(DataSource):
  """Fashion-MNIST: 28x28 grey images served as uint8 `[28, 28, 3]`.

  Splits: `trainval` = the 60,000 training images, `train` = its first
  50,000, `val` = its last 10,000, `test` = the 10,000 test images. The
  arrays are loaded on first use and cached per directory.
  """

  num_classes = len(FASHION_MNIST_CLASS_NAMES)

  def __init__(self, dataset_dir: str):
    """Creates the source; files are read on first use."""
    self.dataset_dir = dataset_dir
    self.class_names = list(FASHION_MNIST_CLASS_NAMES)

  def check(self, split: str) -> None:
    """Loads (and validates) the four IDX files."""
    _check_split_name(split)
    if not tf.io.gfile.isdir(self.dataset_dir):
      raise utils.UsageError(
          f'--dataset_dir {self.dataset_dir} (for --dataset fashion_mnist) '
          'does not exist. tools/get_fashion_mnist.sh explains how to get '
          'the files.')
    _load_fashion_mnist(self.dataset_dir)

  def _arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
    _check_split_name(split)
    self.check(split)
    arrays = _load_fashion_mnist(self.dataset_dir)
    part = 'test' if split == 'test' else 'train'
    images, labels = arrays[f'{part}_images'], arrays[f'{part}_labels']
    if split == 'train':
      return (images[:FASHION_MNIST_TRAIN_SIZE],
              labels[:FASHION_MNIST_TRAIN_SIZE])
    if split == 'val':
      return (images[FASHION_MNIST_TRAIN_SIZE:],
              labels[FASHION_MNIST_TRAIN_SIZE:])
    return images, labels

  def num_examples(self, split: str) -> int:
    """See base class (reads the files on first use)."""
    return len(self._arrays(split)[1])

  def _examples(self, split, *, training, seed, num_pipelines, pipeline_id,
                skip_corrupt_examples):
    del skip_corrupt_examples  # Validated at load time.
    images, labels = self._arrays(split)
    if num_pipelines > 1:
      images = images[pipeline_id::num_pipelines]
      labels = labels[pipeline_id::num_pipelines]
    if training:
      # In memory, a shuffle of the whole split every epoch is cheap and
      # better than a 10,000-example buffer.
      images_t, labels_t = tf.constant(images), tf.constant(labels)
      ds = _epoch_orders(len(labels), seed).map(
          lambda i: (tf.gather(images_t, i), tf.gather(labels_t, i)))
    else:
      ds = tf.data.Dataset.from_tensor_slices((images, labels))

    def to_example(image, label):
      return {'image': tf.tile(image[:, :, None], [1, 1, 3]), 'label': label}

    return ds.map(to_example)

  def _padding_example(self, split):
    # Only the first example, so the whole array is not embedded twice.
    images, labels = self._arrays(split)
    return tf.data.Dataset.from_tensors({
        'image': np.repeat(images[0][:, :, None], 3, axis=2),
        'label': labels[0],
    })


@DATASETS.register('fashion_mnist')
def _fashion_mnist(dataset_dir: str | None) -> DataSource:
  dataset_dir = _expand(dataset_dir or DEFAULT_DIRS['fashion_mnist'])
  return FashionMnistSource(dataset_dir.rstrip('/') or '/')


################################################################################
# TFDS.
################################################################################


def _import_tfds():
  try:
    import tensorflow_datasets as tfds  # noqa: PLC0415  (optional extra)
  except ImportError:
    raise utils.UsageError(
        '--dataset tfds:NAME needs tensorflow-datasets: pip install .[tfds]'
    ) from None
  return tfds


class TfdsSource(DataSource):
  """A prepared TFDS image classification data set (never downloaded).

  Split mapping. With a `validation` split: train = `train`, val =
  `validation`, trainval = `train+validation`. Without one: train =
  `train[:90%]`, val = `train[90%:]`, trainval = `train`. test = `test` if
  present, else `validation`. Labels are TFDS's (0-based, no offset).
  """

  def __init__(self, name: str, data_dir: str):
    """Opens the builder; raises UsageError if it is not prepared."""
    tfds = _import_tfds()
    self._tfds = tfds
    self.name = name
    try:
      builder = tfds.builder(name, data_dir=data_dir)
    except Exception as e:  # noqa: BLE001  TFDS raises many kinds here.
      raise utils.UsageError(
          f'--dataset tfds:{name}: cannot open it in --dataset_dir '
          f'{data_dir} ({utils.error_summary(e)}). Prepare it there first '
          '(this code never downloads).') from None
    if not builder.is_prepared():
      raise utils.UsageError(
          f'--dataset tfds:{name} is not prepared in --dataset_dir '
          f'{data_dir}; prepare it there first (this code never downloads).')
    self._builder = builder
    info = builder.info
    keys = info.supervised_keys
    image_key, label_key = ('image', 'label')
    if keys and len(keys) == 2 and all(isinstance(k, str) for k in keys):
      image_key, label_key = keys
    features = info.features
    if image_key not in features or label_key not in features:
      raise utils.UsageError(
          f'--dataset tfds:{name} has no {image_key!r}/{label_key!r} '
          'features; only image classification data sets are supported.')
    label_feature = features[label_key]
    if not hasattr(label_feature, 'num_classes'):
      raise utils.UsageError(
          f'--dataset tfds:{name}: feature {label_key!r} is not a class '
          'label.')
    self._image_key, self._label_key = image_key, label_key
    self._image_channels = features[image_key].shape[-1]
    self.num_classes = label_feature.num_classes
    self.class_names = list(label_feature.names)
    available = set(info.splits.keys())
    split_map = {}
    if 'train' in available:
      if 'validation' in available:
        split_map.update(train='train', val='validation',
                         trainval='train+validation')
      else:
        split_map.update(train='train[:90%]', val='train[90%:]',
                         trainval='train')
    if 'test' in available:
      split_map['test'] = 'test'
    elif 'validation' in available:
      split_map['test'] = 'validation'
    self._split_map = split_map

  def tfds_split(self, split: str) -> str:
    """The TFDS split expression our split name maps to."""
    _check_split_name(split)
    if split not in self._split_map:
      raise utils.UsageError(
          f'--dataset tfds:{self.name} has no data for split {split!r} (its '
          f'splits: {", ".join(sorted(self._builder.info.splits.keys()))}).')
    return self._split_map[split]

  def num_examples(self, split: str) -> int:
    """See base class."""
    return self._builder.info.splits[self.tfds_split(split)].num_examples

  def check(self, split: str) -> None:
    """See base class (the builder was checked when opened)."""
    self.tfds_split(split)

  def _examples(self, split, *, training, seed, num_pipelines, pipeline_id,
                skip_corrupt_examples):
    tfds = self._tfds
    expression = self.tfds_split(split)
    ds = None
    if training and num_pipelines > 1:
      context = tf.distribute.InputContext(num_pipelines, pipeline_id, 1)
      try:
        ds = self._builder.as_dataset(
            split=expression, shuffle_files=True,
            read_config=tfds.ReadConfig(shuffle_seed=seed,
                                        input_context=context))
      except ValueError:
        ds = None  # Fewer files than pipelines: shard examples below.
    if ds is None:
      ds = self._builder.as_dataset(
          split=expression, shuffle_files=training,
          read_config=tfds.ReadConfig(shuffle_seed=seed))
      if num_pipelines > 1:
        ds = ds.shard(num_pipelines, pipeline_id)
    if training:
      ds = ds.repeat().shuffle(_shuffle_buffer(self.num_examples(split)),
                               seed=seed)

    image_key, label_key = self._image_key, self._label_key

    def to_example(features):
      image = features[image_key]
      if image.dtype != tf.uint8:
        image = tf.image.convert_image_dtype(image, tf.uint8, saturate=True)
      return {'image': _tile_to_rgb(image),
              'label': tf.cast(features[label_key], tf.int32)}

    ds = ds.map(to_example, num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=(seed is not None) or not training)
    if skip_corrupt_examples:
      ds = ds.ignore_errors(log_warning=True)
    return ds


def _tfds(name: str, dataset_dir: str | None) -> DataSource:
  if not name:
    raise utils.UsageError('--dataset tfds:NAME needs a name after "tfds:".')
  return TfdsSource(name, _require_dir(dataset_dir, f'tfds:{name}'))


################################################################################
# Entry points.
################################################################################

_CHOICES = 'imagenet, tfrecord, fashion_mnist, tfds:<name>'


def default_dataset_dir(name: str) -> str | None:
  """The directory used when --dataset_dir is not given (or None)."""
  return DEFAULT_DIRS.get(name)


def get_dataset(name: str, dataset_dir: str | None) -> DataSource:
  """Returns the data source `name` reading from `dataset_dir`.

  Args:
    name: `imagenet`, `tfrecord`, `fashion_mnist` or `tfds:NAME`.
    dataset_dir: the data directory (`~` is expanded; `gs://` works); None
      uses `default_dataset_dir(name)` where there is one.

  Returns:
    The DataSource. Files are checked by `check(split)` and `make`.

  Raises:
    UsageError: for an unknown name or a missing directory.
  """
  if name.startswith('tfds:'):
    return _tfds(name[len('tfds:'):], dataset_dir)
  if name not in DATASETS:
    raise utils.UsageError(
        f'Unknown dataset {name!r} (in --dataset). Valid choices: {_CHOICES}.')
  if dataset_dir is None:
    dataset_dir = default_dataset_dir(name)
  return DATASETS.lookup(name)(dataset_dir)
