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

"""Preprocessing ops selected by `--preprocessing` (SPEC A5).

`--preprocessing` is a comma-separated list of op names, applied left to
right. Each op is registered in `OPS` as a factory that takes `is_training`
and the flag values it needs (`resize_size`, `crop_size`, ...) and returns a
function on a data dict. The same list serves training and evaluation; every
op decides how it behaves in evaluation (SPEC A5.2).

The data dict holds:
  * `image`: decoded uint8 `[H, W, C]` on entry; ops may turn it into float32
    and into stacks (`rotate` -> `[4, H, W, C]`, `crop_patches` ->
    `[n*n, h, w, C]`, `crop_inception_preprocess_patches` -> `[P, h, w, C]`);
  * `label`: int32, replaced by `rotate` with the rotation labels [0, 1, 2, 3];
  * any other key, passed through untouched.

Ops work on one example. Ops that a task runs on the accelerator after
batching (see `split_device_ops`) also accept a leading batch axis; `rotate`,
`crop_patches`, `standardization`, `flip_lr`, `to_gray`, `0_to_1`, `-1_to_1`
and `plain_preprocess` do so with the same per-example result.

Randomness: a data dict may carry a per-example seed under `SEED_KEY` (int
`[2]`; `datasets` adds one to training examples when a random seed is set).
Then every random op is a stateless function of that seed, split per op and
per image, so an example's augmentation depends only on its seed and a
resumed run continues exactly as an uninterrupted one would. Without the key
the ops use TF's stateful random ops (`tf.random.set_seed` makes a pipeline
repeatable). Bit-exact agreement with the original is not a goal.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
import functools
from typing import Any

import tensorflow as tf

import inception_preprocessing
import utils

Data = dict[str, tf.Tensor]
Op = Callable[[Data], Data]

OPS = utils.Registry('preprocessing op', flag='--preprocessing')

# Optional per-example seed of the random ops (see the module docstring). The
# composed function removes it from its output.
SEED_KEY = '_seed'

# Flag values an op factory may ask for, with their defaults.
_DEFAULTS: dict[str, Any] = {
    'resize_size': None,
    'crop_size': None,
    'smaller_size': None,
    'grayscale_probability': 1.0,
    'randomize_resize_method': False,
    'splits_per_side': None,
    'patch_jitter': 0,
    'num_of_inception_patches': None,
    'legacy_resize': False,
}


# -- Public API ---------------------------------------------------------------


def op_names() -> list[str]:
  """Names accepted in `--preprocessing`, sorted."""
  return OPS.names()


def _split_names(preprocessing: str | None) -> list[str]:
  """Op names of a `--preprocessing` string; blanks around names dropped."""
  if not preprocessing:
    return []
  names = (name.strip() for name in preprocessing.split(','))
  return [name for name in names if name]


def get_preprocess_fn(preprocessing: str, is_training: bool, *,
                      resize_size: str | int | Sequence[int] | None = None,
                      crop_size: str | int | Sequence[int] | None = None,
                      smaller_size: int | None = None,
                      grayscale_probability: float | None = 1.0,
                      randomize_resize_method: bool | None = False,
                      splits_per_side: int | None = None,
                      patch_jitter: int | None = 0,
                      num_of_inception_patches: int | None = None,
                      legacy_resize: bool | None = False) -> Op:
  """Composes the ops of a `--preprocessing` string into one function.

  All ops are built (and their flags checked) before this returns, so a
  mistake surfaces before any data is read. None for an argument that has a
  default means "use the default" (an unset flag).

  Args:
    preprocessing: comma-separated op names, e.g. "inception_preprocess,
      rotate". Empty names are skipped; an empty string gives the identity.
    is_training: build the training variant of every op.
    resize_size: `--resize_size`, "224" or "224,160" (height, width).
    crop_size: `--crop_size`, same format.
    smaller_size: `--smaller_size` for `resize_small`.
    grayscale_probability: `--grayscale_probability` for `to_gray`.
    randomize_resize_method: `--randomize_resize_method` for `resize`.
    splits_per_side: `--splits_per_side` for `crop_patches`.
    patch_jitter: `--patch_jitter` for `crop_patches`.
    num_of_inception_patches: `--num_of_inception_patches` for
      `crop_inception_preprocess_patches`.
    legacy_resize: TF1 bilinear sampling instead of TF2's half-pixel centres
      (see `inception_preprocessing.resize_bilinear`).

  Returns:
    A function mapping a data dict to the preprocessed data dict.

  Raises:
    utils.UsageError: for an unknown op name (listing the valid ones) or a
      flag value an op needs that is missing or malformed.
  """
  values = dict(
      resize_size=resize_size, crop_size=crop_size,
      smaller_size=smaller_size,
      grayscale_probability=grayscale_probability,
      randomize_resize_method=randomize_resize_method,
      splits_per_side=splits_per_side, patch_jitter=patch_jitter,
      num_of_inception_patches=num_of_inception_patches,
      legacy_resize=legacy_resize)
  for key, value in values.items():
    if value is None:
      values[key] = _DEFAULTS[key]

  ops = []
  for name in _split_names(preprocessing):
    factory = OPS.lookup(name)
    kwargs = utils.matching_kwargs(factory, values)
    ops.append((name, factory(is_training=is_training, **kwargs)))

  def preprocess_fn(data: Mapping[str, tf.Tensor]) -> Data:
    data = dict(data)
    if 'image' in data:
      data['image'] = tf.convert_to_tensor(data['image'])
    seed = data.pop(SEED_KEY, None)
    for index, (name, op) in enumerate(ops):
      if seed is not None:
        # Each op draws from its own seed, independent of the others.
        data[SEED_KEY] = tf.random.experimental.stateless_fold_in(seed, index)
      # '-1_to_1' is not a valid scope name on its own.
      with tf.name_scope('pp_' + name.replace('-', 'minus')):
        data = op(data)
      data.pop(SEED_KEY, None)
    return data

  return preprocess_fn


def split_device_ops(preprocessing: str,
                     device_ops: Iterable[str]) -> tuple[str, str]:
  """Splits off the trailing ops that a task runs on the accelerator.

  Only the maximal *trailing* run of ops named in `device_ops` moves: an op
  followed by a host op must stay on the host to keep the order.

  Args:
    preprocessing: the `--preprocessing` string.
    device_ops: names of ops the task can apply to a batch on the device.

  Returns:
    (host ops, device ops) as comma-separated strings; either may be empty.
  """
  names = _split_names(preprocessing)
  device_ops = set(device_ops)
  split = len(names)
  while split > 0 and names[split - 1] in device_ops:
    split -= 1
  return ','.join(names[:split]), ','.join(names[split:])


# -- Argument checking --------------------------------------------------------


def _require(value: Any, flag: str, op: str) -> Any:
  if value is None:
    raise utils.UsageError(
        f'--{flag} is required by the preprocessing op {op!r}.')
  return value


def _size_arg(value: Any, flag: str, op: str) -> tuple[int, int]:
  """Parses a (height, width) flag such as "224" or "224,160"."""
  _require(value, flag, op)
  sizes = utils.str2intlist(value, repeats_if_single=2, name=flag)
  if len(sizes) != 2 or any(s is None or s <= 0 for s in sizes):
    raise utils.UsageError(
        f'--{flag} must be one or two positive integers (height,width) for '
        f'the preprocessing op {op!r}, got {value!r}.')
  return sizes[0], sizes[1]


def _positive_int_arg(value: Any, flag: str, op: str,
                      minimum: int = 1) -> int:
  """Parses an integer flag (int or decimal string) that must be >= minimum."""
  _require(value, flag, op)
  try:
    number = None if isinstance(value, bool) else int(str(value).strip())
  except ValueError:
    number = None
  if number is None:
    raise utils.UsageError(
        f'--{flag} must be an integer for the preprocessing op {op!r}, got '
        f'{value!r}.')
  if number < minimum:
    raise utils.UsageError(
        f'--{flag} must be >= {minimum} for the preprocessing op {op!r}, '
        f'got {number}.')
  return number


# -- Helpers ------------------------------------------------------------------


def _map_image(fn: Callable[[tf.Tensor], tf.Tensor]) -> Op:
  """Lifts an image-to-image function to a data-dict op."""

  def op(data: Data) -> Data:
    data['image'] = fn(data['image'])
    return data

  return op


def _map_image_seeded(
    fn: Callable[[tf.Tensor, tf.Tensor | None], tf.Tensor]) -> Op:
  """Lifts `fn(image, seed)` to an op; seed is the op's seed or None."""

  def op(data: Data) -> Data:
    data['image'] = fn(data['image'], data.get(SEED_KEY))
    return data

  return op


