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

"""S4L-Rotation: rotation prediction on all images, classes on some.

Both streams end their preprocessing with `rotate`, and the labelled one
starts with `copy_label`, so its batches carry the class under
`copy_label` and the rotation ids under `label`. All four rotated copies of
every image go through the trunk in one batch (unlabelled first); the
`rotations` head predicts the rotation of both streams' images and the
`classes` head the class of all four copies of each labelled image:

    loss = CE(classes_sup) + rot_loss_weight * mean(enabled rotation terms)

with the rotation terms CE(rotations_unsup) (`--rot_loss_unsup`) and
CE(rotations_sup) (`--rot_loss_sup`). Evaluation reports the class accuracy
of the unrotated image (`*_unrotated`) and of the logits averaged over the
four rotations (`*_rot_avg`), and the rotation accuracy.
"""

from collections.abc import Mapping
from typing import Any

import tensorflow as tf

from revisiting_ssl import models, utils
from revisiting_ssl.self_supervision import s4l_lib
from revisiting_ssl.self_supervision import self_supervision_lib as lib

NUM_ROTATIONS = 4
CLASS_LABEL_KEY = 'copy_label'


def _switch(value: int, flag: str) -> bool:
  if value not in (0, 1):
    raise utils.UsageError(f'--{flag} must be 0 or 1, got {value}.')
  return bool(value)


@lib.register('s4l_rotation', semi_supervised_form_of='rotation')
class S4LRotationTask(s4l_lib.S4LTask):
  """Rotation on both streams plus classification of the labelled one."""

  device_ops = ('rotate',)

  def __init__(self, *, num_classes: int, rot_loss_sup: int = 1,
               rot_loss_unsup: int = 1, rot_loss_weight: float = 1.0,
               network: models.Network | None = None):
    """Builds the trunk and the `classes` and `rotations` heads.

    Args:
      num_classes: classes of the data set.
      rot_loss_sup: 1 to train rotation on the labelled images too.
      rot_loss_unsup: 1 to train rotation on the unlabelled images.
      rot_loss_weight: weight of the rotation loss.
      network: the trunk's architecture and options (`models.Network`).

    Raises:
      utils.UsageError: for switches other than 0 and 1, both off (no
        rotation loss is left: that is `--task supervised`), or a negative
        weight.
    """
    self.rot_loss_sup = _switch(rot_loss_sup, 'rot_loss_sup')
    self.rot_loss_unsup = _switch(rot_loss_unsup, 'rot_loss_unsup')
    if not (self.rot_loss_sup or self.rot_loss_unsup):
      raise utils.UsageError(
          '--rot_loss_sup 0 and --rot_loss_unsup 0 leave no rotation loss; '
          'for classification alone use --task supervised.')
    if rot_loss_weight < 0:
      raise utils.UsageError(f'--rot_loss_weight must not be negative, got '
                             f'{rot_loss_weight:g}.')
    self.rot_loss_weight = float(rot_loss_weight)
    super().__init__(num_classes=num_classes,
                     heads={'rotations': NUM_ROTATIONS},
                     network=network)

  def _rotated(self, stream: Mapping[str, tf.Tensor], what: str):
    images, _ = s4l_lib.fold_views(stream['image'], what, self.name,
                                   NUM_ROTATIONS)
    return images

  def rotation_terms(self, batch: Mapping[str, Any], training: bool,
                     use_unsup: bool) -> dict[str, Any]:
    """The forward pass over both streams and the losses built on it.

    Args:
      batch: the pair of batches.
      training: training mode.
      use_unsup: run the unlabelled images through the trunk too.

    Returns:
      `end_points`, `unsup_images` (rotations folded into the batch, or
      None), `rotation_unsup` (or None), `rotation_sup`, `classes` (the
      losses) and `metrics`.
    """
    unsup, sup = batch[s4l_lib.UNSUP], batch[s4l_lib.SUP]
    if CLASS_LABEL_KEY not in sup:
      raise utils.UsageError(
          f'--task {self.name} needs the class of the labelled images under '
          f'{CLASS_LABEL_KEY!r}: start --sup_preprocessing with copy_label '
          f'(before rotate replaces the label).')
    sup_images = self._rotated(sup, 'labelled')
    unsup_images = self._rotated(unsup, 'unlabelled') if use_unsup else None
    end_points = self.apply(unsup_images, sup_images, training)
    sup_mask = tf.repeat(tf.cast(sup['mask'], tf.float32), NUM_ROTATIONS)
    terms = {'end_points': end_points, 'unsup_images': unsup_images,
             'rotation_unsup': None, 'metrics': {}}
    metrics = terms['metrics']
    if use_unsup:
      unsup_mask = tf.repeat(tf.cast(unsup['mask'], tf.float32),
                             NUM_ROTATIONS)
      terms['rotation_unsup'] = s4l_lib.masked_cross_entropy(
          end_points['rotations_unsup'], unsup['label'], unsup_mask)
      hits = tf.equal(
          tf.argmax(end_points['rotations_unsup'], -1, output_type=tf.int32),
          tf.reshape(tf.cast(unsup['label'], tf.int32), [-1]))
      metrics['rotation_accuracy'] = lib.sum_and_count(hits, unsup_mask)
    terms['rotation_sup'] = s4l_lib.masked_cross_entropy(
        end_points['rotations_sup'], sup['label'], sup_mask)
    labels = tf.cast(sup[CLASS_LABEL_KEY], tf.int32)
    logits = end_points['classes_sup']
    terms['classes'] = s4l_lib.masked_cross_entropy(
        logits, tf.repeat(labels, NUM_ROTATIONS), sup_mask)
    per_image = tf.reshape(logits, [-1, NUM_ROTATIONS, logits.shape[-1]])
    mask = tf.cast(sup['mask'], tf.float32)
    metrics.update(lib.classification_metrics(per_image[:, 0], labels, mask,
                                              'unrotated'))
    metrics.update(lib.classification_metrics(
        tf.reduce_mean(per_image, axis=1), labels, mask, 'rot_avg'))
    count = tf.reduce_sum(mask)
    metrics['loss_classes'] = (terms['classes'] * count, count)
    return terms

  def compute(self, batch: Mapping[str, Any],
              training: bool) -> lib.TaskOutput:
    """The S4L-Rotation loss and metrics on one pair of batches."""
    terms = self.rotation_terms(batch, training, self.rot_loss_unsup)
    losses = [terms['rotation_unsup']] if self.rot_loss_unsup else []
    if self.rot_loss_sup:
      losses.append(terms['rotation_sup'])
    loss_rot = tf.add_n(losses) / len(losses)
    metrics = terms['metrics']
    count = metrics['loss_classes'][1]
    metrics['loss_rotation'] = (loss_rot * count, count)
    return lib.TaskOutput(
        loss=terms['classes'] + self.rot_loss_weight * loss_rot,
        metrics=metrics)
