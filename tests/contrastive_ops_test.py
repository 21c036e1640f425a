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

"""The statistics of SimCLR's augmentation ops over many draws."""

import numpy as np
import pytest
import tensorflow as tf

from revisiting_ssl import preprocess, utils
from revisiting_ssl.preprocess_ops import contrastive

DRAWS = 400


def run(ops, image, seed=0):
  """`DRAWS` seeded applications of `ops` to `image` (a batch of copies)."""
  fn = preprocess.get_preprocess_fn(ops, is_training=True)
  seeds = tf.random.experimental.stateless_split([seed, 1], DRAWS)
  images = tf.stack([tf.constant(image)] * DRAWS)
  ds = tf.data.Dataset.from_tensor_slices(
      {'image': images, preprocess.SEED_KEY: seeds})
  return np.stack([d['image'].numpy() for d in ds.map(fn)])


def colour_image(size=16, seed=0):
  rng = np.random.default_rng(seed)
  return rng.uniform(0.1, 0.9, size=(size, size, 3)).astype(np.float32)


def changed(out, image):
  return np.abs(out - image).reshape(len(out), -1).max(axis=1) > 1e-6


def within(fraction, p, draws=DRAWS):
  """Within four standard deviations of a binomial mean p."""
  return abs(fraction - p) < 4 * np.sqrt(p * (1 - p) / draws) + 1e-9


def test_views_are_augmented_independently():
  out = run('0_to_1|views(2)|random_resized_crop(8)', colour_image(16) * 255)
  assert out.shape == (DRAWS, 2, 8, 8, 3)
  assert changed(out[:, 0], out[:, 1]).mean() > 0.95


def test_random_resized_crop_boxes():
  # Pixels hold their coordinates, so a crop shows which box it took.
  size = 64
  rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
  image = np.stack([rows, cols, np.zeros_like(rows)], axis=-1)
  out = run('random_resized_crop(16)', image)
  heights = out[:, -1, :, 0].max(1) - out[:, 0, :, 0].min(1) + 1
  widths = out[:, :, -1, 1].max(1) - out[:, :, 0, 1].min(1) + 1
  # The corner pixels are bicubic blends: the sides are known to 10%.
  areas = heights * widths / size**2
  aspects = widths / heights
  assert areas.min() > 0.08 * 0.8 and areas.max() < 1.2
  assert (areas < 0.3).mean() > 0.2 and (areas > 0.7).mean() > 0.02
  assert aspects.min() > 0.75 * 0.8 and aspects.max() < 4 / 3 * 1.25
  # Evaluation: the central 87.5%, rows and columns 4 to 59, whose 16
  # sample points (half-pixel centres) start 1.25 pixels in.
  central = preprocess.get_preprocess_fn('random_resized_crop(16)', False)(
      {'image': tf.constant(image)})['image'].numpy()
  assert central.shape == (16, 16, 3)
  assert central[0, 0, 0] == pytest.approx(4 + 1.25, abs=0.01)
  assert central[-1, -1, 1] == pytest.approx(59 - 1.25, abs=0.01)


def test_color_jitter_statistics():
  image = colour_image()
  out = run('color_jitter(1.0)', image)
  assert within(changed(out, image).mean(), contrastive.JITTER_PROBABILITY)
  assert out.min() >= 0.0 and out.max() <= 1.0
  # Brightness scales up and down; strength 0 and evaluation change nothing.
  means = out.mean(axis=(1, 2, 3))
  assert means.min() < image.mean() - 0.1 < image.mean() + 0.1 < means.max()
  np.testing.assert_array_equal(run('color_jitter(0)', image)[0], image)
  evaluation = preprocess.get_preprocess_fn('color_jitter(1.0)', False)
  np.testing.assert_array_equal(
      evaluation({'image': tf.constant(image)})['image'], image)
  # Weaker strength, smaller changes.
  weak = run('color_jitter(0.25)', image)
  assert np.abs(weak - image).mean() < np.abs(out - image).mean()


def test_random_grayscale_statistics():
  image = colour_image()
  out = run('random_grayscale(0.3)', image)
  gray = np.ptp(out, axis=-1).max(axis=(1, 2)) < 1e-6
  assert within(gray.mean(), 0.3)
  luma = (image * np.array(contrastive.LUMA)).sum(-1)
  np.testing.assert_allclose(out[gray][..., 0], np.broadcast_to(
      luma, out[gray][..., 0].shape), rtol=1e-5)
  np.testing.assert_array_equal(out[~gray], np.broadcast_to(
      image, out[~gray].shape))


def test_gaussian_blur_statistics():
  image = colour_image(30)
  out = run('gaussian_blur(0.5)', image)
  blurred = changed(out, image)
  assert within(blurred.mean(), 0.5)
  # Blurring lowers the variation between neighbouring pixels.
  def roughness(x):
    return np.abs(np.diff(x[..., 5:-5, 5:-5, :], axis=-2)).mean(
        axis=(-1, -2, -3))
  assert (roughness(out[blurred]) < roughness(image)).all()
  # Radius 1 at 30 pixels: an inner pixel is a 3x3 weighted mean with the
  # kernel's weights, whatever sigma was drawn.
  kernel = contrastive.blur_kernel(30, tf.constant(1.0)).numpy()
  assert kernel.shape == (3,) and kernel.sum() == pytest.approx(1.0)
  assert contrastive.blur_kernel(224, tf.constant(1.0)).shape == (23,)


@pytest.mark.parametrize('ops, message', [
    ('color_jitter(2.0)', 'color_jitter_strength'),
    ('random_grayscale(1.5)', r'\[0, 1\]'),
    ('views(1)', '--num_views must be >= 2'),
])
def test_bad_arguments(ops, message):
  with pytest.raises(utils.UsageError, match=message):
    preprocess.get_preprocess_fn(ops, is_training=True)


def test_colour_ops_need_float_images():
  fn = preprocess.get_preprocess_fn('color_jitter', is_training=True)
  with pytest.raises(utils.UsageError, match='0_to_1'):
    fn({'image': tf.zeros([4, 4, 3], tf.uint8)})