def _uniform(shape, seed: tf.Tensor | None, minval=0.0, maxval=1.0,
             dtype=tf.float32) -> tf.Tensor:
  """Stateless uniform draws from `seed`, or stateful ones without a seed."""
  if seed is None:
    return tf.random.uniform(shape, minval, maxval, dtype=dtype)
  return tf.random.stateless_uniform(shape, seed, minval, maxval, dtype=dtype)


def _split_seed(seed: tf.Tensor | None, num: int) -> list[Any]:
  """`num` independent seeds from `seed` (Nones without a seed)."""
  if seed is None:
    return [None] * num
  seeds = tf.random.experimental.stateless_split(seed, num)
  return [seeds[i] for i in range(num)]


def _per_image(fn: Callable[[tf.Tensor, tf.Tensor | None], tf.Tensor],
               images: tf.Tensor, seed: tf.Tensor | None,
               dtype: tf.DType) -> tf.Tensor:
  """`fn(image, seed)` on an image or on every image of a stack.

  `utils.apply_to_image_or_images` for ops whose `fn` always takes a seed
  argument (None without a per-example seed).
  """
  if seed is None:
    return utils.apply_to_image_or_images(lambda x: fn(x, None), images,
                                          dtype=dtype)
  return utils.apply_to_image_or_images(fn, images, seed=seed, dtype=dtype)


