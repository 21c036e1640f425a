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
epoch). The averages start at the initial weights, as TF1's moving average
of a variable did (its zero-debiasing applies to tensors only), and are
saved in every checkpoint under `polyak/<variable's name>`.

The original meant evaluation and export to use the averages but assigned
them through a racy control dependency and exported the raw weights. Here
`swapped_in` puts the averages into the variables for exactly as long as
evaluation or an export runs.
"""

from collections.abc import Mapping, Sequence
import contextlib

import tensorflow as tf


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
