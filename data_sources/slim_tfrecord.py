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

"""Slim-format TFRecords: ImageNet and your own converted data sets.

`SlimTFRecordSource` reads `tf.train.Example`s with a JPEG and a label and
keeps the name of every record's file, so a corrupt image, a truncated file
or a bad label is reported with the file it came from. `ImageNetSource`
knows the slim shard names and the paper's split scheme;
`TFRecordSource` reads any data set described by a `dataset_info.json`
(`dataset_info.py`).
"""

from collections.abc import Mapping, Sequence
import concurrent.futures
import posixpath

import numpy as np
import tensorflow as tf

from revisiting_ssl import utils
from revisiting_ssl.data_sources import dataset_info
from revisiting_ssl.data_sources.base import (
  SPLITS,
  DataSource,
  check_dir_exists,
  check_split_name,
  epoch_orders,
  input_data_error,
  keep_table,
  shuffle_buffer,
  warn_if,
)

# Input pipeline constants of the original.
READ_BUFFER_BYTES = 8 * 1024 * 1024
FILE_CYCLE_LENGTH = 64

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

# Written by tools/generate_pseudo_labels.py: 1 for a labelled image.
PSEUDO_LABEL_FLAG = 'image/class/label_flag'

# TFRecord framing: 8 bytes length, 4 bytes length CRC, data, 4 bytes CRC.
_TFRECORD_OVERHEAD_BYTES = 16


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
               description: str, pseudo_label_key: str | None = None,
               original_label_key: str | None = None):
    """Creates the source.

    Args:
      split_files: split name -> the files of that split, in order.
      split_sizes: split name -> number of examples.
      num_classes: number of classes (labels after the offset are in
        `[0, num_classes)`).
      class_names: names by 0-based label, or None.
      label_offset: subtracted from the stored labels.
      description: names the data set in error messages.
      pseudo_label_key: records of `tools/generate_pseudo_labels.py`: the
        label feature of the pseudo labels (S4L). In `train` and
        `trainval` an example's label is then its `original_label_key`
        where `image/class/label_flag` is 1 (a labelled image) and its
        pseudo label elsewhere; in `val` and `test` the original label,
        or `image/class/label` in records without one.
      original_label_key: the feature of the true label.

    Raises:
      utils.UsageError: for one of the two keys without the other.
    """
    if (pseudo_label_key is None) != (original_label_key is None):
      raise utils.UsageError(
          '--pseudo_label_key and --original_label_key go together.')
    self._pseudo_label_key = pseudo_label_key
    self._original_label_key = original_label_key
    self._split_files = {k: list(v) for k, v in split_files.items()}
    self._split_sizes = dict(split_sizes)
    self.num_classes = num_classes
    self.class_names = class_names
    self._label_offset = label_offset
    self._description = description
    self._sizes_cache: dict[str, int] = {}

  def files(self, split: str) -> list[str]:
    """The files of `split`, in order."""
    check_split_name(split)
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
    """Returns a function: (filename, size, check) -> (filename, record, check).

    TFRecordDataset's DataLossError for a truncated or corrupt file does not
    name the file. So, when `check` is true, a file's read errors are
    dropped and, at its end, the bytes of the records read are compared
    with the file's size: a mismatch means records were lost, reported with
    the file name. That costs a scan and a filter step per record, so it is
    done on a file's first read only (`check`); later epochs read the same
    bytes plainly.
    """

    def checked(filename, size):
      records = tf.data.TFRecordDataset(
          filename, buffer_size=READ_BUFFER_BYTES).ignore_errors()
      flagged = tf.data.Dataset.zip(
          records, tf.data.Dataset.from_tensors(False).repeat())
      end = tf.data.Dataset.from_tensors((tf.constant(b''), True))

      def count_bytes(total, item):
        record, is_end = item
        framed = tf.cast(tf.strings.length(record),
                         tf.int64) + _TFRECORD_OVERHEAD_BYTES
        total += tf.where(is_end, tf.constant(0, tf.int64), framed)
        intact = tf.logical_or(tf.logical_not(is_end), tf.equal(total, size))
        if skip_corrupt:
          warn_if(tf.logical_not(intact),
                  'Skipped records of a truncated or corrupt TFRecord file',
                  filename)
        else:
          tf.debugging.Assert(intact, [
              'Truncated, corrupt or unreadable TFRecord file', filename,
              '(read', total, 'of', size, 'bytes).'
          ])
        return total, (filename, record, tf.logical_not(is_end))

      stream = flagged.concatenate(end).scan(tf.constant(0, tf.int64),
                                             count_bytes)
      # The end marker is the only element whose flag is false.
      return stream.filter(lambda filename, record, check: check)

    def plain(filename):
      records = tf.data.TFRecordDataset(filename,
                                        buffer_size=READ_BUFFER_BYTES)
      if skip_corrupt:
        records = records.ignore_errors()
      return tf.data.Dataset.zip(
          tf.data.Dataset.from_tensors(filename).repeat(), records,
          tf.data.Dataset.from_tensors(False).repeat())

    def read(filename, size, check):
      # Only one of the two is read: `take(0)` never opens its file.
      everything, nothing = tf.constant(-1, tf.int64), tf.constant(0, tf.int64)
      return checked(filename, size).take(
          tf.where(check, everything, nothing)).concatenate(
              plain(filename).take(tf.where(check, nothing, everything)))

    return read

  def _label_features(self) -> dict[str, tf.io.FixedLenFeature]:
    """The features a record's label is read from."""
    if self._pseudo_label_key is None:
      return {'image/class/label': tf.io.FixedLenFeature([], tf.int64)}
    return {
        'image/class/label': tf.io.FixedLenFeature([], tf.int64, -1),
        self._pseudo_label_key: tf.io.FixedLenFeature([], tf.int64, -1),
        self._original_label_key: tf.io.FixedLenFeature([], tf.int64, -1),
        PSEUDO_LABEL_FLAG: tf.io.FixedLenFeature([], tf.int64, 0),
    }

  def _label_of(self, features: Mapping[str, tf.Tensor],
                split: str) -> tf.Tensor:
    """The stored label of a parsed record (before the offset)."""
    if self._pseudo_label_key is None:
      return features['image/class/label']
    original = features[self._original_label_key]
    if split in ('val', 'test'):
      return tf.where(original >= 0, original, features['image/class/label'])
    return tf.where(tf.equal(features[PSEUDO_LABEL_FLAG], 1), original,
                    features[self._pseudo_label_key])

  def _parse_and_decode(self, record: tf.Tensor, split: str
                        ) -> tuple[tf.Tensor, tf.Tensor]:
    """(image, label) of a record; fails for a bad record or JPEG.

    The record is parsed once for the image and the label: parsing scans
    the whole serialized record, JPEG included.
    """
    features = tf.io.parse_single_example(record, {
        'image/encoded': tf.io.FixedLenFeature([], tf.string),
        **self._label_features(),
    })
    image = tf.io.decode_jpeg(features['image/encoded'], channels=3)
    label = tf.cast(self._label_of(features, split) - self._label_offset,
                    tf.int32)
    return image, label

  def _decode(self, split: str, skip_corrupt: bool, deterministic: bool):
    """Returns a transformation decoding (filename, record, check) streams.

    A failing op in a tf.data map ends the pipeline with an error that does
    not say which record failed. So a record to `check` (one read for the
    first time) is decoded in a one-element dataset of its own whose errors
    are dropped, followed by a failure marker: what comes out first is the
    decoded example or the marker, which becomes an error naming the file
    (or, with `skip_corrupt`, a warning, and the record is dropped). That
    costs a small dataset per record, so later epochs decode their records,
    already known to be good, directly; with `skip_corrupt` the bad ones
    fail again there and are dropped without a second warning.
    """
    num_classes = self.num_classes
    failed = (tf.zeros([0, 0, 3], tf.uint8), tf.constant(-1),
              tf.constant(False))

    def isolated(record):
      decoded = tf.data.Dataset.from_tensors(record).map(
          lambda r: (*self._parse_and_decode(r, split), tf.constant(True)))
      marker = tf.data.Dataset.from_tensors(failed)
      return decoded.ignore_errors().concatenate(marker).take(
          1).get_single_element()

    def decode(filename, record, check):
      image, label, ok = tf.cond(
          check, lambda: isolated(record),
          lambda: (*self._parse_and_decode(record, split), tf.constant(True)))
      if not skip_corrupt:
        tf.debugging.Assert(ok, [
            'Corrupt record (cannot parse it or decode its JPEG image) in '
            'file', filename
        ])
      return filename, image, label, ok

    def check_label(filename, image, label, ok):
      # After any skipping: a wrong label is an error, not a corrupt image.
      tf.debugging.Assert(
          tf.logical_or(tf.logical_not(ok),
                        tf.logical_and(label >= 0, label < num_classes)), [
              'Label out of range [0,', num_classes, ') after subtracting '
              f'the label offset {self._label_offset}:', label, 'in file',
              filename
          ])
      return {'image': image, 'label': label}

    def count_skipped(skipped, item):
      filename, _, _, ok = item
      skipped += tf.cast(tf.logical_not(ok), tf.int64)
      warn_if(tf.logical_not(ok), 'Skipping corrupt image record in',
              filename, '(', skipped,
              'skipped so far in this input pipeline)')
      return skipped, item

    def apply(ds):
      ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE,
                  deterministic=deterministic)
      if skip_corrupt:
        # Later epochs' known-bad records fail in `decode`: dropped here.
        ds = ds.ignore_errors().scan(tf.constant(0, tf.int64), count_skipped)
        ds = ds.filter(lambda filename, image, label, ok: ok)
      return ds.map(check_label)

    return apply

  def _records(self, files: Sequence[str], *, training: bool,
               seed: int | None, deterministic: bool,
               skip_corrupt: bool, cycle_length: int) -> tf.data.Dataset:
    sizes = self._sizes(files)
    names = tf.constant(list(files), tf.string)
    sizes = tf.constant(sizes, tf.int64)
    num_files = len(files)
    if training:
      ds = self._training_file_order(names, sizes, seed)
    else:
      ds = tf.data.Dataset.from_tensor_slices(
          (names, sizes, tf.ones([num_files], tf.bool)))
    return ds.interleave(
        self._read_file(skip_corrupt),
        cycle_length=max(1, min(cycle_length, num_files)), block_length=1,
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)

  @staticmethod
  def _training_file_order(names: tf.Tensor, sizes: tf.Tensor,
                           seed: int | None) -> tf.data.Dataset:
    """(file, size, check) forever, each epoch in a new order.

    Every epoch reads each file once, so the pipeline's first reads of its
    files are its first `len(names)`: those are checked. (A pipeline
    restored from a saved iterator goes on unchecked; should one of its
    records fail, `locate_bad_record` finds it.)
    """
    num_files = int(names.shape[0])
    return epoch_orders(num_files, seed).enumerate().map(
        lambda position, i: (tf.gather(names, i), tf.gather(sizes, i),
                             position < num_files))

  def locate_bad_record(self, split: str) -> utils.UsageError | None:
    """Reads `split` with every check on; the error of its first bad record.

    For an input pipeline that failed in an unchecked read (see
    `_training_file_order`): a pass over the split that decodes every
    record, so it takes as long as an epoch's decoding.
    """
    ds = self._examples(split, training=False, seed=None, num_pipelines=1,
                        pipeline_id=0, skip_corrupt_examples=False)
    try:
      for _ in ds.map(lambda example: tf.shape(example['image'])):
        pass
    except tf.errors.OpError as e:
      return input_data_error(e)
    return None

  @staticmethod
  def _record_id(record: tf.Tensor) -> tf.Tensor:
    """The `image/filename` of a record (empty when it has none)."""
    return tf.io.parse_single_example(record, {
        'image/filename': tf.io.FixedLenFeature([], tf.string, ''),
    })['image/filename']

  def example_ids(self, split):
    """See base class: `image/filename` and the 0-based label."""
    ds = tf.data.TFRecordDataset(self.files(split),
                                 buffer_size=READ_BUFFER_BYTES)

    def parse(records):
      features = tf.io.parse_example(records, {
          'image/filename': tf.io.FixedLenFeature([], tf.string, ''),
          'image/class/label': tf.io.FixedLenFeature([], tf.int64),
      })
      return (features['image/filename'],
              features['image/class/label'] - self._label_offset)

    ids, labels = [], []
    for names, batch_labels in ds.batch(4096).map(parse):
      ids.extend(n.decode() for n in names.numpy())
      labels.append(batch_labels.numpy())
    return np.array(ids), (np.concatenate(labels).astype(np.int32) if labels
                           else np.zeros([0], np.int32))

  def _examples_from(self, start, split, **kwargs):
    """See base class: the records before `start` are read, not decoded.

    The shuffle buffer's content depends on every record before it, so a
    pipeline resumed at a position replays the reading; skipping before
    decoding makes that about 25 times cheaper than decoding (reading a
    record is a tenth of a millisecond of a CPU, decoding and preprocessing
    it two and a half). With `--skip_corrupt_examples` the position counts
    the bad records before it as well, so a resumed stream is a few records
    off.
    """
    return self._examples(split, start=start, **kwargs)

  def _examples(self, split, *, training, seed, num_pipelines, pipeline_id,
                skip_corrupt_examples, keep_ids=None, cache=False, start=0):
    files = self.files(split)
    deterministic = (seed is not None) or not training
    # A cached stream is read once, in a fixed order, then replayed.
    one_pass = not training or cache
    shard_files = not one_pass and len(files) >= num_pipelines
    if shard_files and num_pipelines > 1:
      files = files[pipeline_id::num_pipelines]
    ds = self._records(files, training=not one_pass, seed=seed,
                       deterministic=deterministic or one_pass,
                       skip_corrupt=skip_corrupt_examples,
                       cycle_length=FILE_CYCLE_LENGTH)
    if not shard_files and num_pipelines > 1:
      # Evaluation always shards examples, so that counts are exact.
      ds = ds.shard(num_pipelines, pipeline_id)
    count = self.num_examples(split)
    if keep_ids is not None:
      # Filtered before decoding: only the kept images are decoded.
      table = keep_table(keep_ids)
      ds = ds.filter(lambda filename, record, check: table.lookup(
          self._record_id(record)) > 0)
      count = len(keep_ids)
    if training:
      if cache:
        # The first pass was checked; its replays need not be.
        ds = ds.cache().repeat().enumerate().map(
            lambda index, item: (*item[:2], index < count))
      ds = ds.shuffle(shuffle_buffer(count), seed=seed)
      if start:
        ds = ds.skip(start)
    return ds.apply(self._decode(split, skip_corrupt_examples,
                                 deterministic))

  def _padding_example(self, split):
    # The first good record, read sequentially and simply: opening
    # FILE_CYCLE_LENGTH files for one example would cost up to 64 read
    # buffers, and errors are reported by the main stream anyway.
    ds = tf.data.TFRecordDataset(self.files(split))
    ds = ds.map(lambda record: self._parse_and_decode(record, split))
    ds = ds.ignore_errors().take(1)
    return ds.map(lambda image, label: {'image': image, 'label': label})


