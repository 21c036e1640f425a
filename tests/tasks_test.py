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

"""Tests of the four pretext tasks and their configs.

Most tests replace the trunk by a tiny network with the same contract (see
`TinyNet`), so that they exercise the tasks' own logic (labels, combination,
losses, XLA compatibility, export) in seconds; one test runs a real
ResNet-50 patch trunk. The `slow` tests run the shipped config scripts.
"""

import dataclasses
import os
import re
import subprocess
import sys

from conftest import REPO
import keras
import numpy as np
import pytest
import tensorflow as tf
import testdata

from revisiting_ssl import models, preprocess, utils
from revisiting_ssl.self_supervision import (
  exemplar,
  patch_utils,
  relative_patch_location,
)
from revisiting_ssl.self_supervision import self_supervision_lib as lib
from revisiting_ssl.training import hub_export

FASHION_MNIST = '/usr/share/datasets/fashion-mnist'
END_POINTS = ('after_root', 'block1', 'block2', 'block3', 'block4',
              'pre_logits')


class TinyNet(keras.Model):
  """A stand-in trunk with the `models.get_net` contract, fast to compile."""

  def __init__(self, num_classes=None, **kwargs):
    super().__init__()
    self.options = kwargs
    self.conv = keras.layers.Conv2D(
        4, 3, strides=2, padding='same',
        kernel_regularizer=keras.regularizers.L2(1e-4))
    self.bn = keras.layers.BatchNormalization()
    self.head = keras.layers.Dense(num_classes) if num_classes else None

  def call(self, images, training=False):
    x = keras.ops.relu(self.bn(self.conv(images), training=bool(training)))
    end_points = {name: x for name in END_POINTS[:-1]}
    x = tf.reduce_mean(x, axis=[1, 2])
    end_points['pre_logits'] = x
    if self.head is not None:
      x = self.head(x)
      end_points['logits'] = x
    return x, end_points


class QuadrantProbe(keras.Model):
  """Logits = mean brightness of the quadrants TL, BL, BR, TR.

  An image whose top-left quadrant is bright has its bright quadrant at
  position k of that list after k counter-clockwise quarter turns, so the
  argmax of these logits is the rotation.
  """

  def call(self, images, training=False):
    del training
    x = images[..., 0]
    h, w = x.shape[1] // 2, x.shape[2] // 2
    quadrants = [x[:, :h, :w], x[:, h:, :w], x[:, h:, w:], x[:, :h, w:]]
    logits = tf.stack([tf.reduce_mean(q, axis=[1, 2]) for q in quadrants],
                      axis=1)
    return logits, {'pre_logits': logits, 'logits': logits}


# The trunks `make_task` built, in order (`fake_nets` empties it).
BUILDS = []


@pytest.fixture
def fake_nets():
  """The record of the stand-in trunks built by the test's tasks."""
  BUILDS.clear()
  return BUILDS


def make_task(name, architecture='tiny', **kwargs):
  """Task `name` on a stand-in trunk (`QuadrantProbe` or `TinyNet`)."""
  task_cls = lib.get_task_class(name)
  if architecture == 'quadrant_probe':
    make = lambda num_classes, **options: QuadrantProbe()  # noqa: E731
  else:
    make = TinyNet
  network = testdata.StandInNetwork(make, BUILDS, architecture,
                                    filters_factor=1)
  trunk = utils.matching_kwargs(task_cls, {'network': network})
  return task_cls(**trunk, **kwargs)


def patch_batch(batch_size=2, size=16, seed=0):
  rng = np.random.default_rng(seed)
  return {
      'image': tf.constant(rng.normal(
          size=(batch_size, 9, size, size, 3)).astype(np.float32)),
      'label': tf.zeros([batch_size], tf.int32),
      'mask': tf.ones([batch_size]),
  }


