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

"""Learning-rate schedule, step counts and optimisers of the original.

Step counts: steps per epoch = floor(examples / global batch);
total steps = ceil(epochs * steps per epoch). Fractional epochs are allowed
everywhere; boundaries are rounded down to whole steps.

Schedule: linear warm-up from exactly 0, then piecewise-constant decay that
changes *after* a boundary step (the value at step b is still the old one),
which is what TF1's `piecewise_constant` did.

The base learning rate scales with the batch size B: linearly, --lr * B /
--lr_scale_batch_size (the original's, no scaling when that is unset), or
by its square root, --lr * sqrt(B / --lr_scale_batch_size) with the
reference 1 when unset (SimCLR's --lr * sqrt(B)). After the warm-up the
rate decays piecewise (above) or along a half cosine to 0 at the end of
training (`cosine`, SimCLR's).

SGD is TF1's momentum optimiser: the accumulator sums raw gradients and the
learning rate multiplies it at update time. Keras' SGD folds the learning rate
into the velocity instead; the two differ right after every change of the
learning rate, i.e. all through warm-up and at every decay.
"""

from collections.abc import Sequence
import dataclasses
import math

import keras
import tensorflow as tf

from revisiting_ssl import utils


@dataclasses.dataclass(frozen=True)
class Schedule:
  """A learning-rate schedule in steps.

  Attributes:
    base_lr: the learning rate after warm-up, already scaled by batch size.
    warmup_steps: length of the linear warm-up (0 for none).
    boundaries: decay boundaries in steps, increasing.
    decay_factor: multiplicative decay per boundary passed.
    total_steps: training length in steps.
    steps_per_epoch: steps in one epoch of the training split.
    cosine: decay along a half cosine after the warm-up instead of at the
      boundaries.
  """
  base_lr: float
  warmup_steps: int
  boundaries: tuple[int, ...]
  decay_factor: float
  total_steps: int
  steps_per_epoch: int
  cosine: bool = False

  def value(self, step: int) -> float:
    """The learning rate used for the update made at `step` (in Python)."""
    if step < self.warmup_steps:
      return step * self.base_lr / self.warmup_steps
    if self.cosine:
      span = max(self.total_steps - self.warmup_steps, 1)
      done = min(step - self.warmup_steps, span) / span
      return self.base_lr * 0.5 * (1.0 + math.cos(math.pi * done))
    passed = sum(1 for b in self.boundaries if step > b)
    return self.base_lr * self.decay_factor ** passed


# --lr_scaling: the power of B / --lr_scale_batch_size that scales --lr.
LR_SCALINGS = {'linear': 1.0, 'sqrt': 0.5}
# --lr_decay: the decay after the warm-up.
LR_DECAYS = ('piecewise', 'cosine')