def shard_name(prefix: str, index: int, num_shards: int) -> str:
  """`train-00003-of-01024` style shard file names."""
  return f'{prefix}-{index:05d}-of-{num_shards:05d}'


class ImageNetSource(SlimTFRecordSource):
  """ImageNet in slim TFRecords, with the paper's split scheme."""

  def __init__(self, dataset_dir: str, **label_keys: str):
    """Creates the source; no file is touched until `check`/`make`.

    Args:
      dataset_dir: the directory of the shards.
      **label_keys: `pseudo_label_key` and `original_label_key` (see
        `SlimTFRecordSource`).
    """
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
        description=f'ImageNet in {dataset_dir}', **label_keys)

  def check(self, split: str) -> None:
    """Checks the directory and every shard of `split` (one listing)."""
    files = self.files(split)
    check_dir_exists(self.dataset_dir, 'imagenet')
    present = set(tf.io.gfile.listdir(self.dataset_dir))
    missing = [f for f in files if posixpath.basename(f) not in present]
    if missing:
      raise utils.UsageError(
          f'ImageNet shard {missing[0]} is missing ({len(missing)} of the '
          f'{len(files)} shards of split {split!r} are missing in '
          f'--dataset_dir {self.dataset_dir}).')


class TFRecordSource(SlimTFRecordSource):
  """Slim-format TFRecords described by a `dataset_info.json`."""

  def __init__(self, dataset_dir: str, **label_keys: str):
    """Reads and validates `<dataset_dir>/dataset_info.json`.

    Args:
      dataset_dir: the directory of the shards and the JSON file.
      **label_keys: `pseudo_label_key` and `original_label_key` (see
        `SlimTFRecordSource`).
    """
    check_dir_exists(dataset_dir, 'tfrecord')
    self.dataset_dir = dataset_dir
    info = dataset_info.read(dataset_dir, valid_splits=SPLITS)
    super().__init__(split_files=info.split_files,
                     split_sizes=info.split_sizes,
                     num_classes=info.num_classes,
                     class_names=info.class_names,
                     label_offset=info.label_offset,
                     description=f'The data set in {dataset_dir}',
                     **label_keys)
