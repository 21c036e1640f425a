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

"""A task, network and data set of the user's own, used by name.

The module below is what a lab would write (the README's "Your own task,
network or data set" shows it). It is imported with `--import` on the
command line and with a plain import from Python, in subprocesses, so that
this test process's registries stay as the project ships them.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import testdata

LAB_MODULE = textwrap.dedent('''
    """A lab's own network and task, registered from outside the project."""

    import keras
    import tensorflow as tf

    from revisiting_ssl import datasets, models
    from revisiting_ssl.data_sources import fashion_mnist
    from revisiting_ssl.self_supervision import self_supervision_lib as lib


    @datasets.register('lab_fashion')
    class LabFashion(fashion_mnist.FashionMnistSource):
      """The lab's copy of Fashion-MNIST (a data set of its own would
      subclass `DataSource`)."""


    @models.register('lab_cnn')
    class LabCNN(keras.Model):
      """Two convolutions and a linear classifier."""

      def __init__(self, num_classes=None, *, width: int = 4,
                   weight_decay: float = 0.0):
        """Builds the layers.

        Args:
          num_classes: width of the logits; None for none.
          width: channels of the convolutions.
          weight_decay: L2 strength of the kernels.
        """
        super().__init__()
        l2 = keras.regularizers.L2(weight_decay) if weight_decay else None
        self.convs = [keras.layers.Conv2D(width, 3, strides=2,
                                          activation='relu',
                                          kernel_regularizer=l2)
                      for _ in range(2)]
        self.head = keras.layers.Dense(num_classes) if num_classes else None

      def call(self, images, training=False):
        x = images
        end_points = {}
        for i, conv in enumerate(self.convs):
          x = conv(x)
          end_points[f'block{i + 1}'] = x
        x = tf.reduce_mean(x, axis=[1, 2])
        end_points['pre_logits'] = x
        if self.head is not None:
          x = self.head(x)
          end_points['logits'] = x
        return x, end_points


    @lib.register('lab_smoothed')
    class SmoothedTask(lib.Task):
      """Classification with label smoothing."""

      input_streams = ('sup',)

      def __init__(self, *, num_classes: int, smoothing: float = 0.1,
                   network=None):
        """Builds the trunk.

        Args:
          num_classes: classes of the data set.
          smoothing: label smoothing of the cross-entropy.
          network: the trunk (`models.Network`).
        """
        super().__init__(network=network)
        self.num_classes = num_classes
        self.smoothing = smoothing
        self.net = self.build_net(num_classes)

      def checkpoint_items(self):
        return {'net': self.net}

      def compute(self, batch, training):
        logits, _ = self.net(batch['image'], training=training)
        targets = tf.one_hot(batch['label'], self.num_classes)
        targets = targets * (1 - self.smoothing) + (
            self.smoothing / self.num_classes)
        loss = lib.masked_mean(tf.nn.softmax_cross_entropy_with_logits(
            targets, tf.cast(logits, tf.float32)), batch['mask'])
        return lib.TaskOutput(loss=loss, metrics=lib.classification_metrics(
            logits, batch['label'], batch['mask'], 'logits'))

      def serve(self, images, training=False):
        return self.net(images, training=training)
''')


@pytest.fixture
def lab(tmp_path):
  """A directory holding the lab's module, for PYTHONPATH."""
  (tmp_path / 'lab').mkdir()
  (tmp_path / 'lab' / 'lab_tasks.py').write_text(LAB_MODULE)
  return str(tmp_path / 'lab')


def lab_args(data_dir, workdir, *extra, task='lab_smoothed'):
  """The tiny supervised run's flags, with the lab's task, network and
  data set."""
  args = testdata.tiny_supervised_args(data_dir, workdir, '--epochs', '1',
                                       *extra)
  args[args.index('--task') + 1] = task
  args[args.index('--dataset') + 1] = 'lab_fashion'
  args[args.index('--architecture') + 1] = 'lab_cnn'
  at = args.index('--filters_factor')  # ResNet's and VGG's, not lab_cnn's.
  del args[at:at + 2]
  return args


@pytest.mark.slow
def test_own_task_and_network_from_the_command_line(lab, data_dir,
                                                    tmp_path):
  env = {'PYTHONPATH': lab}
  workdir = tmp_path / 'run'
  testdata.run_main(['--import', 'lab_tasks', *lab_args(
      data_dir, str(workdir), '--smoothing', '0.2', '--width', '6')],
                    env=env)
  config = json.loads((workdir / 'config.json').read_text())
  assert config['smoothing'] == 0.2 and config['width'] == 6
  assert config['dataset'] == 'lab_fashion'
  assert os.path.isfile(workdir / 'TRAINING_IS_DONE')

  # Its options are flags, with the help of their docstrings...
  proc = testdata.run_main(['--import', 'lab_tasks', '--help'], env=env)
  assert 'Label smoothing of the cross-entropy' in proc.stdout
  assert 'Channels of the convolutions' in proc.stdout
  # ... read only when chosen, like the project's own.
  proc = testdata.run_main(['--import', 'lab_tasks', '--dry_run', *lab_args(
      data_dir, str(tmp_path / 'dry'), '--smoothing', '0.2',
      task='supervised')], env=env, check=False)
  assert proc.returncode == 1
  assert '--smoothing (read only by task lab_smoothed)' in proc.stderr
  proc = testdata.run_main(['--import', 'no_such_lab', '--dry_run'],
                           env=env, check=False)
  assert proc.returncode == 1
  assert "Error: --import no_such_lab: No module named 'no_such_lab'" in (
      proc.stderr)


@pytest.mark.slow
def test_own_task_and_network_from_python(lab, data_dir, tmp_path):
  options = {'task': 'lab_smoothed', 'architecture': 'lab_cnn',
             'smoothing': 0.3, 'width': 5, 'dataset': 'fashion_mnist',
             'dataset_dir': data_dir, 'train_split': 'trainval',
             'val_split': 'test', 'preprocessing': 'resize,-1_to_1',
             'resize_size': '32', 'batch_size': 16, 'lr': 0.05,
             'epochs': 1, 'use_tpu': False, 'iterations_per_loop': 3,
             'serving_input_shape': 'None,32,32,3',
             'workdir': str(tmp_path / 'run')}
  script = ('import json, sys, lab_tasks, revisiting_ssl\n'
            'options = json.loads(sys.argv[1])\n'
            'print(json.dumps(revisiting_ssl.train(**options)))\n'
            'print(json.dumps(revisiting_ssl.export(**options)))\n')
  proc = subprocess.run(
      [sys.executable, '-c', script, json.dumps(options)],
      capture_output=True, text=True, timeout=600,
      env=dict(os.environ, PYTHONPATH=lab, TF_CPP_MIN_LOG_LEVEL='2'))
  assert proc.returncode == 0, proc.stderr[-3000:]
  trained, exported = (json.loads(line)
                       for line in proc.stdout.strip().splitlines()[-2:])
  assert trained['step'] == 6
  assert os.path.isdir(os.path.join(exported['module'], 'variables'))
