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

"""benchmarks/accelerator.py at a tiny size, and its FLOP accounting.

The benchmark's networks are replaced by tiny stand-ins (the real ResNet-50
takes a minute to compile under XLA on these CPUs; `models_test.py` covers
it), so that every configuration runs through the benchmark's own code.
benchmarks/backbone_throughput.py (the CPU's side-by-side comparison of
precisions) runs with the real networks at 32x32.
"""

import inspect
import re
import subprocess
import sys

import keras
import pytest
import tensorflow as tf
import testdata

from revisiting_ssl import models

# The benchmark is a script, not a module of the package.
accelerator = testdata.load_script('benchmarks/accelerator.py',
                                  'accelerator_benchmark')


class TinyNet(keras.Model):
  """A stand-in with the `models.get_net` contract (no batch norm: XLA
  compiles it in half the time)."""

  def __init__(self, num_classes=None, **kwargs):
    super().__init__()
    self.conv = keras.layers.Conv2D(
        4, 3, strides=2, kernel_regularizer=keras.regularizers.L2(1e-4))
    self.head = keras.layers.Dense(num_classes)

  def call(self, images, training=False):
    del training
    pre_logits = tf.reduce_mean(self.conv(images), axis=[1, 2])
    logits = self.head(pre_logits)
    return logits, {'pre_logits': pre_logits, 'logits': logits}


@pytest.fixture
def tiny_networks(monkeypatch):
  """Stand-ins for our ResNet-50 and Keras' ResNet50V2; records the calls."""
  calls = []
  real_keras_net = keras.applications.ResNet50V2

  def network(architecture, **options):
    models.net_options(architecture)  # Fails for an unknown name.

    def make(num_classes, **kwargs):
      calls.append(('ours', architecture, kwargs))
      return TinyNet(num_classes)

    return testdata.StandInNetwork(make, architecture=architecture, **options)

  def keras_net(**kwargs):
    inspect.signature(real_keras_net).bind(**kwargs)  # Valid arguments.
    calls.append(('keras', kwargs))
    inputs = keras.Input(kwargs['input_shape'])
    x = keras.layers.Conv2D(4, 3, strides=2)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(kwargs['classes'])(x))

  # `models.get_net` builds through `models.Network` too.
  monkeypatch.setattr(models, 'Network', network)
  monkeypatch.setattr(keras.applications, 'ResNet50V2', keras_net)
  yield calls
  keras.mixed_precision.set_global_policy('float32')


def test_every_configuration_prints_a_rate(tiny_networks, capsys):
  accelerator.main(['--image_size', '16', '--batch_size', '4', '--steps',
                    '1', '--rounds', '1', '--warmup_steps', '1',
                    '--matmul_size', '32'])
  out = capsys.readouterr().out
  assert re.search(r'^device: CPU \S', out, re.M), out
  assert re.search(r'^host: .*flags: ', out, re.M), out
  assert re.search(r'matmul 32x32 .*float32 .*bfloat16 ', out), out
  rows = {}
  for line in out.splitlines():
    match = re.match(r'(\w+) +(float32|mixed) +XLA (on|off) +([\d.]+) +'
                     r'([\d.]+) +(\S+) +(\S+) +([\d.]+)%', line)
    if match:
      rows[match.group(1, 2, 3)] = [float(x) for x in match.group(4, 5, 6)]
  expected = {(model, precision, xla) for model in ('ours', 'keras')
              for precision in ('float32', 'mixed') for xla in ('off', 'on')}
  expected |= {('rotation', 'mixed', 'off'), ('rotation', 'mixed', 'on')}
  assert set(rows) == expected, out
  assert all(rate > 0 and flops > 0 for rate, _, flops in rows.values())
  assert rows['ours', 'float32', 'off'][1] == 1.0  # The first row.
  assert ('ours', 'resnet50', {'mode': 'v2', 'filters_factor': 4}) in (
      tiny_networks)
  assert keras.mixed_precision.global_policy().name == 'float32'


