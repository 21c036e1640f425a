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

"""VGG19 with batch norm instead of dropout, as in the original code base.

Conv widths w, 2w, 4w, 8w, 8w with w = 8 * filters_factor (ff=8 is the
standard VGG19); fc6 and fc7 are convolutions of width 512ff. fc6's kernel
covers the whole remaining feature map, so the input size must be known
when the network is built and stays fixed afterwards.
"""


import keras

from revisiting_ssl import utils
from revisiting_ssl.models import layers

_CONVS_PER_BLOCK = (2, 2, 4, 4, 4)
_BLOCK_WIDTHS = (1, 2, 4, 8, 8)  # Multiples of w = 8 * filters_factor.
_NUM_POOLS = 5  # 2x2/2 max pools: after blocks 1-4 and before fc6.


class ConvBnRelu(keras.layers.Layer):
  """Bias-free convolution (SAME), batch norm, ReLU."""

  def __init__(self, filters: int, kernel_size: int, in_channels: int, *,
               weight_decay: float, sync_batch_norm: bool, name: str):
    """Creates the layer.

    Args:
      filters: output width.
      kernel_size: square kernel size (stride 1).
      in_channels: input width.
      weight_decay: L2 strength of the kernel.
      sync_batch_norm: cross-replica batch statistics.
      name: the layer name.
    """
    super().__init__(name=name)
    self.in_channels = in_channels
    self._filters = filters
    self.conv = layers.Conv(filters, kernel_size, weight_decay=weight_decay,
                            name='conv')
    self.bn = layers.batch_norm('bn', sync_batch_norm)

  def build(self, input_shape):
    """Creates the variables of all children."""
    self.conv.build(layers.channels_shape(self.in_channels))
    self.bn.build(layers.channels_shape(self._filters))

  def call(self, x, training=False):
    """Applies the layer; `training` selects batch statistics."""
    return keras.ops.relu(self.bn(self.conv(x), training=training))


class FullSpatialConv(keras.layers.Layer):
  """A bias-free VALID convolution whose kernel covers its whole input.

  The kernel size is taken from the input's static height and width when
  the layer is built, mapping `[N, h, w, C]` to `[N, 1, 1, filters]`.
  """

  def __init__(self, filters: int, *, weight_decay: float, name: str):
    """Creates the layer.

    Args:
      filters: output width.
      weight_decay: L2 strength of the kernel.
      name: the layer name.
    """
    super().__init__(name=name)
    self.filters = filters
    self._regularizer = layers.l2_regularizer(weight_decay)

  def build(self, input_shape):
    """Creates the kernel, sized by the static input height and width."""
    _, height, width, channels = input_shape
    self.kernel = self.add_weight(
        name='kernel', shape=(height, width, channels, self.filters),
        initializer='glorot_uniform', regularizer=self._regularizer)

  def call(self, x):
    """Convolves `x` with the full-size kernel."""
    return keras.ops.conv(x, self.kernel, strides=1, padding='valid')


