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

"""What the accuracy benchmarks share: stages, seed statistics, versions.

`fashion_mnist.py` (the paper's comparison) and `s4l_fashion_mnist.py`
(S4L and its baselines) start every training run as a subprocess, remember
what each stage cost beside its outputs so that a second invocation skips
finished stages, and report means and standard deviations over seeds with
one rule for calling a difference a difference (`compare`). A workdir's
checkpoints and exports are too big to keep and go with the machine; a
`Ledger` keeps each finished stage's numbers in a small file beside the
report, meant to be committed, so that a benchmark longer than one machine's
life resumes on the next.
"""

from collections.abc import Callable, Sequence
import fcntl
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd: Sequence[str], log_path: str,
        progress: Callable[[float], None] | None = None,
        every: float = 60.0) -> float:
  """Runs a command, appending its output to a log; returns seconds taken.

  Exits the driver with the log's path when the command fails, so that a
  broken stage is never recorded as done.

  Args:
    cmd: the command.
    log_path: the log its output goes to.
    progress: called with the seconds so far every `every` seconds while
      the command runs.
    every: seconds between calls of `progress`.
  """
  start = time.time()
  print('$ ' + ' '.join(cmd), flush=True)

  def stop(signum, frame):
    del frame
    raise SystemExit(f'Stopped by signal {signum} while running: '
                     + ' '.join(cmd))

  # `kill <driver>` ends the driver by an exception too (Python's default
  # for SIGTERM is to end at once, without cleaning up).
  previous = signal.signal(signal.SIGTERM, stop)
  with open(log_path, 'a') as log:
    log.write('$ ' + ' '.join(cmd) + '\n')
    log.flush()
    # Its own session, so that stopping it reaches what it started: a config
    # script's Python runs as a child of its bash.
    proc = subprocess.Popen(list(cmd), cwd=REPO, stdout=log, stderr=log,
                            start_new_session=True)
    try:
      while True:
        try:
          proc.wait(timeout=every)
          break
        except subprocess.TimeoutExpired:
          if progress:
            progress(time.time() - start)
    except BaseException:
      # As subprocess.run does: a driver that stops (Ctrl-C, `kill`, a full
      # disk under `progress`) leaves no stage running on without it.
      stop_session(proc)
      raise
    finally:
      signal.signal(signal.SIGTERM, previous)
  if proc.returncode:
    sys.exit(f'Failed ({proc.returncode}); see {log_path}')
  return time.time() - start


def stop_session(proc: subprocess.Popen, grace: float = 30.0) -> None:
  """Stops a command started in its own session, and all it started.

  SIGTERM first, so that a training run saves its step (it exits after a
  checkpoint, as on a preemption) and resumes there; SIGKILL for whatever
  is left after `grace` seconds.
  """
  try:
    os.killpg(proc.pid, signal.SIGTERM)
  except ProcessLookupError:
    proc.wait()
    return
  deadline = time.time() + grace
  while time.time() < deadline:
    proc.poll()  # Reaps the leader, whose zombie would keep the group.
    try:
      os.killpg(proc.pid, 0)
    except ProcessLookupError:
      break
    time.sleep(0.1)
  else:
    try:
      os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
      pass
  proc.wait()


class StageTimes:
  """Wall seconds per stage name, kept in `<directory>/times.json`.

  A stage stopped before it finished (its driver killed, its machine's
  session over) resumes from its checkpoints when run again: while a stage
  runs, the seconds so far are kept under `<name> (unfinished)`, and a
  second run of it counts them too.
  """

  UNFINISHED = ' (unfinished)'
  LOST = ' (lost with its machine)'

  def __init__(self, directory: str):
    self.path = os.path.join(directory, 'times.json')

  def read(self) -> dict[str, float]:
    """Finished stages' seconds (without the unfinished ones')."""
    return {k: v for k, v in self._read().items()
            if not k.endswith(self.UNFINISHED)}

  def _read(self) -> dict[str, float]:
    if os.path.exists(self.path):
      with open(self.path) as f:
        return json.load(f)
    return {}

  def _write(self, times: dict[str, float]) -> None:
    os.makedirs(os.path.dirname(self.path), exist_ok=True)
    # Through a temporary file: a driver killed mid-write keeps the last.
    with open(self.path + '.tmp', 'w') as f:
      json.dump(times, f)
    os.replace(self.path + '.tmp', self.path)

  def keep_lost(self, earlier: dict[str, float], name: str) -> None:
    """Keeps counting a run of `name` whose output went with its machine.

    Called before `name` runs again: its earlier seconds (the ledger's, from
    before the directory went) are kept under `<name> (lost with its
    machine)`, added to any earlier loss, so that costs count every run.

    Args:
      earlier: the stage's seconds in the ledger.
      name: the stage about to run again.
    """
    if name in earlier:
      lost = name + self.LOST
      self.record(lost, earlier[name] + earlier.get(lost, 0.0))

  def record(self, name: str, seconds: float) -> None:
    times = self._read()
    times.pop(name + self.UNFINISHED, None)
    times[name] = seconds
    self._write(times)

  def run(self, name: str, cmd: Sequence[str], log_path: str) -> float:
    """Runs a stage's command (`run`) and records its seconds.

    Returns:
      The stage's seconds: this run's and those of earlier unfinished runs.
    """
    unfinished = name + self.UNFINISHED
    earlier = self._read().get(unfinished, 0.0)

    def progress(seconds: float) -> None:
      self._write({**self._read(), unfinished: earlier + seconds})

    seconds = earlier + run(cmd, log_path, progress)
    self.record(name, seconds)
    return seconds

  def minutes(self) -> float:
    return sum(self.read().values()) / 60


