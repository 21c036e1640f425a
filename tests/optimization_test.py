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

"""Learning-rate schedules of the shipped configs and TF1 momentum."""

import shlex

from conftest import REPO
import keras
import numpy as np
import pytest
import tensorflow as tf

from revisiting_ssl import train_and_eval, utils
from revisiting_ssl.models import layers
from revisiting_ssl.training import optimization

# Split sizes of the paper's ImageNet splits and Fashion-MNIST.
COUNTS = {
    'imagenet': {'train': 1_231_121, 'val': 50_046, 'trainval': 1_281_167,
                 'test': 50_000},
    'fashion_mnist': {'train': 50_000, 'val': 10_000, 'trainval': 60_000,
                      'test': 10_000},
}
# The TFRecord configs are the pseudo-labelled copies of Fashion-MNIST that
# config/s4l_fashion_mnist/generate_pseudo_dataset.sh writes: same splits.
COUNTS['tfrecord'] = COUNTS['fashion_mnist']

# Steps per epoch, total steps, base lr, warm-up steps and
# decay boundaries of the original's configs.
EXPECTED = {
    'supervised/imagenet.sh': (5004, 450_360, 0.1, 25_020,
                               (150_120, 300_240, 400_320)),
    'rotation/imagenet.sh': (19_236, 673_260, 0.025, 96_180,
                             (288_540, 480_900)),
    'exemplar/imagenet.sh': (19_236, 673_260, 0.025, 96_180,
                             (288_540, 480_900)),
    'jigsaw/imagenet.sh': (9618, 336_630, 0.05, 48_090, (144_270, 240_450)),
    'relative_patch_location/imagenet.sh': (9618, 336_630, 0.05, 48_090,
                                            (144_270, 240_450)),
    'evaluation/rotation_or_exemplar.sh': (2502, 175_140, 0.2, 0,
                                           (75_060, 125_100)),
    'evaluation/jigsaw_or_relative_patch_location.sh': (
        2502, 175_140, 0.2, 0, (75_060, 125_100)),
    # S4L's configs: epochs are passes over the labelled subset.
    'supervised_imagenet_10p.sh': (500, 100_000, 0.1, 2_500,
                                   (70_000, 80_000, 90_000)),
    'supervised_imagenet_1p.sh': (50, 50_000, 0.01, 250,
                                  (35_000, 40_000, 45_000)),
    's4l_rotation.sh': (500, 100_000, 0.03, 2_500, (70_000, 80_000, 90_000)),
    's4l_exemplar.sh': (250, 50_000, 0.1, 2_500, (35_000, 40_000, 45_000)),
}
NUM_CLASSES = {'imagenet': 1000, 'fashion_mnist': 10}


def config_flags(path):
  """The `--flag value` pairs a config script passes (last one wins)."""
  text = path.read_text()
  tokens = shlex.split(text[text.index('"$TRAIN_AND_EVAL"'):],
                       comments=True)
  values = {}
  for i, token in enumerate(tokens):
    if token.startswith('--'):
      name, _, value = token[2:].partition('=')
      if not value and i + 1 < len(tokens) and not tokens[i + 1].startswith(
          '--'):
        value = tokens[i + 1]
      values[name] = value
  return values


def schedule_for(path):
  """The schedule a config's flags give, `--schedule` read as the trainer
  reads it, the epoch being the labelled subset's when there is one."""
  f = config_flags(path)
  values = {name: f.get(name) for name in ('schedule', 'epochs',
                                           'decay_epochs', 'warmup_epochs')}
  if values['decay_epochs']:
    values['decay_epochs'] = values['decay_epochs'].split(',')
  train_and_eval._resolve_schedule(values)  # pylint: disable=protected-access
  decay = values['decay_epochs']
  num_examples = COUNTS[f['dataset']][f.get('train_split', 'train')]
  if 'num_supervised_examples' in f:
    num_examples = int(f['num_supervised_examples'])
  if 'labels_per_class' in f:
    num_examples = int(f['labels_per_class']) * NUM_CLASSES[f['dataset']]
  return optimization.make_schedule(
      num_examples=num_examples,
      batch_size=int(f['batch_size']), epochs=float(values['epochs']),
      lr=float(f['lr']),
      lr_scale_batch_size=float(f.get('lr_scale_batch_size', 0)),
      lr_scaling=f.get('lr_scaling', 'linear'),
      lr_decay=f.get('lr_decay', 'piecewise'),
      decay_epochs=[float(x) for x in decay] if decay else None,
      warmup_epochs=float(values['warmup_epochs'] or 0),
      lr_decay_factor=float(f.get('lr_decay_factor', 0.1)))


