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

"""VAT, EntMin, MOAM step 1 and the batch norm they need.

The adversarial direction is checked on a linear model, whose KL Hessian
is known in closed form: H = W^T (diag(p) - p p^T) W per example.
"""

import numpy as np
import pytest
import tensorflow as tf
import testdata

from revisiting_ssl import models, utils
from revisiting_ssl.models import layers as net_layers
from revisiting_ssl.self_supervision import self_supervision_lib as lib
from revisiting_ssl.self_supervision import vat


def _softmax(z):
  z = z - z.max(-1, keepdims=True)
  e = np.exp(z)
  return e / e.sum(-1, keepdims=True)


def test_kl_divergence_puts_the_perturbed_distribution_first():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(2, 4, 5))
  p, q = _softmax(a), _softmax(b)
  expected = (p * (np.log(p) - np.log(q))).sum(-1)
  np.testing.assert_allclose(vat.kl_from_logits(a, b), expected, rtol=1e-5)
  # Not symmetric: the other order is another number.
  assert not np.allclose(vat.kl_from_logits(b, a), expected, rtol=1e-2)
  entropy = -(p * np.log(p)).sum(-1)
  np.testing.assert_allclose(vat.entropy_from_logits(a), entropy, rtol=1e-5)


def test_normalize_is_exact_for_short_vectors():
  # The gradient at xi = 1e-6 is of that order; an epsilon of 1e-12 on the
  # squared norm (the original's) would leave this vector at norm 0.01.
  d = tf.constant(np.full([2, 2, 2, 1], 1e-8 / 2, np.float32))  # Norm 1e-8.
  norms = np.linalg.norm(vat.normalize(d).numpy().reshape(2, -1), axis=1)
  np.testing.assert_allclose(norms, 1.0, rtol=1e-6)
  short = tf.math.l2_normalize(d, axis=[1, 2, 3], epsilon=1e-12)
  assert np.linalg.norm(short.numpy()[0]) == pytest.approx(0.01, rel=1e-3)


def _fashion_mnist_like(seed):
  """32x32x3 images in [-1, 1] whose background (half) is exactly -1."""
  rng = np.random.default_rng(seed)
  x = rng.uniform(-1, 1, size=(4, 32, 32, 3)).astype(np.float32)
  x[:, :, :16] = -1.0
  return tf.constant(x)


def test_the_original_xi_mostly_rounds_away_in_float32():
  x = _fashion_mnist_like(0)
  noise = tf.random.stateless_normal(x.shape, [0, 1])
  unchanged = {}
  for xi in (vat.XI, 1e-3):
    d = xi * vat.normalize(noise)
    probe = (x + d) - x
    unchanged[xi] = float(tf.reduce_mean(tf.cast(probe == 0, tf.float32)))
    if xi != vat.XI:
      # The step taken is the step meant, to a percent on average.
      error = tf.abs(probe - d) / tf.abs(d)
      assert float(tf.reduce_mean(error)) < 0.01
  # S4L's step leaves most pixels as they were (x + d == x); 1e-3 almost
  # none (only where the Gaussian start is nearly 0).
  assert unchanged[vat.XI] > 0.7
  assert unchanged[1e-3] < 0.01


@pytest.mark.parametrize('task', ['vat', 'rotation_vat'])
def test_vat_xi_reaches_the_power_iteration(task):
  network = models.Network('vgg19', filters_factor=1)
  default = lib.get_task_class(task)(num_classes=5, network=network)
  assert default.vat.xi == vat.XI
  chosen = lib.get_task_class(task)(num_classes=5, network=network,
                                    vat_xi=1e-3)
  assert chosen.vat.xi == 1e-3
  x, _, net, logits, _ = _linear_problem(seed=5)
  seen = []

  def recording_net(inputs):
    seen.append(inputs)
    return net(inputs)

  chosen.vat(tf.constant(x), tf.constant(logits), recording_net)
  # The first pass is the power iteration's probe: norm xi per example.
  probe = (seen[0] - x).numpy().reshape(len(x), -1)
  np.testing.assert_allclose(np.linalg.norm(probe, axis=1), 1e-3, rtol=1e-2)


def _linear_problem(seed=0):
  rng = np.random.default_rng(seed)
  w = rng.normal(size=(6, 4)).astype(np.float32)
  x = rng.normal(size=(3, 3, 2, 1)).astype(np.float32)

  def net(inputs):
    return tf.matmul(tf.reshape(inputs, [-1, 6]), w)

  logits = net(tf.constant(x)).numpy()
  hessians = []
  for z in logits:
    p = _softmax(z)
    hessians.append(w @ (np.diag(p) - np.outer(p, p)) @ w.T)
  return x, w, net, logits, hessians


def test_one_power_iteration_is_the_hessian_times_the_noise():
  x, _, net, logits, hessians = _linear_problem()
  noise = np.random.default_rng(1).normal(size=x.shape).astype(np.float32)
  got = vat.adversarial_direction(tf.constant(x), tf.constant(logits), net,
                                  noise=tf.constant(noise), iterations=1,
                                  xi=1e-3).numpy().reshape(3, 6)
  for i, hessian in enumerate(hessians):
    expected = hessian @ noise[i].reshape(6)
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(got[i], expected, atol=2e-3)


