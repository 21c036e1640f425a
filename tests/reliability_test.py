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

"""Reliability: preemption, bad input, divergence, concurrent jobs.

Every failure a researcher meets on long runs must end in a correct result
or one clear line, never in lost or corrupted work. The training runs here
use VGG-19 at filters_factor 1 on 32x32 images: it traces about three times
faster than ResNet-50, which keeps the subprocess tests affordable.
"""

import csv
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

from absl import flags
from conftest import REPO
import numpy as np
import pytest
import tensorflow as tf
import testdata
from testdata import (
  NUM_TRAIN,
  checkpoint_steps,
  free_port,
  listed_checkpoints,
  mirrored_strategy,
  run_main,
  tiny_supervised_args,
)

from revisiting_ssl import datasets, entry_flags, models, train_and_eval, utils
from revisiting_ssl import trainer as trainer_lib
from revisiting_ssl.self_supervision import self_supervision_lib
from revisiting_ssl.training import (
  checkpointing,
  committed_dirs,
  distribution,
  evaluation,
  hub_export,
  kill_points,
  preemption,
)


def train_args(data_dir, workdir, *extra):
  """A tiny supervised run: 6 steps per epoch, a checkpoint every 4."""
  return tiny_supervised_args(data_dir, workdir, *extra)


def with_flag(args, name, value):
  """`args` with --name set to value (None removes it)."""
  args = list(args)
  flag = f'--{name}'
  if flag in args:
    i = args.index(flag)
    del args[i:i + 2]
  if value is not None:
    args += [flag, value]
  return args


def start_main(args, log_path, env=None):
  full_env = dict(os.environ)
  full_env.pop('TPU_NAME', None)
  full_env['TF_CPP_MIN_LOG_LEVEL'] = '2'
  full_env.update(env or {})
  log = open(log_path, 'a')  # noqa: SIM115  (closed by the child's exit)
  return subprocess.Popen(
      [sys.executable, str(REPO / 'train_and_eval.py'), *args],
      stdout=subprocess.DEVNULL, stderr=log, env=full_env, cwd=str(REPO))


def kill(proc):
  if proc.poll() is None:
    proc.send_signal(signal.SIGKILL)
  proc.wait()


def wait_for(predicate, timeout, proc=None, interval=0.05):
  """Polls until predicate() is true; False on timeout or process exit."""
  deadline = time.time() + timeout
  while time.time() < deadline:
    if predicate():
      return True
    if proc is not None and proc.poll() is not None:
      return predicate()
    time.sleep(interval)
  return False


def read_checkpoint(path):
  """Every tensor of a checkpoint (fails if any is unreadable).

  The input iterator's state is a variant tensor, which numpy cannot hold;
  its bytes are read with the others when the trainer restores it.
  """
  reader = tf.train.load_checkpoint(path)
  dtypes = reader.get_variable_to_dtype_map()
  return {name: reader.get_tensor(name) for name, dtype in dtypes.items()
          if name != '_CHECKPOINTABLE_OBJECT_GRAPH' and dtype != tf.variant}


def model_state(workdir):
  """Weights, batch-norm statistics and optimiser slots of the latest."""
  values = read_checkpoint(tf.train.latest_checkpoint(workdir))
  return {k: v for k, v in values.items()
          if not k.startswith(('data/', 'save_counter'))}


def snapshot(directory):
  """Names, sizes and mtimes of everything under a directory."""
  result = {}
  for root, _, files in os.walk(directory):
    for name in files:
      path = os.path.join(root, name)
      st = os.stat(path)
      result[os.path.relpath(path, directory)] = (st.st_size, st.st_mtime_ns)
  return result


# -- 1. Preemption ---------------------------------------------------------


def kill_env(point, n, sig):
  """The environment that makes a run signal itself at a kill point."""
  return {kill_points.ENV_VAR: f'{point}:{n}:{sig}'}


def assert_landed(proc, log, point, n, sig, code):
  """The run ended at the kill point with the exit status `code`."""
  text = open(log).read()
  assert proc.returncode == code, text[-3000:]
  line = f'Kill point {point} #{n}: SIG{sig}'
  assert text.count(line) == 1, text[-3000:]
  return text


def uncommitted_exports(workdir):
  base = os.path.join(workdir, 'export', 'hub')
  if not os.path.isdir(base):
    return []
  return [d for d in os.listdir(base)
          if committed_dirs.is_uncommitted(os.path.join(base, d))]


def eval_rows(workdir):
  path = os.path.join(workdir, evaluation.EVAL_RESULTS)
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    rows = list(csv.DictReader(f))
  by_checkpoint = {r['checkpoint']: r for r in rows}
  assert len(by_checkpoint) == len(rows), rows  # One row a checkpoint.
  return by_checkpoint


