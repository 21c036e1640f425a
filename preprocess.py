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

"""Preprocessing ops selected by `--preprocessing`.

`--preprocessing` lists ops applied left to right, in either of the two
originals' syntaxes: revisiting's comma-separated names, whose arguments
come from flags (`resize,flip_lr,-1_to_1` with `--resize_size 224`), or
S4L's `|`-separated calls with their arguments written in place
(`inception_crop|resize(224)|flip_lr|-1_to_1`, `copy_label(name=y)`). Written
arguments override the flags. `parse_ops` reads both.

Each op is registered in `OPS` (the modules of `preprocess_ops/`) as a
factory that takes `is_training` and the flag values it needs
(`resize_size`, `crop_size`, ...) and returns a function on a data dict.
The same list serves training and evaluation; every op decides how it
behaves in evaluation.

`build_pipeline` assembles what one input stream needs before a run starts
(every op built, every flag checked): the host part of the training and the
evaluation variant, and the trailing ops a task applies on the accelerator
(`split_device_ops`). The entry point hands the result to the trainer.

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

from collections.abc import Iterable, Mapping
import dataclasses
import functools
import inspect
import re
from typing import Any

import tensorflow as tf

from revisiting_ssl import (
  preprocess_ops,  # noqa: F401  (registers the ops)
  utils,
)
from revisiting_ssl.preprocess_ops import base

Data = base.Data
Op = base.Op
OPS = base.OPS
SEED_KEY = base.SEED_KEY


def op_names() -> list[str]:
  """Names accepted in `--preprocessing`, sorted."""
  return OPS.names()


@functools.cache
def op_arg_names() -> frozenset[str]:
  """Every flag value some op takes (the keyword arguments of the ops)."""
  names = set()
  for name in op_names():
    params = set(inspect.signature(OPS.lookup(name)).parameters)
    names.update(params - set(base.INLINE_ONLY.get(name, ())))
  return frozenset(names - {'is_training'})


@dataclasses.dataclass(frozen=True)
class OpCall:
  """One op of a `--preprocessing` string, with its written arguments."""
  text: str
  name: str
  args: tuple[str, ...] = ()
  kwargs: tuple[tuple[str, str], ...] = ()


_CALL = re.compile(r'^([A-Za-z0-9_\-]+)(?:\((.*)\))?$', re.DOTALL)


def _top_level_split(text: str, separator: str) -> list[str]:
  """Splits at `separator`s that are not inside parentheses."""
  parts, depth, start = [], 0, 0
  for i, char in enumerate(text):
    if char == '(':
      depth += 1
    elif char == ')':
      depth -= 1
    elif char == separator and depth == 0:
      parts.append(text[start:i])
      start = i + 1
  parts.append(text[start:])
  return parts


def parse_ops(preprocessing: str | None) -> tuple[list[OpCall], str]:
  """The op calls of a `--preprocessing` string and its separator.

  Blanks around names and empty entries are dropped. The separator is `|`
  when the string has one outside parentheses, else `,`.

  Raises:
    utils.UsageError: for unbalanced parentheses or a malformed call.
  """
  text = preprocessing or ''
  if text.count('(') != text.count(')'):
    raise utils.UsageError(
        f'--preprocessing {text!r} has unbalanced parentheses.')
  separator = '|' if len(_top_level_split(text, '|')) > 1 else ','
  calls = []
  for part in _top_level_split(text, separator):
    part = part.strip()
    if not part:
      continue
    match = _CALL.match(part)
    if not match:
      raise utils.UsageError(
          f'Cannot read {part!r} in --preprocessing {text!r}: expected an '
          f'op name, or name(arguments) in the `|`-separated syntax.')
    name, inner = match.group(1), match.group(2)
    args, kwargs = [], []
    for item in ([] if inner is None else inner.split(',')):
      item = item.strip()
      if '=' in item:
        key, value = (x.strip() for x in item.split('=', 1))
        kwargs.append((key, value))
      elif item:
        args.append(item)
    calls.append(OpCall(text=part, name=name, args=tuple(args),
                        kwargs=tuple(kwargs)))
  return calls, separator


def _written_kwargs(call: OpCall) -> dict[str, Any]:
  """The factory arguments an op call writes (none for a bare name)."""
  if not call.args and not call.kwargs:
    return {}
  convert = base.INLINE_ARGS.get(call.name)
  if convert is None:
    raise utils.UsageError(
        f'The preprocessing op {call.name!r} takes no arguments, got '
        f'{call.text!r} in --preprocessing.')
  try:
    return convert(list(call.args), dict(call.kwargs))
  except (ValueError, IndexError) as e:
    raise utils.UsageError(
        f'Bad arguments in {call.text!r} (--preprocessing): {e}') from None


def get_preprocess_fn(preprocessing: str | None, is_training: bool,
                      **op_args: Any) -> Op:
  """Composes the ops of a `--preprocessing` string into one function.

  All ops are built (and their flags checked) before this returns, so a
  mistake surfaces before any data is read.

  Args:
    preprocessing: the ops, e.g. "inception_preprocess,rotate" or
      "inception_crop|resize(224)|rotate". Empty entries are skipped; an
      empty string gives the identity.
    is_training: build the training variant of every op.
    **op_args: flag values of the ops (`resize_size="224"`,
      `crop_size=24`, ...); each op takes those its signature names. None
      means unset: the op's own default applies. Arguments written in the
      string win.

  Returns:
    A function mapping a data dict to the preprocessed data dict.

  Raises:
    utils.UsageError: for an unknown op name (listing the valid ones) or a
      flag value or written argument an op needs that is missing or
      malformed.
    TypeError: for an argument that no op takes (a programming error).
  """
  unknown = sorted(set(op_args) - op_arg_names())
  if unknown:
    raise TypeError(f'No preprocessing op takes {", ".join(unknown)}.')
  values = {k: v for k, v in op_args.items() if v is not None}
  ops = []
  for call in parse_ops(preprocessing)[0]:
    factory = OPS.lookup(call.name)
    params = inspect.signature(factory).parameters
    kwargs = utils.matching_kwargs(factory, values)
    written = _written_kwargs(call)
    bad = sorted(set(written) - set(params))
    if bad:
      raise utils.UsageError(
          f'The preprocessing op {call.name!r} has no argument '
          f'{", ".join(bad)} (in {call.text!r}).')
    kwargs.update(written)
    ops.append((call.name, factory(is_training=is_training, **kwargs)))

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


def split_device_ops(preprocessing: str | None,
                     device_ops: Iterable[str]) -> tuple[str, str]:
  """Splits off the trailing ops that a task runs on the accelerator.

  Only the maximal *trailing* run of ops named in `device_ops` moves: an op
  followed by a host op must stay on the host to keep the order.

  Args:
    preprocessing: the `--preprocessing` string.
    device_ops: names of ops the task can apply to a batch on the device.

  Returns:
    (host ops, device ops) in the string's syntax; either may be empty.
  """
  calls, separator = parse_ops(preprocessing)
  device_ops = set(device_ops)
  split = len(calls)
  while split > 0 and calls[split - 1].name in device_ops:
    split -= 1
  return (separator.join(c.text for c in calls[:split]),
          separator.join(c.text for c in calls[split:]))


@dataclasses.dataclass(frozen=True)
class Pipeline:
  """The preprocessing of one input stream, built before the run starts.

  Attributes:
    preprocessing: the op string of training, as given.
    eval_preprocessing: the op string of evaluation (the training one
      unless the run gave its own).
    host: `is_training` -> the per-example function run in `tf.data`.
    device: `is_training` -> the function a task applies to the batch in
      its step (the trailing ops of its `device_ops`), or None.
    op_args: the set flag values the ops were built with.
  """
  preprocessing: str
  eval_preprocessing: str
  host: Mapping[bool, Op]
  device: Mapping[bool, Op | None]
  op_args: Mapping[str, Any]

  def host_fn(self, training: bool, image_dtype: str | None = None) -> Op:
    """The host part, its float32 `image` output cast to `image_dtype`.

    Under a bfloat16 compute policy the network's first layer casts its
    float32 input to bfloat16; casting on the host instead gives the same
    values and halves what the host copies into batches and sends to the
    device. Other keys (labels, masks) and non-float32 images are left as
    they are.

    Args:
      training: the training (True) or evaluation (False) variant.
      image_dtype: the dtype of the emitted float32 images, e.g.
        "bfloat16"; None leaves them as the ops made them.

    Returns:
      The per-example function run in `tf.data`.
    """
    fn = self.host[training]
    if image_dtype is None or tf.as_dtype(image_dtype) == tf.float32:
      return fn
    dtype = tf.as_dtype(image_dtype)

    def cast_fn(data: Mapping[str, tf.Tensor]) -> Data:
      data = fn(data)
      image = data.get('image')
      if image is not None and image.dtype == tf.float32:
        data = dict(data, image=tf.cast(image, dtype))
      return data

    return cast_fn

  def description(self) -> dict[str, Any]:
    """What determines the preprocessed examples (for cache keys)."""
    return {'preprocessing': self.preprocessing,
            'eval_preprocessing': self.eval_preprocessing,
            'op_args': {k: str(v) for k, v in sorted(self.op_args.items())}}


def build_pipeline(preprocessing: str | None, *,
                   eval_preprocessing: str | None = None,
                   device_ops: Iterable[str] = (),
                   **op_args: Any) -> Pipeline:
  """Builds (and so checks) both variants of one stream's preprocessing.

  Args:
    preprocessing: the training op string (`--preprocessing`).
    eval_preprocessing: the evaluation op string; None uses `preprocessing`
      (each op then runs its evaluation variant).
    device_ops: op names the task applies on the accelerator when they end
      a string (`Task.device_ops`).
    **op_args: flag values of the ops (see `get_preprocess_fn`).

  Returns:
    The pipeline.

  Raises:
    utils.UsageError: as `get_preprocess_fn`.
  """
  preprocessing = preprocessing or ''
  eval_preprocessing = (preprocessing if eval_preprocessing is None
                        else eval_preprocessing)
  device_ops = tuple(device_ops)
  host, device = {}, {}
  for training, ops in ((True, preprocessing), (False, eval_preprocessing)):
    host_ops, device_part = split_device_ops(ops, device_ops)
    host[training] = get_preprocess_fn(host_ops, training, **op_args)
    device[training] = (get_preprocess_fn(device_part, training, **op_args)
                        if device_part else None)
  return Pipeline(
      preprocessing=preprocessing, eval_preprocessing=eval_preprocessing,
      host=host, device=device,
      op_args={k: v for k, v in op_args.items() if v is not None})
