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

"""The one export function: a task's network as a TF-Hub module.

The original exported TF1 hub modules with two signatures, `default` (the
task's output) and `representation` (every end point of the trunk), and two
graph variants for training and inference. A TF2 SavedModel implementing the
Reusable SavedModel interface carries the same contract:

  * `__call__(images, training=False)` returns the `default` output; the
    training variant is its `training` argument instead of a tag set;
  * `variables`, `trainable_variables`, `regularization_losses`;
  * signatures `default` (output key `default`) and `representation` (a dict
    of end points), both taking float32 images under one input key
    (`image`, as the original's, unless `--serving_input_key` names another).

So `hub.load(path)` and `hub.KerasLayer(path, signature='representation',
output_key='pre_logits')` both work on our exports.

An export is written in place and committed by a marker file written last
(`committed_dirs`), never by renaming a directory, which object stores such
as GCS cannot do atomically: readers (`list_exports`, linear evaluation)
use only committed ones, and an export killed half-way is removed by the
next one. Only the newest `keep` exports are kept.
"""

from collections.abc import Callable, Mapping, Sequence
import contextlib
import os
import re
import time
from typing import Any

from absl import logging
import tensorflow as tf

from revisiting_ssl import utils
from revisiting_ssl.training import committed_dirs, kill_points

ServeFn = Callable[[tf.Tensor, bool], tuple[tf.Tensor, Mapping[str, tf.Tensor]]]

# The temporary names of exports written by earlier versions, which renamed
# them into place: leftovers of those killed half-way.
_TMP_SUFFIX = '.tmp'

# The signatures' input key unless `--serving_input_key` names another: the
# original modules' name, which their users call them with.
DEFAULT_INPUT_KEY = 'image'

# A key TensorFlow keeps as it is (an op name without scopes) and Python can
# pass as a keyword: `signature(image=...)`.
_INPUT_KEY_PATTERN = re.compile(r'[A-Za-z][A-Za-z0-9_]*')

# Makes the variables hold one export's weights while it is written.
WeightsContext = Callable[[], contextlib.AbstractContextManager[Any]]


class _HubModule(tf.__internal__.tracking.AutoTrackable):
  """The object saved as a hub module.

  An AutoTrackable rather than a `tf.Module`, because the Reusable SavedModel
  interface wants `variables` and `trainable_variables` as plain attributes,
  which `tf.Module` reserves for its own properties.
  """

  def __init__(self, serve_fn: ServeFn, trackables: Mapping[str, tf.Module],
               input_shape: Sequence[int | None], input_key: str):
    super().__init__()
    # The networks stay out of the saved object graph (only their variables
    # are saved): saving Keras 3 models as objects costs tens of seconds and
    # would make the module depend on Keras to load.
    owners = list(trackables.values())
    variables = []
    trainable = []
    seen = set()
    for item in trackables.values():
      for v in item.variables:
        if id(v) not in seen:
          seen.add(id(v))
          variables.append(v)
      trainable.extend(item.trainable_variables)
    self.variables = variables
    self.trainable_variables = trainable
    # The spec's name is the signatures' input key.
    spec = tf.TensorSpec(list(input_shape), tf.float32, name=input_key)

    # The network is traced once per variant; the signatures and __call__
    # call these traces instead of tracing the network again (tracing a
    # ResNet-50 costs seconds).
    @tf.function
    def forward(images, training):
      outputs, end_points = serve_fn(images, training=training)
      return (tf.cast(outputs, tf.float32),
              {k: tf.cast(v, tf.float32) for k, v in end_points.items()})

    inference = forward.get_concrete_function(spec, False)
    forward.get_concrete_function(spec, True)

    @tf.function(input_signature=[spec])
    def default_signature(images):
      _name_captures(images.graph, inference)
      return {'default': forward(images, False)[0]}

    @tf.function(input_signature=[spec])
    def representation_signature(images):
      _name_captures(images.graph, inference)
      return forward(images, False)[1]

    self.default_signature = default_signature
    self.representation_signature = representation_signature

    @tf.function
    def call(images, training=False):
      return forward(images, training)[0]

    # Both variants, as the Reusable SavedModel interface wants.
    call.get_concrete_function(spec, True)
    call.get_concrete_function(spec, False)
    self.__call__ = call

    def make_penalty(owner):
      @tf.function(input_signature=[])
      def penalty():
        losses = [tf.cast(x, tf.float32) for x in owner.losses]
        return tf.add_n(losses) if losses else tf.constant(0.0)

      return penalty

    self.regularization_losses = [
        make_penalty(o) for o in owners if getattr(o, 'losses', None)]


