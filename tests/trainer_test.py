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

"""The trainer end to end: train, resume, evaluate, export, reload."""

import csv
import dataclasses
import json
import logging
import os
import re
import subprocess
import sys

from conftest import REPO
import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.util import event_pb2
import testdata
from testdata import (
  NUM_TEST,
  NUM_TRAIN,
  checkpoint_steps,
  free_port,
  mirrored_strategy,
  run_main,
  tiny_supervised_args,
)

from revisiting_ssl import datasets, models, preprocess
from revisiting_ssl import trainer as trainer_lib
from revisiting_ssl.self_supervision import self_supervision_lib
from revisiting_ssl.training import input_streams


def supervised_args(data_dir, workdir, *extra):
  # ResNet-50 as the shipped configs train it; evaluation batches of 12
  # leave a padded last batch of the 40 test images.
  return tiny_supervised_args(
      data_dir, workdir, '--eval_batch_size', '12', *extra,
      architecture='resnet50', save_checkpoints_steps=2)


def logged_losses(stderr):
  return [float(x) for x in re.findall(r'step \d+/\d+ loss ([-\d.naninf]+)',
                                       stderr)]


@pytest.mark.slow
def test_train_resume_eval_export_reload(data_dir, tmp_path):
  workdir = str(tmp_path / 'work')
  args = supervised_args(data_dir, workdir, '--epochs', '1')
  proc = run_main(args)
  # 96 images, batch 16: 6 steps, checkpoints every 2 steps.
  assert checkpoint_steps(workdir) == [2, 4, 6]
  assert len(logged_losses(proc.stderr)) == 3
  assert os.path.exists(os.path.join(workdir, 'TRAINING_IS_DONE'))
  config = json.load(open(os.path.join(workdir, 'config.json')))
  assert config['batch_size'] == 16 and config['task'] == 'supervised'
  assert any(f.startswith('events.out.tfevents') for f in os.listdir(workdir))

  # The same command again resumes and has nothing left to do.
  proc = run_main(args)
  assert 'Resumed from' in proc.stderr and '(step 6)' in proc.stderr
  assert logged_losses(proc.stderr) == []

  # A longer run continues from step 6 rather than from scratch.
  proc = run_main(supervised_args(data_dir, workdir, '--epochs', '2'))
  assert '(step 6)' in proc.stderr
  assert checkpoint_steps(workdir)[-1] == 12

  # Evaluation follows the checkpoints, sees every test image exactly once
  # (40 images in batches of 12: the last batch is padded and masked) and
  # exports a hub module per evaluated checkpoint.
  run_main(supervised_args(data_dir, workdir, '--epochs', '2', '--run_eval',
                           '--eval_timeout_secs', '5'))
  with open(os.path.join(workdir, 'eval_results.csv')) as f:
    rows = list(csv.DictReader(f))
  assert rows[-1]['step'] == '12'
  assert float(rows[-1]['num_examples']) == NUM_TEST
  for key in ('top1_accuracy_logits', 'top5_accuracy_logits'):
    assert 0.0 <= float(rows[-1][key]) <= 1.0, key
  # A cross-entropy: positive and finite (after twelve steps the moving
  # batch-norm statistics are still far from the batch ones, so its value
  # says little about the model).
  assert 0.0 < float(rows[-1]['loss']) and np.isfinite(
      float(rows[-1]['loss']))
  # ...which the record says.
  assert '12 updates' in rows[-1]['warning']
  exports = sorted(os.listdir(os.path.join(workdir, 'export', 'hub')))
  assert exports and all(e.isdigit() for e in exports)
  module_dir = os.path.join(workdir, 'export', 'hub', exports[-1], 'module')
  check_hub_module(module_dir)

  # After training, only the newest checkpoint was evaluated; with
  # --eval_every_checkpoint, every other kept one is, oldest first: the
  # curve (a checkpoint with a row is not evaluated again).
  assert [r['step'] for r in rows] == ['12']
  run_main(supervised_args(data_dir, workdir, '--epochs', '2', '--run_eval',
                           '--eval_timeout_secs', '5',
                           '--eval_every_checkpoint'))
  with open(os.path.join(workdir, 'eval_results.csv')) as f:
    again = list(csv.DictReader(f))[len(rows):]
  kept = checkpoint_steps(workdir)
  assert len(kept) > 1
  assert kept[-1] == 12
  assert [int(r['step']) for r in again] == kept[:-1]


