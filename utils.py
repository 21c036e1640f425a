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

"""Small helpers shared by every part of the code base.

This module is a leaf: it imports nothing from the project, so anything may
import it. It holds the name registries (networks, tasks, preprocessing ops,
data sets), the parsing of the original's integer-list flags, and the pooling
used by linear evaluation.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
import inspect
import math
import os
import platform
import re
import time
from typing import Any

from absl import logging
import tensorflow as tf


class UsageError(ValueError):
  """A mistake in the user's configuration (a flag, a file, a name).

  `train_and_eval.py` prints these as one line without a traceback; anything
  else that goes wrong is a bug and keeps its traceback.
  """


class RunAbortedError(RuntimeError):
  """A run stopped by its circumstances, not by a bug or a user's mistake.

  A diverged loss or a lost worker: `train_and_eval.py` prints these as one
  line without a traceback, like `UsageError`.
  """


def error_summary(error: BaseException) -> str:
  """The first meaningful line of an exception's message.

  Keras re-raises errors from a layer's `call` with the call's arguments
  appended and the original message set in bold (ANSI escapes); that
  original message is what a user needs to see.
  """
  text = getattr(error, 'message', None) or str(error)
  bold = re.search(r'\x1b\[1m(.*?)\x1b\[0m', text, re.DOTALL)
  if bold:
    text = bold.group(1)
  lines = [line.strip() for line in text.splitlines() if line.strip()]
  return lines[0] if lines else type(error).__name__


class Registry:
  """Maps names to builders, with errors that list the valid names.

  Example:
    NETS = Registry('architecture', flag='--architecture')

    @NETS.register('resnet50')
    def resnet50(...): ...

    NETS.lookup('resnet50')
  """

  def __init__(self, kind: str, flag: str | None = None):
    """Creates an empty registry.

    Args:
      kind: what the names denote, used in error messages ("task").
      flag: the command-line flag that selects from it, named in errors.
    """
    self.kind = kind
    self.flag = flag
    self._items: dict[str, Any] = {}

  def register(self, name: str) -> Callable[[Any], Any]:
    """Returns a decorator that registers its argument under `name`."""

    def decorator(item):
      if name in self._items:
        raise KeyError(f'{self.kind} {name!r} is registered twice.')
      self._items[name] = item
      return item

    return decorator

  def lookup(self, name: str) -> Any:
    """Returns the item registered under `name`.

    Raises:
      UsageError: if nothing is registered under `name`; the message lists
        the valid names.
    """
    if name not in self._items:
      where = f' (in {self.flag})' if self.flag else ''
      raise UsageError(
          f'Unknown {self.kind} {name!r}{where}. Valid choices: '
          f'{", ".join(sorted(self._items))}.')
    return self._items[name]

  def names(self) -> list[str]:
    """The registered names, sorted."""
    return sorted(self._items)

  def __contains__(self, name: str) -> bool:
    return name in self._items


def str2intlist(value: str | int | Sequence[int] | None,
                repeats_if_single: int | None = None,
                name: str = 'value') -> list[int | None] | None:
  """Parses the original's integer-list flags ("224", "224,160", "None,64").

  Args:
    value: a string of comma-separated integers (the literal `None` stands
      for an unknown size), an int, a sequence of ints, or None.
    repeats_if_single: if given and the list has one element, the element is
      repeated this many times ("224" -> [224, 224]).
    name: the flag name used in error messages.

  Returns:
    The list, or None if `value` is None.

  Raises:
    UsageError: if an entry is not an integer.
  """
  if value is None:
    return None
  if isinstance(value, int):
    items = [value]
  elif isinstance(value, str):
    items = []
    for part in value.split(','):
      part = part.strip()
      if part == 'None':
        items.append(None)
        continue
      try:
        items.append(int(part))
      except ValueError:
        raise UsageError(
            f'--{name} must be a comma-separated list of integers, got '
            f'{value!r}.') from None
  else:
    items = list(value)
  if repeats_if_single and len(items) == 1:
    items = items * repeats_if_single
  return items


def matching_kwargs(fn: Callable[..., Any],
                    values: Mapping[str, Any]) -> dict[str, Any]:
  """Returns the entries of `values` that are keyword parameters of `fn`.

  Used by the entry point to hand each builder the configuration values it
  declares, so builders take explicit arguments and never see the whole
  configuration.
  """
  params = inspect.signature(fn).parameters
  return {k: v for k, v in values.items() if k in params}


def apply_to_image_or_images(fn: Callable[..., tf.Tensor],
                             images: tf.Tensor,
                             seed: tf.Tensor | None = None,
                             dtype: tf.DType | None = None) -> tf.Tensor:
  """Applies a per-image function to an image or a stack of images.

  Rank 3 calls `fn` once; a higher rank folds all leading axes into one,
  maps `fn` over it (each image gets its own randomness) and restores them.

  Args:
    fn: maps one `[H, W, C]` image to one image; called as `fn(image,
      image_seed)` when `seed` is given.
    images: `[H, W, C]`, `[N, H, W, C]` or `[..., H, W, C]`.
    seed: int `[2]` seed of stateless random ops, or None; every image of a
      stack gets its own seed split from it.
    dtype: the dtype `fn` returns, when it is not that of `images`.

  Returns:
    The transformed image(s), with the same leading axes.
  """
  rank = images.shape.rank
  if rank == 3:
    return fn(images) if seed is None else fn(images, seed)
  if rank is None or rank < 3:
    raise ValueError(f'Expected an image of rank >= 3, got shape '
                     f'{images.shape}.')
  flat = images if rank == 4 else tf.reshape(
      images, tf.concat([[-1], tf.shape(images)[-3:]], 0))
  signature = dtype or images.dtype
  if seed is None:
    out = tf.map_fn(fn, flat, fn_output_signature=signature)
  else:
    seeds = tf.random.experimental.stateless_split(seed, tf.shape(flat)[0])
    out = tf.map_fn(lambda args: fn(*args), (flat, seeds),
                    fn_output_signature=signature)
  if rank == 4:
    return out
  return tf.reshape(out, tf.concat([tf.shape(images)[:-3],
                                    tf.shape(out)[1:]], 0))


def apply_with_probability(probability: float,
                           fn: Callable[[tf.Tensor], tf.Tensor],
                           x: tf.Tensor) -> tf.Tensor:
  """Returns `fn(x)` with the given probability, else `x` (one draw)."""
  apply = tf.random.uniform([]) < probability
  return tf.cond(apply, lambda: fn(x), lambda: x)


def flatten_leading(x: tf.Tensor, num_axes: int = 2) -> tf.Tensor:
  """Merges the first `num_axes` axes: `[B, P, ...]` -> `[B*P, ...]`."""
  shape = tf.shape(x)
  static = x.shape
  merged = None
  dims = static[:num_axes]
  if all(d is not None for d in dims):
    merged = math.prod(dims)
  out = tf.reshape(x, tf.concat([[-1], shape[num_axes:]], 0))
  out.set_shape([merged] + static[num_axes:].as_list())
  return out


def sorted_items(mapping: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
  """Items in key order; end points are always visited in this order."""
  return sorted(mapping.items())


# Linear evaluation pools every end point to about this many features: the
# budget of the paper's evaluation protocol.
POOLING_TARGET_DIMENSIONS = 9000

POOL_MODES = ('adaptive_max', 'adaptive_avg', 'max', 'avg')
# How the adaptive modes place their regions: `fractional`, TensorFlow's
# fractional pooling with random region boundaries on every call, as the
# original (no XLA kernel, so not on TPUs), or `even`, fixed boundaries
# floor(i * H / h) (compiles with XLA, the same output sizes).
ADAPTIVE_POOLINGS = ('fractional', 'even')


def adaptive_pool(x: tf.Tensor, num_target_dimensions: int,
                  mode: str, regions: str = 'fractional') -> tf.Tensor:
  """Pools a feature map `[N, H, W, K]` down to about the target size.

  Only the height and the channel count choose the pooling (square maps are
  assumed, as in the original), so H, W and K must be static.

  * `adaptive_max` / `adaptive_avg`: fractional pooling to a side `t`, the
    integer next to `sqrt(target / K)` (floor or ceil, whichever gives
    `K * t^2` closer to the target, ties to ceil; at least 1). With
    `regions='fractional'` the region boundaries are random on every call,
    also in evaluation, as in the original; `regions='even'` gives the
    same sizes with boundaries floor(i * H / h), which XLA compiles.
  * `max` / `avg`: ordinary pooling with window = stride = `s =
    ceil(sqrt(H * W * K / target))` and VALID padding, which can land well
    below the target (7x7x2048 -> 1x1x2048).

  Args:
    x: a float `[N, H, W, K]` tensor with static H, W and K.
    num_target_dimensions: the feature budget (9000 in the paper).
    mode: one of `POOL_MODES`.
    regions: one of `ADAPTIVE_POOLINGS`, for the adaptive modes.

  Returns:
    The pooled tensor `[N, h, w, K]`.

  Raises:
    UsageError: for an unknown mode (listing the valid ones).
    ValueError: if `x` is not rank 4 with static H, W and K.
  """
  if mode not in POOL_MODES:
    raise UsageError(f'Unknown pooling mode {mode!r} (in --pool_mode). '
                     f'Valid choices: {", ".join(POOL_MODES)}.')
  if x.shape.rank != 4 or not x.shape[1:].is_fully_defined():
    raise ValueError(f'adaptive_pool needs [N, H, W, K] with static H, W '
                     f'and K, got shape {x.shape}.')
  height, width, channels = x.shape[1:]
  if mode.startswith('adaptive_'):
    side = math.sqrt(num_target_dimensions / channels)
    low, high = math.floor(side), math.ceil(side)
    # Ties go to the larger side.
    if (abs(channels * low**2 - num_target_dimensions) <
        abs(channels * high**2 - num_target_dimensions)):
      side = low
    else:
      side = high
    side = max(side, 1)
    # The epsilon makes floor(H / ratio) inside the op land exactly on
    # `side`; the ratio must stay within [1, H].
    ratio = min(max(height / side - 1e-5, 1.0), float(height))
    if regions == 'even':
      reduce = tf.reduce_max if mode == 'adaptive_max' else tf.reduce_mean
      return _even_regions(x, math.floor(height / ratio),
                           math.floor(width / ratio), reduce)
    if regions != 'fractional':
      raise UsageError(f'Unknown --adaptive_pooling {regions!r}. Valid '
                       f'choices: {", ".join(ADAPTIVE_POOLINGS)}.')
    pool = (tf.nn.fractional_max_pool if mode == 'adaptive_max' else
            tf.nn.fractional_avg_pool)
    pooled, _, _ = pool(x, [1.0, ratio, ratio, 1.0], pseudo_random=False,
                        overlapping=False)
    return pooled
  window = math.ceil(math.sqrt(height * width * channels /
                               num_target_dimensions))
  window = min(max(window, 1), height)
  pool = tf.nn.max_pool2d if mode == 'max' else tf.nn.avg_pool2d
  return pool(x, ksize=window, strides=window, padding='VALID')


def _even_regions(x: tf.Tensor, rows: int, cols: int, reduce) -> tf.Tensor:
  """`reduce` over the `rows x cols` regions [floor(i * H / rows), ...).

  Max and mean over a rectangle are the same taken over its rows and then
  its columns, so this takes rows + cols slices, not rows * cols.
  """
  def along(t, axis, count):
    size = t.shape[axis]
    edges = [i * size // count for i in range(count + 1)]
    parts = tf.split(t, [b - a for a, b in zip(edges, edges[1:])], axis=axis)
    return tf.concat([reduce(p, axis=axis, keepdims=True) for p in parts],
                     axis=axis)

  return along(along(x, 1, rows), 2, cols)


def _cpu_model_and_flags() -> tuple[str, set[str]]:
  """The CPU's model name and feature flags, as /proc/cpuinfo lists them."""
  model, flags = platform.processor() or platform.machine(), set()
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name'):
          model = line.split(':', 1)[1].strip()
        elif line.startswith('flags') and not flags:
          flags = set(line.split(':', 1)[1].split())
  except OSError:
    pass
  return model, flags