@pytest.mark.slow
def test_chaos_kills_end_like_an_uninterrupted_run(data_dir, tmp_path):
  """Trainer and evaluator killed at seeded points; same weights and CSV.

  Each kill lands at a named point of the code (`kill_points`), checked
  from the log line it prints and from what it leaves behind: a SIGTERM
  at a loop's end (a preemption: the step is saved), a SIGKILL inside a
  checkpoint save, and in the evaluator a SIGKILL during an evaluation and
  a SIGTERM inside an export.
  """
  seed = 20261206
  rng = random.Random(seed)
  args = with_flag(train_args(data_dir, '', '--epochs', '2',
                              '--random_seed', '5',
                              '--keep_checkpoint_max', '20'),
                   'preprocessing', 'resize,flip_lr,-1_to_1')
  evaluate = ['--run_eval', '--eval_every_checkpoint',
              '--eval_timeout_secs', '240']
  reference_dir = str(tmp_path / 'reference')
  workdir = str(tmp_path / 'chaos')
  train_log, eval_log = str(tmp_path / 'train.log'), str(tmp_path /
                                                          'eval.log')
  reference = [
      start_main(with_flag(args, 'workdir', reference_dir),
                 str(tmp_path / 'reference.log')),
      start_main(with_flag(args + evaluate, 'workdir', reference_dir),
                 str(tmp_path / 'reference_eval.log'))]
  args = with_flag(args, 'workdir', workdir)
  procs = list(reference)
  # Preempted at step 6, off the cadence of 4: not evaluated, while ckpt-4
  # is, and is where the evaluator dies.
  loops = 3
  batch = rng.randint(1, 3)
  context = f'random seed {seed}'
  try:
    # 1. SIGTERM after a seeded loop; the evaluator dies mid-evaluation.
    trainer = start_main(args, train_log,
                         kill_env('train_loop', loops, 'TERM'))
    evaluator = start_main(args + evaluate, eval_log,
                           kill_env('evaluation_batch', batch, 'KILL'))
    procs += [trainer, evaluator]
    trainer.wait(timeout=300)
    text = assert_landed(trainer, train_log, 'train_loop', loops, 'TERM',
                         preemption.PREEMPTED_EXIT_CODE)
    assert f'\nPreempted (SIGTERM): saved step {2 * loops} ' in text, context
    assert checkpoint_steps(workdir)[-1] == 2 * loops, context
    assert not os.path.exists(os.path.join(workdir, 'TRAINING_IS_DONE'))
    evaluator.wait(timeout=300)
    assert_landed(evaluator, eval_log, 'evaluation_batch', batch, 'KILL',
                  -signal.SIGKILL)
    assert not eval_rows(workdir), context
    # 2. SIGKILL inside the next save; SIGTERM inside the evaluator's export.
    trainer = start_main(args, train_log,
                         kill_env('checkpoint_written', 1, 'KILL'))
    evaluator = start_main(args + evaluate, eval_log,
                           kill_env('export_written', 1, 'TERM'))
    procs += [trainer, evaluator]
    trainer.wait(timeout=300)
    assert_landed(trainer, train_log, 'checkpoint_written', 1, 'KILL',
                  -signal.SIGKILL)
    written = 4 * (loops // 2 + 1)  # The next multiple of 4.
    assert os.path.exists(os.path.join(workdir, f'ckpt-{written}.index'))
    assert checkpoint_steps(workdir)[-1] == 2 * loops, context
    evaluator.wait(timeout=300)
    assert_landed(evaluator, eval_log, 'export_written', 1, 'TERM',
                  -signal.SIGTERM)
    assert uncommitted_exports(workdir), context
    assert not eval_rows(workdir), context
    # 3. To the end, with the last evaluator beside it.
    evaluator = start_main(args + evaluate, eval_log)
    trainer = start_main(args, train_log)
    procs += [trainer, evaluator]
    assert trainer.wait(timeout=300) == 0, open(train_log).read()[-3000:]
    assert evaluator.wait(timeout=300) == 0, open(eval_log).read()[-3000:]
    for proc in reference:
      assert proc.wait(timeout=300) == 0
  finally:
    for proc in procs:
      kill(proc)
  assert open(os.path.join(workdir, 'TRAINING_IS_DONE')).read().strip() == (
      '12'), context
  expected = model_state(reference_dir)
  actual = model_state(workdir)
  assert expected.keys() == actual.keys()
  for name, value in expected.items():
    np.testing.assert_array_equal(actual[name], value,
                                  err_msg=f'{name} ({context})')
  # Every checkpoint of the uninterrupted run evaluated once, with the same
  # numbers, and no other (the preemption's save is marked as such).
  expected_rows = eval_rows(reference_dir)
  assert set(expected_rows) == {'ckpt-4', 'ckpt-8', 'ckpt-12'}
  assert eval_rows(workdir) == expected_rows, context
  assert os.path.exists(os.path.join(workdir, f'ckpt-{2 * loops}.preempted'))
  assert not uncommitted_exports(workdir), context
  for module_dir in hub_export.list_exports(workdir)[-1:]:
    tf.saved_model.load(module_dir).signatures['representation']


# -- 2. Bad input ----------------------------------------------------------

BASE = ['--task', 'supervised', '--dataset', 'fashion_mnist',
        '--train_split', 'trainval', '--val_split', 'test',
        '--architecture', 'vgg19', '--filters_factor', '1',
        '--preprocessing', 'resize,-1_to_1', '--resize_size', '32',
        '--batch_size', '16', '--lr', '0.05', '--lr_scale_batch_size', '256',
        '--nouse_tpu', '--epochs', '1',
        '--serving_input_shape', 'None,32,32,3']


def make_module(path, signatures, size=None):
  """A SavedModel whose signatures map `image` to pooled features."""
  spec = tf.TensorSpec([None, size, size, 3], tf.float32, name='image')
  module = tf.Module()

  @tf.function(input_signature=[spec])
  def fn(image):
    pooled = tf.reduce_mean(image, axis=[1, 2])
    return {'default': pooled, 'pre_logits': pooled}

  module.fn = fn
  tf.saved_model.save(module, path,
                      signatures={name: fn for name in signatures})
  return path


def write_tfrecords(directory, num_train=32, num_test=8, corrupt=()):
  """A tiny `--dataset tfrecord` data set: 2 train shards, 1 test shard.

  Args:
    directory: where to write.
    num_train: training records (split over the 2 shards).
    num_test: test records.
    corrupt: indices of training records whose JPEG bytes are garbage.

  Returns:
    The directory.
  """
  os.makedirs(directory, exist_ok=True)
  rng = np.random.default_rng(0)

  def example(index, label):
    image = rng.integers(0, 255, size=(20, 20, 3), dtype=np.uint8)
    encoded = tf.io.encode_jpeg(image).numpy()
    if index in corrupt:
      encoded = b'\xff\xd8 this is not a JPEG image' * 3
    return tf.train.Example(features=tf.train.Features(feature={
        'image/encoded': tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[encoded])),
        'image/class/label': tf.train.Feature(
            int64_list=tf.train.Int64List(value=[label + 1])),
    })).SerializeToString()

  shards = []
  index = 0
  for name, count in (('train-00000-of-00002', num_train // 2),
                      ('train-00001-of-00002', num_train - num_train // 2),
                      ('validation-00000-of-00001', num_test)):
    with tf.io.TFRecordWriter(os.path.join(directory, name)) as writer:
      for _ in range(count):
        writer.write(example(index, index % 3))
        index += 1
    shards.append((name, count))
  info = datasets.make_dataset_info(
      class_names=['a', 'b', 'c'], train_shards=shards[:2],
      validation_shards=shards[2:])
  with open(os.path.join(directory, datasets.DATASET_INFO_FILE), 'w') as f:
    json.dump(info, f)
  return directory


@pytest.fixture(scope='module')
def bad_input_files(tmp_path_factory, data_dir):
  base = tmp_path_factory.mktemp('bad_input')
  empty = base / 'empty'
  empty.mkdir()
  bad_perm = base / 'perm.bin'
  bad_perm.write_bytes(b'\x03\x00\x00\x00\x09\x00\x00\x00' + b'\x01' * 10)
  records = write_tfrecords(str(base / 'records'))
  missing_shard = write_tfrecords(str(base / 'missing_shard'))
  os.remove(os.path.join(missing_shard, 'train-00001-of-00002'))
  blocker = base / 'a_file'
  blocker.write_text('not a directory')
  lists = base / 'lists'
  lists.mkdir()
  (lists / 'list_7').write_text('{"values": ["train-00001"')
  return {
      'fmnist': data_dir,
      'empty': str(empty),
      'missing': str(base / 'does_not_exist'),
      'bad_perm': str(bad_perm),
      'records': records,
      'missing_shard': missing_shard,
      'no_representation': make_module(str(base / 'no_rep'), ['default']),
      'module_64': make_module(str(base / 'm64'), ['default',
                                                    'representation'],
                               size=64),
      'unwritable': str(blocker / 'workdir'),
      'lists': str(lists),
  }


def linear_eval(module):
  return ['--task', 'linear_eval', '--hub_module', module]


# name -> (flag changes, expected fragments of the message). Values are
# formatted with the `bad_input_files` paths.
# S4L-Rotation on the tiny Fashion-MNIST (the task takes both streams).
S4L_ROTATION = {'task': 'rotation',
                'preprocessing': 'resize(32)|-1_to_1|rotate',
                'sup_preprocessing': 'copy_label|resize(32)|-1_to_1|rotate'}

BAD_INPUT = {
    'unknown_task': ({'task': 'rotnet'}, ["Unknown task 'rotnet'",
                                          'rotation', 'jigsaw']),
    'unknown_architecture': ({'architecture': 'resnet9'},
                             ["Unknown architecture 'resnet9'",
                              'resnet50', 'vgg19']),
    'unknown_preprocessing_op': ({'preprocessing': 'resize,blur'},
                                 ["Unknown preprocessing op 'blur'",
                                  'flip_lr']),
    'unknown_dataset': ({'dataset': 'mnist'},
                        ["Unknown dataset 'mnist'", 'fashion_mnist']),
    'unknown_pool_mode': ({'task': 'linear_eval',
                           'hub_module': '{no_representation}',
                           'pool_mode': 'median'},
                          ['--pool_mode', "'median'", 'adaptive_max']),
    'unknown_combine_mode': ({'task': 'linear_eval',
                              'hub_module': '{no_representation}',
                              'combine_patches': 'sum'},
                             ['--combine_patches', "'sum'", 'avg_pool']),
    'unknown_eval_model': ({'task': 'linear_eval',
                            'hub_module': '{no_representation}',
                            'eval_model': 'svm'},
                           ['--eval_model', 'linear, mlp']),
    'unknown_adaptive_pooling': ({'task': 'linear_eval',
                                  'hub_module': '{no_representation}',
                                  'adaptive_pooling': 'random'},
                                 ['adaptive_pooling', "'random'",
                                  'fractional, even']),
    'fractional_pooling_under_xla': ({'task': 'linear_eval',
                                      'hub_module': '{no_representation}',
                                      'jit_compile': 'true',
                                      'adaptive_pooling': 'fractional'},
                                     ['--adaptive_pooling fractional',
                                      'XLA', '--adaptive_pooling even']),
    'batch_not_divisible_by_virtual_replicas': (
        {'virtual_replicas': '3'},
        ['--batch_size 16', '1 replica(s) x 3 virtual replica(s)']),
    'unsup_batch_not_divisible_by_virtual_replicas': (
        dict(S4L_ROTATION, virtual_replicas='16', unsup_batch_mult='0.5'),
        ['unsup stream', 'batch of 8', '--virtual_replicas 16']),
    'zero_virtual_replicas': ({'virtual_replicas': '0'},
                              ['--virtual_replicas must be at least 1']),
    'unknown_optimizer': ({'optimizer': 'rmsprop'},
                          ['--optimizer', 'adam, lars, sgd']),
    'unknown_split': ({'val_split': 'validation'},
                      ["'validation'", 'trainval']),
    'required_flag_of_task': ({'task': 'jigsaw',
                               'preprocessing': 'resize,crop_patches'},
                              ['--splits_per_side', 'crop_patches']),
    'linear_eval_without_module': ({'task': 'linear_eval'},
                                   ['--hub_module is required']),
    'missing_required_flag': ({'task': None}, ['--task']),
    'decay_beyond_epochs': ({'decay_epochs': '3'},
                            ['--decay_epochs 3', '--epochs 1']),
    'decay_not_a_number': ({'decay_epochs': 'soon'},
                           ['--decay_epochs', 'soon']),
    'bad_serving_input_key': ({'serving_input_key': 'my image'},
                              ["--serving_input_key 'my image'",
                               'letters, digits or underscores']),
    'zero_lr': ({'lr': '0'}, ['--lr must be positive']),
    'negative_lr': ({'lr': '-0.1'}, ['--lr must be positive']),
    'zero_batch': ({'batch_size': '0'}, ['--batch_size must be positive']),
    'bad_size': ({'resize_size': '32x32'}, ['--resize_size', '32x32']),
    'non_square_rotation': ({'task': 'rotation',
                             'preprocessing': 'resize,rotate',
                             'resize_size': '32,30'},
                            ['square', '32x30']),
    'bad_probability': ({'preprocessing': 'resize,to_gray,-1_to_1',
                         'grayscale_probability': '2'},
                        ['--grayscale_probability', '[0, 1]']),
    'missing_dataset_dir': ({'dataset_dir': '{missing}'},
                            ['{missing}', 'does not exist']),
    'empty_dataset_dir': ({'dataset_dir': '{empty}'},
                          ['{empty}', 'train-images-idx3-ubyte.gz',
                           'does not exist']),
    'empty_imagenet_dir': ({'dataset': 'imagenet',
                            'dataset_dir': '{empty}'},
                           ['train-00000-of-01024', 'missing']),
    'missing_shard': ({'dataset': 'tfrecord',
                       'dataset_dir': '{missing_shard}'},
                      ['train-00001-of-00002', 'missing']),
    'missing_hub_module': ({'task': 'linear_eval',
                            'hub_module': '{missing}'},
                           ['--hub_module {missing} does not exist']),
    'module_without_representation': (
        {'task': 'linear_eval', 'hub_module': '{no_representation}'},
        ["no signature 'representation'", 'Its signatures: default']),
    'module_input_shape': ({'task': 'linear_eval',
                            'hub_module': '{module_64}'},
                           ['[None, 64, 64, 3]', '[32, 32, 3]']),
    'bad_permutations_file': ({'task': 'jigsaw',
                               'preprocessing': 'resize,crop_patches',
                               'resize_size': '64', 'splits_per_side': '3',
                               'permutations_path': '{bad_perm}'},
                              ['{bad_perm}', 'not a valid permutation file',
                               'little-endian int32']),
    'perm_subset_too_large': ({'task': 'jigsaw',
                               'preprocessing': 'resize,crop_patches',
                               'resize_size': '64', 'splits_per_side': '3',
                               'perm_subset_size': '101'},
                              ['--perm_subset_size', '101']),
    'missing_label_list': ({'filename_list_template': '{missing}/l_{{}}',
                            'num_supervised_examples': '7'},
                           ['No label list', '{missing}/l_7']),
    'malformed_label_list': ({'filename_list_template': '{lists}/list_{{}}',
                              'num_supervised_examples': '7'},
                             ['{lists}/list_7', 'not valid JSON']),
    'subset_larger_than_class': ({'labels_per_class': '50'},
                                 ['--labels_per_class 50 exceeds']),
    'label_list_and_sampler': ({'filename_list_template': 'l_{{}}',
                                'num_supervised_examples': '7',
                                'labels_per_class': '2'},
                               ['Give one of them']),
    'subset_without_labelled_stream': (
        {'task': 'rotation', 'preprocessing': 'resize,-1_to_1,rotate',
         'labels_per_class': '2'},
        ['--labels_per_class (read only by the tasks with labelled images (',
         's4l_rotation, simclr_distill', 'The run uses task rotation']),
    'sup_preprocessing_without_labelled_stream': (
        {'task': 'jigsaw', 'sup_preprocessing': 'resize(32)|-1_to_1'},
        ['--sup_preprocessing (read only by the tasks with labelled images']),
    'zero_unsup_batch_mult': (dict(S4L_ROTATION, unsup_batch_mult='0'),
                              ['--unsup_batch_mult 0 gives']),
    'rotation_losses_all_off': (dict(S4L_ROTATION, rot_loss_sup='0',
                                     rot_loss_unsup='0'),
                                ['--rot_loss_sup 0 and --rot_loss_unsup 0']),
    'rotation_switch_not_binary': (dict(S4L_ROTATION, rot_loss_sup='2'),
                                   ['--rot_loss_sup must be 0 or 1']),
    'missing_copy_label': (dict(S4L_ROTATION,
                                sup_preprocessing='resize(32)|-1_to_1|rotate'),
                           ['copy_label']),
    'unknown_triplet_labels': (
        {'task': 'exemplar', 'triplet_labels': 'swapped',
         'preprocessing': 'crop_inception_patches(2,32)|-1_to_1',
         'sup_preprocessing': 'crop_inception_patches(2,32)|-1_to_1'},
        ["Unknown --triplet_labels 'swapped'", 'intended, original']),
    'schedule_and_epochs': ({'schedule': '0,1'}, ['--schedule', '--epochs']),
    'decreasing_schedule': ({'schedule': '0,2,1', 'epochs': None},
                            ['--schedule', 'non-decreasing']),
    'both_timeouts': ({'eval_timeout_secs': '5', 'eval_timeout_mins': '1'},
                      ['--eval_timeout_secs', 'not both']),
    'arguments_for_an_op_without': (
        {'preprocessing': 'resize(32)|flip_lr(3)|-1_to_1'},
        ["'flip_lr' takes no arguments"]),
    'unbalanced_parentheses': ({'preprocessing': 'resize(32|-1_to_1'},
                               ['unbalanced parentheses']),
    'missing_initial_checkpoint': (
        {'path_to_initial_ckpt': '{missing}/ckpt-3'},
        ['--path_to_initial_ckpt {missing}/ckpt-3']),
    'unwritable_workdir': ({'workdir': '{unwritable}'},
                           ['Cannot write to --workdir {unwritable}']),
    'tpu_without_name': ({'nouse_tpu': None, 'use_tpu': 'true'},
                         ['--tpu_name', '--nouse_tpu']),
    'zero_iterations_per_loop': ({'iterations_per_loop': '0'},
                                 ['--iterations_per_loop']),
    'warmup_beyond_epochs': ({'warmup_epochs': '2'},
                             ['--warmup_epochs 2', '--epochs 1']),
    'vgg_without_fixed_serving_size': (
        {'serving_input_shape': 'None,None,None,3'},
        ['--serving_input_shape None,None,None,3', 'fixed input size']),
    'serving_size_unlike_training': (
        {'serving_input_shape': 'None,64,64,3'},
        ['--serving_input_shape None,64,64,3', 'built for 32x32']),
}


def bad_argv(name, files, workdir):
  changes, fragments = BAD_INPUT[name]
  argv = BASE + ['--dataset_dir', files['fmnist'], '--workdir', workdir]
  if changes.get('task') == 'linear_eval':
    # Linear evaluation has no trunk of its own to configure.
    changes = {'architecture': None, 'filters_factor': None, **changes}
  for flag, value in changes.items():
    if flag == 'nouse_tpu':
      argv.remove('--nouse_tpu')
      continue
    if value is not None:
      value = value.format(**files)
    argv = with_flag(argv, flag, value)
  return argv, [f.format(**files) for f in fragments]


@pytest.fixture
def existing_workdir(tmp_path):
  """A working directory that already holds a (small) checkpoint."""
  workdir = tmp_path / 'existing'
  workdir.mkdir()
  checkpoint = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0]))
  manager = tf.train.CheckpointManager(checkpoint, str(workdir), 3)
  manager.save(checkpoint_number=4)
  (workdir / 'config.json').write_text('{}')
  return str(workdir)


