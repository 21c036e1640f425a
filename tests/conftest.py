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

"""Shared test set-up: quiet TensorFlow, eight logical CPUs, fixtures.

The code under test is the installed package `revisiting_ssl` (`make venv`
installs this clone in editable mode); the repository root is deliberately
not put on `sys.path`, so a module imported by a bare name fails here as it
would for a user.
"""

import os
import pathlib

import pytest

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# Tests must never look for a TPU through cloud metadata servers.
os.environ.pop('TPU_NAME', None)

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / 'shared' / 'data'

import tensorflow as tf  # noqa: E402  (after the environment is set)

# Eight logical CPU devices, so that tests can run MirroredStrategy with
# several replicas on one CPU (most use two; eight stand for a TPU v3-8).
# This must happen before TensorFlow initialises.
_cpus = tf.config.list_physical_devices('CPU')
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 8)


@pytest.fixture(scope='session')
def data_dir(tmp_path_factory):
  """The tiny Fashion-MNIST look-alike (`testdata.NUM_TRAIN`/`NUM_TEST`)."""
  import testdata  # noqa: PLC0415  (imports this module)
  return testdata.write_fashion_mnist(
      str(tmp_path_factory.mktemp('fmnist')), testdata.NUM_TRAIN,
      testdata.NUM_TEST)


@pytest.fixture(scope='session')
def photos(tmp_path_factory):
  """A folder of JPEG photos (`testdata.photo_dir`)."""
  import testdata  # noqa: PLC0415  (imports this module)
  return pathlib.Path(testdata.photo_dir(str(tmp_path_factory.mktemp(
      'photos'))))


@pytest.fixture(scope='session')
def hub_module(tmp_path_factory):
  """A tiny exported hub module: ResNet-50 at width 1, 4 classes."""
  from revisiting_ssl import models  # noqa: PLC0415  (after TensorFlow)
  from revisiting_ssl.training import hub_export  # noqa: PLC0415
  net = models.get_net('resnet50', num_classes=4, filters_factor=1)
  net(tf.zeros([1, 64, 64, 3]), training=False)
  path = str(tmp_path_factory.mktemp('module') / 'module')
  hub_export.export_hub_module(net, {'net': net}, path, [None, None, None, 3])
  return path
