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

"""The command line a person reads: help, version and quiet start-up."""

import os
import subprocess
import sys

from conftest import REPO

import revisiting_ssl
from revisiting_ssl import utils

TENSORFLOW_START_UP = ('absl::InitializeLog', 'oneDNN', 'cudart_stub')


def run(*args, **env):
  environment = {k: v for k, v in os.environ.items()
                 if k != 'TF_CPP_MIN_LOG_LEVEL'}
  environment.update(env)
  environment.pop('TPU_NAME', None)
  return subprocess.run([sys.executable, str(REPO / 'train_and_eval.py'),
                         *args], capture_output=True, text=True,
                        env=environment, timeout=300, cwd=str(REPO))


def test_help_is_grouped_quiet_and_exits_with_zero():
  proc = run('--help')
  assert proc.returncode == 0
  for heading in ('Job:', 'Hardware:', 'Data:', 'Labelled subset:',
                  'Optimisation:', 'Export:', 'Task jigsaw:',
                  'Network vgg19:', 'Preprocessing op to_gray:'):
    assert f'\n{heading}\n' in proc.stdout, heading
  assert '--workdir (required)' in proc.stdout
  assert not any(line in proc.stderr for line in TENSORFLOW_START_UP), (
      proc.stderr)


def test_tensorflow_start_up_lines_come_back_when_asked():
  proc = run('--version', TF_CPP_MIN_LOG_LEVEL='0')
  assert proc.stdout.split() == ['revisiting_ssl', revisiting_ssl.__version__]
  assert 'absl::InitializeLog' in proc.stderr


def test_a_mistake_is_one_line():
  proc = run('--task', 'nope', '--workdir', '/nonexistent/w')
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines() == [
      'Error: Missing required flag(s): --dataset, --batch_size, --lr, '
      '--preprocessing.']


def test_progress_lines_say_done_rate_and_time_left():
  now, lines = [0.0], []
  progress = utils.Progress('Encoding the train split', 1000, every=30.0,
                            clock=lambda: now[0], log=lines.append)
  now[0] = 10.0
  progress.update(100)  # Too soon for a line.
  now[0] = 40.0
  progress.update(300)
  now[0] = 50.0
  progress.update(100)
  unknown = utils.Progress('Pseudo-labelling', None, unit='images',
                           every=0.0, clock=lambda: now[0], log=lines.append)
  now[0] = 60.0
  unknown.update(5)
  progress.finish()
  assert lines == [
      'Encoding the train split: 400/1,000 examples (40%), 10.0/s, '
      '1m00s left',
      'Pseudo-labelling: 5 images, 0.5/s',
      'Encoding the train split: 500 examples in 1m00s (8.3/s).']