def cpu_bfloat16_units() -> list[str]:
  """The CPU flags of bfloat16 arithmetic units (empty: none, or unknown).

  avx512_bf16 doubles the vector unit's multiply-adds per cycle over
  float32; amx_bf16 adds matrix tiles, several times that again.
  """
  return sorted(_cpu_model_and_flags()[1] & {'avx512_bf16', 'amx_bf16'})


def cpu_description() -> str:
  """The host CPU's model, core count and vector-instruction flags.

  Benchmarks print it: the development machines' CPUs differ from one
  session to the next (some have bfloat16 units, some do not), so a number
  means something only beside the flags it was measured with.
  """
  model, flags = _cpu_model_and_flags()
  vector = sorted(f for f in flags
                  if f.startswith(('sse4', 'avx', 'fma', 'amx', 'f16c')))
  return (f'{model}, {os.cpu_count()} cores; flags: '
          f'{" ".join(vector) or "none listed"}')


def format_duration(seconds: float) -> str:
  """'1h02m03s' or '2m03s' ('?' when unknown)."""
  if not math.isfinite(seconds):
    return '?'
  seconds = int(seconds)
  h, rest = divmod(seconds, 3600)
  m, s = divmod(rest, 60)
  return f'{h}h{m:02d}m{s:02d}s' if h else f'{m}m{s:02d}s'


