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

"""Building blocks shared by the backbone networks.

Conventions that every network here follows:
* convolutions have no bias and a Glorot-uniform kernel; "fixed padding"
  means explicit zero padding of floor((k-1)/2) before and the rest after,
  then a VALID convolution, so the output size never depends on whether the
  input size is even;
* weight decay `wd` adds 0.5 * wd * sum(w^2) per kernel (the TF1 contrib
  regulariser), i.e. Keras `L2(wd / 2)`, and nothing at all when wd == 0;
  batch-norm parameters and biases are never decayed;
* batch norm uses momentum 0.99 and epsilon 1e-3 with scale and offset,
  and TensorFlow's fused kernel (see `FusedBatchNorm`).

Every container layer builds its children from channel counts it knows at
construction, so building a network never traces its `call` and variables
exist as soon as `build` returns.
"""

from collections.abc import Iterable, Sequence
import contextlib
import math
import threading
from typing import Any

import keras
import tensorflow as tf

from revisiting_ssl import utils
from revisiting_ssl.models import virtual_replicas

# TF1 `tf.layers.batch_normalization` defaults, which Keras shares.
BN_MOMENTUM = 0.99
BN_EPSILON = 1e-3

# The moving statistics start at mean 0 and variance 1, and each update with
# momentum m keeps m of them: after n updates the starting values still
# weigh m**n. They count as settled once that weight is at most 1%, after
# log(0.01) / log(m) updates, about 4.6 time constants 1 / (1 - m): 459 at
# m = 0.99, 1533 for the patch head's 0.997. Before that, evaluation (which
# normalises with the moving statistics) measures their lag more than the
# model: a 157-step rotation run, with its starting values still at 21%,
# evaluated at 38% accuracy with a training loss of 0.36.
SETTLED_START_WEIGHT = 0.01


def channels_shape(channels: int) -> tuple[None, None, None, int]:
  """An NHWC shape with unknown batch and spatial sizes, for `build`."""
  return (None, None, None, channels)


def l2_regularizer(
    weight_decay: float) -> keras.regularizers.Regularizer | None:
  """The TF1 `l2_regularizer(wd)` as a Keras regulariser (None if wd == 0).

  Keras' L2(s) is s * sum(w^2) while TF1's is s * 0.5 * sum(w^2), hence the
  halving. A zero weight decay disables the term, as in TF1, so no loss
  tensor is added at all.
  """
  if not weight_decay:
    return None
  return keras.regularizers.L2(weight_decay / 2)


class Conv(keras.layers.Conv2D):
  """A bias-free 2-D convolution with the original's fixed padding.

  For stride 1 and an odd kernel, fixed padding equals Keras' SAME padding,
  so it is used directly (no separate padding op). With a larger stride and
  a kernel above 1x1, the input is zero-padded explicitly and convolved
  VALID: SAME would pad asymmetrically on even inputs and shift the sampling
  grid by one pixel relative to the original.
  """

  def __init__(self, filters: int, kernel_size: int, strides: int = 1, *,
               weight_decay: float, name: str, use_bias: bool = False,
               **kwargs):
    """Creates the layer.

    Args:
      filters: number of output channels.
      kernel_size: square kernel size.
      strides: the stride in both spatial dimensions.
      weight_decay: L2 strength of the kernel (0 disables it).
      name: the layer name.
      use_bias: add a (never decayed) bias, as TF-slim's convolutions that
        no batch norm follows have.
      **kwargs: other `keras.layers.Conv2D` arguments (e.g. dtype).
    """
    pad_total = kernel_size - 1
    self._pad = None
    if strides > 1 and pad_total > 0:
      before = pad_total // 2
      self._pad = (before, pad_total - before)
    super().__init__(
        filters, kernel_size, strides=strides,
        padding='valid' if self._pad else 'same', use_bias=use_bias,
        kernel_initializer='glorot_uniform',
        kernel_regularizer=l2_regularizer(weight_decay), name=name, **kwargs)
    self._weight_decay = weight_decay

  def call(self, inputs):
    """Pads (if needed) and convolves `inputs`."""
    if self._pad:
      pad = list(self._pad)
      inputs = keras.ops.pad(inputs, [[0, 0], pad, pad, [0, 0]])
    return super().call(inputs)

  def compute_output_shape(self, input_shape):
    """The output shape, counting the explicit padding."""
    if self._pad:
      extra = sum(self._pad)
      input_shape = tuple(
          d + extra if (i in (1, 2) and d is not None) else d
          for i, d in enumerate(input_shape))
    return super().compute_output_shape(input_shape)

  def get_config(self):
    """The constructor arguments."""
    return {
        'filters': self.filters,
        'kernel_size': self.kernel_size[0],
        'strides': self.strides[0],
        'weight_decay': self._weight_decay,
        'name': self.name,
        'use_bias': self.use_bias,
        'dtype': self.dtype_policy.name,
    }