class ParsedFlags:
  """Parses argv into a private set of the entry point's flags."""

  def __init__(self):
    self.values = None

  def __call__(self, argv):
    self.values = flags.FlagValues()
    entry_flags.define_flags(self.values)
    self.values(['train_and_eval.py', *argv])

  def config(self):
    """`make_config` of the parsed flags, as `main` calls it."""
    return train_and_eval.make_config(
        *train_and_eval.flag_values(self.values))


@pytest.fixture
def parsed_flags():
  return ParsedFlags()


@pytest.mark.parametrize('name', sorted(BAD_INPUT))
def test_bad_input_is_one_clear_error(name, bad_input_files, parsed_flags,
                                      existing_workdir):
  """Each mistake: a UsageError before training; the workdir untouched."""
  argv, fragments = bad_argv(name, bad_input_files, existing_workdir)
  before = snapshot(existing_workdir)
  parsed_flags(argv)
  with pytest.raises(utils.UsageError) as error:
    train_and_eval.run(parsed_flags.config())
  message = str(error.value)
  assert '\n' not in message.strip()
  for fragment in fragments:
    assert fragment in message, message
  assert snapshot(existing_workdir) == before


@pytest.mark.parametrize('name', sorted(BAD_INPUT))
def test_a_failed_check_leaves_no_new_workdir(name, bad_input_files,
                                              parsed_flags, tmp_path):
  """The same mistakes with a working directory that does not exist yet."""
  workdir = tmp_path / 'new'
  argv, _ = bad_argv(name, bad_input_files, str(workdir))
  parsed_flags(argv)
  with pytest.raises(utils.UsageError):
    train_and_eval.run(parsed_flags.config())
  assert not workdir.exists()


