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

"""A plain six-convolution network, the S4L benchmark's architecture control.

`--import plain_cnn --architecture plain_cnn`, with this folder on
PYTHONPATH, trains it in place of the ResNet-50:

  PYTHONPATH=benchmarks bash config/s4l_fashion_mnist/supervised_1p.sh \
      --import plain_cnn --architecture plain_cnn ...

At 1% of Fashion-MNIST's labels the searched ResNet-50 baseline stays
several points below what a small network reached in a quick check; the
control trains this network with everything else the baseline's (rate,
length, weight decay, preprocessing, labelled subset), so that the gap is
split between the architecture and the training recipe.

Three stages of two 3x3 convolutions (each with batch norm and ReLU), of
32, 64 and 128 channels times `filters_factor`, a 2x2 max pool after the
first two stages, then global average pooling and the logits. About 0.29
million weights at `filters_factor` 1, against 1.5 million of the
benchmark's ResNet-50 at the same factor. End points: `block1`..`block3`
(each stage's output before its pool), `pre_logits` and `logits`.
"""

import keras

from revisiting_ssl import models
from revisiting_ssl.models import layers, vggnet

_STAGE_WIDTHS = (32, 64, 128)  # Per unit of filters_factor.
_CONVS_PER_STAGE = 2


@models.register('plain_cnn')
class PlainCNN(layers.Backbone):
  """Six convolutions with batch norm, two pools, a linear classifier."""

  def __init__(self, num_classes: int | None = None, *,
               filters_factor: int = 1, weight_decay: float = 1e-4,
               sync_batch_norm: bool = False):
    """Creates the network (variables appear on the first call or `build`).

    Args:
      num_classes: width of the logits layer; None or 0 for no head.
      filters_factor: width multiplier; 1 gives 32, 64 and 128 channels.
      weight_decay: L2 strength of every kernel.
      sync_batch_norm: batch statistics over all replicas.

    Raises:
      UsageError: for invalid values.
    """
    super().__init__(name='plain_cnn')
    filters_factor, _, _, weight_decay = self._check_arguments(
        filters_factor=filters_factor, weight_decay=weight_decay)
    self._config = {
        'num_classes': num_classes or None, 'filters_factor': filters_factor,
        'weight_decay': weight_decay,
        'sync_batch_norm': bool(sync_batch_norm),
    }
    self.num_classes = num_classes or None
    self.blocks = []
    channels = 3
    for i, width in enumerate(_STAGE_WIDTHS):
      convs = []
      for j in range(_CONVS_PER_STAGE):
        convs.append(vggnet.ConvBnRelu(
            width * filters_factor, 3, channels, weight_decay=weight_decay,
            sync_batch_norm=sync_batch_norm, name=f'conv{j + 1}'))
        channels = width * filters_factor
      self.blocks.append(layers.Stack(convs, name=f'block{i + 1}'))
    self.width = channels
    if self.num_classes:
      self.logits = layers.logits_layer(self.num_classes, weight_decay)

  def build(self, input_shape):
    """Creates the variables of all children."""
    del input_shape  # Any image size: the convolutions and pools are local.
    for block in self.blocks:
      block.build(None)
    if self.num_classes:
      self.logits.build((None, self.width))

  def call(self, images, training=False):
    """Returns `(output, end_points)` for `[N, H, W, 3]` images."""
    training = bool(training)
    end_points = {}
    x = images
    for i, block in enumerate(self.blocks):
      x = block(x, training=training)
      end_points[f'block{i + 1}'] = x
      if i + 1 < len(self.blocks):
        x = keras.ops.max_pool(x, 2, 2, padding='valid')
    return self._pool_and_classify(x, end_points)