_FROZEN = threading.local()


@contextlib.contextmanager
def frozen_moving_statistics():
  """Within: batch norm in training mode leaves its moving statistics alone.

  It still normalises with the statistics of the batch it sees. S4L's VAT
  runs its perturbed passes so: the perturbed batch's own
  statistics, and moving averages that only clean batches move (the
  original set the momentum to 1). It acts when a network's call is traced
  or run inside the context.
  """
  before = getattr(_FROZEN, 'active', False)
  _FROZEN.active = True
  try:
    yield
  finally:
    _FROZEN.active = before


def moving_statistics_frozen() -> bool:
  """Whether `frozen_moving_statistics` is active."""
  return getattr(_FROZEN, 'active', False)


def _fused_kernel_input(inputs: tf.Tensor) -> tf.Tensor:
  """`inputs` in a dtype TensorFlow's fused batch-norm kernel takes."""
  if inputs.dtype in (tf.float32, tf.bfloat16, tf.float16):
    return inputs
  return tf.cast(inputs, tf.float32)


class FusedBatchNorm(keras.layers.BatchNormalization):
  """Keras batch norm that runs TensorFlow's fused kernel on NHWC inputs.

  Keras 3 composes batch norm from separate reductions and element-wise ops;
  on a CPU its forward and backward pass over a ResNet-50 activation takes
  about twice as long as the single fused kernel, and batch norm is a large
  share of a training step. Same variables, same results, with one
  difference that matches the original (TF1 `batch_normalization(fused=
  True)`): the moving variance is updated with the unbiased batch variance
  (times n / (n - 1), n = N * H * W), as TF1's fused kernel did.
  Synchronised (cross-replica) batch norm, masks and other layouts use the
  Keras implementation: its statistics are those of the global batch
  (means of x and x^2 summed over replicas), and the moving variance is
  the biased one, as S4L's cross-replica batch norm.
  `frozen_moving_statistics` stops the moving averages in both. Within a
  `virtual_replicas.scope`, unsynchronised training statistics are per
  virtual replica.
  """

  def add_weight(self, *args, **kwargs):
    # Under a strategy every replica updates the moving statistics with its
    # own batch's; averaging the updates keeps the replicas' copies equal
    # (with Keras' default, each copy drifted on its own and evaluation on
    # one replica used statistics the checkpoint did not hold).
    if str(kwargs.get('name', '')).startswith('moving_'):
      kwargs.setdefault('aggregation', 'mean')
    return super().add_weight(*args, **kwargs)

  def call(self, inputs, training=None, mask=None):
    """Normalises `inputs`; `training` selects batch statistics."""
    groups = virtual_replicas.count()
    if groups > 1 and training and self.trainable and not self.synchronized:
      if mask is not None or self.renorm or self.axis not in (-1, len(
          inputs.shape) - 1):
        raise ValueError('Batch norm with virtual replicas needs '
                         'channels-last inputs without mask or renorm.')
      return self._grouped_call(inputs, groups)
    if (self.synchronized or mask is not None or self.renorm
        or len(inputs.shape) != 4 or self.axis not in (-1, 3)):
      if not moving_statistics_frozen():
        return super().call(inputs, training=training, mask=mask)
      # Keras' update is moving * momentum + batch * (1 - momentum).
      momentum, self.momentum = self.momentum, 1.0
      try:
        return super().call(inputs, training=training, mask=mask)
      finally:
        self.momentum = momentum
    # The fused kernel takes bfloat16/float16 activations with float32
    # scale, offset and statistics and computes in float32 inside, as Keras'
    # composed ops do after their cast; feeding it the half-precision tensor
    # saves a cast each way per layer and lets the kernel fuse with the ReLU.
    x = _fused_kernel_input(inputs)
    if training and self.trainable:
      y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
          x, self.gamma, self.beta, epsilon=self.epsilon, is_training=True)
      if not moving_statistics_frozen():
        decay = 1.0 - self.momentum
        self.moving_mean.assign(
            self.moving_mean * self.momentum + mean * decay)
        self.moving_variance.assign(
            self.moving_variance * self.momentum + variance * decay)
    else:
      y, _, _ = tf.compat.v1.nn.fused_batch_norm(
          x, self.gamma, self.beta, mean=self.moving_mean,
          variance=self.moving_variance, epsilon=self.epsilon,
          is_training=False)
    return tf.cast(y, self.compute_dtype)

  def _grouped_call(self, inputs, groups: int):
    """Training mode with statistics per virtual replica (ghost batch norm).

    Each of the `groups` contiguous groups is normalised with its own
    statistics, as each replica would be, and the moving averages move by
    the mean of the groups' statistics, as the replicas' mean-aggregated
    updates do. NHWC inputs keep the fused kernel (and its unbiased moving
    variance): the groups become channel blocks, `[n, H, W, G * C]`.
    """
    virtual_replicas.check_divisible(inputs.shape[0], self.name)
    if len(inputs.shape) == 4:
      x = _fused_kernel_input(inputs)
    else:
      x = tf.cast(inputs, tf.float32)
    channels = x.shape[-1]
    if len(x.shape) == 4:
      _, height, width, _ = x.shape
      blocks = tf.reshape(x, [groups, -1, height, width, channels])
      blocks = tf.transpose(blocks, [1, 2, 3, 0, 4])
      blocks = tf.reshape(blocks, [-1, height, width, groups * channels])
      y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
          blocks, tf.tile(self.gamma, [groups]), tf.tile(self.beta, [groups]),
          epsilon=self.epsilon, is_training=True)
      y = tf.reshape(y, [-1, height, width, groups, channels])
      y = tf.reshape(tf.transpose(y, [3, 0, 1, 2, 4]), tf.shape(x))
      mean = tf.reshape(mean, [groups, channels])
      variance = tf.reshape(variance, [groups, channels])
    else:
      # Keras' statistics (biased variance), per group.
      grouped = tf.reshape(x, [groups, -1, *x.shape[1:]])
      axes = list(range(1, len(grouped.shape) - 1))
      mean, variance = tf.nn.moments(grouped, axes, keepdims=True)
      y = tf.reshape(tf.nn.batch_normalization(
          grouped, mean, variance, self.beta, self.gamma, self.epsilon),
                     tf.shape(x))
      mean = tf.reshape(mean, [groups, channels])
      variance = tf.reshape(variance, [groups, channels])
    if not moving_statistics_frozen():
      decay = 1.0 - self.momentum
      self.moving_mean.assign(self.moving_mean * self.momentum +
                              tf.reduce_mean(mean, 0) * decay)
      self.moving_variance.assign(self.moving_variance * self.momentum +
                                  tf.reduce_mean(variance, 0) * decay)
    return tf.cast(y, self.compute_dtype)


