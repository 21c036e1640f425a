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

"""Bottleneck ResNets, v1 and v2 (pre-activation), as in the original code base.

Widths scale with `filters_factor` (ff): root 16ff, stage outputs 64ff,
128ff, 256ff, 512ff, bottleneck inner width a quarter of the output (ff=4
is the standard ResNet). Unlike the original ResNet paper, the stride of a
unit sits on its 3x3 convolution, not on the first 1x1 ("ResNet v1.5"), in
both versions, as in the original code base.

`layout='slim'` (v2 only) is instead TF-slim's `resnet_v2` (the multi-task
model of the fourth seed is a slim `resnet_v2_101`): the stride of a stage
sits on its *last* unit's 3x3 convolution (so every block's output is
already downsampled, and block4 keeps the resolution of block3), a unit
projects its shortcut only where the width changes and otherwise
subsamples it, the root convolution, the projections and each unit's last
1x1 convolution have biases, the root max pool pads SAME (its padding
never wins the max), and batch norm uses slim's `resnet_arg_scope` settings
as that model was trained with (epsilon 1e-5 with scale, decay 0.997).
Fewer than four entries in `units` give a network that ends after those
stages (no final batch norm, no logits): a slim checkpoint trained only up
to block3 converts to it.
"""

from collections.abc import Sequence

import keras

from revisiting_ssl import utils
from revisiting_ssl.models import layers

_STAGE_WIDTHS = (64, 128, 256, 512)  # Per unit of filters_factor.
LAYOUTS = ('revisiting', 'slim')
# TF-slim's `resnet_arg_scope(batch_norm_epsilon=1e-5, batch_norm_scale=True)`
# as the multi-task README builds it; the decay is that scope's default.
SLIM_BN_MOMENTUM = 0.997
SLIM_BN_EPSILON = 1e-5


def _norm(name: str, sync_batch_norm: bool, slim: bool) -> keras.layers.Layer:
  """A batch norm with the original's settings or slim's."""
  if slim:
    return layers.batch_norm(name, sync_batch_norm, SLIM_BN_MOMENTUM,
                             SLIM_BN_EPSILON)
  return layers.batch_norm(name, sync_batch_norm)


class BottleneckV1(keras.layers.Layer):
  """Post-activation bottleneck: conv-BN-ReLU x2, conv-BN, add, ReLU."""

  def __init__(self, filters: int, strides: int, in_channels: int, *,
               weight_decay: float, sync_batch_norm: bool, name: str):
    """Creates the unit.

    Args:
      filters: output width; the inner width is a quarter of it.
      strides: stride of the 3x3 convolution and of the projection.
      in_channels: input width (a projection is used if it differs).
      weight_decay: L2 strength of every kernel.
      sync_batch_norm: cross-replica batch statistics.
      name: the layer name.
    """
    super().__init__(name=name)
    self.in_channels = in_channels
    self.project = strides > 1 or in_channels != filters
    inner = filters // 4
    wd = weight_decay
    self.conv_a = layers.Conv(inner, 1, weight_decay=wd, name='conv_a')
    self.bn_a = layers.batch_norm('bn_a', sync_batch_norm)
    self.conv_b = layers.Conv(inner, 3, strides, weight_decay=wd,
                              name='conv_b')
    self.bn_b = layers.batch_norm('bn_b', sync_batch_norm)
    self.conv_c = layers.Conv(filters, 1, weight_decay=wd, name='conv_c')
    self.bn_c = layers.batch_norm('bn_c', sync_batch_norm)
    if self.project:
      self.shortcut = layers.Conv(filters, 1, strides, weight_decay=wd,
                                  name='shortcut')
      self.bn_shortcut = layers.batch_norm('bn_shortcut', sync_batch_norm)
    self._inner = inner
    self._filters = filters

  def build(self, input_shape):
    """Creates the variables of all children."""
    del input_shape  # The width is known from the constructor.
    inner = layers.channels_shape(self._inner)
    self.conv_a.build(layers.channels_shape(self.in_channels))
    self.bn_a.build(inner)
    self.conv_b.build(inner)
    self.bn_b.build(inner)
    self.conv_c.build(inner)
    self.bn_c.build(layers.channels_shape(self._filters))
    if self.project:
      self.shortcut.build(layers.channels_shape(self.in_channels))
      self.bn_shortcut.build(layers.channels_shape(self._filters))

  def call(self, x, training=False):
    """Applies the layer; `training` selects batch statistics."""
    relu = keras.ops.relu
    if self.project:
      shortcut = self.bn_shortcut(self.shortcut(x), training=training)
    else:
      shortcut = x
    r = relu(self.bn_a(self.conv_a(x), training=training))
    r = relu(self.bn_b(self.conv_b(r), training=training))
    r = self.bn_c(self.conv_c(r), training=training)
    return relu(shortcut + r)