def test_batch_that_does_not_divide_over_replicas(bad_input_files,
                                                  parsed_flags,
                                                  existing_workdir,
                                                  monkeypatch):
  # Two replicas on the two logical CPUs of the test process.
  monkeypatch.setattr(distribution, 'make_strategy', lambda **_: (
      mirrored_strategy(['/cpu:0', '/cpu:1'])))
  argv, _ = bad_argv('zero_lr', bad_input_files, existing_workdir)
  parsed_flags(with_flag(with_flag(argv, 'lr', '0.1'), 'batch_size', '15'))
  before = snapshot(existing_workdir)
  with pytest.raises(utils.UsageError,
                     match='--batch_size 15 does not divide over the 2 '
                     'replicas'):
    train_and_eval.run(parsed_flags.config())
  assert snapshot(existing_workdir) == before


def assert_one_error_line(proc, *fragments):
  assert proc.returncode not in (0, None)
  assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
  errors = [line for line in proc.stderr.splitlines()
            if line.startswith('Error:')]
  assert len(errors) == 1, proc.stderr[-3000:]
  assert proc.stderr.rstrip().endswith(errors[0])
  for fragment in fragments:
    assert fragment in errors[0], errors[0]
  return errors[0]


@pytest.mark.parametrize('name', ['unknown_task', 'unwritable_workdir',
                                  'module_without_representation'])