def test_power_iterations_find_the_dominant_direction():
  x, _, net, logits, hessians = _linear_problem(seed=2)
  noise = np.random.default_rng(3).normal(size=x.shape).astype(np.float32)
  got = vat.adversarial_direction(tf.constant(x), tf.constant(logits), net,
                                  noise=tf.constant(noise), iterations=40,
                                  xi=1e-3).numpy().reshape(3, 6)
  for i, hessian in enumerate(hessians):
    values, vectors = np.linalg.eigh(hessian)
    top = vectors[:, np.argmax(values)]
    assert abs(float(got[i] @ top)) > 0.99
    assert np.linalg.norm(got[i]) == pytest.approx(1.0, abs=1e-5)


def test_vat_loss_perturbs_by_exactly_eps_and_holds_the_reference():
  x, _, net, logits, _ = _linear_problem(seed=4)
  seen = []

  def recording_net(inputs):
    seen.append(inputs)
    return net(inputs)

  draws = tf.Variable(0, dtype=tf.int64)
  loss = vat.VATLoss(vat_eps=2.5, iterations=1, seed=0, draws=draws)
  reference = tf.Variable(logits)
  with tf.GradientTape() as tape:
    loss_vat, loss_ent = loss(tf.constant(x), tf.convert_to_tensor(reference),
                              recording_net)
  perturbation = (seen[-1] - x).numpy().reshape(3, -1)
  np.testing.assert_allclose(np.linalg.norm(perturbation, axis=1), 2.5,
                             rtol=1e-5)
  expected = vat.kl_from_logits(net(seen[-1]), logits).numpy().mean()
  assert float(loss_vat) == pytest.approx(expected, rel=1e-5)
  # The reference logits get gradients from the entropy only.
  grad = tape.gradient(loss_vat, reference)
  assert grad is None or not np.any(grad.numpy())
  assert draws.numpy() == 1  # A fresh noise each call, checkpointed count.
  assert float(loss_ent) == pytest.approx(
      vat.entropy_from_logits(logits).numpy().mean(), rel=1e-5)


# -- Batch norm ---------------------------------------------------------------


@pytest.mark.parametrize('synchronized', [False, True])
def test_frozen_moving_statistics(synchronized):
  layer = net_layers.batch_norm('bn', synchronized=synchronized)
  x = tf.random.normal([8, 4, 4, 3], mean=2.0)
  layer(x, training=False)
  before = [v.numpy().copy() for v in (layer.moving_mean,
                                       layer.moving_variance)]
  with net_layers.frozen_moving_statistics():
    frozen = layer(x, training=True).numpy()
  after = [v.numpy() for v in (layer.moving_mean, layer.moving_variance)]
  for a, b in zip(before, after):
    np.testing.assert_array_equal(a, b)
  # It normalised with the batch's statistics (as training mode does).
  trained = layer(x, training=True).numpy()
  np.testing.assert_allclose(frozen, trained, atol=1e-4)
  assert not np.allclose(layer.moving_mean.numpy(), before[0])
  assert not net_layers.moving_statistics_frozen()


def test_cross_replica_batch_norm_equals_one_replica_on_the_whole_batch():
  x = np.random.default_rng(0).normal(2.0, 3.0, size=(8, 4, 4, 3)).astype(
      np.float32)
  single = net_layers.batch_norm('bn', synchronized=True)
  whole = single(tf.constant(x), training=True).numpy()
  strategy = testdata.mirrored_strategy(['/cpu:0', '/cpu:1'])
  with strategy.scope():
    layer = net_layers.batch_norm('bn', synchronized=True)
    layer.build(x.shape)

  halves = (x[:4], x[4:])
  inputs = strategy.experimental_distribute_values_from_function(
      lambda context: tf.constant(halves[context.replica_id_in_sync_group]))

  @tf.function
  def step(inputs):
    return strategy.run(lambda t: layer(t, training=True), args=(inputs,))

  out = np.concatenate([v.numpy() for v in
                        strategy.experimental_local_results(step(inputs))])
  np.testing.assert_allclose(out, whole, atol=1e-4)
  for ours, theirs in ((layer.moving_mean, single.moving_mean),
                       (layer.moving_variance, single.moving_variance)):
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5)


# -- The tasks --------------------------------------------------------------


def _streams(rng, rotated=False):
  shape = (2, 4, 32, 32, 3) if rotated else (2, 32, 32, 3)
  batch = {'image': tf.constant(rng.normal(size=shape), tf.float32),
           'mask': tf.ones([2])}
  if rotated:
    batch['label'] = tf.tile(tf.range(4)[None], [2, 1])
    return {'unsup': dict(batch),
            'sup': dict(batch, copy_label=tf.constant([1, 3]))}
  return {'unsup': dict(batch, label=tf.zeros([2], tf.int32)),
          'sup': dict(batch, label=tf.constant([1, 3]))}


def _moving(task):
  return [v.numpy().copy() for v in task.net.variables if 'moving' in v.path]