class VGG19(layers.Backbone):
  """VGG19-BN returning `(output, end_points)`.

  End points: `block1`..`block5` (each block's last conv, before pooling),
  `fc6` `[N, 1, 1, 512ff]`, `pre_logits` `[N, 1, 1, 512ff]` (kept 4-D as in
  the original), `logits` `[N, num_classes]` (float32) if `num_classes`.
  """

  def __init__(self, num_classes: int | None = None, *,
               filters_factor: int = 8, weight_decay: float = 1e-4,
               sync_batch_norm: bool = False, name: str = 'vgg19'):
    """Creates the network (variables appear on the first call or `build`).

    Args:
      num_classes: width of the logits layer; None or 0 for no head.
      filters_factor: width multiplier; 8 gives the standard widths.
      weight_decay: L2 strength of every kernel. The original VGG
        function's own default (5e-4) was unreachable.
      sync_batch_norm: batch statistics over all replicas.
      name: model name, the prefix of variable paths.

    Raises:
      UsageError: for invalid values.
    """
    super().__init__(name=name)
    # VGG has no root or stage strides to change: the patch tasks, which
    # need them, refuse it (`models.Network`), as the original's stride
    # overrides never reached it.
    filters_factor, _, _, weight_decay = self._check_arguments(
        filters_factor=filters_factor, weight_decay=weight_decay)
    self._config = {
        'num_classes': num_classes or None, 'filters_factor': filters_factor,
        'weight_decay': weight_decay,
        'sync_batch_norm': bool(sync_batch_norm), 'name': name,
    }
    self.num_classes = num_classes or None
    wd = weight_decay
    sync = sync_batch_norm
    base = 8 * filters_factor
    fc_width = 512 * filters_factor

    self.blocks = []
    channels = 3
    for i, (num_convs, mult) in enumerate(zip(_CONVS_PER_BLOCK,
                                              _BLOCK_WIDTHS)):
      convs = []
      for j in range(num_convs):
        convs.append(ConvBnRelu(base * mult, 3, channels, weight_decay=wd,
                                sync_batch_norm=sync, name=f'conv{j + 1}'))
        channels = base * mult
      self.blocks.append(layers.Stack(convs, name=f'block{i + 1}'))
    self.fc6 = FullSpatialConv(fc_width, weight_decay=wd, name='fc6')
    self.fc6_bn = layers.batch_norm('fc6_bn', sync)
    self.fc7 = ConvBnRelu(fc_width, 1, fc_width, weight_decay=wd,
                          sync_batch_norm=sync, name='fc7')
    self._last_conv_width = channels
    self._fc_width = fc_width
    if self.num_classes:
      self.logits = layers.logits_layer(self.num_classes, wd)

  def build(self, input_shape):
    """Creates all variables; the input size must be static."""
    height, width = _check_static_size(input_shape)
    for _ in range(_NUM_POOLS):
      height, width = height // 2, width // 2
    if not height or not width:
      raise utils.UsageError(
          f'VGG19 needs inputs of at least 32x32 pixels, got '
          f'{input_shape[1]}x{input_shape[2]}.')
    self._input_size = tuple(input_shape[1:3])
    for block in self.blocks:
      block.build(None)
    self.fc6.build((None, height, width, self._last_conv_width))
    self.fc6_bn.build(layers.channels_shape(self._fc_width))
    self.fc7.build(None)
    if self.num_classes:
      self.logits.build((None, 1, 1, self._fc_width))

  def call(self, images, training=False):
    """Returns `(output, end_points)` for `[N, H, W, 3]` images."""
    training = bool(training)
    size = _check_static_size(images.shape)
    if size != self._input_size:
      raise utils.UsageError(
          f'VGG19 was built for {self._input_size[0]}x{self._input_size[1]} '
          f'inputs and cannot take {size[0]}x{size[1]}.')
    end_points = {}
    x = images
    for i, block in enumerate(self.blocks):
      x = block(x, training=training)
      end_points[f'block{i + 1}'] = x
      x = keras.ops.max_pool(x, 2, 2, padding='valid')
    x = keras.ops.relu(self.fc6_bn(self.fc6(x), training=training))
    end_points['fc6'] = x
    x = self.fc7(x, training=training)
    end_points['pre_logits'] = x
    if self.num_classes:
      x = keras.ops.squeeze(self.logits(x), axis=(1, 2))
      end_points['logits'] = x
    return x, end_points


def _check_static_size(shape) -> tuple[int, int]:
  """Returns (H, W) of an NHWC shape; raises if either is unknown."""
  height, width = shape[1], shape[2]
  if height is None or width is None:
    raise utils.UsageError(
        'VGG19 needs a fixed input size (its fc6 kernel covers the whole '
        'final feature map); got an unknown height or width in input shape '
        f'{tuple(shape)}. Set a fixed serving_input_shape.')
  return int(height), int(width)