def test_bad_input_from_the_command_line(name, bad_input_files,
                                         existing_workdir):
  """The real entry point: exit status 1, one line, no traceback."""
  argv, fragments = bad_argv(name, bad_input_files, existing_workdir)
  before = snapshot(existing_workdir)
  proc = run_main(argv, check=False, timeout=120)
  assert_one_error_line(proc, *fragments)
  assert proc.returncode == 1
  assert snapshot(existing_workdir) == before


def test_unexpected_argument_from_the_command_line(data_dir, tmp_path):
  proc = run_main(train_args(data_dir, str(tmp_path / 'w'), '--epochs', '1',
                             'typo'), check=False, timeout=120)
  assert_one_error_line(proc, 'unexpected arguments: typo')


@pytest.mark.slow
def test_corrupt_and_truncated_records(tmp_path, parsed_flags, capfd):
  """Skipped and counted on request; otherwise an error naming the file.

  The failing runs resume from the checkpoints of the first one and must
  leave them as they were. All runs are in this process (cheaper than
  subprocesses); the command line's handling of a UsageError is tested
  above.
  """
  # Every record of the first shard is corrupt: a run without skipping
  # meets one in its first batch, before it could save anything.
  records = write_tfrecords(str(tmp_path / 'records'), corrupt=range(16))
  workdir = str(tmp_path / 'work')
  args = [*BASE, '--dataset', 'tfrecord', '--dataset_dir', records,
          '--batch_size', '8', '--iterations_per_loop', '2',
          '--save_checkpoints_steps', '2', '--workdir', workdir]
  args = with_flag(args, 'val_split', 'test')
  parsed_flags([*args, '--skip_corrupt_examples'])
  train_and_eval.run(parsed_flags.config())
  # The warning is printed by the input pipeline's C++ side to stderr.
  stderr = capfd.readouterr().err
  shard = os.path.join(records, 'train-00000-of-00002')
  skipped = [line for line in stderr.splitlines()
             if 'Skipping corrupt image record' in line]
  assert skipped and shard in skipped[0], stderr[-3000:]
  assert re.search(r'\b1 skipped so far', skipped[0])
  assert checkpoint_steps(workdir)[-1] == 4  # 32 records, batch 8
  checkpoints = {n: v for n, v in snapshot(workdir).items()
                 if n.startswith('ckpt') or n == 'checkpoint'}

  parsed_flags(with_flag(args, 'epochs', '3'))
  with pytest.raises(utils.UsageError, match='Corrupt record') as error:
    train_and_eval.run(parsed_flags.config())
  assert shard in str(error.value) and '\n' not in str(error.value)
  # A clean copy whose second shard lost its last bytes (and records).
  clean = write_tfrecords(str(tmp_path / 'clean'))
  truncated = os.path.join(clean, 'train-00001-of-00002')
  with open(truncated, 'r+b') as f:
    f.truncate(os.path.getsize(truncated) - 7)
  parsed_flags(with_flag(with_flag(args, 'epochs', '3'), 'dataset_dir',
                         clean))
  with pytest.raises(utils.UsageError, match='Truncated') as error:
    train_and_eval.run(parsed_flags.config())
  assert truncated in str(error.value) and '\n' not in str(error.value)
  after = snapshot(workdir)
  assert {n: v for n, v in after.items()
          if n.startswith('ckpt') or n == 'checkpoint'} == checkpoints
  for path in listed_checkpoints(workdir):
    read_checkpoint(path)