class BottleneckV2(keras.layers.Layer):
  """Pre-activation bottleneck: (BN-ReLU-conv) x3 plus the shortcut.

  The projection shortcut convolves the pre-activated input (no BN of its
  own); the identity shortcut passes the raw input (in the slim layout
  subsampled by the unit's stride).
  """

  def __init__(self, filters: int, strides: int, in_channels: int, *,
               weight_decay: float, sync_batch_norm: bool, name: str,
               slim: bool = False):
    """Creates the unit.

    Args:
      filters: output width; the inner width is a quarter of it.
      strides: stride of the 3x3 convolution and of the shortcut.
      in_channels: input width.
      weight_decay: L2 strength of every kernel.
      sync_batch_norm: cross-replica batch statistics.
      name: the layer name.
      slim: TF-slim's unit (see the module docstring): projection only
        where the width changes, biases on the projection and the last
        convolution, slim's batch-norm settings.
    """
    super().__init__(name=name)
    self.in_channels = in_channels
    self.project = in_channels != filters or (strides > 1 and not slim)
    self.strides = strides
    inner = filters // 4
    wd = weight_decay
    self.bn_a = _norm('bn_a', sync_batch_norm, slim)
    self.conv_a = layers.Conv(inner, 1, weight_decay=wd, name='conv_a')
    self.bn_b = _norm('bn_b', sync_batch_norm, slim)
    self.conv_b = layers.Conv(inner, 3, strides, weight_decay=wd,
                              name='conv_b')
    self.bn_c = _norm('bn_c', sync_batch_norm, slim)
    self.conv_c = layers.Conv(filters, 1, weight_decay=wd, name='conv_c',
                              use_bias=slim)
    if self.project:
      self.shortcut = layers.Conv(filters, 1, strides, weight_decay=wd,
                                  name='shortcut', use_bias=slim)
    self._inner = inner

  def build(self, input_shape):
    """Creates the variables of all children."""
    del input_shape  # The width is known from the constructor.
    inputs = layers.channels_shape(self.in_channels)
    inner = layers.channels_shape(self._inner)
    self.bn_a.build(inputs)
    self.conv_a.build(inputs)
    self.bn_b.build(inner)
    self.conv_b.build(inner)
    self.bn_c.build(inner)
    self.conv_c.build(inner)
    if self.project:
      self.shortcut.build(inputs)

  def call(self, x, training=False):
    """Applies the layer; `training` selects batch statistics."""
    relu = keras.ops.relu
    a = relu(self.bn_a(x, training=training))
    if self.project:
      shortcut = self.shortcut(a)
    elif self.strides > 1:
      # Slim's 1x1 max pool with a stride: every s-th row and column.
      shortcut = x[:, ::self.strides, ::self.strides, :]
    else:
      shortcut = x
    r = self.conv_a(a)
    r = self.conv_b(relu(self.bn_b(r, training=training)))
    r = self.conv_c(relu(self.bn_c(r, training=training)))
    return shortcut + r


