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

"""Tests of the backbone networks: sizes, end points, parameter counts."""

import gc
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf
from testdata import mirrored_strategy

from revisiting_ssl import models, utils
from revisiting_ssl.models import (
  layers,
  resnet,
  revnet,
  virtual_replicas,
)

ALL_NETS = ['resnet101', 'resnet152', 'resnet50', 'revnet50', 'vgg19']
# S4L's names of the v2 ResNets.
V2_ALIASES = ['resnet101v2', 'resnet152v2', 'resnet50v2']
# TF-slim's layout (convert_module_test.py checks them against Keras').
SLIM_NETS = ['resnet101_slim', 'resnet152_slim', 'resnet50_slim']


def _images(batch=2, size=32, seed=0):
  return tf.random.stateless_normal((batch, size, size, 3), (seed, 1))


def _num_params(variables):
  return sum(int(np.prod(v.shape)) for v in variables)


def test_net_names():
  assert models.net_names() == sorted(ALL_NETS + V2_ALIASES + SLIM_NETS)
  net = models.get_net('resnet50v2', 3, filters_factor=1)
  assert net.mode == 'v2'
  with pytest.raises(utils.UsageError, match='resnet50v2 is a v2 network'):
    models.get_net('resnet50v2', 3, mode='v1')


@pytest.fixture
def cheap_init():
  """Zero kernels: counting the variables of a 217M-parameter network
  should not spend seconds drawing random numbers."""
  def zeros(self, shape, dtype=None):
    del self
    return tf.zeros(shape, dtype or 'float32')
  with mock.patch.object(keras.initializers.GlorotUniform, '__call__', zeros):
    yield


# (architecture, num_classes, kwargs, input size, trainable, BN moving),
# counted from the original architectures. Counts do not depend on the input
# size except for VGG, whose fc6 kernel covers the final 7x7 map of a 224
# input.
PARAM_COUNTS = [
    ('resnet50', 1000, {'mode': 'v1'}, None, 25_557_032, 53_120),
    ('resnet50', 1000, {'mode': 'v2'}, None, 25_549_352, 45_440),
    ('resnet50', 1000, {'mode': 'v1', 'filters_factor': 8}, None,
     98_004_072, 106_240),
    ('resnet50', 1000, {'mode': 'v1', 'filters_factor': 12}, None,
     217_342_120, 159_360),
    ('revnet50', 1000, {}, None, 7_457_640, 26_752),
    ('revnet50', 4, {'filters_factor': 16}, None, 85_798_404, 107_008),
    ('vgg19', 1000, {}, 224, 143_680_936, 27_392),
    # Head-less trunks: the trainable weights without the classifier.
    ('resnet50', None, {'mode': 'v2'}, None, 23_500_352, 45_440),
    ('revnet50', None, {}, None, 5_408_640, 26_752),
    # No exact counts: slim's resnet_v2_101/152 (with conv biases and
    # without v1.5 strides) have about 44.6M and 60.2M parameters.
    ('resnet101', 1000, {}, None, (44_000_000, 45_000_000), None),
    ('resnet152', 1000, {}, None, (59_500_000, 60_500_000), None),
]


@pytest.mark.parametrize(
    'name,num_classes,kwargs,size,trainable,moving', PARAM_COUNTS,
    ids=[f'{p[0]}-{p[1]}-{p[2]}' for p in PARAM_COUNTS])
def test_parameter_counts(cheap_init, name, num_classes, kwargs, size,
                          trainable, moving):
  del cheap_init
  net = models.get_net(name, num_classes, **kwargs)
  # `build` creates the real variables without running the network.
  net.build((None, size, size, 3))
  count = _num_params(net.trainable_weights)
  if isinstance(trainable, tuple):
    assert trainable[0] < count < trainable[1]
  else:
    assert count == trainable
    assert _num_params(net.non_trainable_weights) == moving
  del net
  gc.collect()


def _shapes(end_points):
  return {k: tuple(v.shape[1:]) for k, v in end_points.items()}


# Expected end points at filters_factor 1 (a quarter of the standard ResNet
# widths; root and stage widths 64ff for RevNet; w = 8ff for VGG).
RESNET_32 = {  # 32x32 input, default strides: 32/4 = 8 after the root.
    'after_root': (8, 8, 16), 'block1': (8, 8, 64), 'block2': (4, 4, 128),
    'block3': (2, 2, 256), 'block4': (1, 1, 512), 'pre_logits': (512,),
    'logits': (10,)}
