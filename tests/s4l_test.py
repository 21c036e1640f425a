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

"""S4L: labelled subsets, two streams, its losses, Polyak averaging, configs.

The ImageNet-like data set here is converted with our tool from tiny JPEGs
of three classes whose file names come from S4L's published lists, so the
lists select real records.
"""

import collections
import csv
import dataclasses
import json
import os
import subprocess
import sys

from absl import flags
from conftest import REPO
import numpy as np
from PIL import Image
import pytest
import tensorflow as tf
import testdata

from revisiting_ssl import (
  datasets,
  entry_flags,
  models,
  preprocess,
  train_and_eval,
  utils,
)
from revisiting_ssl import trainer as trainer_lib
from revisiting_ssl.data_sources import label_subsets
from revisiting_ssl.self_supervision import s4l_exemplar, s4l_lib
from revisiting_ssl.self_supervision import self_supervision_lib as lib
from revisiting_ssl.tools import build_tfrecords
from revisiting_ssl.training import checkpointing, input_streams

LISTS = {count: label_subsets.read(
    os.path.join(label_subsets.LABEL_MAPS_DIR,
                 f'label_map_count_{count}_index_0'), 'test')
         for count in (128000, 13000)}
SYNSETS = sorted({n.split('_')[0] for n in LISTS[13000]})[:3]


@pytest.fixture(scope='module')
def imagenet_like(tmp_path_factory):
  """Three ImageNet classes: every listed image of them, and 5 others each.

  Returns:
    The converted data set's directory (`--dataset tfrecord`).
  """
  root = tmp_path_factory.mktemp('imagenet_like')
  rng = np.random.default_rng(0)
  for synset in SYNSETS:
    listed = sorted({n for count in LISTS for n in LISTS[count]
                     if n.startswith(synset + '_')})
    names = listed + [f'{synset}_unlisted{i}.JPEG' for i in range(5)]
    for split, files in (('train', names), ('val', names[:2])):
      folder = root / split / synset
      folder.mkdir(parents=True)
      for name in files:
        pixels = rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / name, format='JPEG')
  out = root / 'tfrecords'
  build_tfrecords.convert(str(root / 'train'), str(root / 'val'), str(out),
                          train_shards=4, validation_shards=1)
  return str(out)


# -- Labelled subsets ---------------------------------------------------------


def test_published_lists_give_128_and_13_per_class(imagenet_like):
  for count, per_class in ((128000, 128), (13000, 13)):
    ids = LISTS[count]
    by_class = collections.Counter(n.split('_')[0] for n in ids)
    assert len(by_class) == 1000 and set(by_class.values()) == {per_class}
    data = datasets.get_dataset('tfrecord', imagenet_like)
    subset = label_subsets.choose(
        data, 'trainval', workdir='/nonexistent',
        filename_list_template='label_map_count_{}_index_0',
        num_supervised_examples=count)
    assert subset.ids == tuple(ids) and not subset.write
    all_ids, labels = data.example_ids('trainval')
    kept = np.isin(all_ids, subset.ids)
    assert np.bincount(labels[kept]).tolist() == [per_class] * 3
    # The labelled stream reads exactly those records.
    present = tuple(all_ids[kept])
    ds = data.make('trainval', preprocess_fn=None, batch_size=7,
                   training=False, keep_ids=present)
    real = [int(label) for batch in ds
            for label, mask in zip(batch['label'], batch['mask']) if mask]
    assert sorted(real) == sorted(labels[kept].tolist())


def test_training_stream_keeps_only_the_subset(imagenet_like):
  data = datasets.get_dataset('tfrecord', imagenet_like)
  ids, labels = data.example_ids('trainval')
  keep = tuple(ids[labels == 1][:6])
  for cache in (False, True):
    ds = data.make('trainval', preprocess_fn=None, batch_size=4,
                   training=True, seed=0, keep_ids=keep, cache=cache)
    seen = [int(x) for batch in ds.take(6) for x in batch['label']]
    assert seen == [1] * 24