def batch_norm(name: str, synchronized: bool, momentum: float = BN_MOMENTUM,
               epsilon: float = BN_EPSILON) -> keras.layers.Layer:
  """A batch-norm layer with the trunks' settings.

  Args:
    name: the layer name.
    synchronized: use statistics over all replicas of a `tf.distribute`
      strategy instead of per replica.
    momentum: the moving averages' decay.
    epsilon: added to the variance. TensorFlow's fused kernel raises values
      below 1.001e-5 to that (a cuDNN bound), as it did in TF1.

  Returns:
    A `keras.layers.BatchNormalization` (using the fused kernel when it can).
  """
  return FusedBatchNorm(
      momentum=momentum, epsilon=epsilon, center=True, scale=True,
      synchronized=synchronized, name=name)


def updates_to_settle(momentum: float) -> int:
  """Updates after which moving statistics count as settled.

  See `SETTLED_START_WEIGHT`. Momentum 1 never moves the statistics (they
  are meant to stay as they are), so they need none.
  """
  if momentum >= 1.0:
    return 0
  if momentum <= 0.0:
    return 1
  return math.ceil(math.log(SETTLED_START_WEIGHT) / math.log(momentum))


def batch_norm_layers(owners: Iterable[Any]
                      ) -> list[keras.layers.BatchNormalization]:
  """Every batch-norm layer inside `owners`, once each.

  Args:
    owners: objects such as a task's checkpoint items; Keras layers and
      models are searched, anything else is skipped.

  Returns:
    The layers, in the order found.
  """
  found = {}
  for owner in owners:
    if not isinstance(owner, keras.layers.Layer):
      continue
    # Keras' own walk over nested layers (`Model.layers` lists only the
    # direct ones); it includes layers kept in lists.
    for layer in owner._flatten_layers():  # pylint: disable=protected-access
      if isinstance(layer, keras.layers.BatchNormalization):
        found[id(layer)] = layer
  return list(found.values())


def logits_layer(num_classes: int, weight_decay: float) -> keras.layers.Layer:
  """The classifier head: a dense layer with bias, decayed kernel.

  Equal to the original's 1x1 convolution on the pooled `[N, 1, 1, C]`
  features (same parameters, same Glorot fans). It computes in float32 so
  that logits stay exact under a mixed-precision policy.
  """
  return keras.layers.Dense(
      num_classes, use_bias=True, kernel_initializer='glorot_uniform',
      kernel_regularizer=l2_regularizer(weight_decay), dtype='float32',
      name='logits')