RESNET_64 = {
    'after_root': (16, 16, 16), 'block1': (16, 16, 64),
    'block2': (8, 8, 128), 'block3': (4, 4, 256), 'block4': (2, 2, 512),
    'pre_logits': (512,), 'logits': (10,)}
RESNET_PATCH = {  # The patch network: root stride 1, strides (2, 2, 1).
    'after_root': (32, 32, 16), 'block1': (32, 32, 64),
    'block2': (16, 16, 128), 'block3': (8, 8, 256), 'block4': (8, 8, 512),
    'pre_logits': (512,), 'logits': (10,)}
REVNET_32 = {
    'after_root': (8, 8, 64), 'block1': (8, 8, 64), 'block2': (4, 4, 128),
    'block3': (2, 2, 256), 'block4': (1, 1, 512), 'pre_logits': (512,),
    'logits': (10,)}
REVNET_PATCH = {
    'after_root': (32, 32, 64), 'block1': (32, 32, 64),
    'block2': (16, 16, 128), 'block3': (8, 8, 256), 'block4': (8, 8, 512),
    'pre_logits': (512,), 'logits': (10,)}
VGG_32 = {
    'block1': (32, 32, 8), 'block2': (16, 16, 16), 'block3': (8, 8, 32),
    'block4': (4, 4, 64), 'block5': (2, 2, 64), 'fc6': (1, 1, 512),
    'pre_logits': (1, 1, 512), 'logits': (10,)}
SHAPES_32 = {'resnet50': RESNET_32, 'resnet101': RESNET_32,
             'resnet152': RESNET_32, 'revnet50': REVNET_32, 'vgg19': VGG_32}
PATCH = {'root_conv_stride': 1, 'strides': '2,2,1'}


@pytest.mark.parametrize('name', ALL_NETS)
def test_end_points_and_gradients(name):
  # Batch 4: with 2 examples, BN on the 1x1 maps near the head normalises to
  # +-1 whatever its input, which starves the layers below of gradient.
  net = models.get_net(name, 10, filters_factor=1)
  images = _images(batch=4)
  labels = tf.constant([0, 3, 5, 9])
  with tf.GradientTape() as tape:
    logits, end_points = net(images, training=True)
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
    loss += tf.add_n(net.losses)
  assert _shapes(end_points) == SHAPES_32[name]
  assert logits is end_points['logits'] and logits.dtype == tf.float32
  variables = net.trainable_variables
  grads = tape.gradient(loss, variables)
  missing = [v.path for v, g in zip(variables, grads)
             if g is None or not np.any(g.numpy())]
  assert not missing
  assert all('moving' not in v.path for v in variables)


SHAPE_CASES = [
    ('resnet50', {'mode': 'v2'}, RESNET_64),
    ('resnet50', dict(mode='v1', **PATCH), RESNET_PATCH),
    ('revnet50', PATCH, REVNET_PATCH),
]


@pytest.mark.parametrize('name,kwargs,expected', SHAPE_CASES,
                         ids=[f'{c[0]}-{c[1]}' for c in SHAPE_CASES])
def test_end_point_shapes_64(name, kwargs, expected):
  net = models.get_net(name, 10, filters_factor=1, **kwargs)
  _, end_points = net(_images(size=64), training=False)
  assert _shapes(end_points) == expected


def test_without_classes_output_is_pre_logits():
  for num_classes in (None, 0):
    net = resnet.ResNet((1, 1, 1, 1), num_classes, filters_factor=1)
    output, end_points = net(_images(), training=False)
    assert 'logits' not in end_points and not net.get_config()['num_classes']
    np.testing.assert_array_equal(output, end_points['pre_logits'])
  net = models.get_net('vgg19', None, filters_factor=1)
  output, end_points = net(_images(), training=False)
  assert 'logits' not in end_points and output.shape == (2, 1, 1, 512)


SHALLOW_NETS = {  # Same code as the registered nets, fewer units.
    'resnet_v1': lambda: resnet.ResNet((1, 1, 1, 1), 10, mode='v1',
                                       filters_factor=1),
    'resnet_v2': lambda: resnet.ResNet((1, 1, 1, 2), 10, mode='v2',
                                       filters_factor=1),
    'revnet_patch': lambda: revnet.RevNet(10, units=(1, 1, 1, 2),
                                          filters_factor=1, **PATCH),
}


