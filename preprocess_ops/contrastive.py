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

"""SimCLR's augmentation (Chen et al., 2020) as ops of the language.

A SimCLR pipeline reads, for ImageNet,

    0_to_1|views(2)|random_resized_crop(224)|flip_lr|color_jitter(1.0)|
    random_grayscale(0.2)|gaussian_blur(0.5)

`views` stacks copies of the image, and every later op draws its random
numbers per image of the stack, so each view gets its own augmentation.
The colour ops and the blur take float images in [0, 1] (`0_to_1` first)
and clip their output to [0, 1]. In evaluation the random ops are the
identity and `random_resized_crop` takes the central 87.5% of the image.
"""

from typing import Any

import tensorflow as tf

from revisiting_ssl import inception_preprocessing, utils
from revisiting_ssl.preprocess_ops.base import (
  OPS,
  Op,
  check_image_rank,
  inline_args,
  map_image,
  map_image_seeded,
  per_image,
  positive_int_arg,
  size_arg,
  sizes_to,
  split_seed,
  uniform,
)

# The crop's sampler: fraction of the image's area and width / height
# relative to the output's, as SimCLR's.
CROP_AREA = (0.08, 1.0)
CROP_ASPECT = (3.0 / 4.0, 4.0 / 3.0)
CROP_MIN_COVERED = 0.1
CROP_ATTEMPTS = 100
# Side fraction of the evaluation crop (the standard ImageNet one).
EVAL_CROP_FRACTION = 0.875
# Colour jitter: per unit of strength, the brightness, contrast and
# saturation factors lie within 1 -+ 0.8 and the hue shift within 0.2.
JITTER_BCS = 0.8
JITTER_HUE = 0.2
JITTER_PROBABILITY = 0.8
# The strength at which the saturation's and contrast's lower factor
# reaches 0.
MAX_STRENGTH = 1.0 / JITTER_BCS
# The blur's standard deviation in pixels, drawn uniformly.
BLUR_SIGMA = (0.1, 2.0)
# Luminance weights of the greyscale conversion (ITU-R 601).
LUMA = (0.2989, 0.5870, 0.1140)


def _check_float(images: tf.Tensor, op: str) -> None:
  if not images.dtype.is_floating:
    raise utils.UsageError(
        f'The preprocessing op {op!r} needs float images in [0, 1], got '
        f'{images.dtype.name}; put 0_to_1 before it in --preprocessing.')


def _probability(value: Any, op: str) -> float:
  probability = float(value)
  if not 0.0 <= probability <= 1.0:
    raise utils.UsageError(
        f'The probability of the preprocessing op {op!r} must lie in '
        f'[0, 1], got {probability:g}.')
  return probability


def _a_seed(seed: tf.Tensor | None) -> tf.Tensor:
  """`seed`, or a fresh one from the global generator."""
  if seed is not None:
    return seed
  return tf.random.uniform([2], 0, 2**31 - 1, dtype=tf.int32)


def _with_probability(probability: float, fn, image: tf.Tensor,
                      seed: tf.Tensor | None) -> tf.Tensor:
  """`fn(image, seed')` with `probability`, else the image itself."""
  if probability >= 1.0:
    return fn(image, seed)
  draw_seed, fn_seed = split_seed(seed, 2)
  return tf.cond(uniform([], draw_seed) < probability,
                 lambda: fn(image, fn_seed), lambda: image)


@OPS.register('views')
def views(is_training: bool, num_views: Any = 2) -> Op:
  """Stacks `num_views` copies of the image: `[H, W, C]` -> `[V, H, W, C]`.

  The ops after it augment each copy with its own random draws, which
  makes the views of contrastive learning. The same in evaluation.

  Args:
    is_training: unused.
    num_views: `--num_views`, at least 2.

  Returns:
    The op.
  """
  del is_training
  count = positive_int_arg(num_views, 'num_views', 'views', minimum=2)

  def fn(image):
    if image.shape.rank != 3:
      raise utils.UsageError(
          f"The preprocessing op 'views' needs one [H, W, C] image per "
          f'example, got shape {image.shape}.')
    return tf.stack([image] * count)

  return map_image(fn)


inline_args('views', lambda args, kwargs: (
    {'num_views': args[0]} if args else dict(kwargs)))


def _central_box(shape: tf.Tensor, aspect: float) -> tuple[Any, Any]:
  """(begin, size) of the central crop of `EVAL_CROP_FRACTION`."""
  height = tf.cast(shape[0], tf.float32)
  width = tf.cast(shape[1], tf.float32)
  # The largest box of the wanted aspect, then the fraction of its sides.
  box_h = tf.minimum(height, width / aspect) * EVAL_CROP_FRACTION
  box_w = box_h * aspect
  size_h = tf.maximum(tf.cast(tf.round(box_h), tf.int32), 1)
  size_w = tf.maximum(tf.cast(tf.round(box_w), tf.int32), 1)
  top = (shape[0] - size_h + 1) // 2
  left = (shape[1] - size_w + 1) // 2
  return tf.stack([top, left, 0]), tf.stack([size_h, size_w, -1])


