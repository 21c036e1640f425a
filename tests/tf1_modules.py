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

"""Small stand-ins of the published TF1 models, written with TF1 graph code.

The real files cannot be downloaded here, so the tests build their like:

* `write_hub_module`: a TF1 hub-format module (a SavedModel with the tag
  sets `{"is_training"}` and `{}`, signatures `default` and
  `representation` taking `image`, and the `tfhub_module.pb` marker), of a
  network built with `tf.layers` (the TF1 layers, kept in tf_keras) the
  way the paper's code builds it: no scopes (automatic names `conv2d_<k>`,
  `batch_normalization_<k>`), or S4L's scopes and heads. The networks:
  ResNet-50 v2 (`resnet_v2_graph`, also S4L's), ResNet-50 v1
  (`resnet_v1_graph`), RevNet-50 (`revnet_graph`) and VGG19
  (`vgg19_graph`), each written from the original code's structure
  (google/revisiting-self-supervised `models/resnet.py`,
  `models/vggnet.py`), not from our Keras networks.
* `write_slim_checkpoint`: a name-based TF1 checkpoint with slim's
  `resnet_v2` names, holding the weights of a Keras ResNet v2 (Keras'
  blocks follow slim's layout), plus a step counter, an optimiser slot and
  a head outside the network, as training checkpoints have.

Every variable gets random values (batch-norm statistics included), so a
variable mapped to the wrong place changes the outputs.
"""

import contextlib
import os

import numpy as np
import tensorflow as tf
from tf_keras.src.legacy_tf_layers import convolutional as tf1_conv
from tf_keras.src.legacy_tf_layers import normalization as tf1_norm

v1 = tf.compat.v1
UNITS = (3, 4, 6, 3)


