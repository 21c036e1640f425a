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

"""Named points where a test makes the process signal itself.

A kill test that polls the working directory from outside misses short
windows (a checkpoint save, an export) and then quietly tests an ordinary
kill. Instead, the code calls `reached(point)` at a few named points, and
when the environment variable `REVISITING_SSL_KILL_AT` names that point,
the process sends itself the signal there, deterministically:

    REVISITING_SSL_KILL_AT=<point>:<n>:<KILL|TERM>

signals at the n-th time (from 1) that this process reaches `point`, after
printing `Kill point <point> #<n>: SIG<name>` to stderr, so a test can
assert where its kill landed. Without the variable, `reached` does nothing.

The points (`POINTS`):

* `train_loop`: after a loop of `--iterations_per_loop` training steps.
* `checkpoint_written`: inside a checkpoint save, after its files are
  written and before the checkpoint is listed as the latest.
* `evaluation_batch`: after a batch of an evaluation.
* `export_written`: inside an export, after the modules are written and
  before the export is committed.
"""

import os
import signal
import sys
import time

from revisiting_ssl.training import preemption

ENV_VAR = 'REVISITING_SSL_KILL_AT'
POINTS = ('train_loop', 'checkpoint_written', 'evaluation_batch',
          'export_written')
_SIGNALS = {'KILL': signal.SIGKILL, 'TERM': signal.SIGTERM}

_counts: dict[str, int] = {}


def parse(spec: str) -> tuple[str, int, int]:
  """`<point>:<n>:<signal>` -> (point, n, signal number).

  Raises:
    ValueError: naming what is wrong with `spec`.
  """
  parts = spec.split(':')
  if (len(parts) != 3 or parts[0] not in POINTS or not parts[1].isdigit()
      or int(parts[1]) < 1 or parts[2] not in _SIGNALS):
    raise ValueError(
        f'{ENV_VAR}={spec!r}: want <point>:<n>:<signal> with a point of '
        f'{", ".join(POINTS)}, n >= 1 and a signal of '
        f'{", ".join(_SIGNALS)}.')
  return parts[0], int(parts[1]), _SIGNALS[parts[2]]


def reached(point: str) -> None:
  """Signals this process if `REVISITING_SSL_KILL_AT` names this moment."""
  spec = os.environ.get(ENV_VAR)
  if not spec:
    return
  name, n, signum = parse(spec)
  if name != point:
    return
  _counts[point] = _counts.get(point, 0) + 1
  if _counts[point] != n:
    return
  print(f'Kill point {point} #{n}: {signal.Signals(signum).name}',
        file=sys.stderr, flush=True)
  os.kill(os.getpid(), signum)
  if signum == signal.SIGKILL:
    time.sleep(60)  # Never reached: the process is gone.
  # A caught SIGTERM raises the stop flag from a thread; wait for it, so
  # the stop lands at the next step boundary, not one later.
  preemption.wait_until_requested()


def reset() -> None:
  """Forgets the counts (for tests that run several jobs in one process)."""
  _counts.clear()
