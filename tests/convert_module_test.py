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

"""Published TF1 models: probing TF1 hub modules, converting them and slim.

The sources are small stand-ins written with TF1 graph code
(`tf1_modules.py`); slim's reference forward pass is Keras' own ResNet v2.
"""

import os
import subprocess
import sys

from conftest import REPO
import numpy as np
import pytest
import tensorflow as tf
import tf1_modules

from revisiting_ssl import models, utils
from revisiting_ssl.probes import module_features
from revisiting_ssl.tools import convert_module

# The stand-ins are built with the originals' TF1 layers on purpose.
pytestmark = pytest.mark.filterwarnings(
    'ignore:.tf.layers.* is deprecated:UserWarning')

FF = 1
NUM_CLASSES = 5


def _close(have, want, tolerance=1e-4):
  want = np.asarray(want)
  np.testing.assert_allclose(
      have, want, rtol=0, atol=tolerance * max(1.0, np.abs(want).max()))


def _images(seed, size=32, vgg=False):
  images = tf.random.stateless_uniform([3, size, size, 3], [seed, 0], 0, 255)
  return images - 120.0 if vgg else images / 127.5 - 1


@pytest.fixture(scope='module')
def revisiting_module(tmp_path_factory):
  path = str(tmp_path_factory.mktemp('tf1') / 'module')
  return tf1_modules.write_hub_module(
      path, lambda images, training: tf1_modules.resnet_v2_graph(
          images, training, filters_factor=FF, num_classes=NUM_CLASSES),
      [None, None, None, 3])


@pytest.fixture(scope='module')
def check_glob(photos):
  return str(photos / '*.JPEG')


@pytest.fixture(scope='module')
def converted_module(revisiting_module, check_glob, tmp_path_factory):
  output = str(tmp_path_factory.mktemp('converted') / 'module')
  report = convert_module.convert(revisiting_module, output,
                                  check_images=check_glob, check_count=4,
                                  check_size=32)
  assert set(report) >= {'default', 'after_root', 'block4', 'logits'}
  return output


# -- Point 1: TF1 hub modules in linear evaluation -----------------------


def test_tf1_module_is_read_in_inference_mode(revisiting_module):
  import tensorflow_hub as hub  # noqa: PLC0415
  module = module_features.FrozenModule(revisiting_module, 'representation')
  images = _images(0, 16)
  features = module(images)
  assert sorted(features) == ['after_root', 'block1', 'block2', 'block3',
                              'block4', 'logits', 'pre_logits']
  inference = hub.load(revisiting_module, tags=set())
  _close(features['block4'],
         inference.signatures['representation'](image=images)['block4'])
  training = hub.load(revisiting_module, tags={'is_training'})
  batch_stats = training.signatures['representation'](image=images)
  assert not np.allclose(features['block4'], batch_stats['block4'])
  pooled = module_features.pool_end_points(features, 'max')
  assert all(np.prod(x.shape[1:]) <= 9000 for x in pooled.values())


def test_tf1_module_goes_through_linear_evaluation(revisiting_module,
                                                   tmp_path):
  from linear_eval_test import make_trainer  # noqa: PLC0415
  trainer = make_trainer(tmp_path, revisiting_module, batch_size=16, epochs=1,
                         lr=0.01)
  trainer.build()
  before = [v.numpy().copy() for v in trainer.task.module.variables]
  trainer.train()
  metrics = trainer.evaluate_checkpoint(trainer.manager.latest_checkpoint)
  for end_point in ('after_root', 'block1', 'block4', 'pre_logits',
                    'logits'):
    assert 0 <= metrics[f'top1_accuracy_{end_point}'] <= 1
  for value, variable in zip(before, trainer.task.module.variables):
    np.testing.assert_array_equal(value, variable.numpy())


def _tiny_tf1_module(path, **kwargs):
  def build(images, training):
    del training
    x = tf.reduce_mean(images, axis=[1, 2])
    return x, {'pre_logits': x}

  return tf1_modules.write_hub_module(path, build, [None, 8, 8, 3], **kwargs)


def test_tf1_module_errors_stay_clear(tmp_path):
  no_rep = _tiny_tf1_module(str(tmp_path / 'a'),
                            signature_names=('default',))
  with pytest.raises(utils.UsageError,
                     match="no signature 'representation'.*Its signatures: "
                           'default'):
    module_features.FrozenModule(no_rep, 'representation')
  two_inputs = _tiny_tf1_module(str(tmp_path / 'b'), extra_inputs=('mask',))
  with pytest.raises(utils.UsageError,
                     match=r"takes inputs \['image', 'mask'\]; linear "
                           'evaluation needs a signature with one input'):
    module_features.FrozenModule(two_inputs, 'representation')


# -- Point 2: conversion of the paper's and S4L's modules ----------------


