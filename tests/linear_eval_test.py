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

"""Tests of linear evaluation: pooling, heads, patches, cached mode, errors.

The modules are tiny exports made here with `hub_export`; the data is an
in-memory source with three classes that differ in colour, so features that
keep colour separate the classes.
"""

import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import testdata
from testdata import mirrored_strategy

from revisiting_ssl import trainer as trainer_lib
from revisiting_ssl import utils
from revisiting_ssl.probes import (
  feature_store,
  linear_eval,
  linear_eval_cached,
  module_features,
  streamed_knn,
)
from revisiting_ssl.training import checkpointing, hub_export

NUM_CLASSES = 3
SIZE = 16


# -- A toy module and a toy data source ---------------------------------------


class ToyNet(tf.Module):
  """Colour-preserving features: a fixed 1x1 conv, ReLU, spatial mean."""

  def __init__(self):
    super().__init__()
    rng = np.random.default_rng(0)
    kernel = np.tile(np.eye(3), [1, 22])[:, :64] + 0.1 * rng.normal(
        size=[3, 64])
    self.kernel = tf.Variable(kernel.reshape([1, 1, 3, 64]), dtype=tf.float32)
    self.proj = tf.Variable(rng.normal(size=[64, 5]), dtype=tf.float32)

  def serve(self, images, training=False):
    del training
    x = tf.nn.relu(tf.nn.conv2d(images, self.kernel, 1, 'SAME'))
    pre_logits = tf.reduce_mean(x, axis=[1, 2])
    logits = tf.matmul(pre_logits, self.proj)
    # block1: 16x16x64 = 16384 features, more than 9000, so it is pooled.
    return logits, {'block1': x, 'pre_logits': pre_logits, 'logits': logits}


@pytest.fixture(scope='module')
def module_dir(tmp_path_factory):
  path = str(tmp_path_factory.mktemp('toy') / 'module')
  net = ToyNet()
  hub_export.export_hub_module(net.serve, {'net': net}, path,
                               [None, SIZE, SIZE, 3])
  return path


def _toy_arrays(num, seed):
  rng = np.random.default_rng(seed)
  labels = np.arange(num) % NUM_CLASSES
  images = rng.integers(0, 90, size=[num, SIZE, SIZE, 3])
  images[np.arange(num), :, :, labels] += 140
  return images.astype(np.uint8), labels.astype(np.int32)


class ToySource:
  """The `datasets.DataSource` contract on in-memory arrays."""

  num_classes = NUM_CLASSES

  def __init__(self, num_train=48, num_test=30):
    self.arrays = {'train': _toy_arrays(num_train, 1),
                   'test': _toy_arrays(num_test, 2)}

  def num_examples(self, split):
    return len(self.arrays[split][1])

  def check(self, split):
    if split not in self.arrays:
      raise utils.UsageError(f'no split {split}')

  def make(self, split, *, preprocess_fn, batch_size, training, seed=None,
           input_context=None, skip_corrupt_examples=False):
    del input_context, skip_corrupt_examples
    images, labels = self.arrays[split]
    mask = np.ones(len(labels), np.float32)
    if not training:
      pad = -len(labels) % batch_size
      images = np.concatenate([images, images[:pad]])
      labels = np.concatenate([labels, labels[:pad]])
      mask = np.concatenate([mask, np.zeros(pad, np.float32)])
    ds = tf.data.Dataset.from_tensor_slices(
        {'image': images, 'label': labels, 'mask': mask})
    if training:
      ds = ds.shuffle(len(labels), seed=seed).repeat()

    def preprocess(example):
      out = dict(preprocess_fn({'image': example['image'],
                                'label': example['label']}))
      out['mask'] = example['mask']
      return out

    return ds.map(preprocess).batch(batch_size, drop_remainder=True)


