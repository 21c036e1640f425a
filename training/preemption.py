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

"""Stopping training cleanly when the machine is about to be taken away.

Spot and preemptible machines get a SIGTERM and a short grace period
before they stop; Cloud TPU VMs may also announce a host maintenance
event. While training runs, `StopRequest` turns either into a flag:

* A SIGTERM sets the flag at once, even while the main thread is inside a
  compiled training loop: the signal's wake-up byte is read by a thread of
  its own (a Python signal handler alone would only run once the loop
  returned).
* An optional `notice` function (on a TPU: the GCE metadata server's
  maintenance event) is polled by another thread.
* The training loop reads the flag after every step; with several
  workers it is summed over all of them (a collective), so every worker
  stops after the same step even when only one of them was signalled.
  The trainer then saves a checkpoint of that step on every worker and
  raises `Preempted`; the entry point exits with `PREEMPTED_EXIT_CODE`,
  and rerunning the same command resumes there.

TensorFlow's `PreemptionCheckpointHandler` does the same for its own
checkpoint manager and loop; the trainer keeps its own cadence, done file
and evaluator hand-over, so it uses the signal and the collective directly.
"""

from collections.abc import Callable, Sequence
import os
import signal
import threading

from absl import logging
import tensorflow as tf

from revisiting_ssl import utils
from revisiting_ssl.training import distribution

# sysexits.h's EX_TEMPFAIL: a temporary failure, the command should be
# run again (a scheduler's restart policy can key on it).
PREEMPTED_EXIT_CODE = 75

# The stop requests installed now (the last one is the innermost).
_INSTALLED: list['StopRequest'] = []


class Preempted(utils.RunAbortedError):
  """Training stopped on request and saved; rerun the command to resume."""

  def __init__(self, step: int, checkpoint: str | None, reason: str):
    self.step = step
    self.checkpoint = checkpoint
    super().__init__(
        f'Preempted ({reason}): saved step {step} to {checkpoint}. Run the '
        f'same command again to resume from there.')


class StopRequest:
  """A flag raised by SIGTERM (or a notice) and read by the training loop.

  Use it as a context manager around training: inside, the signals are
  caught (outside, they act as before).
  """

  def __init__(self, signals: Sequence[int] = (signal.SIGTERM,),
               notice: Callable[[], bool] | None = None,
               poll_secs: float = 5.0):
    """Creates the flag (lowered).

    Args:
      signals: the signals that request a stop.
      notice: returns True once the machine announces that it will stop
        (polled every `poll_secs` in a thread); None: signals only.
      poll_secs: the pause between two calls of `notice`.
    """
    self.signals = tuple(signals)
    self.notice = notice
    self.poll_secs = poll_secs
    # Read inside compiled loops; a worker's flag is never lowered again.
    self.flag = tf.Variable(0.0, trainable=False, name='stop_requested')
    self.reason: str | None = None
    self.raised = threading.Event()
    self._closed = threading.Event()
    self._previous: dict[int, object] = {}
    self._previous_fd: int | None = None
    self._pipe: tuple[int, int] | None = None
    self._agree_fns: dict[int, Callable[[], tf.Tensor]] = {}

  def request(self, reason: str) -> None:
    """Raises the flag (from any thread)."""
    if self.raised.is_set():
      return
    self.reason = reason
    self.flag.assign(1.0)
    self.raised.set()
    logging.warning('Stop requested (%s): saving at the next step.', reason)

  def __enter__(self) -> 'StopRequest':
    if threading.current_thread() is not threading.main_thread():
      logging.warning('Not in the main thread: SIGTERM is not caught, a '
                      'preemption loses the steps since the last checkpoint.')
    else:
      read_fd, write_fd = os.pipe()
      os.set_blocking(write_fd, False)
      self._pipe = (read_fd, write_fd)
      for signum in self.signals:
        self._previous[signum] = signal.signal(signum, self._on_signal)
      self._previous_fd = signal.set_wakeup_fd(write_fd,
                                               warn_on_full_buffer=False)
      threading.Thread(target=self._read_wakeups, args=(read_fd,),
                       daemon=True, name='stop_request_signals').start()
    if self.notice is not None:
      threading.Thread(target=self._poll_notice, daemon=True,
                       name='stop_request_notice').start()
    _INSTALLED.append(self)
    return self

  def __exit__(self, *exc_info) -> None:
    _INSTALLED.remove(self)
    self._closed.set()
    if self._pipe is None:
      return
    signal.set_wakeup_fd(self._previous_fd if self._previous_fd is not None
                         else -1)
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous.clear()
    # Closing the write end ends the reading thread, which closes the other.
    os.close(self._pipe[1])
    self._pipe = None

  def _on_signal(self, signum, frame) -> None:
    del frame  # Unused.
    self.request(signal.Signals(signum).name)

  def _read_wakeups(self, read_fd: int) -> None:
    try:
      while True:
        data = os.read(read_fd, 64)
        if not data:
          return
        for signum in data:
          if signum in self.signals:
            self.request(signal.Signals(signum).name)
    finally:
      os.close(read_fd)

  def _poll_notice(self) -> None:
    while not self._closed.wait(self.poll_secs):
      try:
        if self.notice():
          self.request('maintenance notice')
          return
      except Exception as e:  # pylint: disable=broad-exception-caught
        # A notice that cannot be read is no notice; the SIGTERM remains.
        logging.warning('Could not read the maintenance notice: %s', e)
        return

  def in_loop(self, strategy: tf.distribute.Strategy) -> tf.Tensor:
    """Inside a compiled loop: the flag of all workers (> 0: stop).

    With several workers it is summed over every replica (a collective), so
    all of them stop after the same step; one process (one device, several
    GPUs, a TPU) reads its own flag on the host.
    """
    flag = self.flag
    if not distribution.is_multi_worker(strategy):
      return flag.read_value()
    per_replica = strategy.run(lambda: tf.identity(flag))
    return strategy.reduce('SUM', per_replica, axis=None)

  def agreed(self, strategy: tf.distribute.Strategy) -> bool:
    """Whether any worker asked to stop (all workers must call it)."""
    if not distribution.is_multi_worker(strategy):
      return self.raised.is_set()
    key = id(strategy)
    if key not in self._agree_fns:
      self._agree_fns[key] = tf.function(lambda: self.in_loop(strategy))
    return bool(self._agree_fns[key]() > 0)


def wait_until_requested(timeout_secs: float = 10.0) -> bool:
  """Waits until the innermost installed request is raised (for tests).

  Returns:
    Whether it was raised in time; False when none is installed.
  """
  if not _INSTALLED:
    return False
  return _INSTALLED[-1].raised.wait(timeout_secs)


def tpu_maintenance_notice(strategy: tf.distribute.Strategy
                           ) -> Callable[[], bool] | None:
  """The maintenance-event check of a Cloud TPU VM, or None elsewhere.

  Uses TensorFlow's own reader of the GCE metadata server (the one its
  `PreemptionCheckpointHandler` polls); None when the strategy is not a
  TPU strategy or the reader is not available in this TensorFlow.
  """
  if not isinstance(strategy, tf.distribute.TPUStrategy):
    return None
  try:
    # pylint: disable-next=g-import-not-at-top
    from tensorflow.python.distribute.failure_handling import (
      failure_handling_util,
    )
    if (failure_handling_util.detect_platform() !=
        failure_handling_util.PlatformDevice.GCE_TPU):
      return None
    return failure_handling_util.termination_watcher_function_gce
  except (ImportError, AttributeError):
    return None

