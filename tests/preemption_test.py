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

Two logical CPU replicas in this process; the command line on one device
and on two localhost workers is tested in `reliability_test.py` (the
chaos test and the killed worker's).
"""

import os
import random
import signal
import threading

import numpy as np
import pytest
import tensorflow as tf
import testdata
from testdata import (
  NUM_TRAIN,
  checkpoint_steps,
  mirrored_strategy,
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
  seed = 20261206
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
