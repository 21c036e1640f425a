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

"""A frozen hub module's end points as features for probes.

Linear evaluation (`linear_eval.py`) calls the `--signature` of a module in
inference mode and pools every end point to about 9000 features. A module
is one of our TF2 exports or an original TF1 hub module (its inference
graph, the empty tag set); patches `[N, P, H, W, 3]` go through the module
as `N * P` images and their pooled features are combined per example
(`combine_patches`).
"""

from collections.abc import Mapping, Sequence
import math
import os

import tensorflow as tf

from revisiting_ssl import utils
from revisiting_ssl.training import hub_export

COMBINE_MODES = ('avg_pool', 'max_pool', 'concat')


def format_shape(shape: Sequence[int | None] | tf.TensorShape) -> str:
  """`[None, 224, 224, 3]`, for messages."""
  dims = shape.as_list() if isinstance(shape, tf.TensorShape) else shape
  return '[' + ', '.join('None' if d is None else str(d) for d in dims) + ']'


def is_tf1_hub_module(path: str) -> bool:
  """Whether `path` holds a module in the TF1 hub format.

  That format marks its directory with `tfhub_module.pb` beside the
  SavedModel; TensorFlow 2 can run its graphs (not retrain them).
  """
  return tf.io.gfile.exists(os.path.join(path, 'tfhub_module.pb'))


def load_module(path: str | None, signature: str):
  """Loads a hub module and returns it with the chosen signature.

  Args:
    path: the module directory (`--hub_module`).
    signature: the signature to call (`--signature`).

  Returns:
    (the loaded object, the signature's concrete function).

  Raises:
    utils.UsageError: when the path is unset, not a SavedModel or an
      export that was never completed (`hub_export.check_committed`), when
      the module lacks the signature (the message lists the ones it has),
      or when the signature does not take exactly one input. Its name may be
      any (`image` unless the export was given `--serving_input_key`).
  """
  if not path:
    raise utils.UsageError('--hub_module is required for --task linear_eval: '
                           'the exported module to evaluate.')
  if not tf.io.gfile.isdir(path):
    raise utils.UsageError(f'--hub_module {path} does not exist (expected a '
                           f'directory such as <workdir>/export/hub/'
                           f'<timestamp>/module).')
  hub_export.check_committed(path)
  if is_tf1_hub_module(path):
    # An original TF1 hub module: a SavedModel with one graph per
    # tag set, of which the empty set is the inference graph (batch norm on
    # its moving averages). Imported here because nothing else needs it and
    # it costs a second.
    import tensorflow_hub as hub  # noqa: PLC0415
    loaded = hub.load(path, tags=set())
  elif tf.io.gfile.exists(os.path.join(path, 'saved_model.pb')):
    loaded = tf.saved_model.load(path)
  else:
    raise utils.UsageError(f'--hub_module {path} is not a SavedModel (no '
                           f'saved_model.pb in it).')
  signatures = dict(getattr(loaded, 'signatures', {}) or {})
  if signature not in signatures:
    have = ', '.join(sorted(signatures)) or 'none'
    raise utils.UsageError(
        f'The hub module {path} (--hub_module) has no signature '
        f'{signature!r} (--signature). Its signatures: {have}.')
  fn = signatures[signature]
  _, inputs = fn.structured_input_signature
  if len(inputs) != 1:
    raise utils.UsageError(
        f'The {signature!r} signature of the hub module {path} takes inputs '
        f'{sorted(inputs)}; linear evaluation needs a signature with one '
        f'input, the images.')
  return loaded, fn


class FrozenModule(tf.Module):
  """A loaded hub module whose variables are never trained.

  It is tracked like any other object (checkpoints and exports include its
  variables) but reports no trainable variables, so no optimiser sees them.
  """

  def __init__(self, path: str | None, signature: str):
    """Loads the module; see `load_module` for the errors raised."""
    super().__init__(name='frozen_hub_module')
    self.path = path
    self.signature = signature
    self.loaded, self._signature_fn = load_module(path, signature)
    # The images' keyword: whatever the export named its one input.
    (self.input_key,) = self._signature_fn.structured_input_signature[1]
    variables = list(getattr(self.loaded, 'variables', None) or ())
    if not variables:
      variables = list(self._signature_fn.variables)
    self._frozen_variables = tuple(variables)

  @property
  def input_spec(self) -> tf.TensorSpec:
    """The spec of the signature's input (the images)."""
    return self._signature_fn.structured_input_signature[1][self.input_key]

  @property
  def variables(self):
    """The module's variables (checkpointed and exported)."""
    return self._frozen_variables

  @property
  def trainable_variables(self):
    """None: the module is frozen."""
    return ()

  def __call__(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
    """The signature's outputs on `images` (inference mode)."""
    images = tf.cast(images, self.input_spec.dtype)
    outputs = self._signature_fn(**{self.input_key: images})
    return {k: tf.cast(v, tf.float32) for k, v in outputs.items()}


# -- Pooling and patches ----------------------------------------------------


def pool_end_points(end_points: Mapping[str, tf.Tensor], pool_mode: str,
                    num_target_dimensions: int = (
                        utils.POOLING_TARGET_DIMENSIONS),
                    regions: str = 'fractional') -> dict[str, tf.Tensor]:
  """Brings every end point to `[N, h, w, c]` with about 9000 features.

  2-D end points become `[N, 1, 1, C]`; a map is pooled with
  `utils.adaptive_pool` (its `regions` for the adaptive modes) only if it
  has more than the target number of features. Keys are visited in sorted
  order (the order of the results).

  Raises:
    utils.UsageError: for an end point that is neither 2-D nor 4-D.
  """
  pooled = {}
  for name, x in utils.sorted_items(end_points):
    if x.shape.rank == 2:
      x = x[:, tf.newaxis, tf.newaxis, :]
    if x.shape.rank != 4:
      raise utils.UsageError(
          f'End point {name!r} of the hub module has shape {x.shape}; '
          f'linear evaluation takes [N, C] or [N, H, W, C] end points.')
    if math.prod(x.shape[1:]) > num_target_dimensions:
      x = utils.adaptive_pool(x, num_target_dimensions, pool_mode, regions)
    pooled[name] = x
  return pooled


def combine_patches(features: Mapping[str, tf.Tensor], num_patches: int,
                    mode: str) -> dict[str, tf.Tensor]:
  """Combines per-patch features `[N * P, h, w, c]` into `[N, h, w, c']`.

  Args:
    features: pooled features of every patch, patches of one example
      consecutive.
    num_patches: P.
    mode: `avg_pool` (mean over patches), `max_pool` (maximum) or `concat`
      (c' = c * P, channel-major: feature index `ch * P + p`).

  Returns:
    The combined features, same keys.
  """
  combined = {}
  for name, x in features.items():
    h, w, c = x.shape[1:]
    x = tf.reshape(x, [-1, num_patches, h, w, c])
    if mode == 'avg_pool':
      x = tf.reduce_mean(x, axis=1)
    elif mode == 'max_pool':
      x = tf.reduce_max(x, axis=1)
    elif mode == 'concat':
      x = tf.reshape(tf.transpose(x, [0, 2, 3, 4, 1]),
                     [-1, h, w, c * num_patches])
    else:
      raise utils.UsageError(
          f'Unknown patch combination {mode!r} (in --combine_patches). '
          f'Valid choices: {", ".join(COMBINE_MODES)}.')
    combined[name] = x
  return combined