def test_sampler_is_class_balanced_seeded_and_written(tmp_path):
  data = datasets.get_dataset('fashion_mnist', testdata.write_fashion_mnist(
      str(tmp_path / 'fm'), 200, 20))
  workdir = str(tmp_path / 'work')
  os.makedirs(workdir)
  subset = label_subsets.choose(data, 'trainval', workdir=workdir,
                                labels_per_class=3, label_subset_seed=4)
  assert subset.write and len(subset.ids) == 30
  ids, labels = data.example_ids('trainval')
  chosen = labels[np.isin(ids, subset.ids)]
  assert np.bincount(chosen).tolist() == [3] * 10
  again = label_subsets.choose(data, 'trainval', workdir=workdir,
                               labels_per_class=3, label_subset_seed=4)
  other = label_subsets.choose(data, 'trainval', workdir=workdir,
                               labels_per_class=3, label_subset_seed=5)
  assert again.ids == subset.ids and other.ids != subset.ids
  # Written in S4L's format, and read back (not drawn) on a rerun.
  label_subsets.write(subset.path, subset.ids)
  assert json.load(open(subset.path)) == {'values': list(subset.ids)}
  reread = label_subsets.choose(data, 'trainval', workdir=workdir,
                                labels_per_class=3, label_subset_seed=4)
  assert reread.ids == subset.ids and not reread.write
  # A fraction: 10% of 200 images over 10 classes is 2 per class.
  fraction = label_subsets.choose(data, 'trainval', workdir=workdir,
                                  label_fraction=0.1)
  assert len(fraction.ids) == 20


@pytest.mark.parametrize('kwargs,message', [
    ({'labels_per_class': 30}, '--labels_per_class 30 exceeds the 20'),
    ({'labels_per_class': 0}, 'at least 1'),
    ({'label_fraction': 1.5}, r'--label_fraction must be in \(0, 1\]'),
    ({'labels_per_class': 2, 'label_fraction': 0.1}, 'not both'),
    ({'num_supervised_examples': 100}, 'needs --filename_list_template'),
    ({'filename_list_template': 'x_{}'}, 'needs --num_supervised_examples'),
    ({'filename_list_template': 'no_braces', 'num_supervised_examples': 1},
     'has no "{}"'),
    ({'filename_list_template': 'missing_{}', 'num_supervised_examples': 1},
     'No label list missing_1'),
    ({'filename_list_template': 'label_map_count_{}_index_0',
      'num_supervised_examples': 13000, 'labels_per_class': 1},
     'Give one of them'),
])
def test_subset_flag_errors(tmp_path, kwargs, message):
  data = datasets.get_dataset('fashion_mnist', testdata.write_fashion_mnist(
      str(tmp_path / 'fm'), 200, 20))
  with pytest.raises(utils.UsageError, match=message):
    label_subsets.choose(data, 'trainval', workdir=str(tmp_path), **kwargs)


@pytest.mark.parametrize('content,message', [
    ('{"values": ["a"', 'not valid JSON'),
    ('["a", "b"]', 'must be a JSON object'),
    ('{"values": [1, 2]}', 'must be a JSON object'),
    ('{"values": ["a", "a"]}', 'lists 1 ids twice'),
])
def test_malformed_list_files(tmp_path, content, message):
  path = tmp_path / 'list_7'
  path.write_text(content)
  with pytest.raises(utils.UsageError, match=message) as error:
    label_subsets.read(str(path), '--filename_list_template')
  assert str(path) in str(error.value)


# -- Two streams ------------------------------------------------------------


def s4l_rotation_trainer(data_dir, workdir, strategy, *, batch_size=8,
                         unsup_batch_mult=2.0, polyak_averaging=False,
                         labels_per_class=2, polyak_half_life=None,
                         eval_raw_weights=False, lr=0.01):
  """S4L-Rotation with VGG-19 (fast to trace) on 32x32 images."""
  data = datasets.get_dataset('fashion_mnist', data_dir)
  subset = label_subsets.choose(data, 'trainval', workdir=workdir,
                                labels_per_class=labels_per_class)
  pipeline = preprocess.build_pipeline('resize(32)|-1_to_1|rotate',
                                       device_ops=['rotate'])
  sup_pipeline = preprocess.build_pipeline(
      'copy_label|resize(32)|-1_to_1|rotate', device_ops=['rotate'])
  streams = {
      'unsup': input_streams.InputStream(pipeline,
                                         batch_mult=unsup_batch_mult),
      'sup': input_streams.InputStream(sup_pipeline, keep_ids=subset.ids)}
  config = trainer_lib.TrainerConfig(
      workdir=workdir, train_split='trainval', val_split='test',
      batch_size=batch_size, eval_batch_size=8, epochs=2, lr=lr,
      iterations_per_loop=1, random_seed=3, summary_images=0,
      save_checkpoints_secs=None, polyak_averaging=polyak_averaging,
      polyak_half_life=polyak_half_life, eval_raw_weights=eval_raw_weights,
      serving_input_shape=(None, 32, 32, 3))
  task_cls = lib.get_task_class('s4l_rotation')
  return trainer_lib.Trainer(
      config, task_factory=lambda: task_cls(
          num_classes=10, network=models.Network(
          'vgg19', filters_factor=1)),
      data_source=data, strategy=strategy, streams=streams)