@OPS.register('random_resized_crop')
def random_resized_crop(is_training: bool, resize_size: Any = None) -> Op:
  """A random box resized to `resize_size` (SimCLR's crop), per image.

  Training samples a box covering 8% to 100% of the image with width /
  height within [3/4, 4/3] of the output's (TF's distorted-bounding-box
  sampler, 100 attempts, then the whole image) and resizes it bicubically.
  Evaluation takes the central box of the output's aspect ratio whose
  sides are 87.5% of the largest such box.

  Args:
    is_training: random or central box.
    resize_size: `--resize_size` (height, width) of the output.

  Returns:
    The op; the images become float32 `[h, w, C]`, clipped to the range
    of the box's values (bicubic interpolation overshoots).
  """
  height, width = size_arg(resize_size, 'resize_size', 'random_resized_crop')
  aspect = width / height
  whole = tf.constant([[[0.0, 0.0, 1.0, 1.0]]], tf.float32)

  def resized(image, begin, size):
    box = tf.cast(tf.slice(image, begin, size), tf.float32)
    out = tf.image.resize(box, [height, width], method='bicubic')
    # Bicubic interpolation overshoots; the box's own range bounds it.
    out = tf.clip_by_value(out, tf.reduce_min(box), tf.reduce_max(box))
    return tf.ensure_shape(out, [height, width, image.shape[-1]])

  def train_fn(image, seed):
    begin, size, _ = inception_preprocessing.sample_crop_box(
        tf.shape(image), whole, min_object_covered=CROP_MIN_COVERED,
        aspect_ratio_range=(CROP_ASPECT[0] * aspect, CROP_ASPECT[1] * aspect),
        area_range=CROP_AREA, max_attempts=CROP_ATTEMPTS, seed=seed)
    return resized(image, begin, size)

  def eval_fn(image):
    return resized(image, *_central_box(tf.shape(image), aspect))

  if is_training:
    return map_image_seeded(
        lambda x, seed: per_image(train_fn, x, seed, tf.float32))
  return map_image(
      lambda x: utils.apply_to_image_or_images(eval_fn, x, dtype=tf.float32))


inline_args('random_resized_crop', sizes_to('resize_size'))


def _jitter(image: tf.Tensor, strength: float,
            seed: tf.Tensor) -> tf.Tensor:
  """Brightness, contrast, saturation and hue in a random order."""
  order_seed, *seeds = split_seed(seed, 5)
  bcs = JITTER_BCS * strength
  low = max(1.0 - bcs, 0.0)

  def brightness(x):
    # Multiplicative, as SimCLRv2's (v1 added a shift instead).
    return x * uniform([], seeds[0], low, 1.0 + bcs)

  def contrast(x):
    return tf.image.stateless_random_contrast(x, low, 1.0 + bcs, seeds[1])

  def saturation(x):
    return tf.image.stateless_random_saturation(x, low, 1.0 + bcs, seeds[2])

  def hue(x):
    return tf.image.stateless_random_hue(x, JITTER_HUE * strength, seeds[3])

  transforms = [brightness, contrast, saturation, hue]
  order = tf.argsort(uniform([len(transforms)], order_seed))
  for position in range(len(transforms)):
    branches = [lambda f=f, x=image: tf.clip_by_value(f(x), 0.0, 1.0)
                for f in transforms]
    image = tf.switch_case(order[position], branches)
    image.set_shape([None, None, 3])
  return image


@OPS.register('color_jitter')
def color_jitter(is_training: bool, color_jitter_strength: float = 1.0) -> Op:
  """SimCLR's colour distortion, with probability 0.8 per image.

  With strength s the brightness factor is drawn from [1 - 0.8 s,
  1 + 0.8 s], as are the contrast and saturation factors, and the hue
  shift from [-0.2 s, 0.2 s]; the four are applied in a random order,
  each followed by clipping to [0, 1]. Evaluation: identity. RGB images
  in [0, 1] only.

  Args:
    is_training: distort, or leave the images alone.
    color_jitter_strength: `--color_jitter_strength` s in [0, 1.25] (1 for
      ImageNet, 0.5 for CIFAR-10 in the paper); 0 turns the op off.

  Returns:
    The op.
  """
  strength = float(color_jitter_strength)
  if not 0.0 <= strength <= MAX_STRENGTH:
    raise utils.UsageError(
        f'--color_jitter_strength must lie in [0, {MAX_STRENGTH:g}] (the '
        f'lower contrast and saturation factors 1 - 0.8 s reach 0 there), '
        f'got {strength:g}.')
  if not is_training or strength == 0.0:
    return lambda data: data

  def fn(image, seed):
    return _with_probability(
        JITTER_PROBABILITY, lambda x, s: _jitter(x, strength, _a_seed(s)),
        image, seed)

  def op(images, seed):
    check_image_rank(images, 'color_jitter')
    _check_float(images, 'color_jitter')
    return per_image(fn, tf.cast(images, tf.float32), seed, tf.float32)

  return map_image_seeded(op)


