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

"""The "Inception" image preprocessing of TF-slim, fast mode, in TF2.

This is our own implementation of the behaviour the original code base got
from slim's `inception_preprocessing.py`. Only the path the
original used is implemented: fast mode (bilinear resizing only; brightness
then saturation as the only colour distortion), no caller-supplied bounding
boxes in practice, no image summaries. The public function names follow
slim's so that the two can be compared side by side.

Output of both paths: float32 `[height, width, C]` in [-1, 1].

Speed: the host spends most of its time here for the supervised, rotation and
exemplar configs. Cropping and bilinear resizing commute with the
uint8 -> [0, 1] rescaling, and the colour distortion only needs its
brightness delta scaled, so we crop the uint8 image, let the resize produce
float32 directly, distort colours in [0, 255] and rescale once at the end,
straight to [-1, 1]. The results equal slim's order of operations up to float
rounding (a test checks this).
"""

import tensorflow as tf

# Slim's defaults for the sampled crop.
_MIN_OBJECT_COVERED = 0.1
_ASPECT_RATIO_RANGE = (0.75, 1.33)
_AREA_RANGE = (0.05, 1.0)
_MAX_ATTEMPTS = 100
# Colour distortion of fast mode.
_BRIGHTNESS_MAX_DELTA = 32. / 255.
_SATURATION_RANGE = (0.5, 1.5)
# Fraction of each side kept by the evaluation crop.
_EVAL_CENTRAL_FRACTION = 0.875


def resize(images: tf.Tensor, size, method: str = 'bilinear',
           legacy_resize: bool = False,
           align_corners: bool = False) -> tf.Tensor:
  """Resizes `[H, W, C]` or `[N, H, W, C]` images; float32 output.

  Two sampling conventions exist. TF2's `tf.image.resize` maps output pixel
  centres to input pixel centres (half-pixel centres). TF1's resize, which the
  original used, scales pixel *indices* without the half-pixel shift, so the
  sampled positions are skewed towards the top-left corner. That skew does
  not rotate with the image: resizing and then rotating by 90 degrees gives
  different pixels than rotating and then resizing. Placed before `rotate`,
  the rotation task could then learn to read the rotation from resampling
  artefacts instead of from the image content. Hence TF2 sampling is the
  default, and TF1 sampling (`legacy_resize`) is kept only to reproduce the
  original numbers.

  Args:
    images: the image(s), any real dtype.
    size: (height, width) of the output.
    method: 'bilinear', 'nearest' or 'bicubic'.
    legacy_resize: use TF1 sampling (no half-pixel centres).
    align_corners: TF1 only: align the corner pixels (the original's
      randomised resize branches); ignored with TF2 sampling.

  Returns:
    The resized image(s) as float32, same rank as `images`.
  """
  size = tf.convert_to_tensor(size, tf.int32)
  if not legacy_resize:
    return tf.cast(tf.image.resize(images, size, method=method), tf.float32)
  raw_op = {
      'bilinear': tf.raw_ops.ResizeBilinear,
      'nearest': tf.raw_ops.ResizeNearestNeighbor,
      'bicubic': tf.raw_ops.ResizeBicubic,
  }[method]
  single = images.shape.rank == 3
  batch = images[tf.newaxis] if single else images
  out = raw_op(images=batch, size=size, align_corners=align_corners,
               half_pixel_centers=False)
  out = tf.cast(out, tf.float32)
  return out[0] if single else out


def resize_bilinear(images: tf.Tensor, size,
                    legacy_resize: bool = False) -> tf.Tensor:
  """Bilinear `resize` (TF2 sampling unless `legacy_resize`); float32."""
  return resize(images, size, 'bilinear', legacy_resize)


