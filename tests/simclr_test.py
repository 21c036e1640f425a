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

"""SimCLR's loss, heads and options, and SimCLRv2's recipe end to end.

The registry-driven tests of `tasks_test.py` (a training step under XLA,
the export) and `virtual_replicas_test.py` cover the three tasks too.
"""

import os

import numpy as np
import pytest
import tasks_test
import tensorflow as tf
import testdata
from testdata import mirrored_strategy

from revisiting_ssl import api, utils
from revisiting_ssl.self_supervision import simclr, simclrv2
from revisiting_ssl.training import hub_export


@pytest.fixture
def builds():
  """The stand-in trunks the test's tasks built (`tasks_test.make_task`)."""
  tasks_test.BUILDS.clear()
  return tasks_test.BUILDS


@pytest.fixture(scope='module')
def teacher(tmp_path_factory):
  """A hub module whose `default` output is 3 class logits (16x16 input)."""
  net = tasks_test.TinyNet(3)
  net(tf.zeros([1, 16, 16, 3]))
  return hub_export.export_hub_module(
      net, {'net': net}, str(tmp_path_factory.mktemp('teacher') / 'module'),
      [None, 16, 16, 3])


def reference_nt_xent(z_a, z_b, temperature):
  """The paper's loss, written out: the mean over all 2N anchors."""
  views = []
  for a, b in zip(z_a, z_b):
    views += [a / np.linalg.norm(a), b / np.linalg.norm(b)]
  losses = []
  for i, anchor in enumerate(views):
    partner = i + 1 if i % 2 == 0 else i - 1
    positive = np.exp(anchor @ views[partner] / temperature)
    others = sum(np.exp(anchor @ views[k] / temperature)
                 for k in range(len(views)) if k != i)
    losses.append(-np.log(positive / others))
  return np.mean(losses)


@pytest.mark.parametrize('temperature', [0.1, 0.5, 1.0])
def test_nt_xent_matches_the_enumerated_loss(temperature):
  rng = np.random.default_rng(int(temperature * 10))
  z_a, z_b = rng.normal(size=(2, 5, 4))
  loss, metrics = simclr.nt_xent(tf.constant(z_a), tf.constant(z_b),
                                 temperature)
  # Twice the paper's mean: the original code's sum of two directions.
  np.testing.assert_allclose(float(loss),
                             2 * reference_nt_xent(z_a, z_b, temperature),
                             rtol=1e-5)
  hits, count = (float(x) for x in metrics['contrast_accuracy'])
  assert count == 10 and 0 <= hits <= 10


def test_nt_xent_finds_partners_and_ignores_padding():
  rng = np.random.default_rng(0)
  z = rng.normal(size=(4, 8))
  noisy = z + 0.01 * rng.normal(size=z.shape)
  loss, metrics = simclr.nt_xent(tf.constant(z), tf.constant(noisy), 0.1)
  assert [float(x) for x in metrics['contrast_accuracy']] == [8.0, 8.0]
  # A padded image is neither an anchor nor a candidate.
  junk = rng.normal(size=(1, 8))
  padded, padded_metrics = simclr.nt_xent(
      tf.constant(np.concatenate([z, junk])),
      tf.constant(np.concatenate([noisy, -junk])), 0.1,
      mask=tf.constant([1.0, 1.0, 1.0, 1.0, 0.0]))
  np.testing.assert_allclose(float(padded), float(loss), atol=1e-6)
  assert float(padded_metrics['contrast_accuracy'][1]) == 8.0


def test_nt_xent_on_two_replicas_equals_one_replica_on_the_batch():
  """Negatives come from every replica, and so do the gradients."""
  rng = np.random.default_rng(3)
  x_a, x_b = (tf.constant(v, tf.float32) for v in rng.normal(size=(2, 6, 5)))
  start = rng.normal(size=(5, 4)).astype(np.float32)

  def loss_fn(weights, x_a, x_b):
    return simclr.nt_xent(x_a @ weights, x_b @ weights, 0.2)[0]

  weights = tf.Variable(start)
  with tf.GradientTape() as tape:
    whole = loss_fn(weights, x_a, x_b)
  whole_grad = tape.gradient(whole, weights)

  strategy = mirrored_strategy(['/cpu:0', '/cpu:1'])
  with strategy.scope():
    shared = tf.Variable(start)
  halves = strategy.experimental_distribute_values_from_function(
      lambda ctx: [tf.split(x, 2)[ctx.replica_id_in_sync_group]
                   for x in (x_a, x_b)])

  @tf.function
  def step(halves):
    def replica(halves):
      with tf.GradientTape() as tape:
        # The trainer's mean over replicas.
        loss = loss_fn(shared, *halves) / 2
      return loss, tape.gradient(loss, shared)
    loss, grad = strategy.run(replica, args=(halves,))
    return (strategy.reduce('SUM', loss, None),
            strategy.reduce('SUM', grad, None))

  loss, grad = step(halves)
  np.testing.assert_allclose(float(loss), float(whole), rtol=1e-5)
  np.testing.assert_allclose(grad, whole_grad, rtol=1e-4, atol=1e-6)
  # Each replica on its own half alone is another loss.
  alone = np.mean([float(loss_fn(weights, a, b)) for a, b in
                   zip(tf.split(x_a, 2), tf.split(x_b, 2))])
  assert abs(alone - float(whole)) > 1e-3


