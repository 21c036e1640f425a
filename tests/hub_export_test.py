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

"""Hub modules: signatures, the Reusable SavedModel interface, retention."""

import logging
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
import testdata

from revisiting_ssl import utils
from revisiting_ssl.probes import module_features
from revisiting_ssl.training import hub_export


class TinyNet(keras.Model):
  """Conv -> BN -> pool -> dense, with end points like our networks."""

  def __init__(self):
    super().__init__()
    self.conv = keras.layers.Conv2D(
        4, 3, kernel_regularizer=keras.regularizers.L2(0.5e-2))
    self.bn = keras.layers.BatchNormalization()
    self.head = keras.layers.Dense(3)

  def call(self, images, training=False):
    x = self.bn(self.conv(images), training=training)
    pooled = tf.reduce_mean(x, axis=[1, 2])
    logits = self.head(pooled)
    return logits, {'block1': x, 'pre_logits': pooled, 'logits': logits}


def make_net():
  net = TinyNet()
  net(tf.zeros([1, 8, 8, 3]))
  return net


def test_module_interface_and_signatures(tmp_path):
  net = make_net()
  path = hub_export.export_hub_module(net, {'net': net},
                                      str(tmp_path / 'module'),
                                      [None, 8, 8, 3])
  module = tf.saved_model.load(path)
  images = tf.random.normal([2, 8, 8, 3])
  expected, end_points = net(images, training=False)
  default = module.signatures['default'](image=images)
  np.testing.assert_allclose(default['default'], expected, rtol=1e-5)
  reps = module.signatures['representation'](image=images)
  assert set(reps) == {'block1', 'pre_logits', 'logits'}
  np.testing.assert_allclose(reps['block1'], end_points['block1'], rtol=1e-5)
  np.testing.assert_allclose(module(images, training=False), expected,
                             rtol=1e-5)
  # The training variant uses batch statistics, so it differs.
  assert not np.allclose(module(images, training=True), expected)
  assert len(module.variables) == len(net.weights)
  assert len(module.trainable_variables) == len(net.trainable_weights)
  penalty = sum(float(f()) for f in module.regularization_losses)
  assert penalty == float(tf.add_n(net.losses)) > 0
  spec = module.signatures['default'].structured_input_signature[1]['image']
  assert spec.shape.as_list() == [None, 8, 8, 3]


def test_exports_are_atomic_and_retained(tmp_path, monkeypatch):
  net = make_net()
  workdir = str(tmp_path)
  base = os.path.join(workdir, 'export', 'hub')
  # A leftover of an export killed half-way never counts as a module.
  os.makedirs(os.path.join(base, '5.tmp', 'module'))
  clock = iter(range(100, 200))
  monkeypatch.setattr(hub_export, '_timestamp', lambda: next(clock))
  paths = [hub_export.export_for_checkpoint(net, {'net': net}, workdir,
                                            [None, 8, 8, 3], keep=2)
           for _ in range(3)]
  assert paths[-1] == os.path.join(base, '102', 'module')
  assert sorted(os.listdir(base)) == ['101', '102']
  assert hub_export.list_exports(workdir) == paths[1:]
  for path in paths[1:]:
    tf.saved_model.load(path)


def test_serving_input_key_names_the_signature_input(tmp_path):
  net = make_net()
  path = hub_export.export_hub_module(net, {'net': net},
                                      str(tmp_path / 'module'),
                                      [None, 8, 8, 3], input_key='foo')
  module = tf.saved_model.load(path)
  images = tf.random.normal([2, 8, 8, 3])
  for name in ('default', 'representation'):
    inputs = module.signatures[name].structured_input_signature[1]
    assert list(inputs) == ['foo'], name
    assert inputs['foo'].shape.as_list() == [None, 8, 8, 3]
  expected, end_points = net(images, training=False)
  np.testing.assert_allclose(
      module.signatures['default'](foo=images)['default'], expected,
      rtol=1e-5)
  # Linear evaluation finds the one input, whatever its name.
  frozen = module_features.FrozenModule(path, 'representation')
  assert frozen.input_key == 'foo'
  np.testing.assert_allclose(frozen(images)['pre_logits'],
                             end_points['pre_logits'], rtol=1e-5)


@pytest.mark.parametrize('key', ['', '1image', 'my image', '_image',
                                 'image/0'])
def test_bad_serving_input_keys_are_refused(tmp_path, key):
  net = make_net()
  with pytest.raises(utils.UsageError, match='--serving_input_key'):
    hub_export.export_hub_module(net, {'net': net}, str(tmp_path / 'm'),
                                 [None, 8, 8, 3], input_key=key)
  assert not os.path.exists(tmp_path / 'm')


RENAMED = 'unsupported characters'


def export_log(tmp_path, caplog, name):
  """The log lines of one export, at INFO level and above."""
  net = make_net()
  caplog.clear()
  # TensorFlow's saving code logs through absl's logger.
  with caplog.at_level(logging.INFO), caplog.at_level(logging.INFO,
                                                      logger='absl'):
    path = hub_export.export_hub_module(net, {'net': net},
                                        str(tmp_path / name),
                                        [None, 8, 8, 3])
  return path, [r.getMessage() for r in caplog.records]


def test_exports_rename_no_signature_input(tmp_path, caplog, monkeypatch):
  path, lines = export_log(tmp_path, caplog, 'named')
  assert not [line for line in lines if RENAMED in line]
  # The saved signature functions take the images and the captured
  # variables under the names given, none renamed to "unknown".
  saved = saved_model_pb2.SavedModel()
  with open(os.path.join(path, 'saved_model.pb'), 'rb') as f:
    saved.ParseFromString(f.read())
  functions = {f.signature.name: [a.name for a in f.signature.input_arg]
               for f in saved.meta_graphs[0].graph_def.library.function}
  for name in ('default_signature', 'representation_signature'):
    (args,) = [a for f, a in functions.items()
               if f.startswith(f'__inference_{name}_')]
    assert args == ['image'] + [f'captured_input_{i}'
                                for i in range(len(args) - 1)], args
    assert len(args) > 1
  # The check sees TensorFlow's line when the captures are left unnamed.
  monkeypatch.setattr(hub_export, '_name_captures', lambda *_: None)
  _, lines = export_log(tmp_path, caplog, 'unnamed')
  assert [line for line in lines if RENAMED in line]


@pytest.mark.slow
def test_serving_input_key_flag_reaches_the_export(data_dir, tmp_path):
  workdir = str(tmp_path / 'work')
  proc = testdata.run_main(testdata.tiny_supervised_args(
      data_dir, workdir, '--epochs', '1', '--export_only',
      '--serving_input_key', 'foo'))
  assert 'Exported hub module' in proc.stderr
  assert RENAMED not in proc.stderr
  (path,) = hub_export.list_exports(workdir)
  module = tf.saved_model.load(path)
  for name in ('default', 'representation'):
    assert list(module.signatures[name].structured_input_signature[1]) == [
        'foo']
