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

"""TFDS image classification data sets, prepared in a data directory."""

import numpy as np
import tensorflow as tf

from revisiting_ssl import utils
from revisiting_ssl.data_sources.base import (
  DataSource,
  check_dir_exists,
  check_split_name,
  keep_table,
  shuffle_buffer,
  tile_to_rgb,
)


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
    check_dir_exists(data_dir, f'tfds:{name}')
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
    check_split_name(split)
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

  def example_ids(self, split):
    """See base class: TFDS's `tfds_id` and the label."""
    tfds = self._tfds
    ds = self._builder.as_dataset(
        split=self.tfds_split(split), shuffle_files=False,
        read_config=tfds.ReadConfig(add_tfds_id=True),
        decoders={self._image_key: tfds.decode.SkipDecoding()})
    ids, labels = [], []
    for batch in ds.batch(4096):
      ids.extend(i.decode() for i in batch['tfds_id'].numpy())
      labels.append(batch[self._label_key].numpy())
    return np.array(ids), (np.concatenate(labels).astype(np.int32) if labels
                           else np.zeros([0], np.int32))

  def _examples(self, split, *, training, seed, num_pipelines, pipeline_id,
                skip_corrupt_examples, keep_ids=None, cache=False):
    tfds = self._tfds
    expression = self.tfds_split(split)
    keep = keep_ids is not None
    ds = None
    if training and num_pipelines > 1:
      context = tf.distribute.InputContext(num_pipelines, pipeline_id, 1)
      try:
        ds = self._builder.as_dataset(
            split=expression, shuffle_files=not cache,
            read_config=tfds.ReadConfig(shuffle_seed=seed,
                                        input_context=context,
                                        add_tfds_id=keep))
      except ValueError:
        ds = None  # Fewer files than pipelines: shard examples below.
    if ds is None:
      ds = self._builder.as_dataset(
          split=expression, shuffle_files=training and not cache,
          read_config=tfds.ReadConfig(shuffle_seed=seed, add_tfds_id=keep))
      if num_pipelines > 1:
        ds = ds.shard(num_pipelines, pipeline_id)
    count = self.num_examples(split)
    if keep:
      table = keep_table(keep_ids)
      ds = ds.filter(lambda features: table.lookup(features['tfds_id']) > 0)
      count = len(keep_ids)
    if training:
      if cache:
        ds = ds.cache()
      ds = ds.repeat().shuffle(shuffle_buffer(count), seed=seed)

    image_key, label_key = self._image_key, self._label_key

    def to_example(features):
      image = features[image_key]
      if image.dtype != tf.uint8:
        image = tf.image.convert_image_dtype(image, tf.uint8, saturate=True)
      return {'image': tile_to_rgb(image),
              'label': tf.cast(features[label_key], tf.int32)}

    ds = ds.map(to_example, num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=(seed is not None) or not training)
    if skip_corrupt_examples:
      ds = ds.ignore_errors(log_warning=True)
    return ds
