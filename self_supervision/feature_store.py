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

"""Pooled features of a frozen module: extraction and storage on disk.

The cached linear evaluation (`linear_eval_cached.py`) encodes every example
of a split once with the module of a `linear_eval.LinearEvalTask` and trains
the heads on the result. A feature set is stored as `.npy` files, one per
end point plus the labels, in `<workdir>/features/<key>/`; `meta.json` is
written last, so a directory without it is incomplete and recomputed. The
key hashes everything that determines the features (`feature_key`).

Feature sets are kept in memory as tensors: a copy of a few GB costs seconds
on a busy CPU.
"""

from collections.abc import Mapping
import hashlib
import json
import os
import re
import threading
import time
from typing import Any

from absl import logging
import numpy as np
import tensorflow as tf

FEATURES_DIR = 'features'
_META = 'meta.json'
_LABELS = 'labels.npy'

# End point -> `[num_examples, h, w, c]` float32, and int32 labels.
FeatureSet = tuple[dict[str, tf.Tensor], tf.Tensor]


def _file_name(end_point: str) -> str:
  return re.sub(r'[^A-Za-z0-9_.-]', '_', end_point) + '.npy'


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
  # tf.io.gfile reads large local files several times slower than Python.
  if '://' in path:
    return tf.io.gfile.GFile(path, mode)
  return open(path, mode)  # noqa: SIM115


def load(directory: str) -> FeatureSet | None:
  """The feature set stored in `directory`, or None if it is incomplete."""
  meta_path = os.path.join(directory, _META)
  if not tf.io.gfile.exists(meta_path):
    return None
  with tf.io.gfile.GFile(meta_path) as f:
    meta = json.load(f)
  features = {}
  for end_point in meta['end_points']:
    with _open(os.path.join(directory, _file_name(end_point)), 'rb') as f:
      features[end_point] = tf.constant(np.load(f))
  with _open(os.path.join(directory, _LABELS), 'rb') as f:
    labels = tf.constant(np.load(f))
  return features, labels


def save(directory: str, features: Mapping[str, tf.Tensor],
         labels: tf.Tensor, meta: Mapping[str, Any]) -> None:
  """Stores a feature set; `meta.json` (with `meta`) is written last."""
  tf.io.gfile.makedirs(directory)
  # `.numpy()` of a CPU tensor is a view, so nothing is copied here.
  for end_point, values in features.items():
    with _open(os.path.join(directory, _file_name(end_point)), 'wb') as f:
      np.save(f, values.numpy())
  with _open(os.path.join(directory, _LABELS), 'wb') as f:
    np.save(f, labels.numpy())
  with tf.io.gfile.GFile(os.path.join(directory, _META), 'w') as f:
    json.dump(dict(meta, end_points=sorted(features)), f, indent=2)


class BackgroundSaves:
  """Writes feature sets in threads while the heads train.

  Writing a few GB of `.npy` files takes tens of seconds; the write releases
  the GIL and the training runs in TensorFlow's threads, so the two overlap.
  `wait` re-raises the first error of a write.
  """

  def __init__(self):
    self._threads: list[threading.Thread] = []
    self._errors: list[BaseException] = []

  def start(self, *args: Any) -> None:
    """Starts `save(*args)` in a thread."""
    def target():
      try:
        save(*args)
      except BaseException as e:  # noqa: BLE001 - re-raised by wait().
        self._errors.append(e)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    self._threads.append(thread)

  def wait(self) -> None:
    """Waits for every started save; re-raises the first failure."""
    for thread in self._threads:
      thread.join()
    self._threads = []
    if self._errors:
      error, self._errors = self._errors[0], []
      raise error


def extract(task: Any, dataset: tf.data.Dataset, device_fn: Any,
            num_examples: int, description: str) -> FeatureSet:
  """Runs the frozen module once over a padded evaluation stream.

  Args:
    task: a built `linear_eval.LinearEvalTask` (its `features`).
    dataset: batches of `{'image', 'label', 'mask'}`, every example of the
      split once, padding masked.
    device_fn: the device part of the preprocessing, or None.
    num_examples: the split's size, checked against what was encoded.
    description: names the split and preprocessing in the log line.

  Returns:
    (end point -> float32 `[num_examples, h, w, c]`, int32 labels).

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

  parts: dict[str, list[tf.Tensor]] = {}
  label_parts = []
  filled = 0
  start = time.time()
  for batch in dataset:
    feats, batch_labels = encode(batch)
    for end_point, values in feats.items():
      parts.setdefault(end_point, []).append(values)
    label_parts.append(batch_labels)
    filled += int(batch_labels.shape[0])
  if filled != num_examples:
    raise RuntimeError(f'{description} yielded {filled} examples, expected '
                       f'{num_examples}.')
  features = {k: tf.concat(v, axis=0) for k, v in parts.items()}
  labels = tf.concat(label_parts, axis=0)
  elapsed = time.time() - start
  logging.info('Encoded %d examples of %s in %.1fs (%.0f images/s).',
               num_examples, description, elapsed,
               num_examples / max(elapsed, 1e-9))
  return features, labels
