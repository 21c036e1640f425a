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

"""The fully supervised baseline.

The trunk classifies the data set's classes with softmax cross-entropy; the
metrics are top-1 and top-5 accuracy of the logits. Its hub module's
`default` output is the logits.
"""

from collections.abc import Mapping

import tensorflow as tf

from revisiting_ssl import models
from revisiting_ssl.self_supervision import self_supervision_lib as lib


@lib.register('supervised')
class SupervisedTask(lib.Task):
  """Image classification with the data set's labels."""

  input_streams = ('sup',)
  # The images go straight into the trunk.
  host_cast = True

  def __init__(self, *, num_classes: int,
               network: models.Network | None = None):
    """Builds the trunk.

    Args:
      num_classes: number of classes of the data set.
      network: the trunk's architecture and options (`models.Network`).
    """
    super().__init__(network=network)
    self.net = self.build_net(num_classes)

  def checkpoint_items(self) -> dict[str, tf.Module]:
    return {'net': self.net}

  def compute(self, batch: Mapping[str, tf.Tensor],
              training: bool) -> lib.TaskOutput:
    logits, _ = self.net(batch['image'], training=training)
    labels, mask = batch['label'], batch['mask']
    loss = lib.masked_mean(lib.softmax_cross_entropy(logits, labels), mask)
    return lib.TaskOutput(
        loss=loss,
        metrics=lib.classification_metrics(logits, labels, mask, 'logits'))

  def serve(self, images: tf.Tensor, training: bool = False):
    return self.net(images, training=training)
