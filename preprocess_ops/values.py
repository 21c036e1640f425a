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

"""Ops on pixel values and labels: value ranges, colour, standardisation."""

import tensorflow as tf

from revisiting_ssl import utils
from revisiting_ssl.preprocess_ops.base import (
  OPS,
  Data,
  Op,
  check_image_rank,
  inline_args,
  map_image,
  map_image_seeded,
  per_image,
  per_image_mask,
  uniform,
)


@OPS.register('plain_preprocess')
def plain_preprocess(is_training: bool) -> Op:
  """Identity."""
  del is_training
  return lambda data: data


@OPS.register('0_to_1')
def zero_to_one(is_training: bool) -> Op:
  """float32 x / 255: [0, 255] -> [0, 1]."""
  del is_training
  return map_image(lambda x: tf.cast(x, tf.float32) * (1.0 / 255.0))


@OPS.register('-1_to_1')
def minus_one_to_one(is_training: bool) -> Op:
  """float32 -1 + 2x / 255: [0, 255] -> [-1, 1]."""
  del is_training
  return map_image(
      lambda x: tf.cast(x, tf.float32) * (2.0 / 255.0) - 1.0)


@OPS.register('to_gray')
def to_gray(is_training: bool, grayscale_probability: float = 1.0) -> Op:
  """Greyscale with probability p per image, in training *and* evaluation.

  The original has no train/eval switch here, so pretext
  evaluation is greyscaled too; we keep that. Each pixel becomes the mean of
  its channels, repeated in every channel. The mean is taken in float32;
  for integer images it is then floored, which equals the
  integer mean of current TF (mean(1, 1, 2) = 1), and the dtype is kept.

  Args:
    is_training: unused (same behaviour in evaluation).
    grayscale_probability: `--grayscale_probability` p in [0, 1].

  Returns:
    The op.
  """
  del is_training
  probability = float(grayscale_probability)
  if not 0.0 <= probability <= 1.0:
    raise utils.UsageError(
        f'--grayscale_probability must be in [0, 1], got {probability}.')
  if probability == 0.0:
    return lambda data: data

  def gray(image):
    values = tf.cast(image, tf.float32)
    if image.dtype.is_integer:
      # Integer sums are exact in float32, so the floor is exact too.
      mean = tf.math.floordiv(
          tf.reduce_sum(values, axis=-1, keepdims=True),
          tf.cast(tf.shape(image)[-1], tf.float32))
    else:
      mean = tf.reduce_mean(values, axis=-1, keepdims=True)
    mean = tf.cast(mean, image.dtype)
    return tf.broadcast_to(mean, tf.shape(image))

  def fn(images, seed):
    check_image_rank(images, 'to_gray')
    if probability == 1.0:
      return gray(images)
    if images.shape.rank == 3:
      # One draw; skip the work when the image stays in colour.
      if seed is None:
        return utils.apply_with_probability(probability, gray, images)
      return tf.cond(uniform([], seed) < probability,
                     lambda: gray(images), lambda: images)
    return tf.where(per_image_mask(images, probability, seed),
                    gray(images), images)

  return map_image_seeded(fn)


@OPS.register('standardization')
def standardization(is_training: bool) -> Op:
  """Per image (per patch of a stack): (x - mean) / max(std, 1/sqrt(N)).

  N is the number of values of one image (H * W * C); the result is float32
  with zero mean and unit variance per image.
  """
  del is_training
  return map_image(lambda x: tf.image.per_image_standardization(
      tf.cast(x, tf.float32)))


def _to_gray_args(args, kwargs):
  return {'grayscale_probability': float(args[0])} if args else dict(kwargs)


inline_args('to_gray', _to_gray_args)


@OPS.register('value_range')
def value_range(is_training: bool, vmin: float | None = None,
                vmax: float | None = None) -> Op:
  """float32 vmin + x / 255 * (vmax - vmin), S4L's `value_range(vmin, vmax)`.

  `0_to_1` and `-1_to_1` are `value_range(0, 1)` and `value_range(-1, 1)`.
  """
  del is_training
  if vmin is None or vmax is None:
    raise utils.UsageError(
        "The preprocessing op 'value_range' needs its range written in "
        '--preprocessing, e.g. value_range(-1, 1).')
  low, scale = float(vmin), (float(vmax) - float(vmin)) / 255.0
  return map_image(lambda x: tf.cast(x, tf.float32) * scale + low)