def sample_crop_box(
    image_shape: tf.Tensor,
    bbox: tf.Tensor,
    min_object_covered: float = _MIN_OBJECT_COVERED,
    aspect_ratio_range: tuple[float, float] = _ASPECT_RATIO_RANGE,
    area_range: tuple[float, float] = _AREA_RANGE,
    max_attempts: int = _MAX_ATTEMPTS,
    seed: tf.Tensor | None = None
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """(begin, size, box) of `distorted_bounding_box_crop`'s random box.

  Needs only the image's `[H, W, C]` shape (e.g. from a JPEG's header);
  arguments as there.
  """
  if seed is None:
    # TF2's stateful sampler ignores the global seed unless it gets an op
    # seed. The stateless one, seeded from the global generator, repeats
    # under `tf.random.set_seed` and still draws a new box on every call.
    seed = tf.random.uniform([2], 0, 2**31 - 1, dtype=tf.int32)
  return tf.image.stateless_sample_distorted_bounding_box(
      image_shape,
      bounding_boxes=bbox,
      seed=seed,
      min_object_covered=min_object_covered,
      aspect_ratio_range=aspect_ratio_range,
      area_range=area_range,
      max_attempts=max_attempts,
      use_image_if_no_bounding_boxes=True)


def distorted_bounding_box_crop(
    image: tf.Tensor,
    bbox: tf.Tensor,
    min_object_covered: float = _MIN_OBJECT_COVERED,
    aspect_ratio_range: tuple[float, float] = _ASPECT_RATIO_RANGE,
    area_range: tuple[float, float] = _AREA_RANGE,
    max_attempts: int = _MAX_ATTEMPTS,
    seed: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
  """Crops a random box sampled with TF's distorted-bounding-box sampler.

  Args:
    image: `[H, W, C]` image of any dtype (it is only sliced).
    bbox: float32 `[1, num_boxes, 4]` object boxes as (ymin, xmin, ymax,
      xmax) in [0, 1]; the crop must cover `min_object_covered` of one.
    min_object_covered: minimum covered fraction of some box.
    aspect_ratio_range: allowed width / height of the crop.
    area_range: allowed crop area as a fraction of the image.
    max_attempts: samples tried before falling back to the whole image.
    seed: int `[2]` seed of the sampler; None draws one from the global
      generator.

  Returns:
    (cropped image with the dtype of `image`, the sampled box as float32
    `[1, 1, 4]`).
  """
  begin, size, box = sample_crop_box(
      tf.shape(image), bbox, min_object_covered, aspect_ratio_range,
      area_range, max_attempts, seed)
  cropped = tf.slice(image, begin, size)
  cropped.set_shape([None, None, image.shape[-1]])
  return cropped, box


def distort_color(image: tf.Tensor, value_max: float = 1.0,
                  seed: tf.Tensor | None = None) -> tf.Tensor:
  """Fast-mode colour distortion of a float image in [0, value_max].

  Random brightness (delta up to 32/255 of the range), then random
  saturation (factor in [0.5, 1.5]), then clipping to the range: the single
  ordering of slim's fast mode. Saturation scaling does not depend on the
  value range (HSV's S and H are ratios, V scales linearly), so working in
  [0, 255] gives the [0, 1] result times 255 and saves a rescaling pass.

  Args:
    image: float32 `[H, W, 3]` in [0, value_max].
    value_max: top of the value range: 1.0 as in slim, or 255.0.
    seed: int `[2]` seed for stateless draws; None uses stateful ones.

  Returns:
    The distorted image, float32 in [0, value_max].
  """
  max_delta = _BRIGHTNESS_MAX_DELTA * value_max
  if seed is None:
    image = tf.image.random_brightness(image, max_delta=max_delta)
    image = tf.image.random_saturation(image, *_SATURATION_RANGE)
  else:
    seeds = tf.random.experimental.stateless_split(seed, 2)
    image = tf.image.stateless_random_brightness(image, max_delta, seeds[0])
    image = tf.image.stateless_random_saturation(
        image, *_SATURATION_RANGE, seed=seeds[1])
  # One fused kernel instead of tf.clip_by_value's minimum and maximum.
  return tf.raw_ops.ClipByValue(t=image, clip_value_min=0.0,
                                clip_value_max=value_max)


def _value_max(dtype: tf.DType) -> float:
  """The value `tf.image.convert_image_dtype` maps to 1.0 for `dtype`."""
  return float(dtype.max) if dtype.is_integer else 1.0


def _whole_image_box() -> tf.Tensor:
  return tf.constant([[[0.0, 0.0, 1.0, 1.0]]], tf.float32)


def preprocess_for_train(image: tf.Tensor, height: int, width: int,
                         bbox: tf.Tensor | None = None,
                         legacy_resize: bool = False,
                         seed: tf.Tensor | None = None) -> tf.Tensor:
  """Slim's Inception training preprocessing, fast mode.

  Random crop (distorted bounding box), bilinear resize to (height, width)
  ignoring the aspect ratio, random left-right flip, brightness and
  saturation distortion, and mapping to [-1, 1].

  Args:
    image: `[H, W, C]`, uint8 (or float in [0, 1]).
    height: output height.
    width: output width.
    bbox: object boxes for the crop sampler; None uses the whole image.
    legacy_resize: TF1 bilinear sampling (see `resize_bilinear`).
    seed: int `[2]`: every random draw is a stateless function of it (split
      per step); None uses TF's stateful random ops.

  Returns:
    float32 `[height, width, C]` in [-1, 1].
  """
  if bbox is None:
    bbox = _whole_image_box()
  seeds = ([None] * 3 if seed is None else
           tf.random.experimental.stateless_split(seed, 3))
  value_max = _value_max(image.dtype)
  # The crop is taken from the uint8 image; the resize emits float32 in
  # [0, value_max] and the colour distortion works in that range (see
  # `distort_color`), so one final affine map gives [-1, 1]. Slim instead
  # converted the whole image to [0, 1] first: same result up to rounding.
  crop, _ = distorted_bounding_box_crop(image, bbox, seed=seeds[0])
  image = resize_bilinear(crop, [height, width], legacy_resize)
  if seed is None:
    image = tf.image.random_flip_left_right(image)
  else:
    image = tf.image.stateless_random_flip_left_right(image, seeds[1])
  image = distort_color(image, value_max, seed=seeds[2])
  image = image * (2.0 / value_max) - 1.0
  image.set_shape([height, width, crop.shape[-1]])
  return image


def _central_crop_window(size, fraction: float):
  """Offset and length of slim's central crop along one axis.

  The offset is int((size - size * fraction) / 2) (truncated) and the length
  size - 2 * offset, e.g. 300 -> (18, 264) for the default 0.875.
  """
  if isinstance(size, int):
    offset = int((size - size * fraction) / 2)
    return offset, size - 2 * offset
  size_f = tf.cast(size, tf.float64)
  offset = tf.cast((size_f - size_f * fraction) / 2, tf.int32)
  return offset, size - 2 * offset


def preprocess_for_eval(image: tf.Tensor, height: int | None,
                        width: int | None,
                        central_fraction: float = _EVAL_CENTRAL_FRACTION,
                        legacy_resize: bool = False) -> tf.Tensor:
  """Slim's Inception evaluation preprocessing.

  Central crop keeping `central_fraction` of each side, bilinear resize to
  (height, width), mapping to [-1, 1].

  Args:
    image: `[H, W, C]`, uint8 (or float in [0, 1]).
    height: output height, or None to skip the resize.
    width: output width, or None to skip the resize.
    central_fraction: fraction of each side kept by the crop.
    legacy_resize: TF1 bilinear sampling (see `resize_bilinear`).

  Returns:
    float32 `[height, width, C]` in [-1, 1].
  """
  value_max = _value_max(image.dtype)
  dynamic = tf.shape(image)
  img_h = image.shape[0] if image.shape[0] is not None else dynamic[0]
  img_w = image.shape[1] if image.shape[1] is not None else dynamic[1]
  top, crop_h = _central_crop_window(img_h, central_fraction)
  left, crop_w = _central_crop_window(img_w, central_fraction)
  image = tf.slice(image, tf.stack([top, left, 0]),
                   tf.stack([crop_h, crop_w, -1]))
  if height and width:
    image = resize_bilinear(image, [height, width], legacy_resize)
    image.set_shape([height, width, None])
  else:
    image = tf.cast(image, tf.float32)
  return image * (2.0 / value_max) - 1.0


def preprocess_image(image: tf.Tensor, height: int, width: int,
                     is_training: bool = False,
                     bbox: tf.Tensor | None = None,
                     legacy_resize: bool = False,
                     seed: tf.Tensor | None = None) -> tf.Tensor:
  """Inception preprocessing of one image for training or evaluation.

  Args:
    image: `[H, W, C]`, uint8 (or float in [0, 1]).
    height: output height.
    width: output width.
    is_training: random crop and colour distortion if True, central crop if
      False.
    bbox: object boxes for the training crop; None uses the whole image.
    legacy_resize: TF1 bilinear sampling (see `resize_bilinear`).
    seed: int `[2]` seed of the training randomness (stateless); None uses
      stateful random ops.

  Returns:
    float32 `[height, width, C]` in [-1, 1].
  """
  if is_training:
    return preprocess_for_train(image, height, width, bbox,
                                legacy_resize=legacy_resize, seed=seed)
  return preprocess_for_eval(image, height, width,
                             legacy_resize=legacy_resize)