def make_schedule(*, num_examples: int, batch_size: int, epochs: float,
                  lr: float, lr_scale_batch_size: float | None,
                  decay_epochs: Sequence[float] | None,
                  warmup_epochs: float, lr_decay_factor: float,
                  lr_scaling: str = 'linear',
                  lr_decay: str = 'piecewise') -> Schedule:
  """Computes the original's schedule from the epoch-based flags.

  Raises:
    utils.UsageError: for a non-positive learning rate or length, a
      negative warm-up or one beyond `epochs`, a split smaller than one
      batch, decay epochs that decrease or lie beyond `epochs` (or any,
      with the cosine decay), or an unknown scaling or decay.
  """
  if lr_scaling not in LR_SCALINGS:
    raise utils.UsageError(
        f'Unknown --lr_scaling {lr_scaling!r}. Valid choices: '
        f'{", ".join(LR_SCALINGS)}.')
  if lr_decay not in LR_DECAYS:
    raise utils.UsageError(
        f'Unknown --lr_decay {lr_decay!r}. Valid choices: '
        f'{", ".join(LR_DECAYS)}.')
  cosine = lr_decay == 'cosine'
  if cosine and decay_epochs:
    raise utils.UsageError(
        '--lr_decay cosine decays all along training; drop --decay_epochs.')
  for name, value in (('lr', lr), ('epochs', epochs)):
    if not value > 0:
      raise utils.UsageError(f'--{name} must be positive, got {value:g}.')
  if warmup_epochs < 0:
    raise utils.UsageError('--warmup_epochs must not be negative.')
  if warmup_epochs > epochs:
    raise utils.UsageError(
        f'--warmup_epochs {warmup_epochs:g} exceeds --epochs {epochs:g}: the '
        f'learning rate would never reach --lr.')
  steps_per_epoch = num_examples // batch_size
  if steps_per_epoch < 1:
    raise utils.UsageError(
        f'The training split has {num_examples} examples, fewer than one '
        f'batch of --batch_size {batch_size}.')
  total_steps = math.ceil(epochs * steps_per_epoch)
  if decay_epochs is None or len(decay_epochs) == 0:
    decay_epochs = [epochs]
  decay_epochs = [float(e) for e in decay_epochs]
  if any(b < a for a, b in zip(decay_epochs, decay_epochs[1:])):
    # Equal entries are allowed (S4L's --schedule): both decays apply.
    raise utils.UsageError(
        f'--decay_epochs must be in increasing order, got {decay_epochs}.')
  if decay_epochs[-1] > epochs:
    raise utils.UsageError(
        f'--decay_epochs {decay_epochs[-1]:g} lies beyond --epochs '
        f'{epochs:g}.')
  reference = lr_scale_batch_size
  if not reference and lr_scaling == 'sqrt':
    reference = 1.0
  base_lr = lr
  if reference:
    base_lr = lr * (batch_size / reference) ** LR_SCALINGS[lr_scaling]
  return Schedule(
      base_lr=base_lr,
      warmup_steps=int(warmup_epochs * steps_per_epoch),
      boundaries=() if cosine else tuple(
          int(e * steps_per_epoch) for e in decay_epochs),
      decay_factor=lr_decay_factor,
      total_steps=total_steps,
      steps_per_epoch=steps_per_epoch,
      cosine=cosine)


class WarmupPiecewiseDecay(keras.optimizers.schedules.LearningRateSchedule):
  """`Schedule.value` as a Keras schedule evaluated on the optimiser step."""

  def __init__(self, schedule: Schedule):
    self.schedule = schedule

  def __call__(self, step):
    s = self.schedule
    step = tf.cast(step, tf.int64)
    if s.cosine:
      span = float(max(s.total_steps - s.warmup_steps, 1))
      done = tf.minimum(tf.cast(step - s.warmup_steps, tf.float32), span)
      decayed = s.base_lr * 0.5 * (1.0 + tf.cos(math.pi * done / span))
    else:
      passed = tf.zeros([], tf.int64)
      for b in s.boundaries:
        passed += tf.cast(step > b, tf.int64)
      decayed = s.base_lr * tf.pow(
          tf.constant(s.decay_factor, tf.float32),
          tf.cast(passed, tf.float32))
    if s.warmup_steps <= 0:
      return decayed
    warm = (tf.cast(step, tf.float32) * s.base_lr /
            float(s.warmup_steps))
    return tf.where(step < s.warmup_steps, warm, decayed)

  def get_config(self):
    return dataclasses.asdict(self.schedule)


class MomentumTF1(keras.optimizers.Optimizer):
  """TF1's momentum optimiser: a <- m * a + g; w <- w - lr * a."""

  def __init__(self, learning_rate, momentum: float = 0.9,
               name: str = 'momentum_tf1', **kwargs):
    super().__init__(learning_rate=learning_rate, name=name, **kwargs)
    self.momentum = momentum

  def build(self, var_list):
    if self.built:
      return
    super().build(var_list)
    self._accumulators = [
        self.add_variable_from_reference(v, 'accumulator') for v in var_list]

  def update_step(self, gradient, variable, learning_rate):
    lr = tf.cast(learning_rate, variable.dtype)
    gradient = tf.cast(gradient, variable.dtype)
    acc = self._accumulators[self._get_variable_index(variable)]
    self.assign(acc, self.momentum * acc + gradient)
    self.assign_sub(variable, lr * acc)

  def apply_lean(self, grads: Sequence[tf.Tensor],
                 variables: Sequence[tf.Variable]) -> None:
    """`apply_gradients` with far fewer ops per step, for tiny models.

    Keras' generic update path (gradient checks, loss-scale and
    accumulation branches, per-variable dispatch) costs about as much as
    the step itself when the model is a few dense layers, as the heads of
    cached linear evaluation are. This applies the same rule to the same
    slots and advances `iterations`, so checkpoints stay interchangeable.
    The variables must have been passed to `build`.
    """
    lr = self.learning_rate
    for grad, variable in zip(grads, variables):
      acc = self._accumulators[self._get_variable_index(variable)]
      acc.assign(self.momentum * acc + tf.cast(grad, acc.dtype))
      variable.assign_sub(tf.cast(lr, variable.dtype) * acc)
    self.iterations.assign_add(1)

  def get_config(self):
    config = super().get_config()
    config['momentum'] = self.momentum
    return config


