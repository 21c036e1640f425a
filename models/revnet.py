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

"""RevNet-50 (reversible residual network), as in the original code base.

Gomez et al., "The Reversible Residual Network", NeurIPS 2017. Activations
are not recomputed in the backward pass here (neither were they in the
original code base); the architecture is what matters for the results.
Widths with filters factor ff: root 64ff, stages 64ff, 128ff, 256ff, 512ff.
"""

from collections.abc import Sequence

import keras

from revisiting_ssl.models import layers

_STAGE_WIDTHS = (64, 128, 256, 512)  # Per unit of filters_factor.


class ReversibleUnit(keras.layers.Layer):
  """y1 = x1 + F(x2); output [x2, y1] (halves swapped).

  F is the residual branch of a v2 bottleneck with output width C/2 and
  inner width C/8, stride 1, without a shortcut.
  """

  def __init__(self, channels: int, *, weight_decay: float,
               sync_batch_norm: bool, name: str):
    """Creates the unit.

    Args:
      channels: input and output width C (even).
      weight_decay: L2 strength of every kernel.
      sync_batch_norm: cross-replica batch statistics.
      name: the layer name.
    """
    super().__init__(name=name)
    self.in_channels = channels
    self._half = channels // 2
    self._inner = channels // 8
    wd = weight_decay
    self.bn_a = layers.batch_norm('bn_a', sync_batch_norm)
    self.conv_a = layers.Conv(self._inner, 1, weight_decay=wd, name='conv_a')
    self.bn_b = layers.batch_norm('bn_b', sync_batch_norm)
    self.conv_b = layers.Conv(self._inner, 3, weight_decay=wd, name='conv_b')
    self.bn_c = layers.batch_norm('bn_c', sync_batch_norm)
    self.conv_c = layers.Conv(self._half, 1, weight_decay=wd, name='conv_c')

  def build(self, input_shape):
    """Creates the variables of all children."""
    del input_shape  # The width is known from the constructor.
    half = layers.channels_shape(self._half)
    inner = layers.channels_shape(self._inner)
    self.bn_a.build(half)
    self.conv_a.build(half)
    self.bn_b.build(inner)
    self.conv_b.build(inner)
    self.bn_c.build(inner)
    self.conv_c.build(inner)

  def call(self, x, training=False):
    """Applies the layer; `training` selects batch statistics."""
    relu = keras.ops.relu
    x1, x2 = keras.ops.split(x, 2, axis=-1)
    r = self.conv_a(relu(self.bn_a(x2, training=training)))
    r = self.conv_b(relu(self.bn_b(r, training=training)))
    r = self.conv_c(relu(self.bn_c(r, training=training)))
    return keras.ops.concatenate([x2, x1 + r], axis=-1)


def pool_and_double_channels(x, stride: int):
  """The transition between stages: average pool, then zero channels.

  Args:
    x: `[N, H, W, C]`.
    stride: window and stride of a SAME average pool (skipped if 1).

  Returns:
    `[N, H/stride, W/stride, 2C]` with the features in the middle C
    channels and C/2 zero channels on either side.
  """
  if stride > 1:
    x = keras.ops.average_pool(x, stride, stride, padding='same')
  half = x.shape[-1] // 2
  return keras.ops.pad(x, [[0, 0], [0, 0], [0, 0], [half, half]])


class RevNet(layers.Backbone):
  """RevNet-50 returning `(output, end_points)`.

  End points: `after_root`, `block1`..`block4` (stage outputs before the
  transitions and before the head's BN/ReLU), `pre_logits` `[N, C]`
  (float32), `logits` `[N, num_classes]` (float32) if `num_classes`.
  """

  def __init__(self, num_classes: int | None = None, *,
               units: Sequence[int] = (3, 4, 6, 3), filters_factor: int = 4,
               last_relu: bool = True, root_conv_stride: int = 2,
               strides: str | Sequence[int] = (2, 2, 2),
               weight_decay: float = 1e-4, sync_batch_norm: bool = False,
               name: str = 'revnet50'):
    """Creates the network (variables appear on the first call or `build`).

    Args:
      num_classes: width of the logits layer; None or 0 for no head.
      units: number of reversible units of each of the four stages.
      filters_factor: width multiplier; 4 gives a final width of 2048.
      last_relu: apply ReLU after the head's batch norm.
      root_conv_stride: stride of the 7x7 root convolution.
      strides: strides of stages 2, 3 and 4 ("2,2,1" or a sequence).
      weight_decay: L2 strength of every kernel except the root's.
      sync_batch_norm: batch statistics over all replicas.
      name: model name, the prefix of variable paths.

    Raises:
      UsageError: for invalid values.
    """
    super().__init__(name=name)
    filters_factor, root_conv_stride, self.strides, weight_decay = (
        self._check_arguments(
            filters_factor=filters_factor,
            root_conv_stride=root_conv_stride, strides=strides,
            weight_decay=weight_decay))
    self._config = {
        'num_classes': num_classes or None, 'units': tuple(units),
        'filters_factor': filters_factor, 'last_relu': bool(last_relu),
        'root_conv_stride': root_conv_stride, 'strides': self.strides,
        'weight_decay': weight_decay,
        'sync_batch_norm': bool(sync_batch_norm), 'name': name,
    }
    self.last_relu = bool(last_relu)
    self.num_classes = num_classes or None
    wd = weight_decay

    self.root_width = _STAGE_WIDTHS[0] * filters_factor
    # The original leaves the root kernel without weight decay.
    self.root_conv = layers.Conv(self.root_width, 7, root_conv_stride,
                                 weight_decay=0.0, name='root_conv')
    self.blocks = []
    for i, num_units in enumerate(units):
      width = _STAGE_WIDTHS[i] * filters_factor
      self.blocks.append(layers.Stack(
          [ReversibleUnit(width, weight_decay=wd,
                          sync_batch_norm=sync_batch_norm,
                          name=f'unit{j + 1}') for j in range(num_units)],
          name=f'block{i + 1}'))
    self.width = _STAGE_WIDTHS[-1] * filters_factor
    self.final_bn = layers.batch_norm('final_bn', sync_batch_norm)
    if self.num_classes:
      self.logits = layers.logits_layer(self.num_classes, wd)

  def build(self, input_shape):
    """Creates the variables of all children."""
    self.root_conv.build(input_shape)
    for block in self.blocks:
      block.build(None)
    self.final_bn.build(layers.channels_shape(self.width))
    if self.num_classes:
      self.logits.build((None, self.width))

  def call(self, images, training=False):
    """Returns `(output, end_points)` for `[N, H, W, 3]` images."""
    training = bool(training)
    end_points = {}
    x = self.root_conv(images)
    x = layers.max_pool_fixed_padding(x)
    end_points['after_root'] = x
    for i, block in enumerate(self.blocks):
      x = block(x, training=training)
      end_points[f'block{i + 1}'] = x
      if i < len(self.strides):
        x = pool_and_double_channels(x, self.strides[i])
    x = self.final_bn(x, training=training)
    if self.last_relu:
      x = keras.ops.relu(x)
    return self._pool_and_classify(x, end_points)