class Progress:
  """Logs how far a long loop is: done, rate and time left.

  `update(n)` after each piece of work; a line is logged at most every
  `every` seconds, and `finish()` logs the total. Training has its own
  lines (`trainer.py`); this serves feature extraction, evaluation, the
  convex probe and pseudo-labelling.
  """

  def __init__(self, what: str, total: int | None, unit: str = 'examples',
               every: float = 30.0,
               clock: Callable[[], float] = time.monotonic,
               log: Callable[[str], None] | None = None):
    """Starts the clock.

    Args:
      what: what the loop does ("Encoding the train split").
      total: the amount of work, or None when unknown.
      unit: what `update` counts.
      every: the least number of seconds between two lines.
      clock: the time source (tests pass their own).
      log: where lines go (default: absl's log, at INFO).
    """
    self.what, self.total, self.unit, self.every = what, total, unit, every
    self._clock = clock
    self._log = log or logging.info
    self.start = self._last = clock()
    self.done = 0

  def line(self) -> str:
    """'Encoding ...: 1,200/10,000 examples (12%), 40.0/s, 3m40s left'."""
    elapsed = self._clock() - self.start
    rate = self.done / max(elapsed, 1e-9)
    if self.total:
      left = (self.total - self.done) / rate if rate > 0 else float('inf')
      return (f'{self.what}: {self.done:,}/{self.total:,} {self.unit} '
              f'({100 * self.done / self.total:.0f}%), {rate:.1f}/s, '
              f'{format_duration(left)} left')
    return f'{self.what}: {self.done:,} {self.unit}, {rate:.1f}/s'

  def update(self, count: int = 1) -> None:
    """Counts `count` more; logs a line if `every` seconds have passed."""
    self.done += count
    now = self._clock()
    if now - self._last >= self.every:
      self._last = now
      self._log(self.line())

  def finish(self) -> None:
    """Logs the final count, rate and time taken."""
    elapsed = self._clock() - self.start
    self._log(f'{self.what}: {self.done:,} {self.unit} in '
              f'{format_duration(elapsed)} '
              f'({self.done / max(elapsed, 1e-9):.1f}/s).')


def in_one_replica(fn, *args):
  """Runs `fn` in replica context and returns the first replica's result.

  A SavedModel loaded under a multi-device strategy can only be called
  inside `strategy.run`; the trainer initialises tasks in cross-replica
  context.
  """
  if not tf.distribute.in_cross_replica_context():
    return fn(*args)
  strategy = tf.distribute.get_strategy()
  result = strategy.run(fn, args=args)
  return tf.nest.map_structure(
      lambda x: strategy.experimental_local_results(x)[0], result)