def make_trainer(workdir, module, *, batch_size=48, epochs=25, lr=0.5,
                 preprocessing='-1_to_1', preprocess_args=None, data=None,
                 strategy=None, jit_compile=False, eval_drop_remainder=False,
                 **task_kwargs):
  # The entry point creates the workdir before the trainer (check_workdir).
  os.makedirs(workdir, exist_ok=True)
  config = trainer_lib.TrainerConfig(
      workdir=str(workdir), train_split='train', val_split='test',
      batch_size=batch_size, eval_batch_size=16, epochs=epochs, lr=lr,
      lr_scale_batch_size=None, decay_epochs=None, warmup_epochs=0,
      lr_decay_factor=0.1, optimizer='sgd', iterations_per_loop=100,
      jit_compile=jit_compile, keep_checkpoint_max=2,
      keep_checkpoint_every_n_hours=0, save_checkpoints_secs=None,
      save_checkpoints_steps=None, random_seed=1,
      serving_input_shape=(None, SIZE, SIZE, 3), summary_images=0,
      eval_timeout_secs=1, eval_drop_remainder=eval_drop_remainder)
  kwargs = dict(hub_module=module, num_classes=NUM_CLASSES, pool_mode='max')
  kwargs.update(task_kwargs)
  return trainer_lib.Trainer(
      config, task_factory=lambda: linear_eval.LinearEvalTask(**kwargs),
      data_source=data or ToySource(),
      strategy=strategy or tf.distribute.get_strategy(),
      streams=testdata.sup_stream(preprocessing, **(preprocess_args or {})))


def _read_results(workdir):
  with open(os.path.join(workdir, linear_eval.RESULTS_CSV)) as f:
    return list(csv.DictReader(f))


# -- Pooling: the feature sizes of the paper's linear evaluation -------------

# (h, w, c) -> (side with `max`, side with `adaptive_max`); the `avg` modes
# give the sizes of their `max` counterparts.
APPENDIX_B = {
    # ResNet-50 ff4, 224 input.
    (56, 56, 64): (11, 12), (56, 56, 256): (5, 6), (28, 28, 512): (4, 4),
    (14, 14, 1024): (2, 3), (7, 7, 2048): (1, 2),
    # RevNet-50 ff16.
    (56, 56, 1024): (2, 3), (28, 28, 2048): (2, 2), (14, 14, 4096): (1, 1),
    (7, 7, 8192): (1, 1),
    # ResNet-50 v1 ff12.
    (56, 56, 192): (6, 7), (56, 56, 768): (3, 3), (28, 28, 1536): (2, 2),
    (14, 14, 3072): (1, 2), (7, 7, 6144): (1, 1),
    # ResNet-50 v1 ff8 patch network, 64x64 patches.
    (32, 32, 128): (8, 8), (32, 32, 512): (4, 4), (16, 16, 1024): (2, 3),
    (8, 8, 2048): (2, 2), (8, 8, 4096): (1, 1),
}


@pytest.mark.parametrize('shape', sorted(APPENDIX_B))
def test_pooling_sizes_of_appendix_b(shape):
  h, w, c = shape
  x = tf.zeros([1, h, w, c])
  max_side, adaptive_side = APPENDIX_B[shape]
  for mode, side in (('max', max_side), ('avg', max_side),
                     ('adaptive_max', adaptive_side),
                     ('adaptive_avg', adaptive_side)):
    for regions in utils.ADAPTIVE_POOLINGS:
      pooled = module_features.pool_end_points({'x': x}, mode,
                                               regions=regions)['x']
      assert pooled.shape.as_list() == [1, side, side, c], (mode, regions)