def test_two_streams_on_two_replicas(data_dir, tmp_path):
  strategy = testdata.mirrored_strategy(['/cpu:0', '/cpu:1'])
  trainer = s4l_rotation_trainer(data_dir, str(tmp_path), strategy)
  # Global labelled batch 8 over 2 replicas: 4 labelled and 8 unlabelled
  # images per replica; an epoch is a pass over the 20 labelled images.
  assert trainer.train_batches == {'unsup': 8, 'sup': 4}
  assert trainer.schedule.steps_per_epoch == 20 // 8
  batch = next(iter(trainer.distributed_dataset('trainval', training=True)))
  for replica in strategy.experimental_local_results(batch):
    assert replica['unsup']['image'].shape == (8, 32, 32, 3)
    assert replica['sup']['image'].shape == (4, 32, 32, 3)
    assert replica['sup']['copy_label'].shape == (4,)
  trainer.train()
  assert trainer.step == 4
  metrics = trainer.evaluate()
  assert metrics['num_examples'] == testdata.NUM_TEST
  for name in ('top1_accuracy_unrotated', 'top1_accuracy_rot_avg',
               'rotation_accuracy'):
    assert 0 <= metrics[name] <= 1


def test_unlabelled_batch_multiplier_must_leave_an_example(data_dir,
                                                           tmp_path):
  with pytest.raises(utils.UsageError, match='--unsup_batch_mult 0 gives'):
    s4l_rotation_trainer(data_dir, str(tmp_path),
                         tf.distribute.get_strategy(), unsup_batch_mult=0)


# -- Polyak averaging -------------------------------------------------------


def test_polyak_averages_are_evaluated_and_exported(data_dir, tmp_path):
  trainer = s4l_rotation_trainer(data_dir, str(tmp_path),
                                 tf.distribute.get_strategy(),
                                 polyak_averaging=True)
  trainer.build()
  decay = 0.5 ** (1 / trainer.schedule.steps_per_epoch)
  assert trainer.averages.decay == pytest.approx(decay)
  variables = trainer.task.trainable_variables
  expected = [v.numpy().copy() for v in variables]
  loop = trainer.make_train_loop()
  iterator = iter(trainer.distributed_dataset('trainval', training=True))
  for _ in range(3):
    loop(iterator, tf.constant(1))
    expected = [decay * e + (1 - decay) * v.numpy()
                for e, v in zip(expected, variables)]
  for (variable, average), value in zip(trainer.averages.pairs, expected):
    np.testing.assert_allclose(average.numpy(), value, rtol=1e-5,
                               atol=1e-6, err_msg=variable.path)
  raw = [v.numpy().copy() for v in variables]
  module_dir = trainer.export()
  for name, values in (('module', expected), ('module_raw', raw)):
    loaded = tf.saved_model.load(os.path.join(os.path.dirname(module_dir),
                                              name))
    by_shape = collections.defaultdict(list)
    for v in loaded.trainable_variables:
      by_shape[tuple(v.shape)].append(v.numpy())
    for value in values:
      assert any(np.allclose(value, x, atol=1e-6)
                 for x in by_shape[value.shape]), name
  # Exports and evaluation leave the trained weights in place.
  for variable, value in zip(variables, raw):
    np.testing.assert_array_equal(variable.numpy(), value)
  names = [n for n, _ in tf.train.list_variables(trainer.manager.save())]
  assert sum(n.startswith('polyak') for n in names) == len(variables)