inline_args('color_jitter', lambda args, kwargs: (
    {'color_jitter_strength': float(args[0])} if args else
    {k: float(v) for k, v in kwargs.items()}))


def _probability_args(args, kwargs):
  values = dict(kwargs)
  if args:
    values['probability'] = args[0]
  return {k: float(v) for k, v in values.items()}


@OPS.register('random_grayscale')
def random_grayscale(is_training: bool, probability: float = 0.2) -> Op:
  """Greyscale (luminance in all channels) with `probability` per image.

  Training only: evaluation leaves the colours. The probability is written
  in --preprocessing: `random_grayscale(0.2)`.
  """
  probability = _probability(probability, 'random_grayscale')
  if not is_training or probability == 0.0:
    return lambda data: data
  weights = tf.constant(LUMA, tf.float32)

  def fn(image, seed):
    def gray(x, unused_seed):
      luma = tf.reduce_sum(x * weights, axis=-1, keepdims=True)
      return tf.broadcast_to(luma, tf.shape(x))
    return _with_probability(probability, gray, image, seed)

  def op(images, seed):
    check_image_rank(images, 'random_grayscale')
    _check_float(images, 'random_grayscale')
    return per_image(fn, tf.cast(images, tf.float32), seed, tf.float32)

  return map_image_seeded(op)


inline_args('random_grayscale', _probability_args, only=('probability',))


def blur_kernel(height: int, sigma: tf.Tensor) -> tf.Tensor:
  """The normalised 1-D Gaussian of SimCLR's blur for images `height` high.

  Its radius is floor(floor(height / 10) / 2), at least 1.
  """
  radius = max((height // 10) // 2, 1)
  x = tf.range(-radius, radius + 1, dtype=tf.float32)
  kernel = tf.exp(-tf.square(x) / (2.0 * tf.square(sigma)))
  return kernel / tf.reduce_sum(kernel)


def _blur(image: tf.Tensor, sigma: tf.Tensor) -> tf.Tensor:
  """Separable Gaussian blur of one `[H, W, C]` image, zero padding."""
  kernel = blur_kernel(image.shape[0], sigma)
  channels = image.shape[-1]
  size = kernel.shape[0]
  vertical = tf.tile(tf.reshape(kernel, [size, 1, 1, 1]), [1, 1, channels, 1])
  horizontal = tf.reshape(vertical, [1, size, channels, 1])
  x = image[tf.newaxis]
  x = tf.nn.depthwise_conv2d(x, horizontal, [1, 1, 1, 1], 'SAME')
  x = tf.nn.depthwise_conv2d(x, vertical, [1, 1, 1, 1], 'SAME')
  return x[0]


@OPS.register('gaussian_blur')
def gaussian_blur(is_training: bool, probability: float = 0.5) -> Op:
  """Gaussian blur with `probability` per image (SimCLR's, for ImageNet).

  The standard deviation is drawn from [0.1, 2.0] pixels and the kernel
  spans a tenth of the image height (`blur_kernel`); the borders are
  zero-padded, as in the original. Training only. The probability is
  written in --preprocessing: `gaussian_blur(0.5)`.
  """
  probability = _probability(probability, 'gaussian_blur')
  if not is_training or probability == 0.0:
    return lambda data: data

  def fn(image, seed):
    def blur(x, blur_seed):
      sigma = uniform([], blur_seed, *BLUR_SIGMA)
      return tf.clip_by_value(_blur(x, sigma), 0.0, 1.0)
    return _with_probability(probability, blur, image, seed)

  def op(images, seed):
    check_image_rank(images, 'gaussian_blur')
    _check_float(images, 'gaussian_blur')
    if images.shape[-3] is None or images.shape[-1] is None:
      raise utils.UsageError(
          "The preprocessing op 'gaussian_blur' needs a statically known "
          f'image size, got shape {images.shape}; put random_resized_crop '
          'before it.')
    return per_image(fn, tf.cast(images, tf.float32), seed, tf.float32)

  return map_image_seeded(op)


inline_args('gaussian_blur', _probability_args, only=('probability',))