def test_subset_and_bad_lists(tiny_networks, capsys):
  accelerator.main(['--image_size', '8', '--batch_size', '2', '--steps',
                    '1', '--rounds', '1', '--warmup_steps', '1',
                    '--matmul_size', '16', '--models', 'keras',
                    '--precisions', 'float32', '--xla', 'off'])
  out = capsys.readouterr().out
  assert re.search(r'^keras +float32 XLA off +[\d.]+', out, re.M), out
  assert 'ours ' not in out and 'bfloat16' not in out
  with pytest.raises(SystemExit):
    accelerator.parse_args(['--models', 'ours,resnet'])


def test_gpu_configuration_scales_the_float16_loss(tiny_networks, capsys,
                                                   monkeypatch):
  # What runs on a GPU (float16, loss scaling), here on the CPU.
  monkeypatch.setattr(accelerator, 'find_device', lambda tpu_name: (
      tf.distribute.get_strategy(), 'GPU', 'GPU stand-in'))
  scaled = []
  real_optimizer = keras.mixed_precision.LossScaleOptimizer

  def optimizer(inner):
    scaled.append(inner)
    return real_optimizer(inner)

  monkeypatch.setattr(keras.mixed_precision, 'LossScaleOptimizer',
                      optimizer)
  accelerator.main(['--image_size', '8', '--batch_size', '2', '--steps',
                    '1', '--rounds', '1', '--warmup_steps', '1',
                    '--matmul_size', '16', '--models', 'ours',
                    '--xla', 'off'])
  out = capsys.readouterr().out
  assert 'device: GPU stand-in' in out
  assert re.search(r'float32 .*float16 ', out), out
  assert re.search(r'^ours +mixed +XLA off +[\d.]+', out, re.M), out
  assert len(scaled) == 1  # The mixed row only.


def test_training_flops_count_multiply_adds_twice():
  # A 3x3 convolution from 3 to 8 channels on 8x8 images, a strided 3x3
  # "valid" one from 8 to 6 channels on the padded 10x10 result (4x4 out),
  # and a dense layer from 6 to 5.
  inputs = keras.Input([8, 8, 3])
  x = keras.layers.Conv2D(8, 3, padding='same', use_bias=False)(inputs)
  x = keras.layers.ZeroPadding2D(1)(x)
  x = keras.layers.Conv2D(6, 3, strides=2, use_bias=False)(x)
  x = keras.layers.GlobalAveragePooling2D()(x)
  net = keras.Model(inputs, keras.layers.Dense(5, use_bias=False)(x))
  batch = {'image': tf.zeros([2, 8, 8, 3])}
  forward, backward = accelerator.training_flops(
      lambda b, training: tf.reduce_sum(net(b['image'], training=training)),
      net.trainable_variables, batch)
  # Multiply-adds per image.
  conv1, conv2, dense = 8 * 8 * 3 * 3 * 3 * 8, 4 * 4 * 3 * 3 * 8 * 6, 6 * 5
  assert forward == 2 * 2 * (conv1 + conv2 + dense)
  # The gradients of every weight and of the inputs of all but the first
  # layer (the images need none).
  assert backward == 2 * 2 * (conv1 + 2 * conv2 + 2 * dense)


def test_backbone_throughput_compares_precisions_side_by_side():
  # The CPU benchmark at a tiny size, real networks: both networks in
  # float32 and mixed_bfloat16, timed in one run, ratios and CPU flags.
  result = subprocess.run(
      [sys.executable, 'benchmarks/backbone_throughput.py', '--batch_size=2',
       '--image_size=32', '--rounds=1', '--steps_per_round=1',
       '--warmup_steps=1', '--mixed_precision'],
      cwd=str(testdata.REPO), capture_output=True, text=True, timeout=600,
      check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  log = result.stderr
  assert 'CPU: ' in log and 'flags: ' in log
  assert 'bfloat16 units of this CPU: ' in log
  for name in ('ours', 'keras'):
    assert re.search(rf'{name}: mixed_bfloat16 / float32 = \d+\.\d\dx', log)
    for policy in ('float32', 'mixed_bfloat16'):
      assert re.search(rf'round 0 {name} {policy}: \d+\.\d\d img/s', log)
  assert re.search(r'matmul bfloat16 / float32 = \d+\.\d\dx', log)
