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

"""Geometric ops: resizing, crops, flips and the four rotations."""

import functools
from typing import Any

import tensorflow as tf

from revisiting_ssl import inception_preprocessing, utils
from revisiting_ssl.preprocess_ops.base import (
  OPS,
  Data,
  Op,
  central_crop_image,
  check_image_rank,
  inline_args,
  map_image,
  map_image_seeded,
  per_image,
  per_image_mask,
  positive_int_arg,
  size_arg,
  sizes_to,
  uniform,
)


@OPS.register('resize')
def resize(is_training: bool, resize_size: Any = None,
           randomize_resize_method: bool = False,
           legacy_resize: bool = False) -> Op:
  """Resizes to exactly `resize_size`, ignoring the aspect ratio.

  Training with `randomize_resize_method` draws bilinear, nearest neighbour
  or bicubic uniformly per image. The original also had an area branch that
  its random draw could never reach; we reproduce the reachable three.
  Evaluation always resizes bilinearly.

  Args:
    is_training: whether to allow the randomised method.
    resize_size: `--resize_size` (height, width).
    randomize_resize_method: `--randomize_resize_method`.
    legacy_resize: TF1 sampling (align_corners in the randomised branches).

  Returns:
    The op; the image becomes float32 `[h, w, C]` with values in the input's
    range (bicubic may overshoot).
  """
  size = size_arg(resize_size, 'resize_size', 'resize')

  def bilinear(image):
    return inception_preprocessing.resize_bilinear(image, size, legacy_resize)

  if not (is_training and randomize_resize_method):
    return map_image(bilinear)

  def random_method(image, seed):
    # The original aligned corners in these branches (TF1 sampling only).
    branches = [
        functools.partial(inception_preprocessing.resize, image, size,
                          method, legacy_resize, align_corners=True)
        for method in ('bilinear', 'nearest', 'bicubic')
    ]
    choice = uniform([], seed, 0, len(branches), dtype=tf.int32)
    return tf.switch_case(choice, branches)

  return map_image_seeded(
      lambda x, seed: per_image(random_method, x, seed, tf.float32))


def _resize_args(args, kwargs):
  # S4L: `resize(224)`, `resize(224, 160)`; the word randomize_method
  # anywhere turns on the random interpolation.
  sizes = [a for a in args if a != 'randomize_method']
  values = sizes_to('resize_size')(sizes, kwargs)
  if len(sizes) != len(args):
    values['randomize_resize_method'] = True
  return values


inline_args('resize', _resize_args)


@OPS.register('resize_small')
def resize_small(is_training: bool, smaller_size: Any = None) -> Op:
  """Aspect-preserving area resize so that the shorter side is smaller_size.

  Args:
    is_training: unused (deterministic).
    smaller_size: `--smaller_size`.

  Returns:
    The op; the image becomes float32 in the input's range. New sides are
    round(side * smaller_size / min(H, W)), rounding half to even.
  """
  del is_training
  target = positive_int_arg(smaller_size, 'smaller_size', 'resize_small')

  def fn(image):
    shape = tf.cast(tf.shape(image)[-3:-1], tf.float32)
    ratio = target / tf.reduce_min(shape)
    new_size = tf.cast(tf.round(shape * ratio), tf.int32)
    # Area resizing is the same in TF1 and TF2.
    return tf.image.resize(image, new_size, method='area')

  return map_image(fn)


inline_args('resize_small', sizes_to('smaller_size'))


@OPS.register('crop')
def crop(is_training: bool, crop_size: Any = None) -> Op:
  """Random crop of `crop_size` in training, central crop in evaluation.

  Args:
    is_training: random (per image of a stack) or central crop.
    crop_size: `--crop_size` (height, width).

  Returns:
    The op; the dtype is kept.
  """
  height, width = size_arg(crop_size, 'crop_size', 'crop')

  def random_crop(image, seed):
    size = tf.stack([height, width, tf.shape(image)[-1]])
    if seed is None:
      out = tf.image.random_crop(image, size)
    else:
      out = tf.image.stateless_random_crop(image, size, seed)
    out.set_shape([height, width, image.shape[-1]])
    return out

  def central(image):
    return central_crop_image(image, height, width)

  if is_training:
    return map_image_seeded(
        lambda x, seed: per_image(random_crop, x, seed, x.dtype))
  return map_image(lambda x: utils.apply_to_image_or_images(central, x))


inline_args('crop', sizes_to('crop_size'))


@OPS.register('central_crop')
def central_crop(is_training: bool, crop_size: Any = None) -> Op:
  """Central crop of `crop_size` in training and evaluation; dtype kept."""
  del is_training
  height, width = size_arg(crop_size, 'crop_size', 'central_crop')
  return map_image(lambda x: utils.apply_to_image_or_images(
      lambda image: central_crop_image(image, height, width), x))