def _xla_train_step(net, images):
  net.build(images.shape)

  @tf.function(jit_compile=True)
  def step(images):
    with tf.GradientTape() as tape:
      logits, _ = net(images, training=True)
      loss = tf.reduce_mean(tf.square(logits)) + tf.add_n(net.losses)
    grads = tape.gradient(loss, net.trainable_variables)
    # A plain SGD update: the optimisers are the trainer's business.
    for variable, grad in zip(net.trainable_variables, grads):
      variable.assign_sub(0.01 * grad)
    return loss

  return step(images), step(images)


@pytest.mark.slow  # ~15 CPU-seconds each; `-m 'not slow'` skips them.
@pytest.mark.parametrize('key', ['resnet_v2', 'revnet_patch', 'vgg19'])
def test_train_step_compiles_under_xla(key):
  # XLA's CPU compile time grows with the number of distinct convolution
  # shapes (~15 CPU-seconds per network here), so this covers each kind of
  # network once, in shallow versions: v1 uses the same ops as v2.
  if key == 'vgg19':
    net = models.get_net('vgg19', 10, filters_factor=1)
  else:
    net = SHALLOW_NETS[key]()
  first, second = _xla_train_step(net, _images())
  assert np.isfinite(first) and np.isfinite(second)
  assert first != second  # The step changed the weights.


@pytest.mark.parametrize('key', sorted(SHALLOW_NETS))
def test_unknown_input_size(key):
  net = SHALLOW_NETS[key]()

  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3])])
  def serve(images):
    return net(images, training=False)

  # Variables are created inside the trace, from the unknown shape.
  concrete = serve.get_concrete_function()
  assert concrete.structured_outputs[1]['block4'].shape.as_list() == [
      None, None, None, 512]
  for height, width in ((32, 32), (48, 40)):
    images = tf.random.normal((2, height, width, 3))
    output, end_points = serve(images)
    assert output.shape == (2, 10)
    eager_output, _ = net(images, training=False)
    np.testing.assert_allclose(output, eager_output, rtol=1e-5, atol=1e-5)


def test_vgg_needs_a_fixed_input_size():
  net = models.get_net('vgg19', 10, filters_factor=1)
  with pytest.raises(utils.UsageError, match='fixed input size'):
    net.build((None, None, None, 3))
  net = models.get_net('vgg19', 10, filters_factor=1)
  net(_images(size=32))
  with pytest.raises(utils.UsageError, match='built for 32x32'):
    net(_images(size=64))


def _kernel_penalty(variables, wd):
  return 0.5 * wd * sum(float(tf.reduce_sum(tf.square(v))) for v in variables)


@pytest.mark.parametrize('name', ['resnet50', 'revnet50', 'vgg19'])
def test_weight_decay_penalty(name):
  wd = 1e-3
  net = models.get_net(name, 10, filters_factor=1, weight_decay=wd)
  net.build((None, 32, 32, 3))
  kernels = [v for v in net.trainable_variables
             if v.path.endswith('/kernel')]
  decayed = [v for v in kernels
             if name != 'revnet50' or 'root_conv' not in v.path]
  if name == 'revnet50':
    assert len(decayed) == len(kernels) - 1
  else:
    assert len(decayed) == len(kernels)
  # Every kernel: the trunk's convolutions (bias-free) and the head.
  assert len(kernels) + 1 + 2 * sum(
      'gamma' in v.path for v in net.trainable_variables) == len(
          net.trainable_variables)
  assert len(net.losses) == len(decayed)
  np.testing.assert_allclose(float(tf.add_n(net.losses)),
                             _kernel_penalty(decayed, wd), rtol=1e-5)


def test_zero_weight_decay_adds_no_loss():
  net = models.get_net('resnet50', 10, filters_factor=1, weight_decay=0)
  net.build((None, None, None, 3))
  assert net.losses == []


def test_batch_norm_training_vs_inference():
  net = resnet.ResNet((1, 1, 1, 1), 10, mode='v1', filters_factor=1)
  images = _images(seed=3) * 3.0 + 1.0
  inference, _ = net(images, training=False)
  moving = [v.numpy() for v in net.non_trainable_variables]
  inference_again, _ = net(images, training=False)
  assert all(np.array_equal(a, v.numpy())
             for a, v in zip(moving, net.non_trainable_variables))
  np.testing.assert_array_equal(inference, inference_again)
  training, _ = net(images, training=True)
  assert not np.allclose(training, inference, atol=1e-3)
  changed = [not np.array_equal(a, v.numpy())
             for a, v in zip(moving, net.non_trainable_variables)]
  assert all(changed)
  # Momentum 0.99: the root BN's moving mean moved 1% towards the batch mean.
  root_conv = net.root_conv(images)
  batch_mean = tf.reduce_mean(root_conv, axis=(0, 1, 2))
  np.testing.assert_allclose(net.root_bn.moving_mean, 0.01 * batch_mean,
                             rtol=1e-4, atol=1e-6)