def _value_range_args(args, kwargs):
  values = dict(zip(('vmin', 'vmax'), args), **kwargs)
  return {k: float(v) for k, v in values.items()}


inline_args('value_range', _value_range_args, only=('vmin', 'vmax'))


@OPS.register('standardize')
def standardize(is_training: bool) -> Op:
  """S4L's name of `standardization`, with the same result.

  S4L applied TensorFlow's per-image standardisation to the whole tensor;
  the op standardises each image of a stack over its own
  last three axes, so this equals `standardization`.
  """
  return standardization(is_training)


# The ImageNet RGB mean that VGG-style inputs subtract: the multi-task
# model's README (`../shared/seeds/`) gives these values.
VGG_RGB_MEAN = (123.68, 116.779, 103.939)


@OPS.register('vgg_preprocess')
def vgg_preprocess(is_training: bool) -> Op:
  """VGG-style input: float32 pixels in [0, 255] minus the RGB mean.

  The multi-task model (a TF-slim ResNet-v2-101) was trained on such
  images (RGB; the data sets here deliver greyscale images as RGB).
  """
  del is_training
  mean = VGG_RGB_MEAN
  return map_image(lambda x: tf.cast(x, tf.float32) - mean)


@OPS.register('copy_label')
def copy_label(is_training: bool, label_key: str = 'copy_label') -> Op:
  """Copies `label` to `label_key`, before an op (`rotate`) replaces it."""
  del is_training

  def op(data: Data) -> Data:
    data[label_key] = data['label']
    return data

  return op


def _copy_label_args(args, kwargs):
  # S4L's form is copy_label(new_name); name= is accepted too.
  name = args[0] if args else kwargs.get('name')
  return {'label_key': name} if name else {}


inline_args('copy_label', _copy_label_args, only=('label_key',))


# S4L's ranges of the HSV noise, as in the Exemplar paper.
_HUE_SHIFT = (-0.1, 0.1)
_SV_POWER = (-2.0, 2.0)
_SV_SCALE = (-0.5, 0.5)
_SV_SHIFT = (-0.1, 0.1)


@OPS.register('hsvnoise')
def hsvnoise(is_training: bool) -> Op:
  """Random hue shift and saturation and value curves, per image.

  Input in [0, 255]. In HSV: H <- (1 + H + dh) mod 1, and for S and V each
  x <- x^(2^p) * 2^m + a with their own p ~ U[-2, 2], m ~ U[-0.5, 0.5],
  a ~ U[-0.1, 0.1]; clipped to [0, 1] and back to RGB in float [0, 255].
  As in S4L there is no evaluation variant (its configs use it in training
  pipelines only).
  """
  del is_training

  def noise(rgb, seed):
    hue_seed, power_seed, scale_seed, shift_seed = (
        [None] * 4 if seed is None else
        tf.unstack(tf.random.experimental.stateless_split(seed, 4)))
    hsv = tf.image.rgb_to_hsv(tf.cast(rgb, tf.float32) / 255.0)
    hue, sv = hsv[..., :1], hsv[..., 1:]
    hue = tf.math.floormod(1.0 + hue + uniform([], hue_seed, *_HUE_SHIFT),
                           1.0)
    power = 2.0 ** uniform([2], power_seed, *_SV_POWER)
    scale = 2.0 ** uniform([2], scale_seed, *_SV_SCALE)
    shift = uniform([2], shift_seed, *_SV_SHIFT)
    sv = sv ** power * scale + shift
    hsv = tf.clip_by_value(tf.concat([hue, sv], axis=-1), 0.0, 1.0)
    return tf.image.hsv_to_rgb(hsv) * 255.0

  return map_image_seeded(
      lambda x, seed: per_image(noise, x, seed, tf.float32))