class ResNet(layers.Backbone):
  """A bottleneck ResNet returning `(output, end_points)`.

  End points: `after_root` (after the root max pool), `block1`..`block4`
  (stage outputs; for v2 before the final BN/ReLU), `pre_logits` `[N, C]`
  (global average pool, float32) and `logits` `[N, num_classes]` (float32)
  if `num_classes`. The output is the logits if `num_classes`, else the
  pre-logits. A network of fewer than four stages ends with its last
  block: `pre_logits` pools that block's output.
  """

  def __init__(self, units: Sequence[int] = (3, 4, 6, 3),
               num_classes: int | None = None, *, filters_factor: int = 4,
               mode: str = 'v2', last_relu: bool = True,
               root_conv_stride: int = 2,
               strides: str | Sequence[int] = (2, 2, 2),
               weight_decay: float = 1e-4, sync_batch_norm: bool = False,
               layout: str = 'revisiting', name: str = 'resnet'):
    """Creates the network (variables appear on the first call or `build`).

    Args:
      units: number of bottleneck units of each stage (four; fewer end the
        network after those stages).
      num_classes: width of the logits layer; None or 0 for no head.
      filters_factor: width multiplier; 4 gives the standard widths.
      mode: `v1` (post-activation) or `v2` (pre-activation).
      last_relu: v2 only: apply ReLU after the final batch norm. Must be
        True for v1, which always ends with a ReLU.
      root_conv_stride: stride of the 7x7 root convolution.
      strides: strides of stages 2, 3 and 4 ("2,2,1" or a sequence).
      weight_decay: L2 strength of every kernel (0 disables it).
      sync_batch_norm: batch statistics over all replicas.
      layout: `revisiting` (the paper's network) or `slim` (TF-slim's
        `resnet_v2`, v2 only; see the module docstring).
      name: model name, the prefix of variable paths.

    Raises:
      UsageError: for an invalid mode or layout, v1 with last_relu False,
        invalid widths, strides or units, or logits on a truncated network.
    """
    super().__init__(name=name)
    filters_factor, root_conv_stride, strides, weight_decay = (
        self._check_arguments(
            mode=mode, filters_factor=filters_factor,
            root_conv_stride=root_conv_stride, strides=strides,
            weight_decay=weight_decay))
    if mode == 'v1' and not last_relu:
      raise utils.UsageError(
          'last_relu=False is only supported with mode v2: a v1 ResNet '
          'always ends with a ReLU.')
    if layout not in LAYOUTS:
      raise utils.UsageError(
          f'Unknown ResNet layout {layout!r}. Valid choices: '
          f'{", ".join(LAYOUTS)}.')
    slim = layout == 'slim'
    if slim and mode != 'v2':
      raise utils.UsageError('The slim layout is a v2 (pre-activation) '
                             f'ResNet; mode {mode} contradicts it.')
    units = tuple(layers.check_positive_int(u, 'units') for u in units)
    if not 1 <= len(units) <= len(_STAGE_WIDTHS):
      raise utils.UsageError(
          f'units must list 1 to 4 stages, got {units!r}.')
    self.truncated = len(units) < len(_STAGE_WIDTHS)
    if self.truncated and num_classes:
      raise utils.UsageError(
          f'A ResNet of {len(units)} stages has no logits layer; got '
          f'num_classes={num_classes}.')
    stage_strides = (1,) + strides
    self._config = {
        'units': tuple(units), 'num_classes': num_classes or None,
        'filters_factor': filters_factor, 'mode': mode,
        'last_relu': bool(last_relu), 'root_conv_stride': root_conv_stride,
        'strides': stage_strides[1:], 'weight_decay': weight_decay,
        'sync_batch_norm': bool(sync_batch_norm), 'layout': layout,
        'name': name,
    }
    self.layout = layout
    self.mode = mode
    self.last_relu = bool(last_relu)
    self.num_classes = num_classes or None
    wd = weight_decay

    self.root_width = 16 * filters_factor
    self.root_conv = layers.Conv(self.root_width, 7, root_conv_stride,
                                 weight_decay=wd, name='root_conv',
                                 use_bias=slim)
    if mode == 'v1':
      self.root_bn = layers.batch_norm('root_bn', sync_batch_norm)
    unit_class = BottleneckV1 if mode == 'v1' else BottleneckV2
    unit_options = {'slim': True} if slim else {}
    self.blocks = []
    channels = self.root_width
    for i, num_units in enumerate(units):
      width = _STAGE_WIDTHS[i] * filters_factor
      # Slim strides the last unit of a stage by the next stage's stride.
      if slim:
        stride, strided_unit = (strides + (1,))[i], num_units - 1
      else:
        stride, strided_unit = stage_strides[i], 0
      stage = []
      for j in range(num_units):
        stage.append(unit_class(
            width, stride if j == strided_unit else 1, channels,
            weight_decay=wd, sync_batch_norm=sync_batch_norm,
            name=f'unit{j + 1}', **unit_options))
        channels = width
      self.blocks.append(layers.Stack(stage, name=f'block{i + 1}'))
    self.width = channels
    self.final_norm = mode == 'v2' and not self.truncated
    if self.final_norm:
      self.final_bn = _norm('final_bn', sync_batch_norm, slim)
    if self.num_classes:
      self.logits = layers.logits_layer(self.num_classes, wd)

  def build(self, input_shape):
    """Creates the variables of all children."""
    self.root_conv.build(input_shape)
    if self.mode == 'v1':
      self.root_bn.build(layers.channels_shape(self.root_width))
    for block in self.blocks:
      block.build(None)
    if self.final_norm:
      self.final_bn.build(layers.channels_shape(self.width))
    if self.num_classes:
      self.logits.build((None, self.width))

  def call(self, images, training=False):
    """Returns `(output, end_points)` for `[N, H, W, 3]` images."""
    training = bool(training)
    end_points = {}
    x = self.root_conv(images)
    if self.mode == 'v1':
      x = keras.ops.relu(self.root_bn(x, training=training))
    if self.layout == 'slim':
      x = keras.ops.max_pool(x, 3, 2, padding='same')
    else:
      x = layers.max_pool_fixed_padding(x)
    end_points['after_root'] = x
    for i, block in enumerate(self.blocks):
      x = block(x, training=training)
      end_points[f'block{i + 1}'] = x
    if self.final_norm:
      x = self.final_bn(x, training=training)
      if self.last_relu:
        x = keras.ops.relu(x)
    return self._pool_and_classify(x, end_points)