def test_projection_head_layers():
  head = simclr.ProjectionHead(3, 6, 4, weight_decay=1e-4,
                               synchronized=False)
  outputs = head(tf.random.normal([5, 10]), training=True)
  assert [o.shape[-1] for o in outputs] == [10, 6, 6, 4]
  # Hidden layers end with a ReLU and have an offset; the last has neither.
  assert all(float(tf.reduce_min(o)) >= 0 for o in outputs[1:3])
  assert float(tf.reduce_min(outputs[3])) < 0
  assert head.norm_0.center and not head.norm_2.center
  names = sorted(v.path for v in head.trainable_variables)
  assert not any('bias' in n for n in names)
  assert len(head.losses) == 3  # The three kernels' decay.
  # Fine-tuning keeps the first layers, built and named alike.
  kept = simclr.ProjectionHead(3, 6, 4, weight_decay=1e-4,
                               synchronized=False, keep=1)
  kept(tf.zeros([1, 10]))
  assert sorted(v.path for v in kept.variables) == sorted(
      v.path for v in head.variables if v.path.split('/')[1] in (
          'dense_0', 'bn_0'))


def test_simclr_uses_global_batch_norm_unless_told(builds):
  tasks_test.make_task('simclr')
  assert builds[-1]['sync_batch_norm'] is True
  network = testdata.StandInNetwork(
      tasks_test.TinyNet, builds, sync_batch_norm=False)
  simclr.SimCLRTask(network=network)
  assert builds[-1]['sync_batch_norm'] is False


@pytest.mark.parametrize('kwargs, message', [
    ({'temperature': 0.0}, '--temperature must be positive'),
    ({'temperature': -1.0}, '--temperature must be positive'),
    ({'proj_head_layers': -1}, '--proj_head_layers'),
])
def test_simclr_rejects_bad_options(builds, kwargs, message):
  with pytest.raises(utils.UsageError, match=message):
    tasks_test.make_task('simclr', **kwargs)


def test_simclr_needs_two_views(builds):
  task = tasks_test.make_task('simclr')
  for shape in [(2, 16, 16, 3), (2, 1, 16, 16, 3), (2, 3, 16, 16, 3)]:
    batch = {'image': tf.zeros(shape), 'mask': tf.ones([2])}
    with pytest.raises(utils.UsageError, match=r'2 views.*views\(2\)'):
      task.compute(batch, training=True)


@pytest.mark.parametrize('selector, layers', [(4, 3), (-2, 3), (1, 0)])
def test_finetune_rejects_a_head_layer_that_does_not_exist(
    builds, selector, layers):
  with pytest.raises(utils.UsageError, match='names no layer'):
    tasks_test.make_task('simclr_finetune', num_classes=3,
                         ft_proj_selector=selector, proj_head_layers=layers)


@pytest.mark.parametrize('selector, width', [(0, 4), (1, 7), (2, 7),
                                             (-1, 5)])
def test_finetune_classifies_from_the_chosen_layer(builds, selector,
                                                   width):
  task = tasks_test.make_task(
      'simclr_finetune', num_classes=3, ft_proj_selector=selector,
      proj_head_layers=3, proj_head_width=7, proj_out_dim=5)
  logits, end_points = task.serve(tf.random.normal([2, 16, 16, 3]))
  assert logits.shape == (2, 3)
  assert task.classifier.kernel.shape == (width, 3)
  # Zero-initialised: every class equally likely at first.
  assert not np.any(logits.numpy())
  kept = sorted(k for k in end_points if k.startswith('proj_head_'))
  assert kept == [f'proj_head_{j}' for j in range(task.layers + 1)]