def test_even_regions_are_fixed_windows():
  x = tf.random.normal([2, 7, 7, 3000])
  # 3000 channels: side round(sqrt(3)) = 2 regions of rows 0..2 and 3..6.
  pooled = utils.adaptive_pool(x, 9000, 'adaptive_max', 'even')
  assert pooled.shape == [2, 2, 2, 3000]
  np.testing.assert_allclose(pooled[:, 1, 0],
                             tf.reduce_max(x[:, 3:, :3], axis=[1, 2]))
  mean = utils.adaptive_pool(x, 9000, 'adaptive_avg', 'even')
  np.testing.assert_allclose(mean[:, 0, 1],
                             tf.reduce_mean(x[:, :3, 3:], axis=[1, 2]),
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(
      pooled, utils.adaptive_pool(x, 9000, 'adaptive_max', 'even'))


NETWORKS = ('resnet50', 'revnet50', 'vgg19')


@pytest.mark.slow  # ~20 small XLA compilations.
@pytest.mark.parametrize('architecture', NETWORKS)
def test_linear_eval_step_compiles_under_xla(architecture):
  """Every pool mode on the end points of a network at 112x112 pixels."""
  from revisiting_ssl import models  # noqa: PLC0415
  net = models.get_net(architecture, 10, filters_factor=1)
  _, end_points = net(tf.zeros([1, 112, 112, 3]), training=False)
  features = {k: tf.random.normal([2] + v.shape.as_list()[1:])
              for k, v in end_points.items()}
  labels = tf.constant([1, 3])
  for pool_mode in utils.POOL_MODES:
    pooled = module_features.pool_end_points(features, pool_mode,
                                             regions='even')
    heads = linear_eval.Heads(sorted(pooled), 10, eval_model='linear',
                              channels_hidden=1, weight_decay=0.0)
    heads(pooled)
    optimizer = tf.keras.optimizers.SGD(0.1)
    optimizer.build(heads.trainable_variables)

    @tf.function(jit_compile=True)
    def step(features, labels, pool_mode=pool_mode, heads=heads,
             optimizer=optimizer):
      with tf.GradientTape() as tape:
        logits = heads(module_features.pool_end_points(
            features, pool_mode, regions='even'), training=True)
        loss = tf.add_n([tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels, v))
                         for v in logits.values()])
      grads = tape.gradient(loss, heads.trainable_variables)
      optimizer.apply_gradients(zip(grads, heads.trainable_variables))
      return loss

    assert np.isfinite(float(step(features, labels))), pool_mode


def test_adaptive_pooling_trains_and_evaluates_under_xla(module_dir,
                                                         tmp_path):
  trainer = make_trainer(tmp_path, module_dir, batch_size=16, epochs=2,
                         lr=0.1, jit_compile=True, pool_mode='adaptive_max',
                         adaptive_pooling='even')
  trainer.train()
  metrics = trainer.evaluate()
  assert metrics['num_examples'] == 30
  assert 0 <= metrics['top1_accuracy_block1'] <= 1


def test_fractional_regions_do_not_compile_and_say_why():
  x = tf.random.normal([1, 8, 8, 1000])
  step = tf.function(lambda t: utils.adaptive_pool(t, 9000, 'adaptive_max'),
                     jit_compile=True)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='FractionalMaxPool'):
    step(x)


def test_small_end_points_are_not_pooled_and_2d_become_4d():
  end_points = {'pre_logits': tf.zeros([2, 8192]),
                'small': tf.zeros([2, 8, 8, 128])}
  pooled = module_features.pool_end_points(end_points, 'max')
  assert list(pooled) == ['pre_logits', 'small']
  assert pooled['pre_logits'].shape == [2, 1, 1, 8192]
  assert pooled['small'].shape == [2, 8, 8, 128]


def test_adaptive_pool_rejects_unknown_mode():
  with pytest.raises(utils.UsageError, match='--pool_mode.*adaptive_max'):
    utils.adaptive_pool(tf.zeros([1, 4, 4, 1]), 9000, mode='median')


def test_pooled_values_are_window_maxima():
  x = tf.reshape(tf.range(4 * 4 * 1000, dtype=tf.float32), [1, 4, 4, 1000])
  pooled = utils.adaptive_pool(x, 9000, 'max')  # s = ceil(sqrt(16/9)) = 2
  assert pooled.shape == [1, 2, 2, 1000]
  np.testing.assert_array_equal(pooled[0, 0, 0], x[0, 1, 1])


# -- Patches -------------------------------------------------------------------