def _name_captures(graph: Any, concrete: Any) -> None:
  """Captures into `graph` the inputs `concrete` captures, named.

  A signature that calls `concrete` captures the network's variables, and
  TensorFlow names a capture without a name by a counter ("10101"), which a
  SavedModel cannot keep as an input name: saving renames every one, with a
  log line listing them all (about 10,000 characters per signature of a
  ResNet-50). Captured first under names it keeps, the same tensors are not
  captured again when `concrete` is called, and nothing is renamed.

  Args:
    graph: the graph of the signature being traced, before it calls
      `concrete`.
    concrete: the concrete function it calls.
  """
  for i, value in enumerate(concrete.captured_inputs):
    graph.capture(value, name=f'captured_input_{i}')


def check_input_key(input_key: str) -> None:
  """Fails now if `input_key` cannot name the signatures' input.

  Raises:
    utils.UsageError: naming --serving_input_key and what a key may hold.
  """
  if not _INPUT_KEY_PATTERN.fullmatch(input_key):
    raise utils.UsageError(
        f'--serving_input_key {input_key!r} cannot name a signature input: '
        f'use a letter followed by letters, digits or underscores (default '
        f'{DEFAULT_INPUT_KEY!r}).')


def check_serving_shape(serve_fn: ServeFn,
                        input_shape: Sequence[int | None]) -> None:
  """Fails now if `serve_fn` could not be exported for `input_shape`.

  Tracing the module's forward pass takes a second or two; learning at the
  first export, hours into a run, that the shape does not fit (VGG's fc6
  needs a fixed size, the patch networks take patches) costs more.

  Raises:
    utils.UsageError: naming --serving_input_shape, its value and the
      network's reason.
  """
  spec = tf.TensorSpec(list(input_shape), tf.float32)
  try:
    tf.function(lambda x: serve_fn(x, training=False),
                autograph=False).get_concrete_function(spec)
  except (ValueError, TypeError, tf.errors.OpError) as e:
    shown = ','.join('None' if d is None else str(d) for d in input_shape)
    raise utils.UsageError(
        f'--serving_input_shape {shown} does not fit the network of the '
        f'hub module: {utils.error_summary(e)}') from None


def export_hub_module(serve_fn: ServeFn,
                      trackables: Mapping[str, tf.Module],
                      export_dir: str,
                      input_shape: Sequence[int | None],
                      input_key: str = DEFAULT_INPUT_KEY,
                      commit: bool = True) -> str:
  """Saves `serve_fn` with the variables of `trackables` as a hub module.

  Args:
    serve_fn: `(images, training) -> (default output, end points)`, usually a
      task's `serve` method.
    trackables: the objects that own the variables `serve_fn` uses.
    export_dir: the module directory to create (the leftover of an export
      killed half-way is replaced).
    input_shape: the serving input shape, e.g. `[None, 224, 224, 3]`.
    input_key: the name of the signatures' input (`check_input_key`).
    commit: mark `export_dir` as being written first and as complete last
      (`committed_dirs`); False when the caller commits a directory
      around it.

  Returns:
    `export_dir`.

  Raises:
    FileExistsError: when `export_dir` holds a complete module.
  """
  check_input_key(input_key)
  module = _HubModule(serve_fn, trackables, input_shape, input_key)
  if commit:
    if committed_dirs.is_uncommitted(export_dir):
      committed_dirs.remove(export_dir)
    elif tf.io.gfile.exists(export_dir):
      raise FileExistsError(f'{export_dir} already exists.')
    committed_dirs.begin(export_dir)
  tf.saved_model.save(
      module, export_dir,
      signatures={
          'default': module.default_signature,
          'representation': module.representation_signature,
      })
  if commit:
    committed_dirs.commit(export_dir)
  return export_dir


def _has_saved_model(directory: str) -> bool:
  return tf.io.gfile.exists(os.path.join(directory, 'saved_model.pb'))