def test_distillation_loss_is_the_softened_cross_entropy():
  rng = np.random.default_rng(4)
  student, teacher = rng.normal(size=(2, 3, 5)).astype(np.float32)
  for tau in (1.0, 2.0):
    p_t = np.exp(teacher / tau)
    p_t /= p_t.sum(-1, keepdims=True)
    log_p_s = student / tau - np.log(np.exp(student / tau).sum(
        -1, keepdims=True))
    want = -(p_t * log_p_s).sum(-1)
    got = simclrv2.softened_cross_entropy(
        tf.constant(student), tf.constant(teacher), tau)
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize('kwargs, message', [
    ({'hub_module': None}, 'needs the fine-tuned teacher'),
    ({'distill_temperature': 0.0}, '--distill_temperature'),
    ({'distill_weight': 1.5}, '--distill_weight'),
])
def test_distill_rejects_bad_options(builds, teacher, kwargs,
                                     message):
  options = dict({'num_classes': 3, 'hub_module': teacher}, **kwargs)
  with pytest.raises(utils.UsageError, match=message):
    tasks_test.make_task('simclr_distill', **options)


def test_distill_teaches_the_teachers_predictions(builds, teacher):
  task = tasks_test.make_task('simclr_distill', num_classes=3,
                              hub_module=teacher)
  case = tasks_test.task_cases(teacher)['simclr_distill']
  task.initialize(case.batch)
  images = case.batch['unsup']['image']
  out = task.compute(case.batch, training=True)
  student = task.apply(images, None, training=True)['classes']
  want = simclrv2.softened_cross_entropy(
      student, task.teacher(images), 1.0)
  np.testing.assert_allclose(float(out.loss), float(tf.reduce_mean(want)),
                             rtol=1e-5)
  with pytest.raises(utils.UsageError, match='predicts 3 classes'):
    tasks_test.make_task('simclr_distill', num_classes=5,
                         hub_module=teacher).initialize(case.batch)


# -- The recipe, from the Python API -----------------------------------------


def _options(data_dir, workdir, **extra):
  return dict(
      dataset='fashion_mnist', dataset_dir=data_dir, train_split='trainval',
      val_split='test', architecture='vgg19', filters_factor=1,
      resize_size='32', batch_size=16, epochs=1, use_tpu=False,
      iterations_per_loop=3, serving_input_shape='None,32,32,3',
      workdir=workdir, **extra)


def test_the_recipe_runs_from_the_api(data_dir, tmp_path):
  """Pretrain, fine-tune from head layer 1, distil into a student."""
  pretrain = str(tmp_path / 'pretrain')
  result = api.train(**_options(
      data_dir, pretrain, task='simclr', proj_head_layers=3,
      proj_head_width=16, proj_out_dim=8, temperature=0.5, lr=0.3,
      lr_scaling='sqrt', optimizer='lars', lr_decay='cosine',
      preprocessing='0_to_1|views(2)|random_resized_crop|flip_lr|'
                    'color_jitter(0.5)|random_grayscale(0.2)'))
  assert np.isfinite(result['loss'])
  finetune = str(tmp_path / 'finetune')
  head = dict(proj_head_layers=3, proj_head_width=16, proj_out_dim=8)
  api.train(**_options(
      data_dir, finetune, task='simclr_finetune', ft_proj_selector=1,
      labels_per_class=2, lr=0.05, optimizer='lars',
      path_to_initial_ckpt=pretrain, **head,
      preprocessing='0_to_1|random_resized_crop|flip_lr'))
  module = api.export(**_options(
      data_dir, finetune, task='simclr_finetune', ft_proj_selector=1,
      labels_per_class=2, lr=0.05, optimizer='lars',
      preprocessing='0_to_1|resize', **head)
  )['module']
  assert os.path.isdir(module)
  result = api.train(**_options(
      data_dir, str(tmp_path / 'distill'), task='simclr_distill',
      hub_module=module, lr=0.05, labels_per_class=2,
      preprocessing='0_to_1|random_resized_crop|flip_lr',
      sup_preprocessing='0_to_1|resize'))
  assert np.isfinite(result['loss'])


@pytest.mark.parametrize('options, message', [
    ({'temperature': 0.0}, '--temperature must be positive'),
    ({'preprocessing': '0_to_1|views(1)|resize'}, '--num_views must be >= 2'),
    ({'preprocessing': '0_to_1|resize'}, 'needs 2 views'),
])
def test_bad_values_end_in_one_line_before_any_work(data_dir, tmp_path,
                                                    options, message):
  workdir = tmp_path / 'run'
  settings = dict(task='simclr', lr=0.1,
                  preprocessing='0_to_1|views(2)|resize')
  settings.update(options)
  with pytest.raises(utils.UsageError, match=message) as error:
    api.train(**_options(data_dir, str(workdir), **settings))
  assert '\n' not in str(error.value)
  assert not workdir.exists()


def test_finetune_head_layer_error_is_one_line(data_dir, tmp_path):
  with pytest.raises(utils.UsageError, match='names no layer') as error:
    api.train(**_options(
        data_dir, str(tmp_path / 'run'), task='simclr_finetune', lr=0.1,
        ft_proj_selector=4, proj_head_layers=3,
        preprocessing='0_to_1|resize'))
  assert '\n' not in str(error.value)