# -- 3. Divergence ---------------------------------------------------------


def test_nan_loss_stops_training_and_keeps_checkpoints(data_dir, tmp_path):
  workdir = str(tmp_path / 'work')
  task_cls = self_supervision_lib.get_task_class('supervised')

  class NanFromStep5(task_cls):
    """The supervised task, whose loss becomes NaN at the sixth update."""

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.updates = tf.Variable(0, trainable=False)

    def compute(self, batch, training):
      out = super().compute(batch, training)
      if training:
        loss = tf.where(self.updates >= 5, float('nan'), out.loss)
        self.updates.assign_add(1)
        out.loss = loss
      return out

  config = trainer_lib.TrainerConfig(
      workdir=workdir, train_split='trainval', val_split='test',
      batch_size=16, eval_batch_size=8, epochs=2, lr=0.01,
      lr_scale_batch_size=None, decay_epochs=None, warmup_epochs=0,
      lr_decay_factor=0.1, optimizer='sgd',
      iterations_per_loop=2, jit_compile=False, keep_checkpoint_max=5,
      keep_checkpoint_every_n_hours=0, save_checkpoints_secs=None,
      save_checkpoints_steps=2, random_seed=None,
      serving_input_shape=(None, 32, 32, 3), summary_images=0)
  trainer = trainer_lib.Trainer(
      config,
      task_factory=lambda: NanFromStep5(
          num_classes=10, network=models.Network(
          'vgg19', filters_factor=1)),
      data_source=datasets.get_dataset('fashion_mnist', data_dir),
      strategy=tf.distribute.get_strategy(),
      streams=testdata.sup_stream('resize,-1_to_1', resize_size='32'))
  with pytest.raises(trainer_lib.DivergenceError,
                     match=r'NaN or infinite at step 5\b.*ckpt-4'):
    trainer.train()
  assert checkpoint_steps(workdir) == [2, 4]
  for path in listed_checkpoints(workdir):
    values = read_checkpoint(path)
    assert all(np.isfinite(v).all() for v in values.values()
               if np.issubdtype(np.asarray(v).dtype, np.floating))
  assert not os.path.exists(os.path.join(workdir, checkpointing.DONE_FILE))