def test_converted_module_equals_the_source_and_fine_tunes(
    revisiting_module, converted_module):
  import tensorflow_hub as hub  # noqa: PLC0415
  import tf_keras  # noqa: PLC0415
  output = converted_module
  source = hub.load(revisiting_module, tags=set())
  converted = hub.load(output)
  images = _images(1)
  want = source.signatures['representation'](image=images)
  have = converted.signatures['representation'](image=images)
  assert sorted(have) == sorted(want)
  for key in want:
    _close(have[key], want[key])
  _close(converted.signatures['default'](image=images)['default'],
         source.signatures['default'](image=images)['default'])

  # Fine-tuning under hub.KerasLayer: every trained variable moves.
  layer = hub.KerasLayer(output, trainable=True)
  model = tf_keras.Sequential([tf_keras.Input((32, 32, 3)), layer])
  assert model.losses  # The network's weight decay.
  model.compile(tf_keras.optimizers.SGD(0.01),
                tf_keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True))
  before = [v.numpy().copy() for v in layer.trainable_weights]
  model.fit(images, tf.constant([0, 1, 2]), epochs=1, verbose=0)
  moved = [not np.allclose(b, v.numpy())
           for b, v in zip(before, layer.trainable_weights)]
  assert len(moved) > 100 and all(moved)


def test_converted_module_goes_through_linear_evaluation(
    revisiting_module, converted_module):
  module = module_features.FrozenModule(converted_module, 'representation')
  source = module_features.FrozenModule(revisiting_module, 'representation')
  images = _images(2, 16)
  pooled = module_features.pool_end_points(module(images), 'max')
  expected = module_features.pool_end_points(source(images), 'max')
  for key in expected:
    _close(pooled[key], expected[key])