@pytest.mark.parametrize('fraction', [None, 0.005, 0.5])
def test_polyak_half_life_is_a_fraction_of_training(data_dir, tmp_path,
                                                     fraction):
  trainer = s4l_rotation_trainer(data_dir, str(tmp_path),
                                 tf.distribute.get_strategy(),
                                 polyak_averaging=True, labels_per_class=8,
                                 polyak_half_life=fraction)
  trainer.build()
  schedule = trainer.schedule
  # 80 labelled images in batches of 8 for 2 epochs: 10 steps per epoch.
  assert (schedule.steps_per_epoch, schedule.total_steps) == (10, 20)
  # Unset, the half-life stays S4L's epoch.
  half_life = (schedule.steps_per_epoch if fraction is None
               else fraction * schedule.total_steps)
  assert trainer.averages.decay == pytest.approx(0.5 ** (1 / half_life))


@pytest.mark.parametrize('kwargs,message', [
    ({'polyak_averaging': True, 'polyak_half_life': 0.0}, r'in \(0, 1\]'),
    ({'polyak_averaging': True, 'polyak_half_life': 156.0}, 'got 156'),
    ({'polyak_half_life': 0.005}, 'needs --polyak_averaging'),
])
def test_polyak_half_life_errors_name_the_flag(data_dir, tmp_path, kwargs,
                                               message):
  with pytest.raises(utils.UsageError,
                     match='--polyak_half_life.*' + message):
    s4l_rotation_trainer(data_dir, str(tmp_path),
                         tf.distribute.get_strategy(), **kwargs)


def test_polyak_half_life_flag_reaches_the_trainer(data_dir, tmp_path):
  fv = flags.FlagValues()
  entry_flags.define_flags(fv)
  fv(['train_and_eval.py', '--task', 'rotation_vat', '--dataset',
      'fashion_mnist', '--dataset_dir', data_dir, '--workdir',
      str(tmp_path), '--architecture', 'resnet50v2', '--batch_size', '8',
      '--lr', '0.1', '--epochs', '1', '--preprocessing', 'rotate',
      '--polyak_averaging', '--polyak_half_life', '0.005'])
  config = train_and_eval.make_config(*train_and_eval.flag_values(fv))
  assert train_and_eval.trainer_config(config).polyak_half_life == 0.005


def test_raw_weights_are_evaluated_on_request(data_dir, tmp_path):
  workdir = str(tmp_path)
  # A rate that moves the weights in four steps: at 0.01 the two losses
  # differed by less than 1e-4 on some CPUs.
  trainer = s4l_rotation_trainer(data_dir, workdir,
                                 tf.distribute.get_strategy(),
                                 polyak_averaging=True, lr=0.1)
  trainer.train()
  path = trainer.manager.latest_checkpoint
  averaged = trainer.evaluate_checkpoint(path)
  raw_trainer = s4l_rotation_trainer(data_dir, workdir,
                                     tf.distribute.get_strategy(),
                                     polyak_averaging=True,
                                     eval_raw_weights=True, lr=0.1)
  raw = raw_trainer.evaluate_checkpoint(path)
  # After four steps the averages (half-life one epoch, two steps) are
  # still far from the trained weights.
  assert raw['loss'] != pytest.approx(averaged['loss'], rel=1e-3)
  # Averages equal to the trained weights: the two evaluations agree, and
  # the raw one's trained weights are those of the checkpoint.
  trainer.averages.reset()
  assert trainer.evaluate()['loss'] == pytest.approx(raw['loss'], rel=1e-5)
  with open(os.path.join(workdir, 'eval_results.csv')) as f:
    rows = list(csv.DictReader(f))
  assert [(r['split'], r['checkpoint']) for r in rows] == [
      ('test', os.path.basename(path)), ('test_raw', os.path.basename(path))]
  assert float(rows[1]['loss']) == pytest.approx(raw['loss'])


def test_raw_weights_need_polyak_averaging(data_dir, tmp_path):
  with pytest.raises(utils.UsageError,
                     match='--eval_raw_weights .* needs --polyak_averaging'):
    s4l_rotation_trainer(data_dir, str(tmp_path),
                         tf.distribute.get_strategy(), eval_raw_weights=True)


# -- Losses against references written here ---------------------------------


def reference_batch_hard(embeddings, identities, weights):
  """Brute force: every anchor's farthest positive and closest negative."""
  e = np.asarray(embeddings, np.float64)
  n = len(identities)
  d = np.sqrt(np.maximum(((e[:, None] - e[None]) ** 2).sum(-1), 1e-12))
  losses = []
  for a in range(n):
    if not weights[a]:
      continue
    positives = [d[a, p] for p in range(n) if p != a and weights[p] and
                 identities[p] == identities[a]]
    negatives = [d[a, k] for k in range(n) if weights[k] and
                 identities[k] != identities[a]]
    if not positives:
      losses.append(0.0)
      continue
    losses.append(np.log1p(np.exp(max(positives) - min(negatives))))
  return np.mean(losses)


