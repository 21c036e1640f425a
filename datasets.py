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

"""Data sets by name: the facade over `data_sources/`.

`get_dataset(name, dataset_dir)` returns a `DataSource` (the contract of
`data_sources/base.py`: four splits, `make` builds the `tf.data` pipeline of
one split and yields batches of `{'image', 'label', 'mask'}`, every example
of an evaluation split exactly once, padded and masked).

Sources (`--dataset`):

* `imagenet`: the slim TFRecord shards (`train-?????-of-01024`,
  `validation-?????-of-00128`), labels 1-based on disk
  (`data_sources/slim_tfrecord.py`).
* `tfrecord`: the same record format for your own data, described by the
  `dataset_info.json` that `tools/build_tfrecords.py` writes beside the
  shards (`data_sources/dataset_info.py`).
* `fashion_mnist`: the four MNIST-format IDX files
  (`data_sources/fashion_mnist.py`).
* `tfds:NAME`: a TFDS image classification data set already prepared in the
  data directory, never downloaded (`data_sources/tfds.py`).

All file access goes through `tf.io.gfile`, so `gs://` paths work.
"""

from collections.abc import Callable
import os
from typing import Any

from revisiting_ssl import utils
from revisiting_ssl.data_sources import (
  dataset_info,
  fashion_mnist,
  slim_tfrecord,
  tfds,
)
from revisiting_ssl.data_sources.base import (
  SPLITS,
  DataSource,
  input_data_error,
  unnamed_input_failure,
)

__all__ = ['SPLITS', 'DataSource', 'DATASET_INFO_FILE', 'DATASETS',
           'default_dataset_dir', 'get_dataset', 'input_data_error',
           'make_dataset_info', 'names', 'register', 'shard_name',
           'unnamed_input_failure']

DATASET_INFO_FILE = dataset_info.FILE_NAME
make_dataset_info = dataset_info.make_dataset_info
shard_name = slim_tfrecord.shard_name

# The prefix of TFDS data sets: `--dataset tfds:NAME`.
TFDS_PREFIX = 'tfds:'

DATASETS = utils.Registry('dataset', flag='--dataset')
DATASETS.register('imagenet')(slim_tfrecord.ImageNetSource)
DATASETS.register('tfrecord')(slim_tfrecord.TFRecordSource)
DATASETS.register('fashion_mnist')(fashion_mnist.FashionMnistSource)

# The sources that read pseudo-labelled TFRecords.
_PSEUDO_LABEL_SOURCES = ('imagenet', 'tfrecord')

# Directories used when --dataset_dir is not given.
_DEFAULT_DIRS = {'fashion_mnist': fashion_mnist.DEFAULT_DIR}


def register(name: str) -> Callable[[Any], Any]:
  """Decorator: registers a data source under `name` (`--dataset`).

  The source is a callable `source(dataset_dir) -> DataSource`, such as a
  `DataSource` subclass (`data_sources/base.py`); a user's module registers
  its own with it and `--import`.
  """
  return DATASETS.register(name)


def names() -> list[str]:
  """What `--dataset` accepts, for help texts and errors."""
  return DATASETS.names() + [f'{TFDS_PREFIX}<name>']


def default_dataset_dir(name: str) -> str | None:
  """The directory used when --dataset_dir is not given (or None)."""
  return _DEFAULT_DIRS.get(name)


def get_dataset(name: str, dataset_dir: str | None,
                **label_keys: str) -> DataSource:
  """Returns the data source `name` reading from `dataset_dir`.

  Args:
    name: `imagenet`, `tfrecord`, `fashion_mnist` or `tfds:NAME`.
    dataset_dir: the data directory (`~` is expanded; `gs://` works); None
      uses `default_dataset_dir(name)` where there is one.
    **label_keys: `pseudo_label_key` and `original_label_key`, for the
      TFRecords of `tools/generate_pseudo_labels.py` (`imagenet` and
      `tfrecord` only).

  Returns:
    The DataSource. Files are checked by `check(split)` and `make`.

  Raises:
    UsageError: for an unknown name, or without a data directory.
  """
  factory: Callable[[str], DataSource]
  if name.startswith(TFDS_PREFIX):
    tfds_name = name[len(TFDS_PREFIX):]
    if not tfds_name:
      raise utils.UsageError(
          f'--dataset {TFDS_PREFIX}NAME needs a name after "{TFDS_PREFIX}".')
    factory = lambda directory: tfds.TfdsSource(tfds_name, directory)  # noqa: E731
  elif name in DATASETS:
    factory = DATASETS.lookup(name)
  else:
    raise utils.UsageError(
        f'Unknown dataset {name!r} (in --dataset). Valid choices: '
        f'{", ".join(names())}.')
  dataset_dir = dataset_dir or default_dataset_dir(name)
  if not dataset_dir:
    raise utils.UsageError(
        f'--dataset_dir is required for --dataset {name}.')
  if label_keys and name not in _PSEUDO_LABEL_SOURCES:
    raise utils.UsageError(
        f'--pseudo_label_key reads TFRecords (--dataset '
        f'{" or ".join(_PSEUDO_LABEL_SOURCES)}), not --dataset {name}.')
  return factory(os.path.expanduser(dataset_dir).rstrip('/') or '/',
                 **label_keys)