inline_args('central_crop', sizes_to('crop_size'))


@OPS.register('multi_crop')
def multi_crop(is_training: bool, crop_size: Any = None) -> Op:
  """Five crops of `crop_size`, stacked `[5, h, w, C]` (S4L).

  Centre, top-left, top-right, bottom-left, bottom-right; the same in
  evaluation. The centre crop's offsets are floor((H - h) / 2).
  """
  del is_training
  height, width = size_arg(crop_size, 'crop_size', 'multi_crop')

  def crops(image):
    shape = tf.shape(image)
    bottom, right = shape[0] - height, shape[1] - width
    corners = [(bottom // 2, right // 2), (0, 0), (0, right), (bottom, 0),
               (bottom, right)]
    stack = tf.stack([tf.image.crop_to_bounding_box(image, top, left, height,
                                                    width)
                      for top, left in corners])
    stack.set_shape([5, height, width, image.shape[-1]])
    return stack

  return map_image(crops)


inline_args('multi_crop', sizes_to('crop_size'))


@OPS.register('inception_crop')
def inception_crop(is_training: bool) -> Op:
  """Inception's random box crop (no resize) in training; identity in eval."""
  if not is_training:
    return lambda data: data
  whole_image = tf.constant([[[0.0, 0.0, 1.0, 1.0]]], tf.float32)

  def fn(image, seed):
    cropped, _ = inception_preprocessing.distorted_bounding_box_crop(
        image, whole_image, seed=seed)
    return cropped

  return map_image_seeded(fn)


@OPS.register('flip_lr')
def flip_lr(is_training: bool) -> Op:
  """Random left-right flip, p = 0.5 per image, in training; eval identity."""
  if not is_training:
    return lambda data: data

  def fn(images, seed):
    check_image_rank(images, 'flip_lr')
    flip = per_image_mask(images, 0.5, seed)
    return tf.where(flip, tf.reverse(images, axis=[-2]), images)

  return map_image_seeded(fn)


def _rotations(images: tf.Tensor) -> list[tf.Tensor]:
  """The 0, 90, 180, 270 degree counter-clockwise rotations of images.

  Matches numpy's `rot90(x, k)` on the (H, W) axes: k = 1 flips the columns
  then swaps H and W; k = 3 swaps then flips the columns. Written with
  reverse and transpose so it works for any number of leading axes (and
  compiles with XLA), unlike `tf.image.rot90`, which stops at rank 4.
  """
  rank = images.shape.rank
  perm = list(range(rank - 3)) + [rank - 2, rank - 3, rank - 1]
  rot90 = tf.transpose(tf.reverse(images, axis=[-2]), perm)
  rot180 = tf.reverse(images, axis=[-3, -2])
  rot270 = tf.reverse(tf.transpose(images, perm), axis=[-2])
  return [images, rot90, rot180, rot270]


@OPS.register('rotate')
def rotate(is_training: bool) -> Op:
  """Replaces each image by its four rotations; labels become [0, 1, 2, 3].

  Deterministic (same in evaluation). Works on one image `[H, W, C]` ->
  `[4, H, W, C]` with label `[4]`, and on a batch `[B, H, W, C]` ->
  `[B, 4, H, W, C]` with label `[B, 4]`, with identical per-example results,
  so the rotation task can run it on the accelerator. Images must be square.
  """
  del is_training

  def op(data: Data) -> Data:
    images = data['image']
    rank = images.shape.rank
    if rank not in (3, 4):
      raise ValueError(
          f"The preprocessing op 'rotate' needs [H, W, C] or [B, H, W, C] "
          f'images, got shape {images.shape}.')
    height, width = images.shape[-3], images.shape[-2]
    if height is not None and width is not None:
      if height != width:
        raise utils.UsageError(
            f"The preprocessing op 'rotate' needs square images, got "
            f'{height}x{width}; use a square --crop_size / --resize_size.')
    else:
      shape = tf.shape(images)
      with tf.control_dependencies([tf.debugging.assert_equal(
          shape[-3], shape[-2],
          message="The preprocessing op 'rotate' needs square images.")]):
        images = tf.identity(images)
    labels = tf.range(4, dtype=tf.int32)
    if rank == 3:
      data['image'] = tf.stack(_rotations(images), axis=0)
      data['label'] = labels
    else:
      data['image'] = tf.stack(_rotations(images), axis=1)
      data['label'] = tf.tile(labels[tf.newaxis],
                              tf.stack([tf.shape(images)[0], 1]))
    return data

  return op