@pytest.mark.parametrize('mode,channels', [('avg_pool', 64), ('max_pool', 64),
                                           ('concat', 64 * 9)])
def test_patch_combination_shapes(module_dir, mode, channels):
  task = linear_eval.LinearEvalTask(hub_module=module_dir,
                                    num_classes=NUM_CLASSES,
                                    pool_mode='max', combine_patches=mode)
  patches = tf.random.uniform([2, 9, SIZE, SIZE, 3])
  task.initialize({'image': patches, 'label': tf.zeros([2], tf.int32),
                   'mask': tf.ones([2])})
  features = task.features(patches)
  assert features['block1'].shape == [2, 8, 8, channels]
  assert features['pre_logits'].shape == [2, 1, 1, channels]
  out = task.compute({'image': patches, 'label': tf.constant([0, 1]),
                      'mask': tf.ones([2])}, training=False)
  assert set(out.metrics) == {f'top{k}_accuracy_{e}' for k in (1, 5)
                              for e in ('block1', 'logits', 'pre_logits')}


def test_patch_combination_values():
  x = tf.reshape(tf.range(2 * 3 * 2, dtype=tf.float32), [6, 1, 1, 2])
  # Example 0 has patches [0, 1], [2, 3], [4, 5] (two channels each).
  avg = module_features.combine_patches({'e': x}, 3, 'avg_pool')['e']
  np.testing.assert_allclose(avg[0, 0, 0], [2, 3])
  top = module_features.combine_patches({'e': x}, 3, 'max_pool')['e']
  np.testing.assert_allclose(top[1, 0, 0], [10, 11])
  cat = module_features.combine_patches({'e': x}, 3, 'concat')['e']
  # Channel-major, patch-minor: index ch * P + p.
  np.testing.assert_allclose(cat[0, 0, 0], [0, 2, 4, 1, 3, 5])


# -- Training, evaluation, results ------------------------------------------


def test_end_to_end_heads_learn_and_module_stays_frozen(module_dir, tmp_path):
  trainer = make_trainer(tmp_path, module_dir, batch_size=16, epochs=10,
                         lr=0.1)
  trainer.build()
  task = trainer.task
  module_vars = [v.numpy().copy() for v in task.module.variables]
  assert module_vars
  trainable_ids = {id(v) for v in task.trainable_variables}
  assert not trainable_ids & {id(v) for v in task.module.variables}
  assert len(task.trainable_variables) == 6  # kernel + bias per head.

  trainer.train()
  for before, var in zip(module_vars, task.module.variables):
    np.testing.assert_array_equal(before, var.numpy())

  metrics = trainer.evaluate_checkpoint(trainer.manager.latest_checkpoint)
  assert metrics['num_examples'] == 30
  assert metrics['top1_accuracy_pre_logits'] >= 0.9
  assert metrics['top1_accuracy_block1'] >= 0.9
  rows = _read_results(tmp_path)
  assert sorted(r['end_point'] for r in rows) == ['block1', 'logits',
                                                  'pre_logits']
  assert all(r['split'] == 'test' for r in rows)
  # The export maps images to the heads' logits.
  exports = hub_export.list_exports(str(tmp_path))
  assert len(exports) == 1
  loaded = tf.saved_model.load(exports[0])
  images, _ = ToySource().arrays['test']
  images = tf.cast(images[:4], tf.float32) / 127.5 - 1
  out = loaded.signatures['representation'](image=images)
  assert sorted(out) == ['logits_block1', 'logits_logits',
                         'logits_pre_logits']
  default = loaded.signatures['default'](image=images)['default']
  np.testing.assert_allclose(default, out['logits_pre_logits'], atol=1e-5)


def test_two_replicas(module_dir, tmp_path):
  strategy = mirrored_strategy(['/cpu:0', '/cpu:1'])
  trainer = make_trainer(tmp_path, module_dir, batch_size=16, epochs=2,
                         lr=0.1, strategy=strategy)
  trainer.train()
  assert trainer.step == 6
  metrics = trainer.evaluate()
  assert metrics['num_examples'] == 30
  assert metrics['top1_accuracy_pre_logits'] >= 0.6
  trainer.export()
  with pytest.raises(utils.UsageError, match='one device'):
    linear_eval_cached.run(trainer)


