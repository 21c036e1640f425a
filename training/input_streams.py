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

"""A task's input streams: one for most tasks, two zipped for S4L.

Every task reads one or more named streams of the same split (its
`input_streams`): `unsup`, all images of the split (the pretext tasks), and
`sup`, the labelled images (the supervised baseline, linear evaluation,
and S4L's labelled half). Each stream has its own preprocessing, its own
share of the per-replica batch and, in training, optionally a labelled
subset it is restricted to. One stream's batches are the usual
dicts `{'image', 'label', 'mask'}`; several streams' are a dict of them by
stream name, zipped so that every step sees one batch of each. In
evaluation every stream reads the whole split in the same order, so the
streams' examples and padding masks line up.
"""

from collections.abc import Mapping, Sequence
import dataclasses
from typing import Any

import tensorflow as tf

from revisiting_ssl import utils

UNLABELLED = 'unsup'
LABELLED = 'sup'


@dataclasses.dataclass(frozen=True)
class InputStream:
  """One stream: preprocessing, batch share, labelled subset.

  Attributes:
    pipeline: the stream's `preprocess.Pipeline`.
    batch_mult: in training, the stream's per-replica batch is
      int(per-replica batch * this); evaluation batches are never scaled.
      Only S4L's unlabelled stream uses it (`--unsup_batch_mult`).
    keep_ids: in training, the example ids the stream is restricted to
      (the labelled subset), or None for the whole split.
    cache: keep the restricted stream's records in memory after the first
      epoch (`--cache_dataset`).
  """
  pipeline: Any
  batch_mult: float = 1.0
  keep_ids: tuple[str, ...] | None = None
  cache: bool = False


def per_replica_batches(streams: Mapping[str, InputStream],
                        per_replica: int) -> dict[str, int]:
  """Each stream's per-replica training batch.

  Raises:
    utils.UsageError: when a multiplier leaves a stream no example.
  """
  sizes = {}
  for name, stream in streams.items():
    sizes[name] = int(per_replica * stream.batch_mult)
    if sizes[name] < 1:
      raise utils.UsageError(
          f'--unsup_batch_mult {stream.batch_mult:g} gives the {name} stream '
          f'int({per_replica} * {stream.batch_mult:g}) = {sizes[name]} '
          f'examples per replica; it must give at least 1.')
  return sizes


def epoch_size(data: Any, streams: Mapping[str, InputStream],
               split: str) -> int:
  """Examples per epoch: the labelled subset's, or else the split's.

  S4L's epochs are passes over the labelled images.
  """
  for stream in streams.values():
    if stream.keep_ids is not None:
      return len(stream.keep_ids)
  return data.num_examples(split)


def make_dataset(data: Any, streams: Mapping[str, InputStream], split: str,
                 *, training: bool, batch_sizes: Mapping[str, int],
                 image_dtype: str | None = None,
                 starts: Mapping[str, int] | None = None,
                 **make_kwargs: Any) -> tf.data.Dataset:
  """The batches of every stream for one input pipeline.

  Args:
    data: the `datasets.DataSource`.
    streams: the task's streams.
    split: the split.
    training: training (shuffled, repeated, restricted to `keep_ids`) or
      evaluation (one padded pass over the whole split).
    batch_sizes: stream name -> per-replica batch.
    image_dtype: the dtype the host casts float32 images to
      (`Pipeline.host_fn`); None: as preprocessed.
    starts: in training, stream name -> the example of this pipeline's
      stream to begin at (`DataSource.make`'s `start`); None: the first.
    **make_kwargs: further arguments of `DataSource.make` (seed,
      input_context, skip_corrupt_examples).

  Returns:
    One stream's batches, or a dict of every stream's, zipped.
  """
  datasets = {}
  for name, stream in streams.items():
    extra = {}
    if training and stream.keep_ids is not None:
      extra = {'keep_ids': stream.keep_ids, 'cache': stream.cache}
    if starts and starts.get(name):
      extra['start'] = starts[name]
    datasets[name] = data.make(
        split, preprocess_fn=stream.pipeline.host_fn(training, image_dtype),
        batch_size=batch_sizes[name], training=training, **make_kwargs,
        **extra)
  if len(datasets) == 1:
    return next(iter(datasets.values()))
  return tf.data.Dataset.zip(datasets)


def device_preprocess(task: Any, streams: Mapping[str, InputStream],
                      batch: Mapping[str, Any], training: bool
                      ) -> dict[str, Any]:
  """Applies each stream's device ops (`Task.device_preprocess`)."""
  if len(streams) == 1:
    (stream,) = streams.values()
    return task.device_preprocess(batch, stream.pipeline.device[training])
  return {name: task.device_preprocess(batch[name],
                                       stream.pipeline.device[training])
          for name, stream in streams.items()}


def mask(streams: Sequence[str], batch: Mapping[str, Any]) -> tf.Tensor:
  """The evaluation mask of a batch (the streams' masks are equal)."""
  if len(streams) == 1:
    return batch['mask']
  return batch[sorted(streams)[0]]['mask']
