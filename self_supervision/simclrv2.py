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

"""SimCLRv2's semi-supervised recipe (Chen et al., 2020b), after `simclr`.

1. `simclr_finetune` fine-tunes a pretrained SimCLR network on the labelled
   images (the labelled stream, restricted to the labelled subset): the
   trunk and the first `--ft_proj_selector` layers of the projection head
   (the same head options as the pretraining, so that
   `--path_to_initial_ckpt` restores them), then a linear classifier. Its
   hub module's `default` output is the class logits.
2. `simclr_distill` trains a student (the trunk of `--architecture` and a
   linear `classes` head) on every image of the split (the unlabelled
   stream) to match the fine-tuned teacher's softened predictions, the
   `default` output of the hub module `--hub_module`, on the same views:

       L = w * sum_y -P_T(y | x; tau) log P_S(y | x; tau)
           + (1 - w) * CE(labelled images),

   with P(.; tau) the softmax of logits / tau, `--distill_weight` w and
   `--distill_temperature` tau, as the paper's equation. S4L's two-stream
   machinery (`s4l_lib`) runs both streams through the student at once.
"""

from collections.abc import Mapping
import os
from typing import Any

import keras
import tensorflow as tf

from revisiting_ssl import models, utils
from revisiting_ssl.self_supervision import s4l_lib, simclr
from revisiting_ssl.self_supervision import self_supervision_lib as lib


@lib.register('simclr_finetune')
class SimCLRFinetuneTask(lib.Task):
  """A classifier on the trunk and part of SimCLR's projection head."""

  input_streams = ('sup',)
  # The images reach the trunk untouched.
  host_cast = True

  def __init__(self, *, num_classes: int, ft_proj_selector: int = 0,
               proj_head_layers: int = 2, proj_head_width: int | None = None,
               proj_out_dim: int = 128, zero_init_logits: bool = True,
               network: models.Network | None = None):
    """Builds the trunk, the kept head layers and the classifier.

    Args:
      num_classes: classes of the data set.
      ft_proj_selector: the projection head's layer to fine-tune from: 0
        the pre-logits (no head, SimCLR), k its k-th layer (1 in SimCLRv2
        with 3 layers), -1 its last.
      proj_head_layers: the pretraining's --proj_head_layers.
      proj_head_width: the pretraining's --proj_head_width.
      proj_out_dim: the pretraining's --proj_out_dim.
      zero_init_logits: start the classifier at zero, as SimCLR.
      network: the trunk's architecture and options (`models.Network`);
        its batch norm is cross-replica unless --sync_batch_norm is set.

    Raises:
      utils.UsageError: for a head layer that does not exist.
    """
    super().__init__(network=simclr.global_batch_norm(network))
    simclr.check_head_options(proj_head_layers, proj_head_width,
                              proj_out_dim)
    if isinstance(ft_proj_selector, bool) or not isinstance(
        ft_proj_selector, int) or not (
            -1 <= ft_proj_selector <= proj_head_layers):
      raise utils.UsageError(
          f'--ft_proj_selector {ft_proj_selector!r} names no layer of the '
          f'projection head of --proj_head_layers {proj_head_layers}: use 0 '
          f'(the pre-logits), 1 to {proj_head_layers} or -1 (the last).')
    self.layers = (proj_head_layers if ft_proj_selector == -1
                   else ft_proj_selector)
    self.net = self.build_net(None)
    weight_decay = self.network.option('weight_decay')
    # The pretraining's head, cut after the kept layers: the same names.
    self.head = simclr.ProjectionHead(
        proj_head_layers, proj_head_width, proj_out_dim,
        weight_decay=weight_decay, keep=self.layers,
        synchronized=bool(self.network.option('sync_batch_norm')))
    self.classifier = keras.layers.Dense(
        num_classes, kernel_initializer='zeros' if zero_init_logits
        else 'glorot_uniform',
        kernel_regularizer=models.layers.l2_regularizer(weight_decay),
        dtype='float32', name='head_supervised')

  def checkpoint_items(self) -> dict[str, tf.Module]:
    """The trunk, the kept head layers and the classifier."""
    return {'net': self.net, 'projection': self.head,
            'classifier': self.classifier}

  def apply(self, images: tf.Tensor, training: bool) -> dict[str, tf.Tensor]:
    """End points, the kept `proj_head_j` and `logits`."""
    end_points = simclr.trunk_and_head(self, images, training)
    features = end_points[simclr.HEAD_END_POINT.format(self.layers)]
    end_points['logits'] = self.classifier(features)
    return end_points

  def compute(self, batch: Mapping[str, tf.Tensor],
              training: bool) -> lib.TaskOutput:
    """Cross-entropy and accuracy on the labelled images."""
    images = batch['image']
    if images.shape.rank != 4:
      raise utils.UsageError(
          f'--task {self.name} needs one view per image ([B, H, W, C]); '
          f'got images of shape {images.shape}. Drop views from '
          f'--preprocessing.')
    logits = self.apply(images, training)['logits']
    out = lib.cross_entropy_and_accuracy(logits, batch['label'],
                                         batch['mask'])
    out.metrics.update(lib.classification_metrics(
        logits, batch['label'], batch['mask'], 'classes'))
    return out

  def serve(self, images: tf.Tensor, training: bool = False):
    """(class logits, end points)."""
    end_points = self.apply(images, training)
    return end_points['logits'], end_points