def max_pool_fixed_padding(x, pool_size: int = 3, strides: int = 2):
  """Zero padding 1 then a VALID 3x3/2 max pool (the root pool).

  The padding is zeros even where activations may be negative (v2 ResNet,
  RevNet); kept for fidelity with the original.
  """
  pad_total = pool_size - 1
  pad = [pad_total // 2, pad_total - pad_total // 2]
  x = keras.ops.pad(x, [[0, 0], pad, pad, [0, 0]])
  return keras.ops.max_pool(x, pool_size, strides, padding='valid')


def global_average_pool(x):
  """Mean over H and W, accumulated in float32 (`[N, H, W, C]` -> `[N, C]`)."""
  return keras.ops.mean(keras.ops.cast(x, 'float32'), axis=(1, 2))


class Stack(keras.layers.Layer):
  """Calls its layers in order, passing `training` to each.

  Each child must have an `in_channels` attribute; `build` uses it, so a
  stack is built without tracing.
  """

  def __init__(self, children: Sequence[keras.layers.Layer], **kwargs):
    """Creates the stack.

    Args:
      children: layers with `in_channels` attributes, called in order.
      **kwargs: `keras.layers.Layer` arguments (name).
    """
    super().__init__(**kwargs)
    self.units = list(children)

  def build(self, input_shape):
    """Creates the variables of all children."""
    del input_shape  # Each child knows its input width.
    for unit in self.units:
      unit.build(channels_shape(unit.in_channels))

  def call(self, x, training=False):
    """Applies the layer; `training` selects batch statistics."""
    for unit in self.units:
      x = unit(x, training=training)
    return x


def parse_strides(strides: str | Sequence[int]) -> tuple[int, int, int]:
  """Parses the stage strides ("2,2,1", [2, 2, 1]) of stages 2 to 4.

  Raises:
    UsageError: unless there are exactly three positive integers.
  """
  values = utils.str2intlist(strides, name='strides')
  if (len(values) != 3
      or not all(isinstance(v, int) and v > 0 for v in values)):
    raise utils.UsageError(
        f'strides must be three positive integers (the strides of stages 2, '
        f'3 and 4, e.g. "2,2,1"), got {strides!r}.')
  return tuple(values)


def check_positive_int(value: int, name: str) -> int:
  """Returns `value` if it is a positive int, else raises UsageError."""
  if isinstance(value, bool) or not isinstance(value, int) or value < 1:
    raise utils.UsageError(
        f'{name} must be a positive integer, got {value!r}.')
  return value


def check_weight_decay(value: float) -> float:
  """Returns `value` as a float if it is >= 0, else raises UsageError."""
  try:
    value = float(value)
  except (TypeError, ValueError):
    raise utils.UsageError(
        f'weight_decay must be a number, got {value!r}.') from None
  if value < 0:
    raise utils.UsageError(f'weight_decay must be >= 0, got {value}.')
  return value


class Backbone(keras.Model):
  """What every network shares: argument checks, its config, the head.

  A network returns `(output, end_points)`. Subclasses set `num_classes`,
  `logits` (when `num_classes`) and `_config`, the constructor arguments as
  checked, which `get_config` returns.
  """

  def _check_arguments(self, *, filters_factor: int, weight_decay: float,
                       mode: str = 'v2', root_conv_stride: int = 2,
                       strides: str | Sequence[int] = (2, 2, 2)
                       ) -> tuple[int, int, tuple[int, int, int], float]:
    """Validates the arguments of the networks (those a network has).

    Returns:
      (filters_factor, root_conv_stride, strides, weight_decay), checked
      and with the strides parsed.

    Raises:
      UsageError: naming the first invalid argument.
    """
    if mode not in ('v1', 'v2'):
      raise utils.UsageError(f"mode must be 'v1' or 'v2', got {mode!r}.")
    return (check_positive_int(filters_factor, 'filters_factor'),
            check_positive_int(root_conv_stride, 'root_conv_stride'),
            parse_strides(strides), check_weight_decay(weight_decay))

  def _pool_and_classify(self, x, end_points: dict):
    """Global average pool (`pre_logits`), then the logits if any."""
    x = global_average_pool(x)
    end_points['pre_logits'] = x
    if self.num_classes:
      x = self.logits(x)
      end_points['logits'] = x
    return x, end_points

  def get_config(self):
    """The constructor arguments."""
    return dict(self._config)

  @classmethod
  def from_config(cls, config):
    """Recreates the network (new variables) from `get_config()`."""
    return cls(**config)
