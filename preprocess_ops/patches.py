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

"""Ops that make several views of an image: patch grids, Inception crops."""

from typing import Any

import tensorflow as tf

from revisiting_ssl import inception_preprocessing, utils
from revisiting_ssl.preprocess_ops.base import (
  OPS,
  Op,
  check_image_rank,
  inline_args,
  leading_shape,
  map_image_seeded,
  per_image,
  positive_int_arg,
  size_arg,
  sizes_to,
  split_seed,
  static_hw,
  uniform,
)


@OPS.register('crop_inception_preprocess_patches')
def crop_inception_preprocess_patches(is_training: bool,
                                      resize_size: Any = None,
                                      num_of_inception_patches: Any = None,
                                      legacy_resize: bool = False) -> Op:
  """P independent Inception-preprocessed crops of one image, stacked.

  Evaluation runs the deterministic Inception eval path, so its P patches
  are identical; it is computed once and repeated.

  Args:
    is_training: Inception training (random) or evaluation path.
    resize_size: `--resize_size` of every patch.
    num_of_inception_patches: `--num_of_inception_patches` (P).
    legacy_resize: TF1 bilinear sampling.

  Returns:
    The op; the image becomes float32 `[P, h, w, C]` in [-1, 1].
  """
  op = 'crop_inception_preprocess_patches'
  height, width = size_arg(resize_size, 'resize_size', op)
  count = positive_int_arg(num_of_inception_patches,
                           'num_of_inception_patches', op)

  def fn(image, seed):
    if is_training:
      seeds = split_seed(seed, count)
      return tf.stack([
          inception_preprocessing.preprocess_for_train(
              image, height, width, legacy_resize=legacy_resize,
              seed=seeds[i])
          for i in range(count)
      ])
    patch = inception_preprocessing.preprocess_for_eval(
        image, height, width, legacy_resize=legacy_resize)
    return tf.tile(patch[tf.newaxis], [count, 1, 1, 1])

  return map_image_seeded(fn)


def _patches_args(args, kwargs):
  # S4L: `crop_inception_patches(8, 224)`: the count, then the size.
  values = dict(kwargs)
  if args:
    values['num_of_inception_patches'] = args[0]
  if args[1:]:
    values['resize_size'] = ','.join(args[1:])
  return values


inline_args('crop_inception_preprocess_patches', _patches_args)


@OPS.register('crop_inception_patches')
def crop_inception_patches(is_training: bool, resize_size: Any = None,
                           num_of_inception_patches: Any = None,
                           legacy_resize: bool = False) -> Op:
  """P independent `inception_crop`s resized to `resize_size` (S4L).

  Each crop is drawn like `inception_crop`'s and resized bilinearly; the
  stack `[P, h, w, C]` is float32 in the input's range ([0, 255] for
  decoded images, so `hsvnoise` can follow). As in S4L the crops are random
  in evaluation too; S4L's evaluation pipelines do not use it.

  Args:
    is_training: unused (random in both).
    resize_size: `--resize_size` of every crop.
    num_of_inception_patches: `--num_of_inception_patches` (P).
    legacy_resize: TF1 bilinear sampling.

  Returns:
    The op.
  """
  del is_training
  op = 'crop_inception_patches'
  size = size_arg(resize_size, 'resize_size', op)
  count = positive_int_arg(num_of_inception_patches,
                           'num_of_inception_patches', op)
  whole_image = tf.constant([[[0.0, 0.0, 1.0, 1.0]]], tf.float32)

  def fn(image, seed):
    seeds = split_seed(seed, count)
    crops = []
    for i in range(count):
      crop, _ = inception_preprocessing.distorted_bounding_box_crop(
          image, whole_image, seed=seeds[i])
      crops.append(inception_preprocessing.resize_bilinear(
          tf.cast(crop, tf.float32), size, legacy_resize))
    return tf.stack(crops)

  return map_image_seeded(
      lambda x, seed: per_image(fn, x, seed, tf.float32))


inline_args('crop_inception_patches', _patches_args)