class Teacher(tf.Module):
  """The class logits of a frozen hub module: its `default` signature."""

  def __init__(self, path: str):
    """Loads the module.

    Raises:
      utils.UsageError: for a path that is not a SavedModel or a module
        without a `default` signature of one input.
    """
    super().__init__(name='teacher')
    if not tf.io.gfile.exists(os.path.join(path, 'saved_model.pb')):
      raise utils.UsageError(
          f'--hub_module {path} is not a SavedModel (expected an export '
          f'such as <workdir>/export/hub/<timestamp>/module).')
    self.path = path
    self.loaded = tf.saved_model.load(path)
    signature = dict(self.loaded.signatures).get('default')
    inputs = signature.structured_input_signature[1] if signature else {}
    if len(inputs) != 1:
      raise utils.UsageError(
          f'The teacher {path} (--hub_module) needs a `default` signature '
          f'that takes the images alone.')
    (self.input_key,) = inputs
    self._signature = signature

  def __call__(self, images: tf.Tensor) -> tf.Tensor:
    """float32 logits of `images` (inference mode)."""
    spec = self._signature.structured_input_signature[1][self.input_key]
    outputs = self._signature(**{self.input_key: tf.cast(images,
                                                         spec.dtype)})
    return tf.cast(outputs['default'], tf.float32)


def softened_cross_entropy(student: tf.Tensor, teacher: tf.Tensor,
                           temperature: float) -> tf.Tensor:
  """Per example -sum_y P_T(y; tau) log P_S(y; tau); no gradient to P_T."""
  targets = tf.stop_gradient(tf.nn.softmax(teacher / temperature))
  return tf.nn.softmax_cross_entropy_with_logits(
      labels=targets, logits=tf.cast(student, tf.float32) / temperature)


@lib.register('simclr_distill')
class SimCLRDistillTask(s4l_lib.S4LTask):
  """A student trained on the fine-tuned teacher's predictions."""

  def __init__(self, *, num_classes: int, hub_module: str | None = None,
               distill_temperature: float = 1.0, distill_weight: float = 1.0,
               network: models.Network | None = None):
    """Loads the teacher and builds the student.

    Args:
      num_classes: classes of the data set.
      hub_module: the teacher, a `simclr_finetune` export (any module whose
        `default` output is class logits).
      distill_temperature: tau of the softened predictions.
      distill_weight: w, the weight of distillation against the labelled
        images' cross-entropy (1, the paper's default: unlabelled images
        only).
      network: the student's architecture and options.

    Raises:
      utils.UsageError: without a teacher, for a temperature that is not
        positive or a weight outside [0, 1].
    """
    if not hub_module:
      raise utils.UsageError(
          '--task simclr_distill needs the fine-tuned teacher: --hub_module '
          '<a simclr_finetune export>.')
    if not distill_temperature > 0:
      raise utils.UsageError(f'--distill_temperature must be positive, got '
                             f'{distill_temperature:g}.')
    if not 0.0 <= distill_weight <= 1.0:
      raise utils.UsageError(f'--distill_weight must lie in [0, 1], got '
                             f'{distill_weight:g}.')
    super().__init__(num_classes=num_classes, heads={}, network=network)
    self.temperature = float(distill_temperature)
    self.weight = float(distill_weight)
    self.teacher = Teacher(hub_module)

  def initialize(self, batch: Mapping[str, Any]) -> None:
    """Creates the student; checks the teacher's classes on one replica."""
    images = batch[s4l_lib.UNSUP]['image']
    self.apply(images, batch[s4l_lib.SUP]['image'], training=False)
    utils.in_one_replica(self.teacher_logits, images)

  def export_items(self) -> dict[str, tf.Module]:
    """The student (the teacher is not part of its module)."""
    return super().checkpoint_items()

  def teacher_logits(self, images: tf.Tensor) -> tf.Tensor:
    """The teacher's class logits on `images`, float32."""
    logits = self.teacher(images)
    if logits.shape[-1] != self.num_classes:
      raise utils.UsageError(
          f'The teacher {self.teacher.path} (--hub_module) predicts '
          f'{logits.shape[-1]} classes; the data set has '
          f'{self.num_classes}.')
    return tf.stop_gradient(logits)

  def compute(self, batch: Mapping[str, Any],
              training: bool) -> lib.TaskOutput:
    """The distillation loss; the student's and teacher's accuracy."""
    unsup, sup = batch[s4l_lib.UNSUP], batch[s4l_lib.SUP]
    images, _ = s4l_lib.fold_views(unsup['image'], 'unlabelled', self.name,
                                   views=1)
    use_sup = self.weight < 1.0 or not training
    end_points = self.apply(images, sup['image'] if use_sup else None,
                            training)
    student = end_points[f'{s4l_lib.CLASSES}_{s4l_lib.UNSUP}']
    teacher = self.teacher_logits(images)
    mask = tf.cast(unsup['mask'], tf.float32)
    loss = self.weight * lib.masked_mean(
        softened_cross_entropy(student, teacher, self.temperature), mask)
    metrics = {}
    if use_sup:
      logits = end_points[f'{s4l_lib.CLASSES}_{s4l_lib.SUP}']
      loss_sup = s4l_lib.masked_cross_entropy(logits, sup['label'],
                                              sup['mask'])
      loss += (1.0 - self.weight) * loss_sup
      metrics.update(lib.classification_metrics(
          logits, sup['label'], sup['mask'], 'student'))
      metrics.update(lib.classification_metrics(
          self.teacher_logits(sup['image']), sup['label'], sup['mask'],
          'teacher'))
    agree = tf.equal(tf.argmax(student, -1), tf.argmax(teacher, -1))
    metrics['teacher_agreement'] = lib.sum_and_count(agree, mask)
    return lib.TaskOutput(loss=loss, metrics=metrics)