# -- 4. Trainer and evaluator together -------------------------------------


def test_evaluator_skips_checkpoints_deleted_under_it(data_dir, tmp_path,
                                                     caplog):
  """Training's `keep` deletes a checkpoint the evaluator is about to read.

  The race is played out deterministically: the state file still lists
  two checkpoints whose files are (partly) gone.
  """
  workdir = str(tmp_path / 'work')
  task_cls = self_supervision_lib.get_task_class('supervised')
  config = trainer_lib.TrainerConfig(
      workdir=workdir, train_split='trainval', val_split='test',
      batch_size=16, eval_batch_size=16, epochs=1, lr=0.01,
      iterations_per_loop=2, keep_checkpoint_max=5,
      keep_checkpoint_every_n_hours=0, save_checkpoints_secs=None,
      save_checkpoints_steps=2, eval_every_checkpoint=True,
      eval_timeout_secs=1, serving_input_shape=(None, 32, 32, 3),
      summary_images=0)
  trainer = trainer_lib.Trainer(
      config,
      task_factory=lambda: task_cls(
          num_classes=10, network=models.Network('vgg19', filters_factor=1)),
      data_source=datasets.get_dataset('fashion_mnist', data_dir),
      strategy=tf.distribute.get_strategy(),
      streams=testdata.sup_stream('resize,-1_to_1', resize_size='32'))
  # Three checkpoints of a finished run (training itself is not needed).
  trainer.build()
  for step in (2, 4, 6):
    trainer.optimizer.iterations.assign(step)
    trainer.save()
  checkpointing.write_done_file(workdir, 6)
  assert checkpoint_steps(workdir) == [2, 4, 6]
  # Deleted file by file: ckpt-2 has lost its data, ckpt-4 everything.
  for name in os.listdir(workdir):
    if name.startswith('ckpt-2.data') or name.startswith('ckpt-4.'):
      os.remove(os.path.join(workdir, name))
  with caplog.at_level('WARNING'):
    trainer.run_eval()
  skipped = [r.getMessage() for r in caplog.records
             if r.getMessage().startswith('Skipped checkpoint')]
  assert len(skipped) == 2, skipped
  assert 'ckpt-2,' in skipped[0] and 'ckpt-4,' in skipped[1]
  with open(os.path.join(workdir, 'eval_results.csv')) as f:
    assert [r['checkpoint'] for r in csv.DictReader(f)] == ['ckpt-6']