def test_eval_drop_remainder_counts_whole_batches_only(module_dir,
                                                       tmp_path):
  # 30 test examples in global batches of 16: the original's evaluation
  # saw one batch; both evaluation paths can reproduce that.
  strategy = mirrored_strategy(['/cpu:0', '/cpu:1'])
  trainer = make_trainer(tmp_path / 'e2e', module_dir, epochs=1,
                         strategy=strategy, eval_drop_remainder=True)
  trainer.train()
  assert trainer.evaluate()['num_examples'] == 16
  cached = make_trainer(tmp_path / 'cached', module_dir, epochs=1,
                        eval_drop_remainder=True, knn_end_points='')
  linear_eval_cached.run(cached, run_eval=False)
  metrics = linear_eval_cached.run(cached, run_eval=True)
  assert metrics['num_examples'] == 16


def test_mlp_heads_and_weight_decay(module_dir, tmp_path):
  trainer = make_trainer(tmp_path, module_dir, eval_model='mlp',
                         channels_hidden=7, weight_decay=1e-2)
  trainer.build()
  heads = trainer.task.heads
  assert len(heads.trainable_variables) == 12
  kernels = [v for v in heads.trainable_variables if len(v.shape) == 2]
  expected = 0.5 * 1e-2 * sum(float(tf.reduce_sum(k**2)) for k in kernels)
  np.testing.assert_allclose(float(trainer.task.regularization_loss()),
                             expected, rtol=1e-5)
  hidden = [v for v in kernels if v.shape[-1] == 7]
  assert len(hidden) == 3


def test_cached_agrees_with_end_to_end(module_dir, tmp_path):
  # Full-batch training from the same initial heads: both modes then take
  # the same gradient steps (up to the order of summation).
  e2e = make_trainer(tmp_path / 'e2e', module_dir, knn_end_points='all')
  e2e.build()
  initial = e2e.task.heads.get_weights()
  cached = make_trainer(tmp_path / 'cached', module_dir,
                        knn_end_points='all')
  cached.build()
  cached.task.heads.set_weights(initial)

  e2e.train()
  e2e_metrics = e2e.evaluate()
  cached_metrics = linear_eval_cached.run(cached, run_eval=False)
  assert cached.step == e2e.step == 25
  for ours, theirs in zip(cached.task.heads.get_weights(),
                          e2e.task.heads.get_weights()):
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4)
  for end_point in ('block1', 'logits', 'pre_logits'):
    name = f'top1_accuracy_{end_point}'
    assert abs(cached_metrics[name] - e2e_metrics[name]) <= 1 / 30 + 1e-6
  np.testing.assert_allclose(cached_metrics['loss'], e2e_metrics['loss'],
                             rtol=2e-2)
  assert cached_metrics['top1_accuracy_pre_logits'] >= 0.9
  assert cached_metrics['knn_top1_accuracy_pre_logits'] >= 0.9

  workdir = str(tmp_path / 'cached')
  stored = os.listdir(os.path.join(workdir, 'features'))
  assert sorted(d.split('-')[0] for d in stored) == ['test', 'train']
  rows = _read_results(workdir)
  assert len(rows) == 3 and all(r['knn_top1_accuracy'] for r in rows)
  assert os.path.exists(os.path.join(workdir, checkpointing.DONE_FILE))

  # --run_eval: evaluates the saved heads on the stored features, exports.
  again = make_trainer(tmp_path / 'cached', module_dir, knn_end_points='')
  metrics = linear_eval_cached.run(again, run_eval=True)
  assert metrics['top1_accuracy_pre_logits'] == pytest.approx(
      cached_metrics['top1_accuracy_pre_logits'])
  assert 'knn_top1_accuracy_pre_logits' not in metrics
  assert len(hub_export.list_exports(workdir)) == 1