@pytest.mark.slow  # A subprocess that imports TensorFlow.
def test_command_line_converts(revisiting_module, check_glob, tmp_path):
  """The README's command: flags reach `convert`, the module is written."""
  output = tmp_path / 'module'
  proc = subprocess.run(
      [sys.executable, str(REPO / 'tools' / 'convert_module.py'),
       '--source', revisiting_module, '--output', str(output),
       '--check_images', check_glob, '--check_count', '2',
       '--check_size', '32'], capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert (output / 'saved_model.pb').exists()
  proc = subprocess.run(
      [sys.executable, str(REPO / 'tools' / 'convert_module.py'),
       '--source', revisiting_module], capture_output=True, text=True,
      timeout=600)
  assert proc.returncode != 0
  assert '--source and --output are required' in proc.stderr


def test_wrong_network_options_fail_before_writing(revisiting_module,
                                                   check_glob, tmp_path):
  output = tmp_path / 'converted'
  with pytest.raises(convert_module.ConversionError,
                     match='after_root: shape .*--root_conv_stride 1'):
    convert_module.convert(revisiting_module, str(output),
                           check_images=check_glob, check_count=2,
                           check_size=32, root_conv_stride=1)
  assert not output.exists()


def test_s4l_module_converts_with_its_heads(check_glob, tmp_path):
  import tensorflow_hub as hub  # noqa: PLC0415
  source_path = tf1_modules.write_hub_module(
      str(tmp_path / 's4l'), lambda images, training: (
          tf1_modules.resnet_v2_graph(images, training, filters_factor=FF,
                                      num_classes=NUM_CLASSES, s4l=True,
                                      units=(1, 2, 1, 1))),
      [None, 32, 32, 3])
  names = tf.train.list_variables(
      os.path.join(source_path, 'variables', 'variables'))
  assert ('block2/unit1/proj/conv2d/kernel', [1, 1, 64, 128]) in names
  output = str(tmp_path / 'converted')
  convert_module.convert(source_path, output, check_images=check_glob,
                         check_count=2, default_end_point='rotations')
  source = hub.load(source_path, tags=set())
  converted = hub.load(output)
  images = _images(3)
  want = source.signatures['representation'](image=images)
  have = converted.signatures['representation'](image=images)
  assert {'classes', 'rotations_unsup', 'pre_logits'} <= set(want)
  assert sorted(have) == sorted(want)
  for key in want:
    _close(have[key], want[key])
  spec = converted.signatures['default'].structured_input_signature[1]
  assert spec['image'].shape.as_list() == [None, 32, 32, 3]
  _close(converted.signatures['default'](image=images)['default'],
         want['rotations'])


# The paper's other networks, each (builder, the source's input shape, the
# test images' size). 40 pixels give odd sizes in the later stages (the
# fixed padding of strided convolutions, RevNet's SAME average pool); VGG19
# needs a static size, and at 64 its fc6 kernel is 2x2.
_PAPER_NETWORKS = {
    'resnet50_v1': (tf1_modules.resnet_v1_graph, [None, None, None, 3], 40),
    'revnet50': (tf1_modules.revnet_graph, [None, None, None, 3], 40),
    'vgg19': (tf1_modules.vgg19_graph, [None, 64, 64, 3], 64),
}


@pytest.mark.parametrize('name', sorted(_PAPER_NETWORKS))
def test_paper_networks_convert_to_equal_modules(name, check_glob,
                                                 tmp_path):
  import tensorflow_hub as hub  # noqa: PLC0415
  build, input_shape, size = _PAPER_NETWORKS[name]
  source_path = tf1_modules.write_hub_module(
      str(tmp_path / 'source'), lambda images, training: build(
          images, training, filters_factor=FF, num_classes=NUM_CLASSES),
      input_shape, seed=5)
  output = str(tmp_path / 'converted')
  report = convert_module.convert(
      source_path, output, check_images=check_glob, check_count=2,
      check_size=32, architecture=name.split('_')[0])
  assert {'default', 'block4', 'pre_logits', 'logits'} <= set(report)
  source = hub.load(source_path, tags=set())
  converted = hub.load(output)
  images = _images(6, size)
  want = source.signatures['representation'](image=images)
  have = converted.signatures['representation'](image=images)
  assert sorted(have) == sorted(want)
  for key in want:
    _close(have[key], want[key])
  default = source.signatures['default'](image=images)['default']
  _close(converted.signatures['default'](image=images)['default'], default)
  # The Reusable SavedModel interface, as hub.KerasLayer(output) uses it.
  _close(hub.KerasLayer(converted)(images), default)


# -- Point 3: the multi-task model's slim checkpoint ---------------------


@pytest.mark.parametrize('units,num_classes', [
    ((2, 2, 3, 2), NUM_CLASSES),  # A whole network with logits.
    ((2, 2, 3), None),  # As the multi-task model: up to block3.
])
def test_slim_checkpoint_equals_keras_resnet_v2(units, num_classes,
                                                check_glob, tmp_path):
  import tensorflow_hub as hub  # noqa: PLC0415
  scope = 'resnet_v2_50' if num_classes else 'resnet_v2_101'
  keras_model = tf1_modules.keras_resnet_v2(units, FF, num_classes)
  values = tf1_modules.slim_names(keras_model, scope)
  checkpoint = tf1_modules.write_slim_checkpoint(
      str(tmp_path / 'ckpt' / 'model.ckpt'), values)
  output = str(tmp_path / 'converted')
  convert_module.convert(checkpoint, output, check_images=check_glob,
                         check_count=2, check_size=32)
  converted = hub.load(output)
  images = _images(4, 33, vgg=True)
  want = keras_model(images)
  have = converted.signatures['representation'](image=images)
  assert sorted(have) == sorted(want)
  for key in want:
    _close(have[key], want[key])
  default = converted.signatures['default'](image=images)['default']
  _close(default, want['logits' if num_classes else 'pre_logits'])


def test_unmatched_names_are_listed_and_nothing_is_written(check_glob,
                                                           tmp_path):
  keras_model = tf1_modules.keras_resnet_v2((2, 2, 2, 2), FF, None)
  values = tf1_modules.slim_names(keras_model, 'resnet_v2_x')
  del values['resnet_v2_x/block2/unit_1/bottleneck_v2/conv3/biases']
  values['resnet_v2_x/block2/unit_1/bottleneck_v2/extra/weights'] = (
      np.zeros([1], np.float32))
  checkpoint = tf1_modules.write_slim_checkpoint(
      str(tmp_path / 'model.ckpt'), values)
  output = tmp_path / 'converted'
  with pytest.raises(convert_module.ConversionError,
                     match=r'without a counterpart: .*unit_1/bottleneck_v2/'
                           r'extra/weights.*lacks: .*unit_1/bottleneck_v2/'
                           r'conv3/biases'):
    convert_module.convert(checkpoint, str(output), check_images=check_glob)
  assert not output.exists()


def test_slim_layout_is_an_option_of_our_resnet_v2():
  net = models.get_net('resnet101_slim', None, filters_factor=FF)
  _, end_points = net(tf.zeros([1, 64, 64, 3]))
  # Slim strides each stage's last unit: block1 is already at 1/8.
  assert end_points['block1'].shape == (1, 8, 8, 64)
  assert end_points['block4'].shape == (1, 2, 2, 512)
  assert net.root_conv.bias is not None
  assert net.final_bn.epsilon == 1e-5
  with pytest.raises(utils.UsageError, match='slim layout is a v2'):
    models.get_net('resnet101_slim', None, mode='v1')


def test_vgg_preprocess_subtracts_the_rgb_mean():
  from revisiting_ssl import preprocess  # noqa: PLC0415
  fn = preprocess.get_preprocess_fn('vgg_preprocess', is_training=False)
  image = tf.fill([2, 2, 3], tf.constant(200, tf.uint8))
  out = fn({'image': image})['image']
  _close(out[0, 0], [76.32, 83.221, 96.061], 1e-6)