def _leading_shape(images: tf.Tensor) -> tf.Tensor:
  """The dynamic shape of all axes before the last three (H, W, C)."""
  return tf.shape(images)[:-3]


def _per_image_mask(images: tf.Tensor, probability: float,
                    seed: tf.Tensor | None = None) -> tf.Tensor:
  """One Bernoulli(p) draw per image, shaped to broadcast over H, W, C."""
  draws = _uniform(_leading_shape(images), seed) < probability
  return draws[..., tf.newaxis, tf.newaxis, tf.newaxis]


def _check_image_rank(images: tf.Tensor, op: str) -> None:
  rank = images.shape.rank
  if rank is None or rank < 3:
    raise ValueError(
        f'The preprocessing op {op!r} needs images of rank >= 3 ([H, W, C] '
        f'or a stack of them), got shape {images.shape}.')


def _static_hw(images: tf.Tensor, op: str, hint: str) -> tuple[int, int]:
  height, width = images.shape[-3], images.shape[-2]
  if height is None or width is None:
    raise utils.UsageError(
        f'The preprocessing op {op!r} needs a statically known image size, '
        f'got shape {images.shape}; {hint}')
  return height, width


def _central_crop(image: tf.Tensor, height: int, width: int) -> tf.Tensor:
  """Central crop of one `[H, W, C]` image, offsets floor((H - h) / 2)."""
  shape = tf.shape(image)
  checks = [
      tf.debugging.assert_greater_equal(
          shape[0], height, message=f'Image is smaller than the crop height '
          f'{height}.'),
      tf.debugging.assert_greater_equal(
          shape[1], width, message=f'Image is smaller than the crop width '
          f'{width}.'),
  ]
  with tf.control_dependencies(checks):
    top = (shape[0] - height) // 2
    left = (shape[1] - width) // 2
  crop = tf.slice(image, tf.stack([top, left, 0]),
                  tf.stack([height, width, -1]))
  crop.set_shape([height, width, image.shape[-1]])
  return crop


# -- Ops ----------------------------------------------------------------------


@OPS.register('plain_preprocess')
def plain_preprocess(is_training: bool) -> Op:
  """Identity."""
  del is_training
  return lambda data: data