def test_fused_batch_norm_matches_keras():
  x = tf.random.stateless_normal((4, 5, 5, 8), (1, 2)) * 2.0 + 1.0
  reference = keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-3)
  fused = layers.batch_norm('bn', synchronized=False)
  reference.build(x.shape)
  fused.build(x.shape)
  np.testing.assert_allclose(fused(x, training=False),
                             reference(x, training=False), atol=1e-5)
  np.testing.assert_allclose(fused(x, training=True),
                             reference(x, training=True), atol=1e-5)
  np.testing.assert_allclose(fused.moving_mean, reference.moving_mean,
                             atol=1e-6)
  # The moving variance gets the unbiased batch variance, as in TF1's fused
  # batch norm: n / (n - 1) times Keras' update, n = 4 * 5 * 5.
  np.testing.assert_allclose(
      (fused.moving_variance - 0.99) / (reference.moving_variance - 0.99),
      np.full(8, 100 / 99), rtol=1e-4)


def _batch_norm_under(policy, shape):
  """A built trunk batch-norm layer with Keras' dtype policy `policy`."""
  keras.mixed_precision.set_global_policy(policy)
  try:
    bn = layers.batch_norm('bn', synchronized=False)
    bn.build(shape)
  finally:
    keras.mixed_precision.set_global_policy('float32')
  return bn


def _assert_bfloat16_layer_matches(y16, y32, stats16, stats32):
  """bfloat16 output = float32 output rounded; same moving statistics."""
  assert y16.dtype == tf.bfloat16
  # Rounding to bfloat16 (8 significant bits): within half an ulp.
  np.testing.assert_allclose(tf.cast(y16, tf.float32),
                             tf.cast(tf.cast(y32, tf.bfloat16), tf.float32),
                             rtol=2**-8, atol=1e-6)
  (mean16, var16), (mean32, var32) = stats16, stats32
  np.testing.assert_allclose(mean16, mean32, rtol=1e-6)
  np.testing.assert_allclose(var16, var32, rtol=1e-5)


@pytest.mark.parametrize('training', [True, False])
def test_fused_batch_norm_on_bfloat16_matches_float32(training):
  # Under mixed precision the fused kernel gets the bfloat16 activations
  # directly (no cast to float32 and back); it computes in float32 inside,
  # so outputs are the float32 layer's rounded to bfloat16, and statistics
  # and gradients those of the float32 layer on the same values.
  x32 = tf.cast(tf.cast(tf.random.stateless_normal((4, 6, 6, 16), (3, 4))
                        * 3.0 + 1.0, tf.bfloat16), tf.float32)
  # Exactly representable in bfloat16: the bfloat16 layer's output gradient
  # is rounded to it, and a float32 layer's would be in a bfloat16 network.
  upstream = tf.cast(tf.cast(tf.random.stateless_normal(x32.shape, (5, 6)),
                             tf.bfloat16), tf.float32)
  results = {}
  for policy in ('float32', 'mixed_bfloat16'):
    bn = _batch_norm_under(policy, x32.shape)
    bn.moving_mean.assign(tf.fill([16], 0.5))
    bn.moving_variance.assign(tf.fill([16], 2.0))
    x = tf.cast(x32, bn.compute_dtype)
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = bn(x, training=training)
      loss = tf.reduce_sum(tf.cast(y, tf.float32) * upstream)
    grads = tape.gradient(loss, [x, *bn.trainable_variables])
    results[policy] = (y, grads, bn.moving_mean, bn.moving_variance)
  y32, grads32, mean32, var32 = results['float32']
  y16, grads16, mean16, var16 = results['mixed_bfloat16']
  _assert_bfloat16_layer_matches(y16, y32, (mean16, var16), (mean32, var32))
  assert not any(op.type == 'Cast' for op in tf.function(
      lambda t: bn(t, training=training)).get_concrete_function(
          tf.TensorSpec(x32.shape, tf.bfloat16)).graph.get_operations()
                 if op.inputs and op.inputs[0].dtype == tf.bfloat16)
  # The bfloat16 layer rounds its input gradient to bfloat16.
  np.testing.assert_allclose(tf.cast(grads16[0], tf.float32), grads32[0],
                             rtol=2**-7, atol=1e-3)
  for g16, g32 in zip(grads16[1:], grads32[1:]):
    np.testing.assert_allclose(g16, g32, rtol=1e-4, atol=1e-4)