# The configs that call the entry point themselves.
CONFIGS = sorted(p.relative_to(REPO / 'config').as_posix()
                 for p in (REPO / 'config').rglob('*.sh')
                 if '"$TRAIN_AND_EVAL"' in p.read_text())


def test_every_spec_config_is_shipped():
  assert set(EXPECTED) <= set(CONFIGS)


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_schedule_numbers_match_the_spec(name):
  s = schedule_for(REPO / 'config' / name)
  steps, total, base, warmup, boundaries = EXPECTED[name]
  assert s.steps_per_epoch == steps
  assert s.total_steps == total
  assert s.base_lr == pytest.approx(base)
  assert s.warmup_steps == warmup
  assert s.boundaries == boundaries


@pytest.mark.parametrize('name', CONFIGS)
def test_learning_rate_at_the_boundaries(name):
  s = schedule_for(REPO / 'config' / name)
  keras_schedule = optimization.WarmupPiecewiseDecay(s)

  def both(step):
    value = s.value(step)
    assert float(keras_schedule(step)) == pytest.approx(value, rel=1e-6)
    return value

  if s.warmup_steps:
    assert both(0) == 0.0
    assert both(s.warmup_steps // 2) == pytest.approx(
        (s.warmup_steps // 2) * s.base_lr / s.warmup_steps)
    assert both(s.warmup_steps - 1) < s.base_lr
  assert both(s.warmup_steps) == pytest.approx(s.base_lr)
  for j, b in enumerate(s.boundaries):
    if b < s.warmup_steps:
      continue
    # The value changes after the boundary step, not at it.
    assert both(b) == pytest.approx(s.base_lr * s.decay_factor**j)
    assert both(b + 1) == pytest.approx(s.base_lr * s.decay_factor**(j + 1))


def test_fractional_epochs_round_as_the_original():
  s = optimization.make_schedule(
      num_examples=1000, batch_size=64, epochs=2.5, lr=0.1,
      lr_scale_batch_size=0, decay_epochs=[1.5], warmup_epochs=0.25,
      lr_decay_factor=0.1)
  assert s.steps_per_epoch == 15  # floor(1000 / 64)
  assert s.total_steps == 38  # ceil(2.5 * 15)
  assert s.warmup_steps == 3
  assert s.boundaries == (22,)
  assert s.base_lr == 0.1  # lr_scale_batch_size 0: no scaling


@pytest.mark.parametrize('kwargs, message', [
    ({'decay_epochs': [40]}, 'beyond --epochs'),
    ({'decay_epochs': [20, 10]}, 'increasing'),
    ({'num_examples': 10}, 'fewer than one batch'),
])
def test_bad_schedules_are_usage_errors(kwargs, message):
  args = dict(num_examples=1000, batch_size=64, epochs=35, lr=0.1,
              lr_scale_batch_size=256, decay_epochs=[15, 25],
              warmup_epochs=5, lr_decay_factor=0.1)
  args.update(kwargs)
  with pytest.raises(utils.UsageError, match=message):
    optimization.make_schedule(**args)


def test_momentum_is_tf1_style():
  """a <- 0.9 a + g; w <- w - lr * a, with the lr changing every step."""
  lrs = [0.0, 0.1, 0.2, 0.05]
  s = optimization.Schedule(base_lr=0.2, warmup_steps=2, boundaries=(2,),
                            decay_factor=0.25, total_steps=4,
                            steps_per_epoch=1)
  assert [s.value(t) for t in range(4)] == pytest.approx(lrs)
  opt = optimization.make_optimizer('sgd', s)
  w = tf.Variable([1.0, -2.0])
  grads = [np.array([0.5, 1.0]), np.array([-1.0, 0.5]),
           np.array([0.25, 0.25]), np.array([2.0, -1.0])]
  acc = np.zeros(2)
  expected = np.array([1.0, -2.0])
  for lr, g in zip(lrs, grads):
    opt.apply_gradients([(tf.constant(g, tf.float32), w)])
    acc = 0.9 * acc + g
    expected = expected - lr * acc
  np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)


def test_unknown_optimizer_lists_choices():
  s = optimization.Schedule(0.1, 0, (), 0.1, 10, 10)
  with pytest.raises(utils.UsageError, match='--optimizer.*adam, lars, sgd'):
    optimization.make_optimizer('rmsprop', s)


@pytest.mark.parametrize('scaling, reference, expected', [
    ('linear', 256, 0.3 * 4096 / 256),
    ('sqrt', None, 0.075 * 64),  # SimCLR's 0.075 * sqrt(4096) = 4.8.
    ('sqrt', 256, 0.3 * 4),
    ('linear', None, 0.3),
])
def test_learning_rate_scalings(scaling, reference, expected):
  s = optimization.make_schedule(
      num_examples=10**6, batch_size=4096, epochs=1,
      lr=0.075 if reference is None and scaling == 'sqrt' else 0.3,
      lr_scale_batch_size=reference, decay_epochs=None, warmup_epochs=0,
      lr_decay_factor=0.1, lr_scaling=scaling)
  assert s.base_lr == pytest.approx(expected)


def test_cosine_decay():
  s = optimization.make_schedule(
      num_examples=1000, batch_size=10, epochs=2, lr=1.0,
      lr_scale_batch_size=None, decay_epochs=None, warmup_epochs=0.5,
      lr_decay_factor=0.1, lr_decay='cosine')
  keras_schedule = optimization.WarmupPiecewiseDecay(s)
  assert (s.warmup_steps, s.total_steps, s.boundaries) == (50, 200, ())
  for step, want in [(25, 0.5), (50, 1.0), (125, 0.5), (200, 0.0),
                     (50 + 150 // 3, 0.75)]:
    assert s.value(step) == pytest.approx(want, abs=1e-6)
    assert float(keras_schedule(step)) == pytest.approx(want, abs=1e-6)
  with pytest.raises(utils.UsageError, match='drop --decay_epochs'):
    optimization.make_schedule(
        num_examples=1000, batch_size=10, epochs=2, lr=1.0,
        lr_scale_batch_size=None, decay_epochs=[1], warmup_epochs=0,
        lr_decay_factor=0.1, lr_decay='cosine')
  with pytest.raises(utils.UsageError, match='--lr_scaling.*linear, sqrt'):
    optimization.make_schedule(
        num_examples=1000, batch_size=10, epochs=2, lr=1.0,
        lr_scale_batch_size=None, decay_epochs=None, warmup_epochs=0,
        lr_decay_factor=0.1, lr_scaling='cube')


def test_lars_follows_its_formula():
  """Kernels: v <- m v + lr eta |w| / |g + wd w| (g + wd w); w <- w - v.

  Biases and batch norm take plain momentum steps without decay: the
  layers' penalty covers kernels only and LARS adapts only kernels.
  """
  wd, lr, eta, momentum = 0.1, 0.5, optimization.LARS_ETA, 0.9
  dense = keras.layers.Dense(3, kernel_regularizer=layers.l2_regularizer(wd))
  norm = layers.FusedBatchNorm()
  x = tf.constant(np.random.default_rng(0).normal(size=(8, 4)), tf.float32)
  norm(dense(x), training=True)
  variables = dense.trainable_variables + norm.trainable_variables
  s = optimization.Schedule(lr, 0, (), 0.1, 10, 10)
  opt = optimization.make_optimizer('lars', s)
  opt.build(variables)
  expected = {v.path: v.numpy().copy() for v in variables}
  velocity = {v.path: np.zeros(v.shape) for v in variables}
  for _ in range(3):
    with tf.GradientTape() as tape:
      y = norm(dense(x), training=True)
      loss = tf.reduce_mean(tf.square(y - 0.3)) + tf.add_n(dense.losses)
    grads = tape.gradient([loss], variables)
    with tf.GradientTape() as tape:
      plain = tf.reduce_mean(tf.square(norm(dense(x), training=True) - 0.3))
    plain_grads = tape.gradient(plain, variables)
    for v, g, p in zip(variables, grads, plain_grads):
      w = expected[v.path]
      if v.path.endswith('kernel'):
        decayed = p.numpy() + wd * w  # The penalty's gradient, by hand.
        np.testing.assert_allclose(g, decayed, rtol=1e-5, atol=1e-7)
        ratio = eta * np.linalg.norm(w) / np.linalg.norm(decayed)
        step = lr * ratio * decayed
      else:
        np.testing.assert_allclose(g, p, rtol=1e-6)  # No decay.
        step = lr * p.numpy()
      velocity[v.path] = momentum * velocity[v.path] + step
      expected[v.path] = w - velocity[v.path]
    opt.apply_gradients(zip(grads, variables))
    for v in variables:
      np.testing.assert_allclose(v.numpy(), expected[v.path], rtol=1e-5,
                                 atol=1e-7, err_msg=v.path)
  assert [optimization.lars_adapted(v) for v in variables] == [
      True, False, False, False]