def check_hub_module(module_dir):
  """Loads an export with hub.load and inside a tf-keras model."""
  import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
  import tf_keras  # pylint: disable=g-import-not-at-top

  module = hub.load(module_dir)
  assert set(module.signatures) >= {'default', 'representation'}
  images = tf.random.uniform([3, 32, 32, 3], -1, 1)
  reps = module.signatures['representation'](image=images)
  assert set(reps) >= {'after_root', 'block1', 'block2', 'block3', 'block4',
                       'pre_logits', 'logits'}
  assert reps['pre_logits'].shape == (3, 512)
  default = module.signatures['default'](image=images)['default']
  np.testing.assert_allclose(default.numpy(), reps['logits'].numpy(),
                             rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(module(images, training=False).numpy(),
                             default.numpy(), rtol=1e-5, atol=1e-5)
  assert module.variables and module.trainable_variables
  assert module.regularization_losses

  # The representation as a frozen feature extractor in a tf-keras model.
  features = hub.KerasLayer(module_dir, signature='representation',
                            output_key='pre_logits',
                            signature_outputs_as_dict=False)
  model = tf_keras.Sequential([
      tf_keras.layers.InputLayer(input_shape=(32, 32, 3)), features,
      tf_keras.layers.Dense(10)])
  model.compile('sgd', tf_keras.losses.SparseCategoricalCrossentropy(
      from_logits=True))
  before = [w.numpy() for w in model.layers[-1].weights]
  model.fit(images, np.array([0, 1, 2]), epochs=1, verbose=0)
  after = [w.numpy() for w in model.layers[-1].weights]
  assert any(not np.allclose(a, b) for a, b in zip(after, before))

  # Fine-tuning through __call__ picks up the weight-decay penalty.
  tuned = hub.KerasLayer(module_dir, trainable=True)
  model = tf_keras.Sequential([
      tf_keras.layers.InputLayer(input_shape=(32, 32, 3)), tuned])
  model(images)
  assert model.losses and float(tf.add_n(model.losses)) > 0


@pytest.mark.slow
def test_same_seed_gives_the_same_run(data_dir, tmp_path):
  runs = []
  for name in ('a', 'b'):
    workdir = str(tmp_path / name)
    proc = run_main(supervised_args(
        data_dir, workdir, '--epochs', '1', '--random_seed', '7',
        '--preprocessing', 'resize,flip_lr,-1_to_1'))
    reader = tf.train.load_checkpoint(workdir)
    weights = {n: reader.get_tensor(n)
               for n, _ in tf.train.list_variables(workdir)
               if 'net' in n and 'OPTIMIZER' not in n}
    runs.append((logged_losses(proc.stderr), weights))
  assert runs[0][0] == runs[1][0]
  assert runs[0][1].keys() == runs[1][1].keys()
  for name, value in runs[0][1].items():
    np.testing.assert_array_equal(value, runs[1][1][name], err_msg=name)


def make_trainer(data_dir, workdir, strategy, architecture='resnet50',
                 sync_batch_norm=True, virtual_replicas=1):
  config = trainer_lib.TrainerConfig(
      workdir=workdir, train_split='trainval', val_split='test',
      batch_size=16, eval_batch_size=8, epochs=1, lr=0.001,
      lr_scale_batch_size=None, decay_epochs=None, warmup_epochs=0,
      lr_decay_factor=0.1, optimizer='sgd', iterations_per_loop=3,
      jit_compile=False, keep_checkpoint_max=5,
      keep_checkpoint_every_n_hours=0, save_checkpoints_secs=None,
      save_checkpoints_steps=None, random_seed=3,
      serving_input_shape=(None, 32, 32, 3), summary_images=0,
      virtual_replicas=virtual_replicas)
  task_cls = self_supervision_lib.get_task_class('supervised')
  return trainer_lib.Trainer(
      config,
      task_factory=lambda: task_cls(
          num_classes=10, network=models.Network(
              architecture, filters_factor=1,
              sync_batch_norm=sync_batch_norm)),
      data_source=datasets.get_dataset('fashion_mnist', data_dir),
      strategy=strategy,
      streams=testdata.sup_stream('resize,-1_to_1', resize_size='32'))


def test_evaluations_warn_of_unsettled_batch_norm(data_dir, tmp_path,
                                                  caplog):
  """A short run's evaluation says its statistics are not settled yet."""
  workdir = str(tmp_path / 'work')
  trainer = make_trainer(data_dir, workdir, tf.distribute.get_strategy(),
                         'vgg19', sync_batch_norm=False)
  trainer.build()

  def record(step):
    trainer.optimizer.iterations.assign(step)
    with caplog.at_level(logging.WARNING, logger='absl'):
      trainer.record_evaluation({'loss': 1.0}, split='test',
                                checkpoint=f'ckpt-{step}')

  # VGG-19's batch norm has momentum 0.99: 459 updates settle it.
  record(157)
  record(459)
  # A warm start took the statistics from a trained checkpoint.
  trainer.config = dataclasses.replace(
      trainer.config, path_to_initial_ckpt=str(tmp_path / 'initial'))
  record(10)
  with open(os.path.join(workdir, 'eval_results.csv')) as f:
    warnings = {row['step']: row['warning'] for row in csv.DictReader(f)}
  assert '157 updates' in warnings['157'] and '459' in warnings['157']
  assert warnings['459'] == warnings['10'] == ''
  logged = [r.getMessage() for r in caplog.records
            if 'moving statistics' in r.getMessage()]
  assert len(logged) == 1 and 'ckpt-157 (step 157)' in logged[0]


def test_input_images_show_what_the_network_sees(data_dir, tmp_path):
  """Rotation's summary shows the four rotations the device made."""
  config = trainer_lib.TrainerConfig(
      workdir=str(tmp_path), train_split='trainval', val_split='test',
      batch_size=4, epochs=1, lr=0.1, summary_images=2,
      serving_input_shape=(None, 32, 32, 3))
  pipeline = preprocess.build_pipeline(
      'resize,-1_to_1,rotate', device_ops=('rotate',), resize_size='32')
  # The host sends single images; `rotate` runs in the step.
  assert pipeline.device[True] is not None
  task_cls = self_supervision_lib.get_task_class('rotation')
  trainer = trainer_lib.Trainer(
      config, task_factory=lambda: task_cls(
          network=models.Network('vgg19', filters_factor=1)),
      data_source=datasets.get_dataset('fashion_mnist', data_dir),
      strategy=tf.distribute.get_strategy(),
      streams={'unsup': input_streams.InputStream(pipeline)})
  trainer.build()
  writer = trainer.summary_writer('summaries')
  trainer._write_input_images(  # pylint: disable=protected-access
      writer, trainer.distributed_dataset('trainval', training=True))
  writer.flush()
  (events,) = tf.io.gfile.glob(str(tmp_path / 'summaries' / 'events.*'))
  values = [v for record in tf.data.TFRecordDataset(events)
            for v in event_pb2.Event.FromString(record.numpy()).summary.value]
  (value,) = [v for v in values if v.tag == 'input/input']
  width, height, *pngs = tf.make_ndarray(value.tensor)
  assert (int(width), int(height)) == (4 * 32 + 3 * 2, 32)
  assert len(pngs) == 2
  for png in pngs:
    strip = tf.io.decode_png(png).numpy()
    assert strip.shape == (32, 134, 3)
    panels = [strip[:, 34 * k:34 * k + 32] for k in range(4)]
    assert panels[0].std() > 0
    for k in range(1, 4):
      np.testing.assert_array_equal(panels[k], np.rot90(panels[0], k))
    assert (strip[:, 32:34] == 0).all()



def rotation_trainer(data_dir, workdir, host_dtype=None):
  config = trainer_lib.TrainerConfig(
      workdir=workdir, train_split='trainval', val_split='test',
      batch_size=4, eval_batch_size=8, epochs=1, lr=0.01,
      iterations_per_loop=2, summary_images=0, host_dtype=host_dtype,
      serving_input_shape=(None, 32, 32, 3))
  pipeline = preprocess.build_pipeline(
      'resize,-1_to_1,rotate', device_ops=('rotate',), resize_size='32')
  task_cls = self_supervision_lib.get_task_class('rotation')
  return trainer_lib.Trainer(
      config, task_factory=lambda: task_cls(
          network=models.Network('vgg19', filters_factor=1)),
      data_source=datasets.get_dataset('fashion_mnist', data_dir),
      strategy=tf.distribute.get_strategy(),
      streams={'unsup': input_streams.InputStream(pipeline)})


@pytest.mark.parametrize('host_dtype,host_cast,want', [
    (None, True, tf.float32),
    ('bfloat16', True, tf.bfloat16),
    ('bfloat16', False, tf.float32),
])
def test_host_emits_the_configured_image_dtype(data_dir, tmp_path,
                                               monkeypatch, host_dtype,
                                               host_cast, want):
  """Training and evaluation images; labels and masks stay as they were."""
  task_cls = self_supervision_lib.get_task_class('rotation')
  monkeypatch.setattr(task_cls, 'host_cast', host_cast)
  trainer = rotation_trainer(data_dir, str(tmp_path), host_dtype)
  for training in (True, False):
    spec = trainer.distributed_dataset('trainval', training).element_spec
    assert spec['image'].dtype == want
    assert spec['label'].dtype == tf.int32
    if not training:
      assert spec['mask'].dtype == tf.float32


def test_mixed_precision_rotation_trains_and_evaluates(data_dir, tmp_path):
  """bfloat16 from the host: the device rotates it and the step runs."""
  previous = keras.mixed_precision.global_policy()
  keras.mixed_precision.set_global_policy('mixed_bfloat16')
  try:
    trainer = rotation_trainer(data_dir, str(tmp_path), 'bfloat16')
    trainer.build()
    loop = trainer.make_train_loop()
    iterator = iter(trainer.distributed_dataset('trainval', training=True))
    before = [v.numpy() for v in trainer.task.trainable_variables]
    loss, _, done, bad_step = loop(iterator, tf.constant(2))
    assert int(done) == 2 and int(bad_step) == -1
    assert np.isfinite(float(loss))
    assert any(not np.array_equal(b, v.numpy()) for b, v in
               zip(before, trainer.task.trainable_variables))
    metrics = trainer.evaluate('test')
    assert metrics['num_examples'] == NUM_TEST
    assert np.isfinite(metrics['loss'])
    # The input summary displays bfloat16 batches too.
    trainer.config = dataclasses.replace(trainer.config, summary_images=1)
    writer = trainer.summary_writer('summaries')
    trainer._write_input_images(  # pylint: disable=protected-access
        writer, trainer.distributed_dataset('trainval', training=True))
    writer.flush()
    (events,) = tf.io.gfile.glob(str(tmp_path / 'summaries' / 'events.*'))
    tags = {v.tag for record in tf.data.TFRecordDataset(events)
            for v in event_pb2.Event.FromString(record.numpy()).summary.value}
    assert 'input/input' in tags
  finally:
    keras.mixed_precision.set_global_policy(previous)

def test_two_replicas_match_one(data_dir, tmp_path):
  """Same global batch, synchronised batch norm: the same training run.

  VGG-19 (batch norm after every convolution, the cheapest network here to
  trace) at 32x32 pixels is numerically touchy (batch norm over 1x1 maps),
  so updates are compared relative to their size: float32 summation order
  alone moves them by a few percent, while per-replica statistics or summed
  instead of averaged gradients change the losses themselves.
  """
  one = make_trainer(data_dir, str(tmp_path / 'one'),
                     tf.distribute.get_strategy(), 'vgg19')
  two = make_trainer(data_dir, str(tmp_path / 'two'),
                     mirrored_strategy(['/cpu:0', '/cpu:1']), 'vgg19')
  assert two.num_replicas == 2
  one.build()
  two.build()
  for a, b in zip(one.task.net.weights, two.task.net.weights):
    b.assign(a.numpy())
  start = [w.numpy() for w in one.task.net.trainable_weights]
  losses = []
  for t in (one, two):
    loop = t.make_train_loop()
    iterator = iter(t.distributed_dataset('trainval', training=True))
    losses.append(float(loop(iterator, tf.constant(1))[0]))
  # Batch statistics over the global batch give the same forward pass.
  assert losses[1] == pytest.approx(losses[0], rel=1e-4)
  # The update is the mean gradient of the global batch: summed gradients
  # would double it, per-replica statistics would change its direction.
  update_one = np.concatenate([(w.numpy() - s).ravel() for w, s in zip(
      one.task.net.trainable_weights, start)])
  update_two = np.concatenate([(w.numpy() - s).ravel() for w, s in zip(
      two.task.net.trainable_weights, start)])
  relative = (np.linalg.norm(update_one - update_two) /
              np.linalg.norm(update_one))
  assert relative < 0.1
  assert one.step == two.step == 1
  # Evaluation is exact with both: every test image once.
  metrics = [t.evaluate() for t in (one, two)]
  assert metrics[0]['num_examples'] == metrics[1]['num_examples'] == NUM_TEST
  assert metrics[1]['loss'] == pytest.approx(metrics[0]['loss'], rel=2e-2)


def test_virtual_replicas_match_real_ones(data_dir, tmp_path):
  """Per-replica batch norm: one device with 2 virtual replicas is 2 real."""
  trainers = [
      make_trainer(data_dir, str(tmp_path / 'two'),
                   mirrored_strategy(['/cpu:0', '/cpu:1']), 'vgg19',
                   sync_batch_norm=False),
      make_trainer(data_dir, str(tmp_path / 'virtual'),
                   tf.distribute.get_strategy(), 'vgg19',
                   sync_batch_norm=False, virtual_replicas=2),
      make_trainer(data_dir, str(tmp_path / 'one'),
                   tf.distribute.get_strategy(), 'vgg19',
                   sync_batch_norm=False)]
  for t in trainers:
    t.build()
  for t in trainers[1:]:
    for a, b in zip(trainers[0].task.net.weights, t.task.net.weights):
      b.assign(a.numpy())
  losses = []
  for t in trainers:
    iterator = iter(t.distributed_dataset('trainval', training=True))
    losses.append(float(t.make_train_loop()(iterator, tf.constant(1))[0]))
  two, virtual, one = losses
  assert virtual == pytest.approx(two, rel=1e-4)
  # The statistics of one batch of 16 instead of two of 8 change the loss.
  assert abs(one - two) > 1e-3 * abs(two)


def test_checkpoints_hold_every_variable(data_dir, tmp_path):
  """Resuming restores all weights, batch-norm statistics and slots."""
  workdir = str(tmp_path / 'work')
  first = make_trainer(data_dir, workdir, tf.distribute.get_strategy())
  first.train()
  second = make_trainer(data_dir, workdir, tf.distribute.get_strategy())
  second.restore()
  assert second.step == first.step == NUM_TRAIN // 16
  pairs = list(zip(first.task.net.variables, second.task.net.variables))
  pairs += list(zip(first.optimizer.variables, second.optimizer.variables))
  assert len(pairs) == len(first.task.net.variables) + len(
      first.optimizer.variables)
  for a, b in pairs:
    np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
  moving = [v for v in second.task.net.variables if 'moving_mean' in v.path]
  assert moving and all(np.any(v.numpy() != 0) for v in moving)
  names = [n for n, _ in tf.train.list_variables(workdir)]
  assert sum(n.startswith('net') for n in names) == len(
      first.task.net.variables)


@pytest.mark.slow
def test_two_workers_on_localhost_train_together(data_dir, tmp_path):
  ports = [free_port(), free_port()]
  cluster = {'worker': [f'localhost:{p}' for p in ports]}
  workdir = str(tmp_path / 'work')
  procs = []
  for index in range(2):
    env = dict(os.environ)
    env['TF_CONFIG'] = json.dumps(
        {'cluster': cluster, 'task': {'type': 'worker', 'index': index}})
    env['TF_CPP_MIN_LOG_LEVEL'] = '2'
    procs.append(subprocess.Popen(
        [sys.executable, str(REPO / 'train_and_eval.py'),
         *supervised_args(data_dir, workdir, '--epochs', '1')],
        env=env, cwd=str(REPO), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True))
  outputs = []
  for proc in procs:
    try:
      _, err = proc.communicate(timeout=300)
    finally:
      proc.kill()
    outputs.append(err)
    assert proc.returncode == 0, err[-3000:]
  losses = [logged_losses(err) for err in outputs]
  assert losses[0] and losses[0] == losses[1]
  assert checkpoint_steps(workdir)[-1] == NUM_TRAIN // 16
  assert os.path.exists(os.path.join(workdir, 'TRAINING_IS_DONE'))