@pytest.mark.parametrize('seed', [0, 1])
def test_batch_hard_soft_margin_matches_brute_force(seed):
  rng = np.random.default_rng(seed)
  embeddings = rng.normal(size=(12, 5)).astype(np.float32)
  identities = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 4, 4])  # 3: alone.
  weights = np.ones(12, np.float32)
  weights[[2, 11]] = 0
  got = s4l_exemplar.batch_hard_soft_margin(
      tf.constant(embeddings), tf.constant(identities), tf.constant(weights))
  np.testing.assert_allclose(
      float(got), reference_batch_hard(embeddings, identities, weights),
      rtol=1e-5)


def test_triplet_identities_intended_and_original():
  np.testing.assert_array_equal(
      s4l_exemplar.triplet_identities(3, 2, 'intended'), [0, 0, 1, 1, 2, 2])
  # The original's swapped arguments: groups of B = 3 consecutive crops.
  np.testing.assert_array_equal(
      s4l_exemplar.triplet_identities(3, 2, 'original'), [0, 0, 0, 1, 1, 1])
  np.testing.assert_array_equal(
      s4l_exemplar.triplet_identities(2, 2, 'original'),
      s4l_exemplar.triplet_identities(2, 2, 'original'))


def _softmax_ce(logits, labels):
  logits = logits - logits.max(-1, keepdims=True)
  log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  return -log_p[np.arange(len(labels)), labels]


def _heads(task, pre_logits, name):
  layer = getattr(task.heads, f'head_{name}')
  return pre_logits @ layer.kernel.numpy() + layer.bias.numpy()


def test_s4l_rotation_loss_and_metrics_match_a_reference():
  task = lib.get_task_class('s4l_rotation')(
      num_classes=5, rot_loss_weight=0.7, network=models.Network(
      'vgg19', filters_factor=1))
  rng = np.random.default_rng(2)
  unsup = {'image': tf.constant(rng.normal(size=(3, 4, 32, 32, 3)),
                                tf.float32),
           'label': tf.tile(tf.range(4)[None], [3, 1]), 'mask': tf.ones([3])}
  sup = {'image': tf.constant(rng.normal(size=(2, 4, 32, 32, 3)), tf.float32),
         'label': tf.tile(tf.range(4)[None], [2, 1]), 'mask': tf.ones([2]),
         'copy_label': tf.constant([4, 1])}
  out = task.compute({'unsup': unsup, 'sup': sup}, training=False)
  # The trunk alone, in inference mode (batch statistics do not matter).
  images = np.concatenate([unsup['image'].numpy().reshape(-1, 32, 32, 3),
                           sup['image'].numpy().reshape(-1, 32, 32, 3)])
  _, end_points = task.net(tf.constant(images), training=False)
  pre_logits = end_points['pre_logits'].numpy().reshape(20, -1)
  rotations = _heads(task, pre_logits, 'rotations')
  classes = _heads(task, pre_logits, 'classes')
  rot_labels = np.tile(np.arange(4), 5)
  rot_unsup = _softmax_ce(rotations[:12], rot_labels[:12]).mean()
  rot_sup = _softmax_ce(rotations[12:], rot_labels[12:]).mean()
  cls = _softmax_ce(classes[12:], np.repeat([4, 1], 4)).mean()
  expected = cls + 0.7 * (rot_unsup + rot_sup) / 2
  np.testing.assert_allclose(float(out.loss), expected, rtol=1e-4)
  per_image = classes[12:].reshape(2, 4, 5)
  for name, logits in (('unrotated', per_image[:, 0]),
                       ('rot_avg', per_image.mean(1))):
    hits, count = out.metrics[f'top1_accuracy_{name}']
    assert float(count) == 2
    assert float(hits) == float((logits.argmax(-1) == [4, 1]).sum())