@pytest.fixture(scope='module')
def tiny_module(tmp_path_factory):
  """A hub module of `TinyNet` (16x16 inputs), for linear evaluation."""
  net = TinyNet(3)
  net(tf.zeros([1, 16, 16, 3]))
  return hub_export.export_hub_module(
      net, {'net': net}, str(tmp_path_factory.mktemp('tiny') / 'module'),
      [None, 16, 16, 3])


@dataclasses.dataclass
class Case:
  """How to build and check one task in the registry-driven tests."""
  kwargs: dict
  batch: dict
  default_width: int  # Of the hub module's `default` output.
  default_key: str = 'logits'  # The `representation` key equal to it.
  representation: tuple = ('pre_logits', 'logits', 'block4')


# Every registered task needs a case: `test_every_task_has_a_case`.
def task_cases(module_dir=None):
  rng = np.random.default_rng(1)
  rotation_batch = {
      'image': tf.constant(rng.normal(size=(2, 4, 16, 16, 3)), tf.float32),
      'label': tf.tile(tf.range(4)[tf.newaxis], [2, 1]),
      'mask': tf.ones([2])}
  exemplar_batch = {
      'image': tf.constant(rng.normal(size=(3, 4, 16, 16, 3)), tf.float32),
      'label': tf.zeros([3], tf.int32), 'mask': tf.ones([3])}
  image_batch = {
      'image': tf.constant(rng.normal(size=(4, 16, 16, 3)), tf.float32),
      'label': tf.constant([0, 1, 2, 4]), 'mask': tf.ones([4])}
  views_batch = {
      'image': tf.constant(rng.uniform(size=(3, 2, 16, 16, 3)), tf.float32),
      'label': tf.zeros([3], tf.int32), 'mask': tf.ones([3])}
  heads = tuple(f'logits_{e}' for e in END_POINTS + ('logits',))
  return {
      'supervised': Case({'num_classes': 5}, image_batch, 5),
      'rotation': Case({}, rotation_batch, 4),
      'relative_patch_location': Case({'embed_dim': 8}, patch_batch(), 8),
      'jigsaw': Case({'embed_dim': 8}, patch_batch(), 8),
      'exemplar': Case({'embed_dim': 8, 'margin': 0.5}, exemplar_batch, 8),
      's4l_rotation': Case(
          {'num_classes': 5},
          {'unsup': rotation_batch,
           'sup': dict(rotation_batch, copy_label=tf.constant([1, 3]))},
          5, default_key='classes',
          representation=('pre_logits', 'classes', 'classes_unsup',
                          'rotations', 'block4_unsup')),
      's4l_exemplar': Case(
          {'num_classes': 5, 'triplet_embed_dim': 6},
          {'unsup': exemplar_batch,
           'sup': dict(exemplar_batch, label=tf.constant([0, 2, 4]))},
          5, default_key='classes',
          representation=('pre_logits', 'classes', 'embeddings',
                          'embeddings_unsup')),
      'vat': Case(
          {'num_classes': 5, 'vat_weight': 0.5, 'entmin_factor': 0.5,
           'vat_eps': 2.0},
          {'unsup': image_batch, 'sup': image_batch}, 5,
          default_key='classes',
          representation=('pre_logits', 'classes', 'classes_unsup')),
      'rotation_vat': Case(
          {'num_classes': 5, 'vat_weight': 0.3, 'entmin_factor': 0.3},
          {'unsup': rotation_batch,
           'sup': dict(rotation_batch, copy_label=tf.constant([1, 3]))},
          5, default_key='classes',
          representation=('pre_logits', 'classes', 'rotations')),
      'simclr': Case(
          {'temperature': 0.5, 'proj_out_dim': 8}, views_batch, 8,
          default_key='proj_head_2',
          representation=('pre_logits', 'block4', 'proj_head_0',
                          'proj_head_1', 'proj_head_2')),
      'simclr_finetune': Case(
          {'num_classes': 5, 'ft_proj_selector': 1, 'proj_out_dim': 8,
           'zero_init_logits': False}, image_batch, 5,
          representation=('pre_logits', 'proj_head_1', 'logits')),
      # The teacher is the tiny module, of 3 classes.
      'simclr_distill': Case(
          {'num_classes': 3, 'hub_module': module_dir},
          {'unsup': image_batch,
           'sup': dict(image_batch, label=tf.constant([0, 1, 2, 1]))}, 3,
          default_key='classes',
          representation=('pre_logits', 'classes', 'classes_unsup')),
      'linear_eval': Case(
          {'hub_module': module_dir, 'num_classes': 5, 'pool_mode': 'max'},
          image_batch, 5, default_key='logits_pre_logits',
          representation=heads),
  }


