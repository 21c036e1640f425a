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

"""The demo's path, shortened to a few steps on tiny data."""

import os
import subprocess
import sys

from conftest import REPO
import pytest
from testdata import write_fashion_mnist

from revisiting_ssl.tools import demo_report


def test_report_table_orders_end_points_and_marks_the_best():
  table = demo_report.format_table({
      'rotation': {'block1': 0.5, 'after_root': 0.25, 'pre_logits': 0.75},
      'random init': {'block1': 0.5, 'after_root': 0.5},
  })
  lines = table.splitlines()
  assert [line.split()[0] for line in lines[1:]] == [
      'after_root', 'block1', 'pre_logits', 'best']
  assert lines[-1].split()[1:] == ['75.0%', '50.0%']
  assert lines[3].split()[-1] == '-'


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path):
  data_dir = write_fashion_mnist(str(tmp_path / 'data'), 64, 40)
  workdir = tmp_path / 'demo'
  # The tiny files have no 50,000-image train split: train on trainval.
  env = dict(
      os.environ, TF_CPP_MIN_LOG_LEVEL='2', DEMO_WORKDIR=str(workdir),
      DEMO_DATA_DIR=data_dir, PYTHON=sys.executable,
      PRETRAIN_ARGS=('--train_split trainval --epochs 1 --decay_epochs 1 '
                     '--warmup_epochs 0 --iterations_per_loop 2 '
                     '--batch_size 16'),
      EVAL_ARGS=('--epochs 2 --decay_epochs 2 --batch_size 16 '
                 '--eval_batch_size 16 --iterations_per_loop 4'))
  env.pop('TPU_NAME', None)
  proc = subprocess.run(['bash', str(REPO / 'tools' / 'demo.sh')],
                        capture_output=True, text=True, env=env,
                        timeout=900, cwd=str(REPO))
  assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
  out = proc.stdout
  assert 'rotation' in out and 'random init' in out
  report = out[out.index('Linear evaluation on Fashion-MNIST'):]
  table = report.splitlines()[1:]
  table = table[:[line.split()[:1] for line in table].index(['best']) + 1]
  rows = {line.split()[0]: line.split()[1:] for line in table[1:]}
  assert {'block1', 'block4', 'pre_logits', 'best'} <= set(rows)
  assert all(len(v) == 2 for v in rows.values())
  assert 'tensorboard --logdir' in out
  modules = list((workdir / 'rotation' / 'export' / 'hub').glob('*/module'))
  assert len(modules) == 1
  assert (workdir / 'linear_eval_random_init' /
          'linear_eval_results.csv').exists()
