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

"""The Python API runs what the command line runs, with no global state."""

import os

from absl import flags
import numpy as np
import pytest
import tensorflow as tf
import testdata

import revisiting_ssl
from revisiting_ssl import api, utils


@pytest.fixture(autouse=True)
def restore_op_determinism():
  """A seeded run turns on TensorFlow's op determinism for the process."""
  # pylint: disable-next=g-import-not-at-top
  from tensorflow.python.framework import config  # noqa: PLC0415
  was = config.is_op_determinism_enabled()
  yield
  if not was:
    config.disable_op_determinism()


def as_keywords(args):
  """Command-line arguments as the API's keywords (values as written)."""
  keywords, i = {}, 0
  while i < len(args):
    name = args[i][2:]
    if i + 1 < len(args) and not args[i + 1].startswith('--'):
      keywords[name] = args[i + 1]
      i += 2
    else:
      keywords[name[2:] if name.startswith('no') else name] = (
          not name.startswith('no'))
      i += 1
  return keywords


def final_weights(workdir):
  """The weights of the latest checkpoint (not the input iterator's state)."""
  reader = tf.train.load_checkpoint(str(workdir))
  return {name: reader.get_tensor(name)
          for name, dtype in reader.get_variable_to_dtype_map().items()
          if dtype.is_floating}


def assert_same_weights(first, second):
  a, b = final_weights(first), final_weights(second)
  assert a.keys() == b.keys()
  for name in a:
    np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_keywords_are_read_as_the_command_line_reads_flags():
  assert as_keywords(['--lr', '0.1', '--nouse_tpu', '--dry_run']) == {
      'lr': '0.1', 'use_tpu': False, 'dry_run': True}


@pytest.mark.slow
def test_two_runs_in_one_process_give_what_two_command_lines_give(
    data_dir, tmp_path):
  before = {name: flags.FLAGS[name].value for name in flags.FLAGS}

  def options(workdir, lr):
    return as_keywords(testdata.tiny_supervised_args(
        data_dir, str(workdir), '--epochs', '1', '--lr', lr,
        '--random_seed', '7'))

  first = api.train(**options(tmp_path / 'a', '0.05'))
  second = revisiting_ssl.train(**options(tmp_path / 'b', '0.01'))
  again = api.train(**options(tmp_path / 'a2', '0.05'))
  assert first['step'] == second['step'] == again['step'] == 6
  assert first['loss'] == again['loss'] != second['loss']
  assert_same_weights(tmp_path / 'a', tmp_path / 'a2')
  # The command line, in its own process, with the same options.
  testdata.run_main(testdata.tiny_supervised_args(
      data_dir, str(tmp_path / 'cli'), '--epochs', '1', '--lr', '0.05',
      '--random_seed', '7'))
  assert_same_weights(tmp_path / 'a', tmp_path / 'cli')
  # absl's global flags were never touched.
  assert {name: flags.FLAGS[name].value for name in flags.FLAGS} == before

  exported = api.export(**options(tmp_path / 'a', '0.05'))
  assert os.path.isdir(exported['module'])


def test_bad_keywords_fail_before_any_work(data_dir, tmp_path):
  options = as_keywords(testdata.tiny_supervised_args(
      data_dir, str(tmp_path / 'run'), '--epochs', '1'))
  with pytest.raises(utils.UsageError, match="'lr_rate'.*Did you mean lr"):
    api.train(**options, lr_rate=0.1)
  with pytest.raises(utils.UsageError, match=r'margin \(read only by task '
                     r'exemplar\)'):
    api.train(**options, margin=0.5)
  with pytest.raises(utils.UsageError, match='batch_size'):
    api.train(**{**options, 'batch_size': 'many'})
  assert not (tmp_path / 'run').exists()