def check_committed(module_dir: str) -> None:
  """Fails if `module_dir` is (in) an export that was never completed.

  Raises:
    utils.UsageError: naming the directory.
  """
  for directory in (module_dir, os.path.dirname(module_dir.rstrip('/'))):
    if committed_dirs.is_uncommitted(directory):
      raise utils.UsageError(
          f'{module_dir} belongs to an export that was never completed '
          f'({directory} has no {committed_dirs.COMPLETE}); use a complete '
          f'one.')


def export_for_checkpoint(
    serve_fn: ServeFn, trackables: Mapping[str, tf.Module], workdir: str,
    input_shape: Sequence[int | None], keep: int = 5,
    variants: Mapping[str, WeightsContext] | None = None,
    input_key: str = DEFAULT_INPUT_KEY) -> str:
  """Exports to `<workdir>/export/hub/<timestamp>/module`, keeping `keep`.

  The timestamp directory (the original exporter's layout) is committed
  once the modules inside it are complete; leftovers of exports killed
  half-way are removed.

  Args:
    serve_fn: see `export_hub_module`.
    trackables: see `export_hub_module`.
    workdir: the working directory.
    input_shape: the serving input shape.
    keep: the newest timestamp directories kept.
    variants: module name -> a context in which the variables hold that
      module's weights (Polyak averaging exports `module` with the averages
      and `module_raw` with the trained weights); default: `module` alone.
    input_key: see `export_hub_module`.

  Returns:
    The directory of the first module.
  """
  variants = variants or {'module': contextlib.nullcontext}
  base = os.path.join(workdir, 'export', 'hub')
  tf.io.gfile.makedirs(base)
  stamp = _timestamp()
  while (tf.io.gfile.exists(os.path.join(base, str(stamp))) or
         tf.io.gfile.exists(os.path.join(base, str(stamp) + _TMP_SUFFIX))):
    stamp += 1
  stamp_dir = os.path.join(base, str(stamp))
  committed_dirs.begin(stamp_dir)
  for name, weights in variants.items():
    with weights():
      export_hub_module(serve_fn, trackables, os.path.join(stamp_dir, name),
                        input_shape, input_key, commit=False)
  kill_points.reached('export_written')
  committed_dirs.commit(stamp_dir)
  _remove_old_exports(base, keep)
  module_dir = os.path.join(stamp_dir, next(iter(variants)))
  logging.info('Exported hub module to %s', module_dir)
  return module_dir


def _timestamp() -> int:
  return int(time.time())


def _committed_stamps(base: str) -> list[int]:
  """The committed timestamp directories of `base`, oldest first.

  One without markers counts if its module is there: earlier versions
  renamed complete exports into place.
  """
  stamps = sorted(int(d.rstrip('/')) for d in tf.io.gfile.listdir(base)
                  if d.rstrip('/').isdigit())
  return [s for s in stamps if committed_dirs.is_committed(
      os.path.join(base, str(s)),
      lambda d: _has_saved_model(os.path.join(d, 'module')))]


def list_exports(workdir: str) -> list[str]:
  """Committed module directories under `<workdir>/export/hub`, oldest first.

  Exports being written, or killed half-way, are never listed.
  """
  base = os.path.join(workdir, 'export', 'hub')
  if not tf.io.gfile.isdir(base):
    return []
  return [os.path.join(base, str(s), 'module')
          for s in _committed_stamps(base)]


def _remove_old_exports(base: str, keep: int) -> None:
  stamps = _committed_stamps(base)
  for stamp in stamps[:-keep] if keep > 0 else []:
    committed_dirs.remove(os.path.join(base, str(stamp)))
  # Leftovers of exports killed half-way are never read: remove those
  # older than the newest committed export (a newer one may be being
  # written by another process right now).
  newest = stamps[-1] if stamps else None
  for d in tf.io.gfile.listdir(base):
    d = d.rstrip('/')
    path = os.path.join(base, d)
    if newest is None:
      break
    if d.isdigit() and int(d) < newest and not committed_dirs.is_committed(
        path, lambda p: _has_saved_model(os.path.join(p, 'module'))):
      logging.info('Removing %s, left by an interrupted export.', path)
      committed_dirs.remove(path)
    elif (d.endswith(_TMP_SUFFIX) and d[:-len(_TMP_SUFFIX)].isdigit() and
          int(d[:-len(_TMP_SUFFIX)]) < newest):
      tf.io.gfile.rmtree(path)
