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

"""Every shipped config script validates and builds with --dry_run."""

import json
import os
import re
import subprocess

from conftest import REPO
import pytest
from testdata import write_fashion_mnist

# Every training config (generate_pseudo_dataset.sh runs a tool; its test
# is in pseudo_labels_test.py).
CONFIGS = sorted(p.relative_to(REPO / 'config').as_posix()
                 for p in (REPO / 'config').rglob('*.sh')
                 if p.name not in ('common.sh', 'generate_pseudo_dataset.sh'))


def config_text(name):
  """A config's text, followed by the texts of the configs it calls."""
  path = REPO / 'config' / name
  text = path.read_text()
  for called in re.findall(r'"\$\(dirname "\$0"\)/([\w.]+\.sh)"', text):
    text += config_text((path.parent / called).relative_to(
        REPO / 'config').as_posix())
  return text


def reads_pseudo_labels(name):
  """Whether a config reads pseudo-labelled TFRecords (itself or through
  the config it calls)."""
  return '--pseudo_label_key' in config_text(name)


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  # At least one batch of the largest shipped batch size (SimCLR's 4096).
  return write_fashion_mnist(str(tmp_path_factory.mktemp('fmnist')),
                             num_train=4100, num_test=40)


@pytest.fixture(scope='module')
def teacher(tmp_path_factory):
  """A module with Fashion-MNIST's 10 classes: SimCLRv2's distillation."""
  import tensorflow as tf  # noqa: PLC0415  (only this fixture needs it)

  from revisiting_ssl import models  # noqa: PLC0415
  from revisiting_ssl.training import hub_export  # noqa: PLC0415
  net = models.get_net('resnet50', num_classes=10, filters_factor=1)
  net(tf.zeros([1, 32, 32, 3]), training=False)
  return hub_export.export_hub_module(
      net, {'net': net}, str(tmp_path_factory.mktemp('teacher') / 'module'),
      [None, None, None, 3])


@pytest.fixture(scope='module')
def tfrecords(tmp_path_factory):
  """A tiny converted data set, for the pseudo-label configs."""
  import numpy as np  # noqa: PLC0415
  from PIL import Image  # noqa: PLC0415  (only this fixture needs it)

  from revisiting_ssl.tools import build_tfrecords  # noqa: PLC0415
  root = tmp_path_factory.mktemp('tfrecords')
  for split in ('train', 'val'):
    for c in range(2):
      folder = root / split / f'c{c}'
      folder.mkdir(parents=True)
      for i in range(3):
        Image.fromarray(np.full((20, 20, 3), 60 * c, np.uint8)).save(
            folder / f'{c}_{i}.JPEG', format='JPEG')
  build_tfrecords.convert(str(root / 'train'), str(root / 'val'),
                          str(root / 'out'), train_shards=1,
                          validation_shards=1)
  return str(root / 'out')


@pytest.mark.slow
@pytest.mark.parametrize('name', CONFIGS)
def test_dry_run(name, data_dir, hub_module, teacher, tfrecords, tmp_path):
  workdir = tmp_path / 'work'
  # There is no ImageNet here: the paper's configs are checked on the tiny
  # Fashion-MNIST stand-in (absl takes the last value of a repeated flag).
  # The Fashion-MNIST configs run on a machine without a TPU as written;
  # the ImageNet ones are the paper's, for a TPU.
  on_cpu = [] if 'fashion_mnist' in name else ['--nouse_tpu']
  args = ['--workdir', str(workdir), *on_cpu, '--dry_run',
          '--dataset', 'fashion_mnist', '--dataset_dir', data_dir,
          '--train_split', 'trainval', '--val_split', 'test']
  if '--task linear_eval' in (REPO / 'config' / name).read_text():
    args += ['--hub_module', hub_module]
  if '--task simclr_distill' in (REPO / 'config' / name).read_text():
    args += ['--hub_module', teacher]
  if '--labels_per_class' in config_text(name):
    # The stand-in has 52 images per class.
    args += ['--labels_per_class', '5']
  if reads_pseudo_labels(name):
    args += ['--dataset', 'tfrecord', '--dataset_dir', tfrecords,
             '--batch_size', '4']
  if os.path.basename(name).startswith('moam_step_'):
    # Width 16 takes a minute to build here; its parameter count is checked
    # with the networks (models_test.py).
    args += ['--filters_factor', '4']
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  env.pop('TPU_NAME', None)
  proc = subprocess.run(['bash', str(REPO / 'config' / name), *args],
                        capture_output=True, text=True, env=env,
                        timeout=600, cwd=str(REPO))
  assert proc.returncode == 0, proc.stderr[-3000:]
  summary = json.loads(proc.stdout[proc.stdout.index('{'):])
  assert summary['trainable_parameters'] > 0
  assert summary['total_steps'] >= 1
  # A dry run validates and builds, but writes nothing.
  assert not workdir.exists()