def test_cached_streams_many_shards_with_the_same_result(module_dir,
                                                         tmp_path,
                                                         monkeypatch):
  # Shards of 5 examples, features written batch by batch: the 48 training
  # examples span 10 shards, and the heads end where one shard takes them.
  writes = []
  real_write = feature_store.ShardWriter.write

  def write(self, features, labels):
    writes.append(len(labels))
    return real_write(self, features, labels)

  monkeypatch.setattr(feature_store.ShardWriter, 'write', write)
  one = make_trainer(tmp_path / 'one', module_dir, epochs=5,
                     knn_end_points='')
  one.build()
  initial = one.task.heads.get_weights()
  linear_eval_cached.run(one)
  example_bytes = linear_eval_cached.get_features(one, 'train').example_bytes
  writes.clear()
  many = make_trainer(tmp_path / 'many', module_dir, epochs=5,
                      knn_end_points='pre_logits')
  many.build()
  many.task.heads.set_weights(initial)
  small = feature_store.StreamOptions(shard_bytes=5 * example_bytes,
                                      window_bytes=1, knn_block_bytes=1)
  metrics = linear_eval_cached.run(many, options=small)
  assert max(writes) <= 16  # One evaluation batch at a time.
  train = linear_eval_cached.get_features(many, 'train')
  assert train.examples_per_shard == 5 and train.num_shards == 10
  for ours, theirs in zip(many.task.heads.get_weights(),
                          one.task.heads.get_weights()):
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
  assert metrics['num_examples'] == 30
  assert metrics['knn_top1_accuracy_pre_logits'] >= 0.9


def test_incomplete_or_old_store_is_recomputed(module_dir, tmp_path,
                                               monkeypatch):
  trainer = make_trainer(tmp_path, module_dir)
  trainer.build()
  calls = []
  real_extract = feature_store.extract

  def extract(*args, **kwargs):
    calls.append(args[4])
    return real_extract(*args, **kwargs)

  monkeypatch.setattr(feature_store, 'extract', extract)
  stored = linear_eval_cached.get_features(trainer, 'test')
  assert linear_eval_cached.get_features(trainer, 'test') == stored
  assert len(calls) == 1
  # Interrupted before meta.json: recomputed.
  os.remove(os.path.join(stored.directory, 'meta.json'))
  assert linear_eval_cached.get_features(trainer, 'test') == stored
  assert len(calls) == 2
  # The earlier whole-split .npy format: absent, replaced.
  for name in os.listdir(stored.directory):
    os.remove(os.path.join(stored.directory, name))
  np.save(os.path.join(stored.directory, 'labels.npy'), np.zeros(30))
  with open(os.path.join(stored.directory, 'meta.json'), 'w') as f:
    json.dump({'end_points': ['pre_logits'], 'num_examples': 30}, f)
  again = linear_eval_cached.get_features(trainer, 'test')
  assert again == stored and len(calls) == 3
  assert 'labels.npy' not in os.listdir(stored.directory)
  _, labels = next(iter(feature_store.evaluation_stream(again, 100)))
  np.testing.assert_array_equal(labels, ToySource().arrays['test'][1])


def test_closed_form_linear_step_matches_the_tape():
  # The cached mode's fast path must take the steps a gradient tape takes,
  # weight decay included.
  rng = np.random.default_rng(0)
  features = {'a': tf.constant(rng.normal(size=[8, 6]), tf.float32),
              'b': tf.constant(5 + 3 * rng.normal(size=[8, 4]), tf.float32)}
  labels = tf.constant(rng.integers(0, NUM_CLASSES, size=[8]), tf.int32)
  heads = linear_eval.Heads(['a', 'b'], NUM_CLASSES, eval_model='linear',
                            channels_hidden=1, weight_decay=0.1)
  heads(features)
  with tf.GradientTape() as tape:
    logits = heads(features, training=True)
    loss = tf.add_n([tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits[k]))
                     for k in ('a', 'b')])
    total = loss + tf.add_n(heads.losses)
  expected = tape.gradient(total, heads.trainable_variables)
  assert heads.has_closed_form
  ours, grads, variables = heads.closed_form_step(features, labels)
  np.testing.assert_allclose(ours, loss, rtol=1e-5)
  by_id = {id(v): g for v, g in zip(heads.trainable_variables, expected)}
  assert len(variables) == len(by_id) == 4
  for variable, grad in zip(variables, grads):
    np.testing.assert_allclose(grad, by_id[id(variable)], rtol=1e-4,
                               atol=1e-6)