# LARS' momentum and trust coefficient eta (SimCLR's values).
LARS_MOMENTUM = 0.9
LARS_ETA = 0.001


def lars_adapted(variable: tf.Variable) -> bool:
  """Whether LARS scales the rate of `variable`: kernels, not vectors.

  Biases and batch norm's scales and offsets are the one-dimensional
  variables; the networks never decay them either (`models/layers.py`).
  """
  return variable.shape.rank is not None and variable.shape.rank > 1


class LARS(keras.optimizers.Optimizer):
  """Layer-wise adaptive rate scaling (You et al.), as SimCLR uses it.

  With g the gradient of the loss *including* the weight-decay penalty (so
  g = dL/dw + wd * w for a decayed kernel), momentum m and coefficient
  eta, each step does

      r = eta * |w| / |g|  (1 if |w| or |g| is 0; 1 if not `lars_adapted`)
      v <- m * v + lr * r * g;  w <- w - v

  where |.| is the L2 norm of the whole variable. Excluded variables
  (biases, batch norm) thus take plain momentum steps, and no weight decay
  reaches them because the networks' penalty covers kernels only.
  """

  def __init__(self, learning_rate, momentum: float = LARS_MOMENTUM,
               eta: float = LARS_ETA, name: str = 'lars', **kwargs):
    super().__init__(learning_rate=learning_rate, name=name, **kwargs)
    self.momentum = momentum
    self.eta = eta

  def build(self, var_list):
    if self.built:
      return
    super().build(var_list)
    self._velocities = [
        self.add_variable_from_reference(v, 'velocity') for v in var_list]

  def update_step(self, gradient, variable, learning_rate):
    lr = tf.cast(learning_rate, variable.dtype)
    gradient = tf.cast(gradient, variable.dtype)
    if lars_adapted(variable):
      w_norm = tf.norm(variable)
      g_norm = tf.norm(gradient)
      ratio = tf.where(
          (w_norm > 0) & (g_norm > 0),
          self.eta * w_norm / tf.where(g_norm > 0, g_norm, 1.0), 1.0)
      lr = lr * ratio
    velocity = self._velocities[self._get_variable_index(variable)]
    self.assign(velocity, self.momentum * velocity + lr * gradient)
    self.assign_sub(variable, velocity)

  def get_config(self):
    config = super().get_config()
    config.update(momentum=self.momentum, eta=self.eta)
    return config


def _sgd(lr) -> keras.optimizers.Optimizer:
  return MomentumTF1(lr, momentum=0.9)


def _adam(lr) -> keras.optimizers.Optimizer:
  # TF1's Adam defaults; Keras' epsilon default (1e-7) differs.
  return keras.optimizers.Adam(lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8)


OPTIMIZERS = utils.Registry('optimizer', flag='--optimizer')
OPTIMIZERS.register('sgd')(_sgd)
OPTIMIZERS.register('adam')(_adam)
OPTIMIZERS.register('lars')(LARS)


def make_optimizer(name: str, schedule: Schedule) -> keras.optimizers.Optimizer:
  """`sgd` (TF1 momentum 0.9), `adam` (TF1 defaults) or `lars`.

  Raises:
    utils.UsageError: for an unknown name, listing the valid ones.
  """
  return OPTIMIZERS.lookup(name)(WarmupPiecewiseDecay(schedule))