class Ledger:
  """Finished stages' numbers by key, in one JSON file that outlives workdirs.

  Every `put` rewrites the file (through a temporary file, so that a driver
  killed mid-write leaves the previous version), keys sorted so that
  commits of it diff line by line. Drivers may share one ledger while they
  run side by side (e.g. one per label fraction): a `put` holds a lock
  (`<path>.lock`), reads the file again and changes only its own key's
  fields, so no driver's write drops another's.
  """

  def __init__(self, path: str):
    self.path = path
    self.entries = self._read()

  def _read(self) -> dict:
    if os.path.exists(self.path):
      with open(self.path) as f:
        return json.load(f)
    return {}

  @staticmethod
  def add_flag(parser, name: str) -> None:
    """`--ledger`, defaulting to `benchmarks/<name>_ledger.json`."""
    parser.add_argument(
        '--ledger', default=os.path.join(REPO, 'benchmarks',
                                         f'{name}_ledger.json'),
        help="JSON file of the finished stages' numbers, kept when the "
        'workdir is not (commit it); drivers running side by side may '
        'share it.')

  def get(self, key: str) -> dict:
    return self.entries.get(key, {})

  def seconds(self, key: str, times: StageTimes) -> dict[str, float]:
    """Stage -> wall seconds: the ledger's, updated by the workdir's."""
    return {**self.get(key).get('times', {}), **times.read()}

  def put(self, key: str, **fields) -> None:
    """Sets `fields` of `key` in the file as it is now (other keys kept)."""
    os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
    with open(self.path + '.lock', 'a') as lock:
      fcntl.flock(lock, fcntl.LOCK_EX)  # Released when the file closes.
      self.entries = self._read()
      self.entries.setdefault(key, {}).update(fields)
      with open(self.path + '.tmp', 'w') as f:
        json.dump(self.entries, f, indent=1, sort_keys=True)
        f.write('\n')
      os.replace(self.path + '.tmp', self.path)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
  """Mean and sample standard deviation (0 for a single value)."""
  return statistics.mean(values), (statistics.stdev(values)
                                   if len(values) > 1 else 0.0)


def compare(ours: Sequence[float], base: Sequence[float]) -> int:
  """+1 / -1 when `ours` is above / below `base` beyond the seeds' spread.

  The rule of every report: the difference of the means must exceed the
  larger of the two standard deviations; otherwise 0 (within the spread).
  """
  gain = statistics.mean(ours) - statistics.mean(base)
  spread = max(mean_std(ours)[1], mean_std(base)[1])
  if abs(gain) <= spread:
    return 0
  return 1 if gain > 0 else -1


def paired_test(ours: Sequence[float], base: Sequence[float]) -> str:
  """', paired t-test p = ...' (two-sided), or '' without SciPy."""
  try:
    from scipy import stats  # noqa: PLC0415  (the probe and test extras)
  except ImportError:
    return ''
  return f' (paired t-test, two-sided p = {stats.ttest_rel(ours, base)[1]:.2f})'


def versions() -> str:
  """The version line of a report (Python, TensorFlow, Keras, the CPU)."""
  # The drivers only start subprocesses; TensorFlow is imported for this
  # line alone.
  import keras  # noqa: PLC0415
  import tensorflow as tf  # noqa: PLC0415

  from revisiting_ssl import utils  # noqa: PLC0415
  return (f'Python {platform.python_version()}, TensorFlow {tf.__version__}, '
          f'Keras {keras.__version__}; {utils.cpu_description()}.')
