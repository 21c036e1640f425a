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

"""Ops on pixel values: value ranges, greyscale, standardisation."""

import tensorflow as tf

from preprocess_ops.base import (
  OPS,
  Op,
  check_image_rank,
  map_image,
  map_image_seeded,
  per_image_mask,
  uniform,
)
import utils


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

  The original has no train/eval switch here (SPEC C3.10), so pretext
  evaluation is greyscaled too; we keep that. Each pixel becomes the mean of
  its channels, repeated in every channel. The mean is taken in float32
  (SPEC C2.6); for integer images it is then floored, which equals the
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
  with zero mean and unit variance per image (SPEC C3.17).
  """
  del is_training
  return map_image(lambda x: tf.image.per_image_standardization(
      tf.cast(x, tf.float32)))