def test_vat_passes_leave_the_moving_statistics_to_the_clean_pass():
  task = lib.get_task_class('vat')(
      num_classes=5, vat_weight=0.5, entmin_factor=0.2,
      network=models.Network( 'vgg19', filters_factor=1))
  batch = _streams(np.random.default_rng(0))
  task.initialize(batch)
  start = _moving(task)
  task.apply(batch['unsup']['image'], batch['sup']['image'], training=True)
  clean = _moving(task)
  for variable, value in zip(
      [v for v in task.net.variables if 'moving' in v.path], start):
    variable.assign(value)
  out = task.compute(batch, training=True)
  assert np.isfinite(float(out.loss))
  for ours, expected in zip(_moving(task), clean):
    np.testing.assert_allclose(ours, expected, rtol=1e-6)


def test_rotation_vat_weights_and_cross_replica_batch_norm():
  task = lib.get_task_class('rotation_vat')(
      num_classes=5, sup_weight=0.3, vat_weight=0.3, entmin_factor=0.3,
      network=models.Network( 'vgg19', filters_factor=1))
  assert all(layer.synchronized for layer in task.net._flatten_layers()
             if isinstance(layer, net_layers.FusedBatchNorm))
  batch = _streams(np.random.default_rng(1), rotated=True)
  out = task.compute(batch, training=False)
  # Evaluation has no VAT term: 0.4 * L_rot + 0.3 * L_cls.
  terms = task.rotation_terms(batch, False, use_unsup=True)
  expected = (0.4 * (0.5 * terms['rotation_unsup'] +
                     0.5 * terms['rotation_sup']) + 0.3 * terms['classes'])
  assert float(out.loss) == pytest.approx(float(expected), rel=1e-5)
  assert {'rotation_accuracy', 'top1_accuracy_unrotated',
          'top1_accuracy_rot_avg'} <= set(out.metrics)
  train = task.compute(batch, training=True)
  assert np.isfinite(float(train.loss))


def test_rotation_vat_without_vat_is_s4l_rotations_loss_scaled():
  """VAT and EntMin off: w_c times S4L-Rotation's loss, gradients too.

  (1 - w_c) L_rot + w_c L_cls = w_c (L_cls + (1 - w_c) / w_c L_rot): the
  control run of MOAM step 1 against S4L-Rotation (a learning rate 1 / w_c
  times S4L-Rotation's takes the same steps, weight decay aside).
  """
  sup_weight = 0.3
  moam = lib.get_task_class('rotation_vat')(
      num_classes=5, sup_weight=sup_weight, vat_weight=0.0,
      entmin_factor=0.0, network=models.Network('vgg19', filters_factor=1))
  s4l = lib.get_task_class('s4l_rotation')(
      num_classes=5, rot_loss_weight=(1 - sup_weight) / sup_weight,
      network=models.Network('vgg19', filters_factor=1,
                             sync_batch_norm=True))
  batch = _streams(np.random.default_rng(2), rotated=True)
  moam.initialize(batch)
  s4l.initialize(batch)
  assert [v.path for v in moam.trainable_variables] == [
      v.path for v in s4l.trainable_variables]
  def every_variable(task):
    return [v for module in task.export_items().values()
            for v in module.variables]

  for ours, theirs in zip(every_variable(moam), every_variable(s4l),
                          strict=True):
    theirs.assign(ours)

  def loss_and_grads(task):
    with tf.GradientTape() as tape:
      loss = task.compute(batch, training=True).loss
    return float(loss), tape.gradient(loss, task.trainable_variables)

  moam_loss, moam_grads = loss_and_grads(moam)
  s4l_loss, s4l_grads = loss_and_grads(s4l)
  assert moam_loss == pytest.approx(sup_weight * s4l_loss, rel=1e-5)
  for ours, theirs in zip(moam_grads, s4l_grads):
    # Float32 sums in another order: agreement to 1e-4 of the largest.
    expected = sup_weight * theirs.numpy()
    np.testing.assert_allclose(ours.numpy(), expected, rtol=0,
                               atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize('task,kwargs,message', [
    ('rotation_vat', {'sup_weight': 1.2}, r'--sup_weight must lie in \[0, 1\]'),
    ('rotation_vat', {'sup_weight': 0.6, 'vat_weight': 0.6},
     'sum to more than 1'),
    ('vat', {'vat_weight': -0.1}, r'--vat_weight must lie in \[0, 1\]'),
    ('vat', {'entmin_factor': 2.0}, r'--entmin_factor must lie'),
    ('vat', {'vat_eps': 0.0}, '--vat_eps must be positive'),
    ('vat', {'vat_xi': 0.0}, '--vat_xi must be positive'),
    ('rotation_vat', {'vat_xi': -1e-3}, '--vat_xi must be positive'),
    ('vat', {'vat_num_power_method_iters': 0}, 'at least 1'),
    ('vat', {'sup_weight': 0.3}, '--sup_weight weighs classification'),
])
def test_bad_values(task, kwargs, message):
  with pytest.raises(utils.UsageError, match=message):
    lib.get_task_class(task)(num_classes=5, network=models.Network(
                             'vgg19', filters_factor=1), **kwargs)
