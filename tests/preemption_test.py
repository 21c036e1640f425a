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

"""Preemption: a SIGTERM saves the step on every worker; resume is exact.

The single-device case through the command line is part of the chaos test
in `reliability_test.py`; here are two logical CPU replicas in this
process and two localhost workers in subprocesses.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading

from conftest import REPO
import numpy as np
import pytest
import tensorflow as tf
import testdata
from testdata import (
  NUM_TRAIN,
  checkpoint_steps,
  free_port,
  mirrored_strategy,
  tiny_supervised_args,
)

from revisiting_ssl import datasets, models
from revisiting_ssl import trainer as trainer_lib
from revisiting_ssl.self_supervision import self_supervision_lib
from revisiting_ssl.training import checkpointing, kill_points, preemption


def test_sigterm_raises_the_flag_and_the_handler_is_restored():
  before = signal.getsignal(signal.SIGTERM)
  stop = preemption.StopRequest()
  with stop:
    assert signal.getsignal(signal.SIGTERM) is not before
    os.kill(os.getpid(), signal.SIGTERM)
    assert stop.raised.wait(10)
  assert signal.getsignal(signal.SIGTERM) is before
  assert stop.reason == 'SIGTERM' and float(stop.flag.numpy()) == 1.0
  assert stop.agreed(tf.distribute.get_strategy())


def test_a_maintenance_notice_raises_the_flag():
  notices = iter([False, False, True])
  stop = preemption.StopRequest(notice=lambda: next(notices), poll_secs=0.01)
  with stop:
    assert stop.raised.wait(10)
  assert stop.reason == 'maintenance notice'
  # Off a TPU there is no notice to poll.
  assert preemption.tpu_maintenance_notice(
      tf.distribute.get_strategy()) is None


def test_the_flag_is_set_while_the_main_thread_is_busy():
  """The wake-up thread, not the main thread, sees the signal."""
  stop = preemption.StopRequest()
  with stop:
    busy = threading.Event()

    def send():
      busy.wait(10)
      os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=send).start()
    # A long TensorFlow op keeps the main thread out of Python meanwhile.
    busy.set()
    tf.linalg.matmul(tf.ones([1500, 1500]), tf.ones([1500, 1500])).numpy()
    assert stop.raised.wait(10)


@pytest.mark.parametrize('spec', ['train_loop:0:TERM', 'nowhere:1:KILL',
                                  'train_loop:1:HUP', 'train_loop:1'])
def test_bad_kill_point_specs_are_refused(spec):
  with pytest.raises(ValueError, match=kill_points.ENV_VAR):
    kill_points.parse(spec)


def make_trainer(data_dir, workdir, strategy):
  config = trainer_lib.TrainerConfig(
      workdir=workdir, train_split='trainval', val_split='test',
      batch_size=16, eval_batch_size=8, epochs=1.5, lr=0.05,
      iterations_per_loop=2, keep_checkpoint_max=10,
      keep_checkpoint_every_n_hours=0, save_checkpoints_secs=None,
      save_checkpoints_steps=4, random_seed=7,
      serving_input_shape=(None, 32, 32, 3), summary_images=0)
  task_cls = self_supervision_lib.get_task_class('supervised')
  return trainer_lib.Trainer(
      config,
      task_factory=lambda: task_cls(
          num_classes=10, network=models.Network('vgg19', filters_factor=1)),
      data_source=datasets.get_dataset('fashion_mnist', data_dir),
      strategy=strategy,
      streams=testdata.sup_stream('resize,flip_lr,-1_to_1',
                                  resize_size='32'))


def weights(trainer):
  return {name: v.numpy() for name, v in trainer.checkpoint_names.items()}


def test_two_replicas_stopped_twice_end_like_one_never_stopped(
    data_dir, tmp_path, monkeypatch):
  """SIGTERM at a seeded loop end, then a stop inside a loop, then the end.

  Under MirroredStrategy the input iterator cannot be saved: the resumed
  pipelines start at the position of the restored step.
  """
  strategy = mirrored_strategy(['/cpu:0', '/cpu:1'])
  total = 3 * NUM_TRAIN // 32
  reference = make_trainer(data_dir, str(tmp_path / 'reference'), strategy)
  reference.build()
  initial = weights(reference)
  reference.train()
  assert reference.step == total

  workdir = str(tmp_path / 'stopped')
  seed = random.randrange(1 << 30)
  loops = random.Random(seed).randint(1, 3)
  monkeypatch.setenv(kill_points.ENV_VAR, f'train_loop:{loops}:TERM')
  kill_points.reset()
  first = make_trainer(data_dir, workdir, strategy)
  first.build()
  for name, value in initial.items():
    first.checkpoint_names[name].assign(value)
  with pytest.raises(preemption.Preempted, match='SIGTERM') as stopped:
    first.train()
  # Saved at the step where the signal came: nothing lost, nothing extra.
  assert stopped.value.step == 2 * loops, seed
  assert checkpoint_steps(workdir)[-1] == 2 * loops
  assert not checkpointing.is_done(workdir)
  monkeypatch.delenv(kill_points.ENV_VAR)

  # The flag stays raised: run again, the same trainer restores the
  # checkpoint, builds a new iterator and stops inside its first loop,
  # after one step.
  with pytest.raises(preemption.Preempted):
    first.train()
  assert checkpoint_steps(workdir)[-1] == 2 * loops + 1

  last = make_trainer(data_dir, workdir, strategy)
  last.train()
  assert last.step == total and checkpointing.is_done(workdir)
  expected = weights(reference)
  actual = weights(last)
  for name, value in expected.items():
    np.testing.assert_array_equal(actual[name], value,
                                  err_msg=f'{name} (seed {seed})')


def start_worker(args, cluster, index, log, kill_at=None):
  env = dict(os.environ)
  env.pop('TPU_NAME', None)
  env['TF_CPP_MIN_LOG_LEVEL'] = '2'
  env['TF_CONFIG'] = json.dumps(
      {'cluster': cluster, 'task': {'type': 'worker', 'index': index}})
  if kill_at:
    env[kill_points.ENV_VAR] = kill_at
  with open(log, 'a') as f:
    return subprocess.Popen(
        [sys.executable, str(REPO / 'train_and_eval.py'), *args],
        stdout=subprocess.DEVNULL, stderr=f, env=env, cwd=str(REPO))


@pytest.mark.slow
def test_sigterm_to_one_worker_saves_on_both_and_both_resume(data_dir,
                                                             tmp_path):
  ports = [free_port(), free_port()]
  cluster = {'worker': [f'localhost:{p}' for p in ports]}
  workdir = str(tmp_path / 'work')
  total = 2 * NUM_TRAIN // 16
  args = tiny_supervised_args(data_dir, workdir, '--epochs', '2',
                              '--iterations_per_loop', '1',
                              '--random_seed', '3',
                              save_checkpoints_steps=6)
  seed = random.randrange(1 << 30)
  at_step = random.Random(seed).randint(1, 5)
  logs = [str(tmp_path / f'worker{i}.log') for i in range(2)]
  procs = [start_worker(args, cluster, 0, logs[0]),
           start_worker(args, cluster, 1, logs[1],
                        kill_at=f'train_loop:{at_step}:TERM')]
  try:
    codes = [p.wait(timeout=300) for p in procs]
  finally:
    for p in procs:
      p.kill()
  texts = [open(log).read() for log in logs]
  context = f'seed {seed}: {texts[0][-2000:]}\n{texts[1][-2000:]}'
  assert f'Kill point train_loop #{at_step}: SIGTERM' in texts[1], context
  assert codes == [preemption.PREEMPTED_EXIT_CODE] * 2, context
  for text in texts:
    assert 'Preempted: Preempted (' in text, context
  # Both stopped after the signalled worker's step and saved it together.
  assert checkpoint_steps(workdir)[-1] == at_step, context
  assert not checkpointing.is_done(workdir)

  procs = [start_worker(args, cluster, i, logs[i]) for i in range(2)]
  try:
    codes = [p.wait(timeout=300) for p in procs]
  finally:
    for p in procs:
      p.kill()
  texts = [open(log).read() for log in logs]
  assert codes == [0, 0], texts[0][-3000:]
  for text in texts:
    assert f'(step {at_step})' in text and 'Resumed from' in text, text[-3000:]
    # The first step after the resume is the next one: none lost or redone.
    resumed = text[text.index('Resumed from'):]
    assert re.search(rf'step {at_step + 1}/{total} ', resumed), resumed[-3000:]
  assert checkpoint_steps(workdir)[-1] == total
  assert checkpointing.is_done(workdir)