def test_grouped_batch_norm_on_bfloat16_matches_float32():
  # Ghost batch norm (virtual replicas) feeds the fused kernel bfloat16 too.
  x32 = tf.cast(tf.cast(tf.random.stateless_normal((8, 4, 4, 6), (1, 2))
                        * 2.0 + 1.0, tf.bfloat16), tf.float32)
  results = {}
  for policy in ('float32', 'mixed_bfloat16'):
    bn = _batch_norm_under(policy, x32.shape)
    with virtual_replicas.scope(2):
      y = bn(tf.cast(x32, bn.compute_dtype), training=True)
    results[policy] = y, bn.moving_mean, bn.moving_variance
  (y32, *stats32), (y16, *stats16) = results.values()
  _assert_bfloat16_layer_matches(y16, y32, stats16, stats32)


def test_v2_block4_is_taken_before_the_final_batch_norm():
  net = resnet.ResNet((1, 1, 1, 1), None, filters_factor=1, last_relu=True)
  pre_logits, end_points = net(_images(), training=False)
  final = tf.nn.relu(net.final_bn(end_points['block4'], training=False))
  np.testing.assert_allclose(pre_logits, tf.reduce_mean(final, axis=(1, 2)),
                             rtol=1e-5, atol=1e-6)
  net = resnet.ResNet((1, 1, 1, 1), None, filters_factor=1,
                      last_relu=False)
  pre_logits, end_points = net(_images(), training=False)
  final = net.final_bn(end_points['block4'], training=False)
  np.testing.assert_allclose(pre_logits, tf.reduce_mean(final, axis=(1, 2)),
                             rtol=1e-5, atol=1e-6)
  assert np.any(pre_logits < 0)


@pytest.mark.parametrize('kernel,stride', [(3, 1), (3, 2), (7, 2), (7, 1),
                                           (1, 2)])
def test_conv_uses_fixed_padding(kernel, stride):
  conv = layers.Conv(4, kernel, stride, weight_decay=0.0, name='conv')
  conv.build((None, None, None, 3))
  before = (kernel - 1) // 2
  pad = [before, kernel - 1 - before]
  for size in (8, 9):  # Even sizes are where SAME would differ.
    x = tf.random.normal((1, size, size, 3))
    expected = tf.nn.conv2d(tf.pad(x, [[0, 0], pad, pad, [0, 0]]),
                            conv.kernel, stride, 'VALID')
    np.testing.assert_allclose(conv(x), expected, rtol=1e-5, atol=1e-5)
    assert conv.compute_output_shape(x.shape) == tuple(expected.shape)


def test_root_max_pool_pads_with_zeros():
  x = -tf.ones((1, 3, 3, 1))
  pooled = layers.max_pool_fixed_padding(x)
  # Each of the 2x2 windows touches the zero padding: zeros beat -1.
  np.testing.assert_array_equal(pooled, tf.zeros((1, 2, 2, 1)))


def test_reversible_unit_and_transition():
  unit = revnet.ReversibleUnit(16, weight_decay=0.0, sync_batch_norm=False,
                               name='unit')
  x = tf.random.normal((2, 4, 4, 16))
  y = unit(x, training=False)
  np.testing.assert_array_equal(y[..., :8], x[..., 8:])  # [x2, y1].
  assert not np.allclose(y[..., 8:], x[..., :8])
  z = revnet.pool_and_double_channels(x, 2)
  assert z.shape == (2, 2, 2, 32)
  np.testing.assert_array_equal(z[..., :8], 0)
  np.testing.assert_array_equal(z[..., 24:], 0)
  np.testing.assert_allclose(
      z[..., 8:24], tf.nn.avg_pool2d(x, 2, 2, 'SAME'), rtol=1e-6)
  assert revnet.pool_and_double_channels(x, 1).shape == (2, 4, 4, 32)


def test_mixed_precision():
  keras.mixed_precision.set_global_policy('mixed_bfloat16')
  try:
    for name in ('resnet50', 'revnet50', 'vgg19'):
      net = models.get_net(name, 10, filters_factor=1)
      output, end_points = net(_images(), training=True)
      assert output.dtype == tf.float32
      assert end_points['block2'].dtype == tf.bfloat16
      assert all(v.dtype == 'float32' for v in net.weights)
  finally:
    keras.mixed_precision.set_global_policy('float32')