@OPS.register('0_to_1')
def zero_to_one(is_training: bool) -> Op:
  """float32 x / 255: [0, 255] -> [0, 1]."""
  del is_training
  return _map_image(lambda x: tf.cast(x, tf.float32) * (1.0 / 255.0))


@OPS.register('-1_to_1')
def minus_one_to_one(is_training: bool) -> Op:
  """float32 -1 + 2x / 255: [0, 255] -> [-1, 1]."""
  del is_training
  return _map_image(
      lambda x: tf.cast(x, tf.float32) * (2.0 / 255.0) - 1.0)


@OPS.register('resize')
def resize(is_training: bool, resize_size: Any,
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
  size = _size_arg(resize_size, 'resize_size', 'resize')

  def bilinear(image):
    return inception_preprocessing.resize_bilinear(image, size, legacy_resize)

  if not (is_training and randomize_resize_method):
    return _map_image(bilinear)

  def random_method(image, seed):
    # The original aligned corners in these branches (TF1 sampling only).
    branches = [
        functools.partial(inception_preprocessing.resize, image, size,
                          method, legacy_resize, align_corners=True)
        for method in ('bilinear', 'nearest', 'bicubic')
    ]
    choice = _uniform([], seed, 0, len(branches), dtype=tf.int32)
    return tf.switch_case(choice, branches)

  return _map_image_seeded(
      lambda x, seed: _per_image(random_method, x, seed, tf.float32))


@OPS.register('resize_small')
def resize_small(is_training: bool, smaller_size: Any) -> Op:
  """Aspect-preserving area resize so that the shorter side is smaller_size.

  Args:
    is_training: unused (deterministic).
    smaller_size: `--smaller_size`.

  Returns:
    The op; the image becomes float32 in the input's range. New sides are
    round(side * smaller_size / min(H, W)), rounding half to even.
  """
  del is_training
  target = _positive_int_arg(smaller_size, 'smaller_size', 'resize_small')

  def fn(image):
    shape = tf.cast(tf.shape(image)[-3:-1], tf.float32)
    ratio = target / tf.reduce_min(shape)
    new_size = tf.cast(tf.round(shape * ratio), tf.int32)
    # Area resizing is the same in TF1 and TF2.
    return tf.image.resize(image, new_size, method='area')

  return _map_image(fn)


@OPS.register('crop')
def crop(is_training: bool, crop_size: Any) -> Op:
  """Random crop of `crop_size` in training, central crop in evaluation.

  Args:
    is_training: random (per image of a stack) or central crop.
    crop_size: `--crop_size` (height, width).

  Returns:
    The op; the dtype is kept.
  """
  height, width = _size_arg(crop_size, 'crop_size', 'crop')

  def random_crop(image, seed):
    size = tf.stack([height, width, tf.shape(image)[-1]])
    if seed is None:
      out = tf.image.random_crop(image, size)
    else:
      out = tf.image.stateless_random_crop(image, size, seed)
    out.set_shape([height, width, image.shape[-1]])
    return out

  def central(image):
    return _central_crop(image, height, width)

  if is_training:
    return _map_image_seeded(
        lambda x, seed: _per_image(random_crop, x, seed, x.dtype))
  return _map_image(lambda x: utils.apply_to_image_or_images(central, x))


@OPS.register('central_crop')
def central_crop(is_training: bool, crop_size: Any) -> Op:
  """Central crop of `crop_size` in training and evaluation; dtype kept."""
  del is_training
  height, width = _size_arg(crop_size, 'crop_size', 'central_crop')
  return _map_image(lambda x: utils.apply_to_image_or_images(
      lambda image: _central_crop(image, height, width), x))


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

  return _map_image_seeded(fn)


@OPS.register('flip_lr')
def flip_lr(is_training: bool) -> Op:
  """Random left-right flip, p = 0.5 per image, in training; eval identity."""
  if not is_training:
    return lambda data: data

  def fn(images, seed):
    _check_image_rank(images, 'flip_lr')
    flip = _per_image_mask(images, 0.5, seed)
    return tf.where(flip, tf.reverse(images, axis=[-2]), images)

  return _map_image_seeded(fn)


@OPS.register('crop_inception_preprocess_patches')
def crop_inception_preprocess_patches(is_training: bool, resize_size: Any,
                                      num_of_inception_patches: Any,
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
  height, width = _size_arg(resize_size, 'resize_size', op)
  count = _positive_int_arg(num_of_inception_patches,
                            'num_of_inception_patches', op)

  def fn(image, seed):
    if is_training:
      seeds = _split_seed(seed, count)
      return tf.stack([
          inception_preprocessing.preprocess_for_train(
              image, height, width, legacy_resize=legacy_resize,
              seed=seeds[i])
          for i in range(count)
      ])
    patch = inception_preprocessing.preprocess_for_eval(
        image, height, width, legacy_resize=legacy_resize)
    return tf.tile(patch[tf.newaxis], [count, 1, 1, 1])

  return _map_image_seeded(fn)


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
    _check_image_rank(images, 'to_gray')
    if probability == 1.0:
      return gray(images)
    if images.shape.rank == 3:
      # One draw; skip the work when the image stays in colour.
      if seed is None:
        return utils.apply_with_probability(probability, gray, images)
      return tf.cond(_uniform([], seed) < probability,
                     lambda: gray(images), lambda: images)
    return tf.where(_per_image_mask(images, probability, seed),
                    gray(images), images)

  return _map_image_seeded(fn)


@OPS.register('crop_patches')
def crop_patches(is_training: bool, splits_per_side: Any,
                 patch_jitter: Any = 0) -> Op:
  """Cuts each image into an n x n grid of (jittered) patches (SPEC A5.4).

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
  n = _positive_int_arg(splits_per_side, 'splits_per_side', 'crop_patches')
  jitter = _positive_int_arg(patch_jitter, 'patch_jitter', 'crop_patches',
                             minimum=0)
  num_patches = n * n

  def fn(images, seed):
    _check_image_rank(images, 'crop_patches')
    height, width = _static_hw(
        images, 'crop_patches',
        'put an op with a fixed output size (e.g. crop) before it.')
    cell_h, cell_w = height // n, width // n
    patch_h, patch_w = cell_h - jitter, cell_w - jitter
    if patch_h <= 0 or patch_w <= 0:
      raise utils.UsageError(
          f'--patch_jitter {jitter} leaves no pixels of the {cell_h}x'
          f'{cell_w} grid cells of crop_patches (image {height}x{width}, '
          f'--splits_per_side {n}).')
    leading = _leading_shape(images)
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
      top_seed, left_seed = _split_seed(seed, 2)
      tops = _uniform(tf.stack([count, num_patches]), top_seed, 0,
                      jitter + 1, dtype=tf.int32)
      lefts = _uniform(tf.stack([count, num_patches]), left_seed, 0,
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

  return _map_image_seeded(fn)


@OPS.register('standardization')
def standardization(is_training: bool) -> Op:
  """Per image (per patch of a stack): (x - mean) / max(std, 1/sqrt(N)).

  N is the number of values of one image (H * W * C); the result is float32
  with zero mean and unit variance per image (SPEC C3.17).
  """
  del is_training
  return _map_image(lambda x: tf.image.per_image_standardization(
      tf.cast(x, tf.float32)))


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


@OPS.register('inception_preprocess')
def inception_preprocess(is_training: bool, resize_size: Any,
                         legacy_resize: bool = False) -> Op:
  """Slim's Inception preprocessing (SPEC A5.3) to `resize_size`.

  Args:
    is_training: random crop, flip and colour distortion, or central crop.
    resize_size: `--resize_size` (height, width).
    legacy_resize: TF1 bilinear sampling.

  Returns:
    The op; the image becomes float32 `[h, w, C]` in [-1, 1].
  """
  height, width = _size_arg(resize_size, 'resize_size',
                            'inception_preprocess')

  def fn(image, seed):
    return inception_preprocessing.preprocess_image(
        image, height, width, is_training=is_training,
        legacy_resize=legacy_resize, seed=seed)

  return _map_image_seeded(
      lambda x, seed: _per_image(fn, x, seed, tf.float32))
