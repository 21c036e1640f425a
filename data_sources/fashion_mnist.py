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

"""Fashion-MNIST from its four MNIST-format IDX files."""

import gzip
import io
import math
import posixpath
import threading

import numpy as np
import tensorflow as tf

from revisiting_ssl import utils
from revisiting_ssl.data_sources.base import (
  DataSource,
  check_dir_exists,
  check_split_name,
  epoch_orders,
)

# Where Debian's dataset-fashion-mnist installs the files.
DEFAULT_DIR = '/usr/share/datasets/fashion-mnist'

FILES = {
    'train_images': 'train-images-idx3-ubyte.gz',
    'train_labels': 'train-labels-idx1-ubyte.gz',
    'test_images': 't10k-images-idx3-ubyte.gz',
    'test_labels': 't10k-labels-idx1-ubyte.gz',
}
CLASS_NAMES = [
    'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
    'Sneaker', 'Bag', 'Ankle boot'
]
TRAIN_SIZE = 50_000

_IDX_IMAGES_MAGIC = 2051
_IDX_LABELS_MAGIC = 2049

_CACHE: dict[str, dict[str, np.ndarray]] = {}
_LOCK = threading.Lock()


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


def load_arrays(dataset_dir: str) -> dict[str, np.ndarray]:
  """The validated arrays of a directory, read once per process.

  Returns:
    `<part>_images`, `<part>_labels` and `<part>_ids` for the parts `train`
    and `test`.
  """
  with _LOCK:
    if dataset_dir not in _CACHE:
      arrays = {}
      for part in ('train', 'test'):
        images = _read_idx(
            posixpath.join(dataset_dir,
                           FILES[f'{part}_images']),
            _IDX_IMAGES_MAGIC, rank=3)
        labels = _read_idx(
            posixpath.join(dataset_dir,
                           FILES[f'{part}_labels']),
            _IDX_LABELS_MAGIC, rank=1)
        if len(images) != len(labels):
          raise utils.UsageError(
              f'Fashion-MNIST in {dataset_dir}: {len(images)} {part} images '
              f'but {len(labels)} labels.')
        if labels.size and labels.max() >= len(CLASS_NAMES):
          raise utils.UsageError(
              f'Fashion-MNIST in {dataset_dir}: label {labels.max()} out of '
              'range in ' + FILES[f'{part}_labels'] + '.')
        arrays[f'{part}_images'] = images
        arrays[f'{part}_labels'] = labels.astype(np.int32)
        # Ids name the IDX file and the position in it: `train-00042`.
        prefix = FILES[f'{part}_images'].split('-')[0]
        arrays[f'{part}_ids'] = np.array(
            [f'{prefix}-{i:05d}' for i in range(len(labels))])
      _CACHE[dataset_dir] = arrays
    return _CACHE[dataset_dir]


class FashionMnistSource(DataSource):
  """Fashion-MNIST: 28x28 grey images served as uint8 `[28, 28, 3]`.

  Splits: `trainval` = the 60,000 training images, `train` = its first
  50,000, `val` = its last 10,000, `test` = the 10,000 test images. The
  arrays are loaded on first use and cached per directory.
  """

  num_classes = len(CLASS_NAMES)

  def __init__(self, dataset_dir: str):
    """Creates the source; files are read on first use."""
    self.dataset_dir = dataset_dir
    self.class_names = list(CLASS_NAMES)

  def check(self, split: str) -> None:
    """Loads (and validates) the four IDX files."""
    check_split_name(split)
    check_dir_exists(self.dataset_dir, 'fashion_mnist',
                     'tools/get_fashion_mnist.sh explains how to get the '
                     'files.')
    load_arrays(self.dataset_dir)

  def _arrays(self, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, labels, ids) of a split."""
    check_split_name(split)
    self.check(split)
    arrays = load_arrays(self.dataset_dir)
    part = 'test' if split == 'test' else 'train'
    images, labels = arrays[f'{part}_images'], arrays[f'{part}_labels']
    ids = arrays[f'{part}_ids']
    window = {'train': slice(None, TRAIN_SIZE),
              'val': slice(TRAIN_SIZE, None)}.get(split, slice(None))
    return images[window], labels[window], ids[window]

  def num_examples(self, split: str) -> int:
    """See base class (reads the files on first use)."""
    return len(self._arrays(split)[1])

  def example_ids(self, split: str) -> tuple[np.ndarray, np.ndarray]:
    """See base class."""
    _, labels, ids = self._arrays(split)
    return ids, labels

  def _examples_from(self, start, split, **kwargs):
    """See base class: jumps there (the order is the epoch's and seed's)."""
    return self._examples(split, start=start, **kwargs)

  def _examples(self, split, *, training, seed, num_pipelines, pipeline_id,
                skip_corrupt_examples, keep_ids=None, cache=False, start=0):
    del skip_corrupt_examples  # Validated at load time.
    del cache  # Always in memory.
    images, labels, ids = self._arrays(split)
    if keep_ids is not None:
      kept = np.isin(ids, np.array(keep_ids))
      images, labels = images[kept], labels[kept]
    if num_pipelines > 1:
      images = images[pipeline_id::num_pipelines]
      labels = labels[pipeline_id::num_pipelines]
    if training:
      # In memory, a shuffle of the whole split every epoch is cheap and
      # better than a 10,000-example buffer.
      images_t, labels_t = tf.constant(images), tf.constant(labels)
      ds = epoch_orders(len(labels), seed, start).map(
          lambda i: (tf.gather(images_t, i), tf.gather(labels_t, i)))
    else:
      ds = tf.data.Dataset.from_tensor_slices((images, labels))

    def to_example(image, label):
      return {'image': tf.tile(image[:, :, None], [1, 1, 3]), 'label': label}

    return ds.map(to_example)

  def _padding_example(self, split):
    # Only the first example, so the whole array is not embedded twice.
    images, labels, _ = self._arrays(split)
    return tf.data.Dataset.from_tensors({
        'image': np.repeat(images[0][:, :, None], 3, axis=2),
        'label': labels[0],
    })