# -- 5. Several hosts ------------------------------------------------------


@pytest.mark.slow
def test_killed_worker_ends_the_other_and_both_resume(data_dir, tmp_path):
  """A worker killed, then one preempted: the job stops, saves, resumes.

  (1) SIGKILL to worker 1 after a seeded step: worker 0 stops with a clear
  error. (2) SIGTERM to worker 1 after another seeded step: both save that
  step and exit with the preemption status. (3) Both resume there and
  finish, the first step they run being the next one.
  """
  ports = [free_port(), free_port()]
  cluster = {'worker': [f'localhost:{p}' for p in ports]}
  workdir = str(tmp_path / 'work')
  total = 2 * NUM_TRAIN // 16
  args = train_args(data_dir, workdir, '--epochs', '2',
                    '--iterations_per_loop', '1', '--random_seed', '3')
  seed = 20261206
  rng = random.Random(seed)
  killed_after, preempted_after = rng.randint(5, 7), rng.randint(1, 4)

  def start_workers(run, kill_at=None):
    procs = []
    for index in range(2):
      env = {'TF_CONFIG': json.dumps(
          {'cluster': cluster, 'task': {'type': 'worker', 'index': index}})}
      if index == 1 and kill_at:
        env.update(kill_env(*kill_at))
      procs.append(start_main(args, str(tmp_path / f'{run}_{index}.log'),
                              env))
    return procs

  procs = start_workers('first', ('train_loop', killed_after, 'KILL'))
  try:
    procs[1].wait(timeout=300)
    killed = time.time()
    procs[0].wait(timeout=150)
    waited = time.time() - killed
  finally:
    for proc in procs:
      kill(proc)
  assert_landed(procs[1], str(tmp_path / 'first_1.log'), 'train_loop',
                killed_after, 'KILL', -signal.SIGKILL)
  log = open(tmp_path / 'first_0.log').read()
  assert procs[0].returncode == 1, log[-3000:]
  assert 'Traceback' not in log, log[-3000:]
  errors = [line for line in log.splitlines() if line.startswith('Error:')]
  assert len(errors) == 1 and 'worker' in errors[0], log[-3000:]
  assert waited < 150
  last = checkpoint_steps(workdir)[-1]
  assert last == 4, seed  # The cadence's, before the kill.
  for path in listed_checkpoints(workdir):
    read_checkpoint(path)

  procs = start_workers('second', ('train_loop', preempted_after, 'TERM'))
  try:
    for proc in procs:
      proc.wait(timeout=300)
  finally:
    for proc in procs:
      kill(proc)
  stopped = last + preempted_after
  texts = [open(tmp_path / f'second_{i}.log').read() for i in range(2)]
  assert_landed(procs[1], str(tmp_path / 'second_1.log'), 'train_loop',
                preempted_after, 'TERM', preemption.PREEMPTED_EXIT_CODE)
  assert procs[0].returncode == preemption.PREEMPTED_EXIT_CODE, texts[0][
      -3000:]
  for text in texts:
    assert f'saved step {stopped} ' in text, (seed, text[-3000:])
  # Both stopped after the step worker 1 was signalled at, and saved it.
  assert checkpoint_steps(workdir)[-1] == stopped, seed
  assert not os.path.exists(os.path.join(workdir, 'TRAINING_IS_DONE'))

  procs = start_workers('third')
  try:
    for proc in procs:
      assert proc.wait(timeout=300) == 0
  finally:
    for proc in procs:
      kill(proc)
  for index in range(2):
    log = open(tmp_path / f'third_{index}.log').read()
    assert f'(step {stopped})' in log and 'Resumed from' in log, log[-3000:]
    resumed = log[log.index('Resumed from'):]
    # No step lost or run twice: the first one run is the next.
    assert re.search(rf'step {stopped + 1}/{total} ', resumed), log[-3000:]
  assert checkpoint_steps(workdir)[-1] == total


# -- 6. Untrusted files ----------------------------------------------------


def test_no_eval_exec_shell_or_pickle_in_the_code():
  """Configs and flag values never reach eval, exec, a shell or pickle.

  Every Python file of the program and its tools is scanned; the
  benchmarks, which start the program as a subprocess by design, and the
  tests are not part of it.
  """
  sources = sorted(
      path for path in REPO.rglob('*.py')
      if path.relative_to(REPO).parts[0] not in ('tests', 'benchmarks') and
      not any(part.startswith('.') for part in path.relative_to(REPO).parts))
  assert {'trainer.py', 'datasets.py', 'build_tfrecords.py',
          'slim_tfrecord.py', 'linear_eval_cached.py'} <= {
              p.name for p in sources}
  pattern = re.compile(r'\b(eval|exec)\(|\bos\.system\(|shell\s*=\s*True|'
                       r'\bpickle\b|\bmarshal\b|\bdill\b|allow_pickle\s*='
                       r'\s*True|yaml\.load\(|\bsubprocess\b')
  offenders = []
  for path in sources:
    for number, line in enumerate(path.read_text().splitlines(), 1):
      code = line.split('#', 1)[0]
      if pattern.search(code):
        offenders.append(
            f'{path.relative_to(REPO)}:{number}: {line.strip()}')
  assert not offenders, offenders