@OPS.register('crop_patches')
def crop_patches(is_training: bool, splits_per_side: Any = None,
                 patch_jitter: Any = 0) -> Op:
  """Cuts each image into an n x n grid of (jittered) patches.

  Cells are floor(H / n) x floor(W / n) (the remainder at the bottom and
  right is dropped), listed row-major: patch i * n + k is the cell in row i,
  column k. With jitter j each cell is cropped to (cell - j): at a uniformly
  random position per cell in training, centred (offset floor(j / 2)) in
  evaluation.

  Args:
    is_training: random or central placement within each cell.
    splits_per_side: `--splits_per_side` (n).
    patch_jitter: `--patch_jitter` (j), default 0.

  Returns:
    The op; `[H, W, C]` becomes `[n*n, gh - j, gw - j, C]` and any leading
    axes are kept. The dtype is kept. H and W must be known statically.
  """
  n = positive_int_arg(splits_per_side, 'splits_per_side', 'crop_patches')
  jitter = positive_int_arg(patch_jitter, 'patch_jitter', 'crop_patches',
                            minimum=0)
  num_patches = n * n

  def fn(images, seed):
    check_image_rank(images, 'crop_patches')
    height, width = static_hw(
        images, 'crop_patches',
        'put an op with a fixed output size (e.g. crop) before it.')
    cell_h, cell_w = height // n, width // n
    patch_h, patch_w = cell_h - jitter, cell_w - jitter
    if patch_h <= 0 or patch_w <= 0:
      raise utils.UsageError(
          f'--patch_jitter {jitter} leaves no pixels of the {cell_h}x'
          f'{cell_w} grid cells of crop_patches (image {height}x{width}, '
          f'--splits_per_side {n}).')
    leading = leading_shape(images)
    channels = tf.shape(images)[-1]
    # [..., H, W, C] -> [N, n, gh, n, gw, C] -> [N, n*n, gh, gw, C].
    grid = images[..., :n * cell_h, :n * cell_w, :]
    grid = tf.reshape(grid, tf.stack([-1, n, cell_h, n, cell_w, channels]))
    grid = tf.transpose(grid, [0, 1, 3, 2, 4, 5])
    patches = tf.reshape(
        grid, tf.stack([-1, num_patches, cell_h, cell_w, channels]))
    if jitter and is_training:
      count = tf.shape(patches)[0]
      # Offsets 0..j inclusive: every placement inside the cell.
      top_seed, left_seed = split_seed(seed, 2)
      tops = uniform(tf.stack([count, num_patches]), top_seed, 0,
                     jitter + 1, dtype=tf.int32)
      lefts = uniform(tf.stack([count, num_patches]), left_seed, 0,
                      jitter + 1, dtype=tf.int32)
      rows = tops[..., tf.newaxis] + tf.range(patch_h)
      cols = lefts[..., tf.newaxis] + tf.range(patch_w)
      patches = tf.gather(patches, rows, axis=2, batch_dims=2)
      patches = tf.gather(patches, cols, axis=3, batch_dims=2)
    elif jitter:
      offset = jitter // 2
      patches = patches[:, :, offset:offset + patch_h,
                        offset:offset + patch_w, :]
    out_shape = tf.concat(
        [leading, [num_patches, patch_h, patch_w], [channels]], 0)
    out = tf.reshape(patches, out_shape)
    out.set_shape(images.shape[:-3].concatenate(
        [num_patches, patch_h, patch_w, images.shape[-1]]))
    return out

  return map_image_seeded(fn)


@OPS.register('inception_preprocess')
def inception_preprocess(is_training: bool, resize_size: Any = None,
                         legacy_resize: bool = False) -> Op:
  """Slim's Inception preprocessing to `resize_size`.

  Args:
    is_training: random crop, flip and colour distortion, or central crop.
    resize_size: `--resize_size` (height, width).
    legacy_resize: TF1 bilinear sampling.

  Returns:
    The op; the image becomes float32 `[h, w, C]` in [-1, 1].
  """
  height, width = size_arg(resize_size, 'resize_size',
                           'inception_preprocess')

  def fn(image, seed):
    return inception_preprocessing.preprocess_image(
        image, height, width, is_training=is_training,
        legacy_resize=legacy_resize, seed=seed)

  return map_image_seeded(
      lambda x, seed: per_image(fn, x, seed, tf.float32))


inline_args('inception_preprocess', sizes_to('resize_size'))