def test_cached_run_eval_without_heads_is_an_error(module_dir, tmp_path):
  trainer = make_trainer(tmp_path, module_dir)
  with pytest.raises(utils.UsageError, match='without --run_eval first'):
    linear_eval_cached.run(trainer, run_eval=True)


def test_knn_weighted_votes():
  train = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.2, 0.8]],
                   np.float32)
  labels = np.array([0, 0, 1, 1, 1])
  test = np.array([[1, 0.05], [0.05, 1]], np.float32)

  def accuracy(temperature):
    return streamed_knn.knn_accuracy(
        lambda: [(train, labels)], [(test, np.array([0, 1]))], bank_size=5,
        num_classes=2, k=5, temperature=temperature)

  # With k=5 class 1 has more voters, but the two close class-0 neighbours
  # outweigh them at a low temperature.
  assert accuracy(0.07) == (1.0, 1.0)
  assert accuracy(100.0)[0] == 0.5


# -- Errors ------------------------------------------------------------------


def test_missing_module_names_the_flag(tmp_path):
  with pytest.raises(utils.UsageError, match='--hub_module .*does not exist'):
    linear_eval.LinearEvalTask(hub_module=str(tmp_path / 'nope'),
                               num_classes=3)
  with pytest.raises(utils.UsageError, match='--hub_module is required'):
    linear_eval.LinearEvalTask(hub_module=None, num_classes=3)


def test_module_without_representation_signature(tmp_path):
  net = ToyNet()

  @tf.function(input_signature=[tf.TensorSpec([None, SIZE, SIZE, 3])])
  def serving(images):
    return {'out': net.serve(images)[0]}

  path = str(tmp_path / 'plain')
  tf.saved_model.save(net, path, signatures={'serving_default': serving})
  with pytest.raises(utils.UsageError,
                     match="no signature 'representation'.*serving_default"):
    linear_eval.LinearEvalTask(hub_module=path, num_classes=3)


def test_wrong_input_shape_says_what_the_module_takes(module_dir):
  task = linear_eval.LinearEvalTask(hub_module=module_dir, num_classes=3)
  batch = {'image': tf.zeros([2, 32, 32, 3]), 'label': tf.zeros([2], tf.int32),
           'mask': tf.ones([2])}
  with pytest.raises(utils.UsageError,
                     match=r'takes images of shape \[None, 16, 16, 3\].*'
                           r'produces images of shape \[32, 32, 3\]'):
    task.initialize(batch)
  batch['image'] = tf.zeros([2, 32, 32])
  with pytest.raises(utils.UsageError, match='takes images'):
    task.initialize(batch)


def test_wrong_input_shape_is_found_when_the_trainer_is_built(module_dir,
                                                              tmp_path):
  trainer = make_trainer(tmp_path, module_dir,
                         preprocessing='resize,-1_to_1',
                         preprocess_args={'resize_size': 24})
  with pytest.raises(utils.UsageError, match=r'\[24, 24, 3\]'):
    trainer.build()


def test_invalid_options_list_the_choices(module_dir):
  for kwargs, pattern in (({'eval_model': 'svm'}, '--eval_model.*mlp'),
                          ({'pool_mode': 'min'}, '--pool_mode.*avg'),
                          ({'combine_patches': 'sum'},
                           '--combine_patches.*concat')):
    with pytest.raises(utils.UsageError, match=pattern):
      linear_eval.LinearEvalTask(hub_module=module_dir, num_classes=3,
                                 **kwargs)
