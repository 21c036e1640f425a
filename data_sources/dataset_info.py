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

"""The `dataset_info.json` that describes a converted data set.

`tools/build_tfrecords.py` writes it beside the shards (`make`), and
`--dataset tfrecord` reads it (`read`); the schema is written once, here.
"""

from collections.abc import Mapping, Sequence
import dataclasses
import json
import posixpath
from typing import Any

import tensorflow as tf

from revisiting_ssl import utils

FILE_NAME = 'dataset_info.json'
FORMAT = 'slim-tfrecord'


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
  splits = {}
  num_val = val_shard_count(len(train_shards))
  if num_val:
    splits['train'] = train_shards[:-num_val]
    splits['val'] = train_shards[-num_val:]
  if train_shards:
    splits['trainval'] = train_shards
  if validation_shards:
    splits['test'] = validation_shards
  return make_from_splits(class_names=class_names, split_shards=splits,
                          label_offset=label_offset)


def make_from_splits(
    *, class_names: Sequence[str],
    split_shards: Mapping[str, Sequence[tuple[str, int]]],
    label_offset: int = 1) -> dict[str, Any]:
  """The `dataset_info.json` content (schema: `make_dataset_info`).

  Args:
    class_names: class names in label order.
    split_shards: split name -> its (file name, number of examples).
    label_offset: what to subtract from the stored labels.

  Returns:
    The JSON-serialisable dict.
  """
  shards = {name: count for split in split_shards.values()
            for name, count in split}
  return {
      'format': FORMAT,
      'version': 1,
      'num_classes': len(class_names),
      'class_names': list(class_names),
      'label_offset': label_offset,
      'splits': {split: {'files': [name for name, _ in files],
                         'num_examples': sum(count for _, count in files)}
                 for split, files in split_shards.items()},
      'shards': shards,
  }


def _has_glob(path: str) -> bool:
  return any(c in path for c in '*?[')


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """A validated `dataset_info.json`, with its file lists resolved."""
  num_classes: int
  class_names: list[str] | None
  label_offset: int
  split_files: dict[str, list[str]]
  split_sizes: dict[str, int]


def read(dataset_dir: str, valid_splits: Sequence[str]) -> DatasetInfo:
  """Reads and validates `<dataset_dir>/dataset_info.json`.

  Args:
    dataset_dir: the directory of the shards and the JSON file.
    valid_splits: the split names a data source has.

  Returns:
    The description, file entries resolved (relative paths against
    `dataset_dir`, globs expanded in sorted order).

  Raises:
    utils.UsageError: naming the file, when it is missing or malformed.
  """
  info_path = posixpath.join(dataset_dir, FILE_NAME)
  if not tf.io.gfile.exists(info_path):
    raise utils.UsageError(
        f'{info_path} does not exist: --dataset tfrecord needs the '
        f'{FILE_NAME} that tools/build_tfrecords.py writes beside the '
        'shards.')
  try:
    with tf.io.gfile.GFile(info_path, 'r') as f:
      info: dict[str, Any] = json.load(f)
    num_classes = int(info['num_classes'])
    class_names = info.get('class_names')
    label_offset = int(info.get('label_offset', 0))
    split_files, split_sizes = {}, {}
    for name, entry in info['splits'].items():
      if name not in valid_splits:
        raise ValueError(f'unknown split {name!r}; valid splits: '
                         f'{", ".join(valid_splits)}')
      split_files[name] = _resolve(entry['files'], dataset_dir)
      split_sizes[name] = int(entry['num_examples'])
  except (ValueError, KeyError, TypeError) as e:
    raise utils.UsageError(f'Malformed {info_path}: {e!r}.') from None
  if class_names is not None and len(class_names) != num_classes:
    raise utils.UsageError(
        f'Malformed {info_path}: {len(class_names)} class_names for '
        f'num_classes {num_classes}.')
  return DatasetInfo(num_classes=num_classes, class_names=class_names,
                     label_offset=label_offset, split_files=split_files,
                     split_sizes=split_sizes)


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