def random_value(name: str, shape, rng: np.random.Generator) -> np.ndarray:
  """A plausible random value for a variable of this name."""
  if name.endswith(('gamma', 'moving_variance')):
    return rng.uniform(0.5, 1.5, shape).astype(np.float32)
  if name.endswith(('beta', 'moving_mean', 'bias', 'biases')):
    return (0.1 * rng.normal(size=shape)).astype(np.float32)
  fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
  return (rng.normal(size=shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def _fixed_padding(x, size):
  pad = [(size - 1) // 2, size - 1 - (size - 1) // 2]
  return tf.pad(x, [[0, 0], pad, pad, [0, 0]])


def _scope(name, scoped):
  return v1.variable_scope(name) if scoped else contextlib.nullcontext()


def resnet_v2_graph(images, training: bool, *, filters_factor: int,
                    num_classes: int | None, s4l: bool = False,
                    units=UNITS):
  """The paper's ResNet-50 v2 (or S4L's, scoped) in TF1 graph code.

  S4L's may have other `units` per stage (its ResNet-101 and -152).

  Returns:
    (logits or pre-logits, end points).
  """
  def conv(x, filters, size, stride=1, padding='same', use_bias=False,
           name=None):
    return tf1_conv.conv2d(x, filters, size, strides=stride,
                           padding=padding, use_bias=use_bias, name=name)

  def norm(x):
    return tf1_norm.batch_normalization(x, training=training, fused=True)

  end_points = {}
  with _scope('root_block', s4l):
    x = conv(_fixed_padding(images, 7), 16 * filters_factor, 7, 2, 'valid')
    x = tf.nn.max_pool2d(_fixed_padding(x, 3), 3, 2, 'VALID')
  end_points['after_root'] = x
  filters = 64 * filters_factor
  for i, (count, first_stride) in enumerate(zip(units, (1, 2, 2, 2))):
    with _scope(f'block{i + 1}', s4l):
      for j in range(count):
        stride = first_stride if j == 0 else 1
        with _scope(f'unit{j + 1}', s4l):
          shortcut = x
          x = tf.nn.relu(norm(x))
          with _scope('proj', s4l):
            if stride > 1 or filters != x.shape[-1]:
              shortcut = conv(x, filters, 1, stride, 'valid')
          with _scope('a', s4l):
            r = conv(x, filters // 4, 1)
          with _scope('b', s4l):
            r = tf.nn.relu(norm(r))
            r = conv(_fixed_padding(r, 3), filters // 4, 3, stride, 'valid')
          with _scope('c', s4l):
            r = tf.nn.relu(norm(r))
            r = conv(r, filters, 1)
          x = shortcut + r
    end_points[f'block{i + 1}'] = x
    filters *= 2
  x = tf.reduce_mean(tf.nn.relu(norm(x)), axis=[1, 2], keepdims=True)
  if s4l:
    end_points['pre_logits'] = x
    for head, width in (('rotations', 4), ('classes', num_classes)):
      end_points[head] = tf.squeeze(
          conv(x, width, 1, use_bias=True, name=head), [1, 2])
    for key in list(end_points):
      end_points[f'{key}_unsup'] = end_points[key]
    return end_points['classes'], end_points
  end_points['pre_logits'] = tf.squeeze(x, [1, 2])
  if not num_classes:
    return end_points['pre_logits'], end_points
  logits = tf.squeeze(conv(x, num_classes, 1, use_bias=True), [1, 2])
  end_points['logits'] = logits
  return logits, end_points


def _conv(x, filters, size, stride=1, padding='same', use_bias=False):
  """A `tf.layers` convolution, automatically named `conv2d_<k>`."""
  return tf1_conv.conv2d(x, filters, size, strides=stride, padding=padding,
                         use_bias=use_bias)


def _norm(x, training):
  """A `tf.layers` batch norm, named `batch_normalization_<k>`."""
  return tf1_norm.batch_normalization(x, training=training, fused=True)


def _root(images, width, training=None):
  """The 7x7/2 root convolution (fixed padding), then the 3x3/2 max pool.

  With `training` set (v1), batch norm and ReLU follow the convolution.
  """
  x = _conv(_fixed_padding(images, 7), width, 7, 2, 'valid')
  if training is not None:
    x = tf.nn.relu(_norm(x, training))
  return tf.nn.max_pool2d(_fixed_padding(x, 3), 3, 2, 'VALID')


def _pool_and_classify(x, end_points, num_classes):
  """Global average pool, then (if `num_classes`) biased 1x1 logits."""
  x = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
  end_points['pre_logits'] = tf.squeeze(x, [1, 2])
  if not num_classes:
    return end_points['pre_logits'], end_points
  end_points['logits'] = tf.squeeze(
      _conv(x, num_classes, 1, use_bias=True), [1, 2])
  return end_points['logits'], end_points


def resnet_v1_graph(images, training: bool, *, filters_factor: int,
                    num_classes: int | None):
  """The paper's ResNet-50 v1 (`mode='v1'`) in TF1 graph code.

  Post-activation units; each stage's stride sits on its first unit's 3x3
  convolution, a projection (1x1 conv and batch norm, created before the
  residual branch) wherever the stride or width changes; no final norm.

  Returns:
    (logits or pre-logits, end points).
  """
  end_points = {'after_root': _root(images, 16 * filters_factor, training)}
  x = end_points['after_root']
  filters = 64 * filters_factor
  for i, (count, first_stride) in enumerate(zip(UNITS, (1, 2, 2, 2))):
    for j in range(count):
      stride = first_stride if j == 0 else 1
      shortcut = x
      if stride > 1 or filters != x.shape[-1]:
        shortcut = _norm(_conv(x, filters, 1, stride), training)
      r = tf.nn.relu(_norm(_conv(x, filters // 4, 1), training))
      r = _conv(_fixed_padding(r, 3), filters // 4, 3, stride, 'valid')
      r = tf.nn.relu(_norm(r, training))
      r = _norm(_conv(r, filters, 1), training)
      x = tf.nn.relu(shortcut + r)
    end_points[f'block{i + 1}'] = x
    filters *= 2
  return _pool_and_classify(x, end_points, num_classes)


def revnet_graph(images, training: bool, *, filters_factor: int,
                 num_classes: int | None, last_relu: bool = True):
  """The paper's RevNet-50 in TF1 graph code.

  A reversible unit splits its input's channels in halves (x1, x2) and
  returns [x2, x1 + F(x2)], F a v2 bottleneck without shortcut (inner
  width a quarter of the half). Between stages: a 2x2/2 SAME average pool
  and zero channels padded on both sides. The root convolution is 4x the
  ResNet's wide. `last_relu` is True as every config of the paper sets it
  (the function's own default, False, was always overridden).

  Returns:
    (logits or pre-logits, end points).
  """
  x = _root(images, 64 * filters_factor)
  end_points = {'after_root': x}
  for i, count in enumerate(UNITS):
    for _ in range(count):
      x1, x2 = tf.split(x, 2, axis=3)
      width = x2.shape[-1]
      r = _conv(tf.nn.relu(_norm(x2, training)), width // 4, 1)
      r = tf.nn.relu(_norm(r, training))
      r = _conv(_fixed_padding(r, 3), width // 4, 3, 1, 'valid')
      r = _conv(tf.nn.relu(_norm(r, training)), width, 1)
      x = tf.concat([x2, x1 + r], axis=3)
    end_points[f'block{i + 1}'] = x
    if i < len(UNITS) - 1:
      x = tf.nn.avg_pool2d(x, 2, 2, 'SAME')
      half = x.shape[-1] // 2
      x = tf.pad(x, [[0, 0], [0, 0], [0, 0], [half, half]])
  x = _norm(x, training)
  if last_relu:
    x = tf.nn.relu(x)
  return _pool_and_classify(x, end_points, num_classes)


def vgg19_graph(images, training: bool, *, filters_factor: int,
                num_classes: int):
  """The paper's VGG19 (batch norm, no dropout) in TF1 graph code.

  Five blocks of 3x3 conv-BN-ReLU (2, 2, 4, 4, 4 convolutions, widths w,
  2w, 4w, 8w, 8w with w = 8 * filters_factor), each followed by a 2x2/2
  max pool; fc6 is a VALID conv-BN-ReLU whose kernel covers the remaining
  map, fc7 a 1x1 one; the logits a biased 1x1 convolution. The images'
  size must be static.

  Returns:
    (logits, end points); `fc6` and `pre_logits` stay `[N, 1, 1, C]`.
  """
  def conv_norm_relu(x, filters, size, padding):
    return tf.nn.relu(_norm(_conv(x, filters, size, padding=padding),
                            training))

  end_points = {}
  x = images
  width = 8 * filters_factor
  for i, (count, mult) in enumerate(zip((2, 2, 4, 4, 4), (1, 2, 4, 8, 8))):
    for _ in range(count):
      x = conv_norm_relu(x, mult * width, 3, 'same')
    end_points[f'block{i + 1}'] = x
    x = tf.nn.max_pool2d(x, 2, 2, 'VALID')
  x = conv_norm_relu(x, 512 * filters_factor, x.shape[1:3].as_list(),
                     'valid')
  end_points['fc6'] = x
  x = conv_norm_relu(x, 512 * filters_factor, 1, 'valid')
  end_points['pre_logits'] = x
  end_points['logits'] = tf.squeeze(
      _conv(x, num_classes, 1, use_bias=True), [1, 2])
  return end_points['logits'], end_points


def write_hub_module(path: str, build_fn, input_shape, seed: int = 0,
                     signature_names=('default', 'representation'),
                     extra_inputs=()) -> str:
  """Writes a TF1 hub-format module of `build_fn(images, training)`.

  `signature_names` and `extra_inputs` (more inputs of the images' shape)
  make the broken modules that error tests need.
  """
  def signature(inputs, outputs):
    info = v1.saved_model.utils.build_tensor_info
    return v1.saved_model.signature_def_utils.build_signature_def(
        inputs={k: info(v) for k, v in inputs.items()},
        outputs={k: info(v) for k, v in outputs.items()})

  builder = v1.saved_model.Builder(path)
  rng = np.random.default_rng(seed)
  for tags, training in (([], False), (['is_training'], True)):
    with tf.Graph().as_default(), v1.Session() as session:
      inputs = {name: v1.placeholder(tf.float32, input_shape, name=name)
                for name in ('image', *extra_inputs)}
      default, end_points = build_fn(inputs['image'], training)
      signatures = {
          'default': signature(inputs, {'default': default}),
          'representation': signature(inputs, end_points)}
      signatures = {k: signatures[k] for k in signature_names}
      if not training:
        # One run for all variables: a run each (`Variable.load`) costs
        # seconds for a ResNet-50.
        variables = v1.global_variables()
        session.run([v.initializer for v in variables], {
            v.initial_value: random_value(v.op.name, v.shape.as_list(), rng)
            for v in variables})
        builder.add_meta_graph_and_variables(
            session, tags, signature_def_map=signatures)
      else:
        builder.add_meta_graph(tags, signature_def_map=signatures)
  builder.save()
  # The marker of the TF1 hub format: a ModuleDef proto, format 3.
  with open(os.path.join(path, 'tfhub_module.pb'), 'wb') as f:
    f.write(b'\x08\x03')
  return path


def keras_resnet_v2(units, filters_factor: int, num_classes: int | None):
  """Slim's ResNet v2 from Keras' own blocks (`keras.applications`).

  Keras' `ResNet*V2` stack slim's units (stride in each stage's last unit,
  biased projections and last convolutions, a biased root convolution);
  only its root max pool pads with zeros, where slim pads SAME, so the root
  is written here with slim's pool. Returns a model whose outputs are the
  end points.
  """
  import keras  # noqa: PLC0415
  from keras.src.applications import resnet as keras_resnet  # noqa: PLC0415
  inputs = keras.Input((None, None, 3))
  x = keras.layers.ZeroPadding2D(3)(inputs)
  x = keras.layers.Conv2D(16 * filters_factor, 7, 2, name='conv1_conv')(x)
  x = keras.layers.MaxPooling2D(3, 2, padding='same')(x)
  outputs = {'after_root': x}
  for i, count in enumerate(units):
    x = keras_resnet.stack_residual_blocks_v2(
        x, 16 * filters_factor * 2 ** i, count, stride1=1 if i == 3 else 2,
        name=f'conv{i + 2}')
    outputs[f'block{i + 1}'] = x
  if len(units) == 4:
    x = keras.layers.BatchNormalization(epsilon=1.001e-5, name='post_bn')(x)
    x = keras.layers.ReLU()(x)
  outputs['pre_logits'] = keras.layers.GlobalAveragePooling2D()(x)
  if num_classes:
    outputs['logits'] = keras.layers.Dense(num_classes, name='predictions')(
        outputs['pre_logits'])
  return keras.Model(inputs, outputs)


def slim_names(model, scope: str) -> dict[str, np.ndarray]:
  """The Keras model's weights under slim's names (randomised first)."""
  rng = np.random.default_rng(1)
  parts = {'preact_bn': 'preact', '0_conv': 'shortcut', '1_conv': 'conv1',
           '1_bn': 'conv1/BatchNorm', '2_conv': 'conv2',
           '2_bn': 'conv2/BatchNorm', '3_conv': 'conv3'}
  values = {}
  for layer in model.layers:
    if not layer.weights:
      continue
    name = layer.name
    if name == 'conv1_conv':
      prefix = f'{scope}/conv1'
    elif name == 'post_bn':
      prefix = f'{scope}/postnorm'
    elif name == 'predictions':
      prefix = f'{scope}/logits'
    else:
      stage, block, part = name.split('_', 2)
      prefix = (f'{scope}/block{int(stage[4:]) - 1}/unit_{int(block[5:])}/'
                f'bottleneck_v2/{parts[part]}')
    if name.endswith('bn'):
      keys = ('gamma', 'beta', 'moving_mean', 'moving_variance')
    else:
      keys = ('weights', 'biases')
    weights = []
    for key, weight in zip(keys, layer.weights):
      value = random_value(key, tuple(weight.shape), rng)
      weights.append(value)
      values[f'{prefix}/{key}'] = value
    layer.set_weights(weights)
  logits = f'{scope}/logits/weights'
  if logits in values:
    values[logits] = values[logits][np.newaxis, np.newaxis]
  return values


def write_slim_checkpoint(prefix: str, values: dict[str, np.ndarray]) -> str:
  """A name-based TF1 checkpoint of `values`, with training leftovers."""
  extra = {'global_step': np.int64(1000),
           'multitask_head/colorization/weights': np.ones([3, 3], np.float32)}
  some = sorted(values)[0]
  extra[f'{some}/Momentum'] = np.zeros_like(values[some])
  with tf.Graph().as_default(), v1.Session() as session:
    for name, value in {**values, **extra}.items():
      v1.Variable(value, name=name)
    session.run(v1.global_variables_initializer())
    return v1.train.Saver().save(session, prefix)
