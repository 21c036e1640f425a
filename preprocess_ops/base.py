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

"""The op registry and the helpers the preprocessing ops share.

`preprocess.py` composes ops from `--preprocessing`; the ops live in the
modules of this package and register themselves in `OPS` on import. An op
is a factory `name(is_training, **flag values) -> fn(data) -> data`; the
flag values it takes are the keyword arguments of its signature, matched
to the flags by name, with their defaults written there and nowhere else.
"""

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from revisiting_ssl import utils

Data = dict[str, tf.Tensor]
Op = Callable[[Data], Data]

OPS = utils.Registry('preprocessing op', flag='--preprocessing')

# Op name -> turns the arguments written after the name in a
# `--preprocessing` string, as in S4L's `resize(224)` (positional strings and
# `key=value` pairs), into keyword arguments of the op's factory. They
# override the flag values. Ops without an entry take no written arguments.
InlineArgs = Callable[[Sequence[str], dict[str, str]], dict[str, Any]]
INLINE_ARGS: dict[str, InlineArgs] = {}

# Op name -> factory arguments that only written arguments set (no flag has
# their name; `value_range(-1, 1)`).
INLINE_ONLY: dict[str, tuple[str, ...]] = {}


def inline_args(name: str, convert: InlineArgs,
                only: tuple[str, ...] = ()) -> None:
  """Declares how op `name` reads written arguments (see `INLINE_ARGS`)."""
  INLINE_ARGS[name] = convert
  if only:
    INLINE_ONLY[name] = only


def sizes_to(flag: str) -> InlineArgs:
  """Written sizes `(224)` or `(224, 160)` as the value of `flag`."""

  def convert(args, kwargs):
    values = dict(kwargs)
    if args:
      values[flag] = ','.join(args)
    return values

  return convert

# Optional per-example seed of the random ops (see `preprocess`). The
# composed function removes it from its output.
SEED_KEY = '_seed'


# -- Argument checking --------------------------------------------------------


def require(value: Any, flag: str, op: str) -> Any:
  """`value`, or a UsageError naming the flag that `op` needs."""
  if value is None:
    raise utils.UsageError(
        f'--{flag} is required by the preprocessing op {op!r}.')
  return value


def size_arg(value: Any, flag: str, op: str) -> tuple[int, int]:
  """Parses a (height, width) flag such as "224" or "224,160"."""
  require(value, flag, op)
  sizes = utils.str2intlist(value, repeats_if_single=2, name=flag)
  if len(sizes) != 2 or any(s is None or s <= 0 for s in sizes):
    raise utils.UsageError(
        f'--{flag} must be one or two positive integers (height,width) for '
        f'the preprocessing op {op!r}, got {value!r}.')
  return sizes[0], sizes[1]


def positive_int_arg(value: Any, flag: str, op: str,
                     minimum: int = 1) -> int:
  """Parses an integer flag (int or decimal string) that must be >= minimum."""
  require(value, flag, op)
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


def map_image(fn: Callable[[tf.Tensor], tf.Tensor]) -> Op:
  """Lifts an image-to-image function to a data-dict op."""

  def op(data: Data) -> Data:
    data['image'] = fn(data['image'])
    return data

  return op


def map_image_seeded(
    fn: Callable[[tf.Tensor, tf.Tensor | None], tf.Tensor]) -> Op:
  """Lifts `fn(image, seed)` to an op; seed is the op's seed or None."""

  def op(data: Data) -> Data:
    data['image'] = fn(data['image'], data.get(SEED_KEY))
    return data

  return op


def uniform(shape, seed: tf.Tensor | None, minval=0.0, maxval=1.0,
            dtype=tf.float32) -> tf.Tensor:
  """Stateless uniform draws from `seed`, or stateful ones without a seed."""
  if seed is None:
    return tf.random.uniform(shape, minval, maxval, dtype=dtype)
  return tf.random.stateless_uniform(shape, seed, minval, maxval, dtype=dtype)


def split_seed(seed: tf.Tensor | None, num: int) -> list[Any]:
  """`num` independent seeds from `seed` (Nones without a seed)."""
  if seed is None:
    return [None] * num
  seeds = tf.random.experimental.stateless_split(seed, num)
  return [seeds[i] for i in range(num)]


def per_image(fn: Callable[[tf.Tensor, tf.Tensor | None], tf.Tensor],
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


def leading_shape(images: tf.Tensor) -> tf.Tensor:
  """The dynamic shape of all axes before the last three (H, W, C)."""
  return tf.shape(images)[:-3]


def per_image_mask(images: tf.Tensor, probability: float,
                   seed: tf.Tensor | None = None) -> tf.Tensor:
  """One Bernoulli(p) draw per image, shaped to broadcast over H, W, C."""
  draws = uniform(leading_shape(images), seed) < probability
  return draws[..., tf.newaxis, tf.newaxis, tf.newaxis]


def check_image_rank(images: tf.Tensor, op: str) -> None:
  """Raises ValueError unless `images` is an image or a stack of them."""
  rank = images.shape.rank
  if rank is None or rank < 3:
    raise ValueError(
        f'The preprocessing op {op!r} needs images of rank >= 3 ([H, W, C] '
        f'or a stack of them), got shape {images.shape}.')


def static_hw(images: tf.Tensor, op: str, hint: str) -> tuple[int, int]:
  """The static (height, width); a UsageError with `hint` if unknown."""
  height, width = images.shape[-3], images.shape[-2]
  if height is None or width is None:
    raise utils.UsageError(
        f'The preprocessing op {op!r} needs a statically known image size, '
        f'got shape {images.shape}; {hint}')
  return height, width


def central_crop_image(image: tf.Tensor, height: int, width: int) -> tf.Tensor:
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
