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


"""Rotation prediction: by how much was the image rotated?

The `rotate` preprocessing op turns every image into its 0, 90, 180 and
270 degree counter-clockwise rotations with labels 0..3; all four share one
augmented view. The task lists `rotate` in `device_ops`, so when it ends
`--preprocessing` the trainer applies it on the accelerator to the batch
(`[B, H, W, 3]` -> `[B, 4, H, W, 3]`), sending a quarter of the pixels
through the input pipeline. Either way `compute` sees `[B, 4, H, W, 3]`.
"""

from collections.abc import Mapping

import tensorflow as tf

from revisiting_ssl import models, utils
from revisiting_ssl.self_supervision import self_supervision_lib as lib

NUM_ROTATIONS = 4


@lib.register('rotation')
class RotationTask(lib.Task):
  """4-way classification of the rotation of an image."""

  device_ops = ('rotate',)
  # The images only move (rotate, flatten_leading) before the trunk.
  host_cast = True

  def __init__(self, *, network: models.Network | None = None):
    """Builds the trunk with 4 outputs.

    Args:
      network: the trunk's architecture and options (`models.Network`).
    """
    super().__init__(network=network)
    self.net = self.build_net(NUM_ROTATIONS)

  def checkpoint_items(self) -> dict[str, tf.Module]:
    """The trunk."""
    return {'net': self.net}

  def compute(self, batch: Mapping[str, tf.Tensor],
              training: bool) -> lib.TaskOutput:
    """Cross-entropy and accuracy over the 4B rotated images."""
    images, labels = batch['image'], batch['label']
    if images.shape.rank != 5 or images.shape[1] != NUM_ROTATIONS:
      raise utils.UsageError(
          f'--task rotation needs the 4 rotations of every image: end '
          f'--preprocessing with rotate. Got images of shape '
          f'{images.shape}.')
    # Image-major: rows 4b..4b+3 are the rotations of image b.
    logits, _ = self.net(utils.flatten_leading(images), training=training)
    labels = tf.reshape(labels, [-1])
    mask = tf.repeat(tf.cast(batch['mask'], tf.float32), NUM_ROTATIONS)
    return lib.cross_entropy_and_accuracy(logits, labels, mask)

  def serve(self, images: tf.Tensor, training: bool = False):
    """The trunk on single images: (rotation logits `[N, 4]`, end points)."""
    return self.net(images, training=training)
