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

"""Polyak averaging of the trainable weights (`--polyak_averaging`).

S4L keeps an exponential moving average of every trainable
variable, updated after each optimiser step with decay 0.5^(1 / steps per
epoch): a half-life of one epoch (0.999307 for MOAM's 1,000 steps per
epoch), 1/200 of MOAM's 200 epochs. A half-life in epochs does not carry
over to a schedule of another length: `--polyak_half_life` gives it as a
fraction of the training steps instead, decay 0.5^(1 / (fraction * total
steps)); 0.005 is MOAM's. The averages start at the initial weights, as
TF1's moving average of a variable did (its zero-debiasing applies to
tensors only), and are saved in every checkpoint under
`polyak/<variable's name>`.

The original meant evaluation and export to use the averages but assigned
them through a racy control dependency and exported the raw weights. Here
`swapped_in` puts the averages into the variables for exactly as long as
evaluation or an export runs.
"""

from collections.abc import Mapping, Sequence
import contextlib

import tensorflow as tf

from revisiting_ssl import utils


def check_half_life(fraction: float | None, averaging: bool) -> None:
  """Raises a UsageError for a `--polyak_half_life` no run can use.

  Args:
    fraction: the half-life as a fraction of the training steps, or None.
    averaging: whether `--polyak_averaging` is on.
  """
  if fraction is None:
    return
  if not averaging:
    raise utils.UsageError(
        '--polyak_half_life sets the half-life of the Polyak averages; it '
        'needs --polyak_averaging.')
  if not 0.0 < fraction <= 1.0:
    raise utils.UsageError(
        f'--polyak_half_life is a fraction of the training steps, in (0, 1] '
        f'(MOAM: 0.005, one of its 200 epochs), got {fraction:g}.')


def half_life_steps(fraction: float | None, *, steps_per_epoch: int,
                    total_steps: int) -> float:
  """The averages' half-life in steps.

  Args:
    fraction: the half-life as a fraction of `total_steps`; None: one epoch,
      as S4L.
    steps_per_epoch: the schedule's steps per epoch.
    total_steps: the schedule's training length.

  Returns:
    The half-life in (possibly fractional) steps.
  """
  if fraction is None:
    return float(steps_per_epoch)
  return fraction * total_steps


def decay(half_life: float) -> float:
  """The decay per update that halves an old value's weight in `half_life`."""
  return 0.5 ** (1.0 / half_life)


class Averages:
  """The averages of a list of variables."""

  def __init__(self, variables: Sequence[tf.Variable],
               names: Mapping[int, str], decay: float):
    """Creates one average per variable (call inside the strategy's scope).

    Args:
      variables: the trainable variables.
      names: `id(variable)` -> its checkpoint name.
      decay: the averages' decay per update.
    """
    self.decay = decay
    self.pairs = []
    self.checkpoint_names = {}
    for variable in variables:
      average = tf.Variable(
          tf.convert_to_tensor(variable), trainable=False,
          # Every replica computes the same value; the first one's is kept.
          aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
          name='polyak_average')
      self.pairs.append((variable, average))
      self.checkpoint_names[f'polyak/{names[id(variable)]}'] = average

  def update(self) -> None:
    """Average <- decay * average + (1 - decay) * variable (in a step)."""
    for variable, average in self.pairs:
      average.assign(self.decay * average + (1.0 - self.decay) * tf.cast(
          variable, average.dtype))

  def reset(self) -> None:
    """Restarts the averages at the variables' values (after a warm start)."""
    for variable, average in self.pairs:
      average.assign(tf.convert_to_tensor(variable))

  @contextlib.contextmanager
  def swapped_in(self):
    """Within: the variables hold their averages; afterwards, their own."""
    raw = [tf.convert_to_tensor(variable) for variable, _ in self.pairs]
    for variable, average in self.pairs:
      variable.assign(tf.convert_to_tensor(average))
    try:
      yield
    finally:
      for (variable, _), value in zip(self.pairs, raw):
        variable.assign(value)