@pytest.mark.parametrize('sync_batch_norm', [True, False])
def test_variables_in_strategy_scope(sync_batch_norm):
  strategy = mirrored_strategy(['/cpu:0'])
  with strategy.scope():
    net = resnet.ResNet((1, 1, 1, 1), 10, filters_factor=1,
                        sync_batch_norm=sync_batch_norm, strides=[2, 2, 1])
    # As the trainer does: the first call creates the variables.
    net(_images(), training=False)
  assert all(isinstance(v.value, tf.distribute.DistributedValues)
             for v in net.weights)

  @tf.function
  def step(images):
    def replica_fn(images):
      with tf.GradientTape() as tape:
        logits, _ = net(images, training=True)
        loss = tf.reduce_mean(tf.square(logits))
      return tape.gradient(loss, net.trainable_variables)[0]
    return strategy.run(replica_fn, (images,))

  grad = step(_images())
  assert np.any(grad.numpy())
  assert np.any(net.final_bn.moving_mean.numpy())  # Updated in the step.


def test_variable_names_are_readable():
  net = models.get_net('resnet50', 10, filters_factor=1, mode='v1')
  net.build((None, None, None, 3))
  paths = {v.path for v in net.weights}
  for path in ('resnet50/root_conv/kernel', 'resnet50/root_bn/gamma',
               'resnet50/block1/unit1/conv_a/kernel',
               'resnet50/block2/unit1/shortcut/kernel',
               'resnet50/block4/unit3/bn_c/moving_variance',
               'resnet50/logits/kernel', 'resnet50/logits/bias'):
    assert path in paths


def test_config_round_trip():
  net = models.get_net('revnet50', 5, filters_factor=1, strides='2,2,1')
  config = net.get_config()
  assert config['strides'] == (2, 2, 1)
  clone = revnet.RevNet.from_config(config)
  net.build((None, None, None, 3))
  clone.build((None, None, None, 3))
  assert _num_params(net.weights) == _num_params(clone.weights)


def test_none_kwargs_mean_defaults():
  net = models.get_net('vgg19', None, filters_factor=None, mode=None,
                       weight_decay=None, strides=None)
  assert net.get_config()['filters_factor'] == 8
  net = models.get_net('resnet50', None, filters_factor=None, mode=None)
  assert net.get_config()['filters_factor'] == 4
  assert net.get_config()['mode'] == 'v2'
  assert net.get_config()['weight_decay'] == 1e-4


@pytest.mark.parametrize('args,kwargs,message', [
    (('resnet', 10), {},
     "Unknown architecture 'resnet'.*resnet50, resnet50_slim, revnet50"),
    (('resnet50', 10), {'width': 2},
     'width, which --architecture resnet50 does not have. Its options: '
     'filters_factor'),
    (('resnet50', 10), {'mode': 'v3'}, "mode must be 'v1' or 'v2'"),
    (('revnet50', 10), {'mode': 'v1'},
     'mode, which --architecture revnet50 does not have'),
    (('vgg19', 10), {'last_relu': False},
     'last_relu, which --architecture vgg19 does not have.*Networks that '
     'have them: resnet101'),
    (('resnet50', 10), {'mode': 'v1', 'last_relu': False},
     'last_relu=False is only supported with mode v2'),
    (('resnet50', 10), {'strides': '2,2'}, 'strides must be three'),
    (('revnet50', 10), {'strides': (2, 0, 1)}, 'strides must be three'),
    (('resnet50', 10), {'strides': '2,x,1'}, 'comma-separated'),
    (('resnet50', 10), {'filters_factor': 0}, 'filters_factor must be'),
    (('resnet50', 10), {'weight_decay': -1.0}, 'weight_decay must be'),
    (('resnet50', -1), {}, 'num_classes must be'),
])
def test_usage_errors(args, kwargs, message):
  with pytest.raises(utils.UsageError, match=message):
    models.get_net(*args, **kwargs)


def test_vgg_has_no_patch_strides():
  """The original's patch stride overrides never reached VGG19; asked for
  them, it says so instead of ignoring them."""
  network = models.Network('vgg19', filters_factor=1)
  assert not network.supports(*PATCH)
  assert models.Network('resnet50').supports(*PATCH)
  assert models.Network('revnet50').supports(*PATCH)
  with pytest.raises(utils.UsageError, match='This task needs network '
                     'option.*root_conv_stride, strides.*vgg19'):
    network(10, **PATCH)