def test_s4l_exemplar_loss_matches_a_reference():
  task = lib.get_task_class('s4l_exemplar')(
      num_classes=5, triplet_embed_dim=6, triplet_loss_weight=0.5,
      network=models.Network( 'vgg19', filters_factor=1))
  rng = np.random.default_rng(3)
  unsup = {'image': tf.constant(rng.normal(size=(2, 3, 32, 32, 3)),
                                tf.float32),
           'label': tf.zeros([2], tf.int32), 'mask': tf.ones([2])}
  sup = {'image': tf.constant(rng.normal(size=(2, 3, 32, 32, 3)), tf.float32),
         'label': tf.constant([3, 0]), 'mask': tf.ones([2])}
  tf.random.set_seed(0)
  out = task.compute({'unsup': unsup, 'sup': sup}, training=True)
  # The same forward pass (training mode, both streams together); the loss
  # is assembled here from its end points.
  end_points = task.apply(
      tf.reshape(unsup['image'], [-1, 32, 32, 3]),
      tf.reshape(sup['image'], [-1, 32, 32, 3]), training=True)

  def triplet(embeddings):
    e = embeddings.numpy()
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    return reference_batch_hard(e, np.repeat([0, 1], 3), np.ones(6))

  cls = _softmax_ce(end_points['classes_sup'].numpy(),
                    np.repeat([3, 0], 3)).mean()
  expected = cls + 0.5 * (triplet(end_points['embeddings_unsup']) +
                          triplet(end_points['embeddings_sup'])) / 2
  np.testing.assert_allclose(float(out.loss), expected, rtol=1e-4)


def test_hub_module_of_s4l_has_classes_and_unsup_copies():
  task = lib.get_task_class('s4l_rotation')(
      num_classes=5, network=models.Network( 'vgg19', filters_factor=1))
  default, end_points = task.serve(tf.zeros([2, 32, 32, 3]))
  assert default.shape == (2, 5)
  assert end_points['pre_logits'].shape[1:3] == (1, 1)
  for name in ('classes', 'rotations', 'pre_logits', 'block4'):
    np.testing.assert_array_equal(end_points[name],
                                  end_points[f'{name}_{s4l_lib.UNSUP}'])


# -- Warm start -------------------------------------------------------------


def test_warm_start_takes_the_matching_weights(data_dir, tmp_path):
  first = s4l_rotation_trainer(data_dir, str(tmp_path / 'first'),
                               tf.distribute.get_strategy())
  first.train()
  source = first.manager.latest_checkpoint

  def fresh(**config):
    trainer = s4l_rotation_trainer(data_dir, str(tmp_path / 'second'),
                                   tf.distribute.get_strategy())
    trainer.config = dataclasses.replace(trainer.config,
                                         path_to_initial_ckpt=source,
                                         **config)
    return trainer

  with pytest.raises(utils.UsageError, match='--vars_to_restore'):
    fresh(vars_to_restore='nothing_is_called_so').build()
  second = fresh(vars_to_restore='net/')
  second.build()
  restored = checkpointing.warm_start(second.checkpoint_names, source,
                                      'net/')
  assert restored and all(n.startswith('net/') for n in restored)
  for a, b in zip(first.task.net.variables, second.task.net.variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  # The heads were not matched and keep their own initial values.
  assert not np.array_equal(first.task.heads.variables[0].numpy(),
                            second.task.heads.variables[0].numpy())
  assert second.step == 0


# -- The ImageNet configs take a step ----------------------------------------

S4L_CONFIGS = ('supervised_imagenet_1p.sh', 'supervised_imagenet_10p.sh',
               's4l_rotation.sh', 's4l_exemplar.sh')


@pytest.mark.slow
@pytest.mark.parametrize('name', S4L_CONFIGS)
def test_imagenet_config_takes_a_step(name, imagenet_like, tmp_path):
  """As written, but a narrow network, a small batch and one step.

  The lists select the records named after them; an epoch is a pass over
  the 128,000 (or 13,000) listed images, so a schedule of 0.00002 epochs
  is one step of 4.
  """
  workdir = tmp_path / 'work'
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHON=sys.executable)
  env.pop('TPU_NAME', None)
  proc = subprocess.run(
      ['bash', str(REPO / 'config' / name), '--nouse_tpu',
       '--dataset', 'tfrecord', '--dataset_dir', imagenet_like,
       '--workdir', str(workdir), '--filters_factor', '1',
       '--batch_size', '4', '--eval_batch_size', '4',
       '--schedule', '0,0.00002', '--summary_images', '0'],
      capture_output=True, text=True, env=env, timeout=600, cwd=str(REPO),
      check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'step 1/1 loss' in proc.stderr, proc.stderr[-3000:]
  assert (workdir / 'TRAINING_IS_DONE').exists()
