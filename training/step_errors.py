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

"""What a failed training or evaluation step is turned into.

A step runs the input pipeline, the network and, with several workers, the
collectives in one graph, so its `tf.errors.OpError` may stand for bad
input files, a lost worker or a bug. `translated` tells them apart and
raises the one-line error a user can act on (`utils.UsageError` naming the
file, `ClusterError` naming the checkpoint to resume from); anything else
is raised as it came.
"""

from collections.abc import Callable, Iterator
import contextlib

from absl import logging
import tensorflow as tf

from revisiting_ssl import datasets, utils
from revisiting_ssl.training import distribution

# What a collective raises when a peer worker died or cannot be reached.
_CLUSTER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                   tf.errors.CancelledError, tf.errors.AbortedError,
                   tf.errors.FailedPreconditionError)


class ClusterError(utils.RunAbortedError):
  """Another worker of a multi-worker job failed or cannot be reached."""


@contextlib.contextmanager
def translated(*, data: datasets.DataSource, train_split: str,
               strategy: tf.distribute.Strategy, step: Callable[[], int],
               workdir: str) -> Iterator[None]:
  """Within: a step's data and cluster failures become clear errors.

  Args:
    data: the run's data source (it locates a bad record the error does
      not name).
    train_split: the split training reads.
    strategy: the run's strategy (cluster failures matter with several
      workers only).
    step: the current training step, read when a failure is raised.
    workdir: the run's working directory (its latest checkpoint is where a
      restart resumes).

  Raises:
    utils.UsageError: for a corrupt or truncated input file (named).
    ClusterError: when a collective fails because another worker of a
      multi-worker job died or cannot be reached.
  """
  try:
    yield
  except tf.errors.OpError as e:
    data_error = datasets.input_data_error(e)
    if data_error is None and datasets.unnamed_input_failure(e):
      logging.error('The input pipeline failed without naming a file (%s); '
                    'reading --train_split %s to find the bad record.',
                    utils.error_summary(e), train_split)
      data_error = data.locate_bad_record(train_split)
    if data_error is not None:
      raise data_error from None
    if distribution.is_multi_worker(strategy) and isinstance(
        e, _CLUSTER_ERRORS):
      raise ClusterError(
          f'Lost contact with another worker at step {step()} '
          f'({type(e).__name__}: {utils.error_summary(e)}). Restart all '
          f'workers to resume from the last checkpoint '
          f'{tf.train.latest_checkpoint(workdir)}.') from None
    raise