def test_every_task_has_a_case():
  assert sorted(task_cases()) == lib.task_names()


# -- Rotation -----------------------------------------------------------------


def quadrant_images(batch_size, size=8):
  images = np.zeros((batch_size, size, size, 3), np.float32)
  images[:, :size // 2, :size // 2] = 1.0
  # Different images, so that mixing images up would be noticed too.
  images += np.arange(batch_size, dtype=np.float32)[:, None, None, None] * .1
  return images


@pytest.mark.parametrize('on_device', [True, False])
def test_rotation_labels_match_rotated_images(fake_nets, on_device):
  task = make_task('rotation', architecture='quadrant_probe')
  assert task.device_ops == ('rotate',)
  rotate = preprocess.get_preprocess_fn('rotate', is_training=True)
  images = quadrant_images(3)
  if on_device:
    batch = rotate({'image': tf.constant(images),
                    'label': tf.zeros([3], tf.int32)})
  else:
    examples = [rotate({'image': tf.constant(x), 'label': tf.constant(0)})
                for x in images]
    batch = {k: tf.stack([e[k] for e in examples]) for k in ('image',
                                                             'label')}
  assert batch['image'].shape == (3, 4, 8, 8, 3)
  batch['mask'] = tf.constant([1.0, 1.0, 0.0])
  out = task.compute(batch, training=False)
  hits, count = (float(x) for x in out.metrics['accuracy'])
  # Every rotated copy of the two real images is recognised; the padded
  # image's 4 copies are not counted.
  assert count == 8
  assert hits == 8


def test_rotation_rejects_images_without_rotations(fake_nets):
  task = make_task('rotation')
  batch = {'image': tf.zeros([2, 8, 8, 3]), 'label': tf.zeros([2], tf.int32),
           'mask': tf.ones([2])}
  with pytest.raises(utils.UsageError, match='rotate'):
    task.compute(batch, training=True)


# -- Patch tasks --------------------------------------------------------------


def stamped_patch_embeddings(batch_size):
  """Embeddings of patches cut from images whose grid cells are stamped.

  Cell (i, k) of image b has value 100 b + 3 i + k in channel 0 and that
  plus 0.25 c in channel c; the "embedding" of a patch is its mean colour.
  """
  images = np.zeros((batch_size, 60, 60, 3), np.float32)
  for b in range(batch_size):
    for index in range(9):
      i, k = divmod(index, 3)
      for c in range(3):
        images[b, 20 * i:20 * i + 20, 20 * k:20 * k + 20, c] = (
            100 * b + index + 0.25 * c)
  crop = preprocess.get_preprocess_fn('crop_patches', is_training=True,
                                      splits_per_side=3, patch_jitter=4)
  patches = crop({'image': tf.constant(images)})['image']
  assert patches.shape == (batch_size, 9, 16, 16, 3)
  return tf.reduce_mean(utils.flatten_leading(patches), axis=[1, 2])


def expected_stamp(b, tile, channel):
  return 100 * b + tile + 0.25 * channel


def test_relative_patch_location_pairs_and_classes():
  pairs = relative_patch_location.PAIRS
  # Class m = the m-th neighbour in row-major order, paired with the centre.
  np.testing.assert_array_equal(pairs[:, 0], [0, 1, 2, 3, 5, 6, 7, 8])
  np.testing.assert_array_equal(pairs[:, 1], [4] * 8)
  combined = patch_utils.combine_patch_embeddings(
      stamped_patch_embeddings(2), pairs).numpy()
  assert combined.shape == (2 * 8, 2 * 3)
  for b in range(2):
    for m, (neighbour, centre) in enumerate(pairs):
      row = combined[b * 8 + m]
      np.testing.assert_allclose(
          row, [expected_stamp(b, neighbour, c) for c in range(3)] +
          [expected_stamp(b, centre, c) for c in range(3)])


def test_relative_patch_location_labels(fake_nets):
  task = make_task('relative_patch_location', embed_dim=8)
  for training in (True, False):
    rows, labels = task.permutations_and_labels(training)
    np.testing.assert_array_equal(rows, relative_patch_location.PAIRS)
    np.testing.assert_array_equal(labels, np.arange(8))


@pytest.mark.parametrize('interleave', [False, True])
def test_jigsaw_permutation_puts_tile_in_slot(interleave):
  perms = patch_utils.load_permutations(
      patch_utils.default_permutations_path())
  rows = perms[:5]
  combined = patch_utils.combine_patch_embeddings(
      stamped_patch_embeddings(2), rows, interleave=interleave).numpy()
  assert combined.shape == (2 * 5, 9 * 3)
  for b in range(2):
    for m in range(5):
      for k in range(9):
        for c in range(3):
          index = c * 9 + k if interleave else k * 3 + c
          assert combined[b * 5 + m, index] == expected_stamp(
              b, rows[m][k], c)


def test_jigsaw_samples_distinct_permutations(fake_nets):
  task = make_task('jigsaw', embed_dim=8, perm_subset_size=8)
  seen = set()
  for _ in range(5):
    rows, ids = task.permutations_and_labels(training=True)
    ids = ids.numpy()
    assert len(set(ids)) == 8 and ids.min() >= 0 and ids.max() < 100
    np.testing.assert_array_equal(rows, task.permutations[ids])
    seen.update(ids.tolist())
  assert len(seen) > 8  # A new subset per step.
  rows, ids = task.permutations_and_labels(training=False)
  np.testing.assert_array_equal(ids, np.arange(100))
  np.testing.assert_array_equal(rows, task.permutations)


def jigsaw_subsets(task, steps=4):
  return [task.sample_permutation_ids().numpy().tolist()
          for _ in range(steps)]


def test_jigsaw_subsets_are_seeded_per_run(fake_nets, tmp_path):
  # Unseeded runs draw different sequences of subsets...
  first, second = (make_task('jigsaw', embed_dim=8) for _ in range(2))
  assert jigsaw_subsets(first) != jigsaw_subsets(second)
  # ...seeded ones the same.
  seeded = [jigsaw_subsets(make_task('jigsaw', embed_dim=8, random_seed=5))
            for _ in range(2)]
  assert seeded[0] == seeded[1]
  # The seed is in the checkpoint: an unseeded run that resumes continues
  # its own sequence, not one of a fresh seed.
  run = make_task('jigsaw', embed_dim=8)
  jigsaw_subsets(run, 2)
  path = tf.train.Checkpoint(state=run.random_state).save(
      str(tmp_path / 'ckpt'))
  expected = jigsaw_subsets(run)
  resumed = make_task('jigsaw', embed_dim=8)
  tf.train.Checkpoint(state=resumed.random_state).restore(
      path).assert_existing_objects_matched()
  assert jigsaw_subsets(resumed) == expected


def test_jigsaw_evaluates_all_permutations(fake_nets, monkeypatch):
  task = make_task('jigsaw', embed_dim=8)
  batch = patch_batch(batch_size=3)
  batch['mask'] = tf.constant([1.0, 1.0, 0.0])
  combined = []
  combine = patch_utils.combine_patch_embeddings

  def recording_combine(*args, **kwargs):
    combined.append(combine(*args, **kwargs))
    return combined[-1]

  monkeypatch.setattr(patch_utils, 'combine_patch_embeddings',
                      recording_combine)
  out = task.compute(batch, training=False)
  assert combined[-1].shape == (300, 9 * 8)
  assert task.head(combined[-1]).shape == (300, 100)
  assert float(out.metrics['accuracy'][1]) == 200  # 2 real images x 100.
  task.compute(batch, training=True)
  assert combined[-1].shape == (3 * 8, 9 * 8)


def test_patch_summary_images(fake_nets):
  patches = tf.reshape(tf.range(2 * 9, dtype=tf.float32), [2, 9, 1, 1, 1])
  patches = tf.tile(patches, [1, 1, 4, 4, 3])
  mosaic = patch_utils.patch_mosaic(patches, gap=2).numpy()
  assert mosaic.shape == (2, 16, 16, 3)
  for i in range(3):
    for k in range(3):
      cell = mosaic[1, 6 * i:6 * i + 4, 6 * k:6 * k + 4]
      assert (cell == 9 + 3 * i + k).all()
  assert (mosaic[:, 4:6] == 0).all()  # The gaps.
  task = make_task('jigsaw', embed_dim=8)
  images = task.summary_images({'image': patches})
  assert images['patches'].shape == images['puzzle'].shape == (2, 16, 16, 3)
  assert float(tf.reduce_max(images['puzzle'])) <= 1.0


def test_summary_images_put_views_side_by_side(fake_nets):
  views = tf.random.uniform([6, 4, 5, 5, 3], -1, 1)
  task = make_task('rotation')
  strips = task.summary_images({'image': views})['input'].numpy()
  assert strips.shape == (4, 5, 4 * 5 + 3 * 2, 3)  # The first 4 examples.
  rescaled = lib.rescale_for_display(views[:4]).numpy()
  for k in range(4):
    np.testing.assert_allclose(strips[:, :, 7 * k:7 * k + 5],
                               rescaled[:, k], atol=1e-6)
  assert (strips[:, :, 5:7] == 0).all()  # The gaps.
  # One scale per example: its views keep their relative brightness.
  assert strips.reshape(4, -1).max(axis=1) == pytest.approx(1.0)
  # Tasks with several streams show each one.
  pictures = task.summary_images({'unsup': {'image': views},
                                  'sup': {'image': views[:, 0]}})
  assert pictures['unsup'].shape == (4, 5, 26, 3)
  assert pictures['sup'].shape == (4, 5, 5, 3)


def test_patch_tasks_pass_patch_strides(fake_nets):
  for name in ('jigsaw', 'relative_patch_location'):
    fake_nets.clear()
    make_task(name)
    (call,) = fake_nets
    assert call['root_conv_stride'] == 1
    assert tuple(call['strides']) == (2, 2, 1)
    assert call['num_classes'] == patch_utils.DEFAULT_EMBED_DIM


def test_patch_head_settings():
  head = patch_utils.PatchHead(8)
  logits = head(tf.ones([4, 20]), training=False)
  assert logits.shape == (4, 8) and logits.dtype == tf.float32
  assert head.hidden.kernel.shape == (20, 4096)
  np.testing.assert_allclose(head.hidden.bias.numpy(), 0.1)
  np.testing.assert_allclose(head.classifier.bias.numpy(), 0.0)
  assert np.abs(head.hidden.kernel.numpy()).max() <= 2 * 0.005 + 1e-6
  assert head.batch_norm.momentum == 0.997 and head.batch_norm.epsilon == 1e-5
  # L2 of 5e-4, TF1 style: 0.5 * 5e-4 * sum(w^2) over both kernels.
  expected = 0.5 * 5e-4 * sum(
      float(tf.reduce_sum(tf.square(k)))
      for k in (head.hidden.kernel, head.classifier.kernel))
  np.testing.assert_allclose(float(tf.add_n(head.losses)), expected,
                             rtol=1e-5)
  # Dropout (rate 0.5) only in training: inference is deterministic,
  # training calls differ from it and from each other. Batch norm is kept
  # out of the comparison by using its moving statistics in both modes.
  x = tf.random.normal([64, 20])
  inference = head(x, training=False).numpy()
  np.testing.assert_array_equal(inference, head(x, training=False).numpy())
  hidden = keras.ops.relu(head.batch_norm(head.hidden(x), training=False))
  dropped = head.dropout(hidden, training=True).numpy()
  kept = dropped != 0
  assert 0.3 < kept.mean() < 0.7
  # Kept units are scaled by 1 / (1 - rate).
  np.testing.assert_allclose(dropped[kept], 2 * hidden.numpy()[kept],
                             rtol=1e-5)
  assert not np.allclose(head.dropout(hidden, training=True), dropped)


def test_jigsaw_rejects_bad_options(fake_nets, tmp_path):
  with pytest.raises(utils.UsageError, match='--perm_subset_size'):
    make_task('jigsaw', perm_subset_size=101)
  path = str(tmp_path / 'four.bin')
  patch_utils.write_permutations(path, [[1, 0, 3, 2], [3, 2, 1, 0]])
  with pytest.raises(utils.UsageError, match='4 tiles') as info:
    make_task('jigsaw', permutations_path=path)
  assert path in str(info.value)


# -- Exemplar -----------------------------------------------------------------


def reference_triplet_loss(labels, embeddings, margin):
  """Brute force over anchors, positives and negatives."""
  e = np.asarray(embeddings, np.float64)
  n = len(labels)
  d = ((e[:, None, :] - e[None, :, :]) ** 2).sum(-1)
  total, pairs, fallbacks = 0.0, 0, 0
  for a in range(n):
    for p in range(n):
      if a == p or labels[a] != labels[p]:
        continue
      negatives = [d[a, k] for k in range(n) if labels[k] != labels[a]]
      semihard = [x for x in negatives if x > d[a, p]]
      if semihard:
        d_an = min(semihard)
      else:
        fallbacks += 1
        d_an = max(negatives) if negatives else 0.0
      total += max(0.0, margin + d[a, p] - d_an)
      pairs += 1
  return total / pairs, fallbacks


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_triplet_loss_matches_brute_force(seed):
  rng = np.random.default_rng(seed)
  labels = np.repeat(np.arange(4), 3)
  raw = rng.normal(size=(12, 5)).astype(np.float32)
  # Batch-axis normalisation: every dimension has unit norm over the batch.
  normalized = raw / np.sqrt((raw ** 2).sum(axis=0, keepdims=True))
  np.testing.assert_allclose(
      exemplar.normalize_embeddings(tf.constant(raw), 'batch'), normalized,
      rtol=1e-5)
  for embeddings, margin in ((normalized, 0.5), (raw, 1.0), (raw, 0.1)):
    expected, _ = reference_triplet_loss(labels, embeddings, margin)
    got = exemplar.triplet_semihard_loss(
        tf.constant(labels), tf.constant(embeddings), margin)
    np.testing.assert_allclose(float(got), expected, rtol=1e-4, atol=1e-6)


def test_triplet_loss_without_semihard_negatives():
  # 1-D points: the positive pairs (0, 1) are farther apart than any
  # negative, so their anchors fall back to the farthest negative (81).
  labels = [0, 0, 1, 1]
  embeddings = np.array([[0.0], [10.0], [1.0], [9.0]], np.float32)
  expected, fallbacks = reference_triplet_loss(labels, embeddings, 0.5)
  assert fallbacks == 2 and expected == pytest.approx(9.75)
  got = exemplar.triplet_semihard_loss(
      tf.constant(labels), tf.constant(embeddings), 0.5)
  assert float(got) == pytest.approx(9.75)


def test_triplet_loss_ignores_zero_weights():
  rng = np.random.default_rng(3)
  labels = np.repeat(np.arange(4), 2)
  embeddings = rng.normal(size=(8, 3)).astype(np.float32)
  weights = np.array([1, 1, 1, 1, 1, 1, 0, 0], np.float32)
  expected, _ = reference_triplet_loss(labels[:6], embeddings[:6], 0.5)
  got = exemplar.triplet_semihard_loss(
      tf.constant(labels), tf.constant(embeddings), 0.5,
      weights=tf.constant(weights))
  np.testing.assert_allclose(float(got), expected, rtol=1e-5)


def test_exemplar_padding_does_not_change_the_loss(fake_nets):
  task = make_task('exemplar', embed_dim=8, margin=0.5)
  batch = task_cases()['exemplar'].batch
  full = task.compute(batch, training=False)
  assert full.metrics == {}
  real = {k: v[:2] for k, v in batch.items()}
  padded = dict(batch, mask=tf.constant([1.0, 1.0, 0.0]))
  np.testing.assert_allclose(
      float(task.compute(padded, training=False).loss),
      float(task.compute(real, training=False).loss), rtol=1e-5)
  assert abs(float(full.loss) - float(task.compute(real, False).loss)) > 1e-6


def test_exemplar_options(fake_nets):
  with pytest.raises(utils.UsageError, match='--margin'):
    make_task('exemplar', embed_dim=8)
  with pytest.raises(utils.UsageError, match='--embedding_normalization'):
    make_task('exemplar', margin=0.5, embedding_normalization='rows')
  fake_nets.clear()
  make_task('exemplar', margin=0.5)
  assert fake_nets[0]['num_classes'] is None  # Pre-logits as embedding.


# -- Every task: training steps, export ---------------------------------------


@pytest.mark.parametrize('name', lib.task_names())
@pytest.mark.parametrize('jit_compile', [False, True])
def test_training_step(fake_nets, tiny_module, name, jit_compile):
  case = task_cases(tiny_module)[name]
  batch = case.batch
  task = make_task(name, **case.kwargs)
  task.initialize(batch)
  optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
  optimizer.build(task.trainable_variables)
  before = [v.numpy() for v in task.trainable_variables]

  @tf.function(jit_compile=jit_compile)
  def step(batch):
    with tf.GradientTape() as tape:
      out = task.compute(batch, training=True)
      total = out.loss + task.regularization_loss()
    variables = task.trainable_variables
    grads = tape.gradient(total, variables)
    optimizer.apply_gradients(zip(grads, variables))
    return out.loss, grads

  loss, grads = step(batch)
  assert np.isfinite(float(loss))
  assert all(g is not None and np.all(np.isfinite(g)) for g in grads)
  changed = [not np.array_equal(b, v.numpy())
             for b, v in zip(before, task.trainable_variables)]
  assert all(changed)


@pytest.mark.parametrize('name', lib.task_names())
def test_hub_export(fake_nets, tiny_module, tmp_path, name):
  case = task_cases(tiny_module)[name]
  task = make_task(name, **case.kwargs)
  task.initialize(case.batch)
  path = hub_export.export_hub_module(
      task.serve, task.export_items(), str(tmp_path / 'module'),
      [None, 16, 16, 3])
  module = tf.saved_model.load(path)
  assert set(module.signatures) == {'default', 'representation'}
  images = tf.random.normal([5, 16, 16, 3])
  default = module.signatures['default'](image=images)['default']
  assert default.shape == (5, case.default_width)
  representation = module.signatures['representation'](image=images)
  assert set(case.representation) <= set(representation)
  np.testing.assert_allclose(default, representation[case.default_key],
                             rtol=1e-5)
  # For the patch tasks the module is the per-patch trunk, without the
  # combination step and the FC head.
  expected, _ = task.serve(images)
  np.testing.assert_allclose(default, expected, rtol=1e-5, atol=1e-6)



@pytest.fixture
def mixed_bfloat16():
  """The `--mixed_precision` policy of CPUs and TPUs, for one test."""
  previous = keras.mixed_precision.global_policy()
  keras.mixed_precision.set_global_policy('mixed_bfloat16')
  yield
  keras.mixed_precision.set_global_policy(previous)


HOST_CAST_TASKS = [name for name in lib.task_names()
                   if lib.get_task_class(name).host_cast]


def test_which_tasks_take_bfloat16_from_the_host():
  # VAT computes on the images before its trunk and linear evaluation
  # feeds a module saved with its own policy: they keep float32.
  assert HOST_CAST_TASKS == ['exemplar', 'jigsaw', 'relative_patch_location',
                             'rotation', 'simclr', 'simclr_finetune',
                             'supervised']


@pytest.mark.parametrize('name', HOST_CAST_TASKS)
def test_host_cast_gives_identical_outputs(fake_nets, mixed_bfloat16, name):
  """Images cast to bfloat16 on the host change no loss or metric."""
  case = task_cases()[name]
  task = make_task(name, **case.kwargs)
  task.initialize(case.batch)
  cast = dict(case.batch, image=tf.cast(case.batch['image'], tf.bfloat16))
  want = task.compute(case.batch, training=False)
  got = task.compute(cast, training=False)
  np.testing.assert_array_equal(got.loss, want.loss)
  for g, w in zip(tf.nest.flatten(got.metrics), tf.nest.flatten(want.metrics)):
    np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize('architecture',
                         ['resnet50', 'resnet50v2', 'revnet50', 'vgg19'])
def test_trunks_cast_their_input_as_the_host_does(mixed_bfloat16,
                                                  architecture):
  """The first layer's cast to bfloat16 equals the host's, bit for bit."""
  net = models.get_net(architecture, 4, filters_factor=1)
  images = tf.random.stateless_normal([2, 32, 32, 3], (1, 2))
  want, want_points = net(images, training=True)
  got, got_points = net(tf.cast(images, tf.bfloat16), training=True)
  np.testing.assert_array_equal(got, want)
  for key, value in want_points.items():
    np.testing.assert_array_equal(got_points[key], value)

# -- Configs ------------------------------------------------------------------

TASKS = ('rotation', 'relative_patch_location', 'jigsaw', 'exemplar')


def run_config(script, *args, timeout=900):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHON=sys.executable)
  return subprocess.run(
      ['bash', str(REPO / 'config' / script), '--nouse_tpu', *args],
      capture_output=True, text=True, timeout=timeout, env=env, check=False)


# Every config script is dry-run in configs_test.py.


@pytest.mark.slow
@pytest.mark.parametrize('task', TASKS)
def test_fashion_mnist_config_learns(tmp_path, task):
  # 60 steps: the train split has 50,000 images; the batch is 32 for
  # rotation, 8 for exemplar and 16 for the patch tasks.
  epochs = {'rotation': '0.03839', 'exemplar': '0.009599'}.get(task,
                                                              '0.01919')
  result = run_config(f'{task}/fashion_mnist.sh', '--workdir', str(tmp_path),
                      '--epochs', epochs, '--decay_epochs', epochs,
                      '--warmup_epochs', '0.002', '--iterations_per_loop',
                      '20')
  assert result.returncode == 0, result.stderr[-3000:]
  losses = [float(x) for x in
            re.findall(r'step \d+/\d+ loss ([-\d.naif]+)', result.stderr)]
  assert len(losses) == 3, result.stderr[-3000:]
  assert all(np.isfinite(losses))
  assert losses[-1] < losses[0], losses
