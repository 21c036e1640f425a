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

import os

import keras
import numpy as np
import tensorflow as tf

import hub_export


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
