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

"""Linear evaluation: classifiers on the frozen end points of a hub module.

The task loads `--hub_module` (one of our exports, or any TF2 SavedModel with
a signature whose single input takes the images, whatever its name), calls
its `--signature` (default `representation`) in inference mode, pools every
end point to about 9000 features (`module_features.py`) and trains one head
per end point, all jointly:

  * images `[N, H, W, 3]` go through the module as they are;
  * patches `[N, P, H, W, 3]` go through it as `N * P` images; every end
    point is pooled per patch and then combined over the patches with
    `--combine_patches`: `avg_pool` (mean), `max_pool` (maximum) or `concat`
    (channels `c * P`, in the original's channel-major order, feature index
    `ch * P + p`; each patch keeps the full 9000 budget, as in the original).
    The original hard-wired the `representation` signature for patches; here
    `--signature` applies to both (the same with the default).

Heads (`--eval_model`): `linear` is a dense layer with bias on the flattened
features; `mlp` is dense(`--channels_hidden`, ReLU), dropout 0.5 and dense.
Both use Glorot-uniform kernels and the weight decay `--weight_decay` (0 when
unset, not the networks' 1e-4). The loss is the sum over heads of their mean
cross-entropy; since heads share nothing, this trains each head as if alone.
Metrics: `top1_accuracy_<end point>` and `top5_accuracy_<end point>`. Linear
heads in float32 also have their gradients in closed form
(`Heads.closed_form_step`), which the cached mode (`linear_eval_cached.py`)
uses to train them on stored features.

The module is a little over 500 lines because the task, its heads and their
closed-form step share the pooling and head layout, which would otherwise be
spelled out twice.

The module's variables are never trained: `trainable_variables` lists the
heads only, and the module runs in inference mode (batch norm uses its
moving averages). The module is still saved in every checkpoint (as the
original's graph saver did), so a checkpoint is self-contained.

The hub export of this task (`--run_eval`) maps the evaluated inputs to the
heads' logits: `default` is the logits of the head on `pre_logits` (or, when
the module has no such end point, of the last end point in sorted order),
and `representation` holds every head's logits keyed `logits_<end point>`.
The export reshapes its input to the evaluated example shape, so a module
evaluated on patches takes `[N * P, H, W, 3]` under the default
`--serving_input_shape` (or `[N, P, H, W, 3]` when that shape is given).

After each evaluation, `<workdir>/linear_eval_results.csv` holds one row per
end point and split (top-1, top-5, step) and the best end point is logged.
"""

from collections.abc import Mapping, Sequence
import csv
import math
import os
import re
from typing import Any

from absl import logging
import keras
import tensorflow as tf

from revisiting_ssl import utils
from revisiting_ssl.probes import module_features as mf
from revisiting_ssl.self_supervision import self_supervision_lib as lib

EVAL_MODELS = ('linear', 'mlp')
RESULTS_CSV = 'linear_eval_results.csv'


# -- Heads ------------------------------------------------------------------


def _layer_name(end_point: str) -> str:
  return re.sub(r'[^A-Za-z0-9_]', '_', end_point)


class Heads(keras.Model):
  """One classifier per end point, applied to a dict of features."""

  def __init__(self, end_points: Sequence[str], num_classes: int, *,
               eval_model: str, channels_hidden: int, weight_decay: float,
               name: str = 'linear_eval_heads'):
    """Creates the layers (their variables appear on the first call).

    Args:
      end_points: the end-point names, one head each.
      num_classes: classes of the data set.
      eval_model: `linear` or `mlp`.
      channels_hidden: hidden width of `mlp`.
      weight_decay: L2 strength; the penalty is 0.5 * wd * sum(w^2) over
        kernels, as the original's.
      name: the model's name.
    """
    super().__init__(name=name)
    self.end_point_names = tuple(end_points)
    self.weight_decay = weight_decay
    # Keras' L2 has no factor 0.5.
    regularizer = (keras.regularizers.L2(weight_decay / 2)
                   if weight_decay else None)
    self.head_layers = []
    for end_point in self.end_point_names:
      layer_name = _layer_name(end_point)
      layers = []
      if eval_model == 'mlp':
        layers.append(keras.layers.Dense(
            channels_hidden, activation='relu',
            kernel_initializer='glorot_uniform',
            kernel_regularizer=regularizer, name=f'{layer_name}_hidden'))
        layers.append(keras.layers.Dropout(0.5, name=f'{layer_name}_dropout'))
      layers.append(keras.layers.Dense(
          num_classes, kernel_initializer='glorot_uniform',
          kernel_regularizer=regularizer, name=f'{layer_name}_logits'))
      self.head_layers.append(layers)

  def call(self, features, training=False):
    """Logits `[N, num_classes]` of every head, keyed by end point."""
    logits = {}
    for end_point, layers in zip(self.end_point_names, self.head_layers):
      x = features[end_point]
      x = tf.reshape(x, [-1, math.prod(x.shape[1:])])
      for layer in layers:
        x = layer(x, training=training)
      logits[end_point] = tf.cast(x, tf.float32)
    return logits

  @property
  def has_closed_form(self) -> bool:
    """Whether `closed_form_step` applies: one float32 dense layer a head."""
    return all(len(layers) == 1 and layers[0].compute_dtype == 'float32'
               for layers in self.head_layers)

  def closed_form_step(self, features: Mapping[str, tf.Tensor],
                       labels: tf.Tensor
                       ) -> tuple[tf.Tensor, list[tf.Tensor], list[Any]]:
    """Loss and gradients of linear heads, without a gradient tape.

    For logits z = x K + b and the mean cross-entropy over B examples, the
    gradients are dK = x^T (softmax(z) - onehot(y)) / B and db = the column
    sums of the same, plus wd * K from the penalty 0.5 * wd * |K|^2: the
    tape's results, up to summation order. The kernel's gradient is
    computed as (d^T x)^T, which reads x in its stored order; the tape's
    x^T d takes twice as long on CPU, and these products dominate the step.

    Args:
      features: end point -> `[B, D]` flat features of the batch.
      labels: `[B]` int32 labels.

    Returns:
      (summed mean cross-entropy of the heads, gradients, their variables).

    Raises:
      ValueError: for MLP heads or mixed precision (`has_closed_form`).
    """
    if not self.has_closed_form:
      raise ValueError('closed_form_step needs linear float32 heads.')
    batch = tf.cast(tf.shape(labels)[0], tf.float32)
    losses, grads, variables = [], [], []
    for end_point, (layer,) in zip(self.end_point_names, self.head_layers):
      x = features[end_point]
      kernel, bias = layer.kernel, layer.bias
      logits = tf.matmul(x, kernel) + bias
      loss, dlogits = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(
          features=logits, labels=labels)
      dlogits /= batch
      dkernel = tf.transpose(tf.matmul(dlogits, x, transpose_a=True))
      if self.weight_decay:
        dkernel += self.weight_decay * tf.convert_to_tensor(kernel)
      losses.append(tf.reduce_mean(loss))
      grads += [dkernel, tf.reduce_sum(dlogits, axis=0)]
      variables += [kernel, bias]
    return tf.add_n(losses), grads, variables


# -- The task ---------------------------------------------------------------


@lib.register('linear_eval')
class LinearEvalTask(lib.Task):
  """Linear (or MLP) classifiers on every end point of a frozen module."""

  input_streams = ('sup',)

  def __init__(self, *, num_classes: int, hub_module: str | None = None,
               signature: str = 'representation',
               eval_model: str = 'linear', channels_hidden: int = 1000,
               pool_mode: str = 'adaptive_max',
               adaptive_pooling: str = 'fractional',
               combine_patches: str = 'avg_pool',
               weight_decay: float = 0.0,
               knn_end_points: str = 'pre_logits',
               knn_k: int = 20, knn_temperature: float = 0.07,
               cached_augment_passes: int = 0):
    """Loads the module and checks the options.

    The heads are created by `initialize`, once the shape of the input is
    known; it also checks that the module accepts that shape.

    Args:
      hub_module: the module directory (`--hub_module`).
      num_classes: classes of the data set.
      signature: the module's signature to probe (`--signature`).
      eval_model: `linear` or `mlp` (`--eval_model`).
      channels_hidden: hidden width of `mlp` (`--channels_hidden`).
      pool_mode: one of `utils.POOL_MODES` (`--pool_mode`).
      adaptive_pooling: the adaptive modes' regions, one of
        `utils.ADAPTIVE_POOLINGS` (`--adaptive_pooling`); the entry point
        makes it `even` under XLA, which cannot compile `fractional`.
      combine_patches: one of `module_features.COMBINE_MODES`
        (`--combine_patches`).
      weight_decay: L2 strength of the heads (not the networks' default).
      knn_end_points: cached mode: comma-separated end points evaluated by
        k-nearest neighbours, `all`, or empty for none.
      knn_k: cached mode: neighbours per vote.
      knn_temperature: cached mode: vote weight exp(similarity / this).
      cached_augment_passes: cached mode: passes over the training split
        with the training preprocessing, on top of the one pass with the
        evaluation preprocessing.

    Raises:
      utils.UsageError: for invalid options or an unusable module.
    """
    super().__init__()
    for value, valid, flag in ((eval_model, EVAL_MODELS, 'eval_model'),
                               (pool_mode, utils.POOL_MODES, 'pool_mode'),
                               (adaptive_pooling, utils.ADAPTIVE_POOLINGS,
                                'adaptive_pooling'),
                               (combine_patches, mf.COMBINE_MODES,
                                'combine_patches')):
      if value not in valid:
        raise utils.UsageError(
            f'Unknown value {value!r} for --{flag}. Valid choices: '
            f'{", ".join(valid)}.')
    if eval_model == 'mlp' and not (channels_hidden and channels_hidden > 0):
      raise utils.UsageError(f'--channels_hidden must be positive for '
                             f'--eval_model mlp, got {channels_hidden}.')
    if weight_decay < 0:
      raise utils.UsageError(f'--weight_decay must not be negative, got '
                             f'{weight_decay:g}.')
    if knn_k < 1:
      raise utils.UsageError(f'--knn_k must be at least 1, got {knn_k}.')
    if not knn_temperature > 0:
      raise utils.UsageError(f'--knn_temperature must be positive, got '
                             f'{knn_temperature:g}.')
    if cached_augment_passes < 0:
      raise utils.UsageError(f'--cached_augment_passes must not be '
                             f'negative, got {cached_augment_passes}.')
    self.num_classes = num_classes
    self.eval_model = eval_model
    self.channels_hidden = channels_hidden
    self.pool_mode = pool_mode
    self.adaptive_pooling = adaptive_pooling
    self.combine_mode = combine_patches
    self.weight_decay = weight_decay
    self.knn_end_points = knn_end_points
    self.knn_k = knn_k
    self.knn_temperature = knn_temperature
    self.cached_augment_passes = cached_augment_passes
    self.module = mf.FrozenModule(hub_module, signature)
    self.heads: Heads | None = None
    self.input_shape: list[int] | None = None
    self._end_point_shapes: dict[str, list[int | None]] = {}

  @property
  def hub_module(self) -> str:
    """The module's directory."""
    return self.module.path

  # -- Building --------------------------------------------------------------

  def check_input_shape(self, example_shape: Sequence[int]) -> None:
    """Checks that the module takes examples (or patches) of this shape.

    Args:
      example_shape: one preprocessed example, `[H, W, C]` for images or
        `[P, H, W, C]` for patches.

    Raises:
      utils.UsageError: if the example is neither an image nor patches, or
        the module's input spec does not accept its image shape.
    """
    example_shape = list(example_shape)
    if len(example_shape) not in (3, 4):
      raise utils.UsageError(
          f'linear_eval takes images [H, W, C] or patches [P, H, W, C] per '
          f'example, but --preprocessing produces '
          f'{mf.format_shape(example_shape)}.')
    image_shape = example_shape[-3:]
    what = 'patches' if len(example_shape) == 4 else 'images'
    spec = self.module.input_spec.shape
    accepted = spec.rank == 4 and all(
        m is None or m == d for m, d in zip(spec.as_list()[1:], image_shape))
    if not accepted:
      raise utils.UsageError(
          f'The hub module {self.hub_module} (--hub_module) takes images of '
          f'shape {mf.format_shape(spec)} in its {self.module.signature!r} '
          f'signature, but --preprocessing produces {what} of shape '
          f'{mf.format_shape(image_shape)}.')

  def initialize(self, batch: Mapping[str, tf.Tensor]) -> None:
    """Checks the input against the module and creates the heads."""
    images = batch['image']
    example_shape = images.shape.as_list()[1:]
    self.check_input_shape(example_shape)
    self.input_shape = example_shape
    # One eager call learns the end points' shapes, which stay static in the
    # traced steps even when the module's own spec leaves H and W unknown.
    probe = utils.in_one_replica(
        self.module, tf.zeros([1] + example_shape[-3:], tf.float32))
    self._end_point_shapes = {k: v.shape.as_list()[1:]
                              for k, v in probe.items()}
    pooled = utils.in_one_replica(
        self.features, tf.zeros([1] + example_shape, tf.float32))
    logging.info('Linear evaluation of %s (%s) on %s, %s pooling%s: %s',
                 self.hub_module, self.module.signature,
                 mf.format_shape(example_shape), self.pool_mode,
                 f' ({self.adaptive_pooling} regions)'
                 if self.pool_mode.startswith('adaptive') else '',
                 ', '.join(f'{k} {mf.format_shape(self._end_point_shapes[k])} '
                           f'-> {mf.format_shape(v.shape[1:])}'
                           for k, v in pooled.items()))
    if self.heads is None:
      self.heads = Heads(sorted(pooled), self.num_classes,
                         eval_model=self.eval_model,
                         channels_hidden=self.channels_hidden,
                         weight_decay=self.weight_decay)
    self.heads(pooled, training=False)

  def checkpoint_items(self) -> dict[str, tf.Module]:
    """The heads, and the frozen module so checkpoints are complete."""
    if self.heads is None:
      raise RuntimeError('initialize() creates the heads first.')
    return {'module': self.module, 'heads': self.heads}

  @property
  def trainable_variables(self) -> list[tf.Variable]:
    """The heads' variables only: the module stays frozen."""
    return list(self.heads.trainable_variables) if self.heads else []

  @property
  def end_points(self) -> list[str]:
    """The probed end points, sorted."""
    return sorted(self._end_point_shapes)

  @property
  def default_end_point(self) -> str:
    """The end point whose head the export's `default` output returns."""
    names = self.end_points
    return 'pre_logits' if 'pre_logits' in names else names[-1]

  # -- Features --------------------------------------------------------------

  def _representation(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
    outputs = self.module(images)
    if self._end_point_shapes:
      outputs = {k: tf.ensure_shape(v, [None] + self._end_point_shapes[k])
                 for k, v in outputs.items()}
    return outputs

  def features(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
    """Pooled (and, for patches, combined) features of every end point.

    Args:
      images: `[N, H, W, C]` images or `[N, P, H, W, C]` patches.

    Returns:
      End point -> `[N, h, w, c]`, in sorted key order.
    """
    if images.shape.rank == 5:
      num_patches = images.shape[1]
      reps = self._representation(utils.flatten_leading(images, 2))
      pooled = mf.pool_end_points(reps, self.pool_mode,
                                  regions=self.adaptive_pooling)
      return mf.combine_patches(pooled, num_patches, self.combine_mode)
    if images.shape.rank != 4:
      raise utils.UsageError(
          f'linear_eval takes images [N, H, W, C] or patches '
          f'[N, P, H, W, C], got shape {images.shape}.')
    return mf.pool_end_points(self._representation(images), self.pool_mode,
                              regions=self.adaptive_pooling)

  # -- Per step --------------------------------------------------------------

  def head_outputs(self, features: Mapping[str, tf.Tensor],
                   labels: tf.Tensor, mask: tf.Tensor,
                   training: bool) -> lib.TaskOutput:
    """Loss and metrics of the heads on precomputed features."""
    logits = self.heads(dict(features), training=training)
    losses = []
    metrics = {}
    for end_point in self.heads.end_point_names:
      losses.append(lib.masked_mean(
          lib.softmax_cross_entropy(logits[end_point], labels), mask))
      metrics.update(lib.classification_metrics(
          logits[end_point], labels, mask, end_point))
    return lib.TaskOutput(loss=tf.add_n(losses), metrics=metrics)

  def compute(self, batch: Mapping[str, tf.Tensor],
              training: bool) -> lib.TaskOutput:
    """Sum of the heads' losses and their metrics on one batch."""
    features = self.features(batch['image'])
    return self.head_outputs(features, batch['label'], batch['mask'],
                             training)

  def serve(self, images: tf.Tensor, training: bool = False):
    """Export: the default head's logits, and every head's logits."""
    # The export's input spec comes from --serving_input_shape, which is
    # usually less specific than what was evaluated; reshaping restores the
    # static shapes that pooling and the heads need.
    images = tf.reshape(images, [-1] + self.input_shape)
    logits = self.heads(self.features(images), training=training)
    return (logits[self.default_end_point],
            {f'logits_{k}': v for k, v in logits.items()})

  def report(self, metrics: Mapping[str, float], *, split: str, step: int,
             workdir: str) -> None:
    """Writes `linear_eval_results.csv` and logs the best end point."""
    write_results(workdir, metrics, split=split, step=step)


# -- Results ----------------------------------------------------------------

_RESULT_FIELDS = ('end_point', 'split', 'step', 'top1_accuracy',
                  'top5_accuracy', 'knn_top1_accuracy', 'knn_top5_accuracy')


def write_results(workdir: str, metrics: Mapping[str, float], *, split: str,
                  step: int) -> tuple[str, float] | None:
  """Updates `<workdir>/linear_eval_results.csv` and logs the best head.

  The table keeps one row per end point and split (the latest evaluation;
  `eval_results.csv` keeps the history). kNN columns are filled when the
  metrics have them (cached mode).

  Args:
    workdir: the evaluation's working directory.
    metrics: evaluation metrics, with `top1_accuracy_<end point>` etc.
    split: the evaluated split.
    step: the step of the evaluated heads.

  Returns:
    (best end point, its top-1 accuracy), or None without end points.
  """
  prefix = 'top1_accuracy_'
  end_points = sorted(k[len(prefix):] for k in metrics
                      if k.startswith(prefix))
  if not end_points:
    return None
  rows = []
  path = os.path.join(workdir, RESULTS_CSV)
  if tf.io.gfile.exists(path):
    with tf.io.gfile.GFile(path) as f:
      rows = [r for r in csv.DictReader(f)
              if not (r.get('split') == split and
                      r.get('end_point') in end_points)]
  for end_point in end_points:
    row = {'end_point': end_point, 'split': split, 'step': step}
    for field in _RESULT_FIELDS[3:]:
      value = metrics.get(f'{field}_{end_point}')
      row[field] = '' if value is None else f'{value:.6f}'
    rows.append(row)
  rows.sort(key=lambda r: (r['split'], r['end_point']))
  tf.io.gfile.makedirs(workdir)
  tmp = path + '.tmp'
  with tf.io.gfile.GFile(tmp, 'w') as f:
    writer = csv.DictWriter(f, fieldnames=list(_RESULT_FIELDS),
                            extrasaction='ignore')
    writer.writeheader()
    writer.writerows(rows)
  tf.io.gfile.rename(tmp, path, overwrite=True)
  lines = []
  for end_point in end_points:
    line = (f'  {end_point:<12} top-1 {metrics[prefix + end_point]:.4f}  '
            f'top-5 {metrics["top5_accuracy_" + end_point]:.4f}')
    knn = metrics.get(f'knn_top1_accuracy_{end_point}')
    if knn is not None:
      line += f'  kNN top-1 {knn:.4f}'
    lines.append(line)
  best = max(end_points, key=lambda k: metrics[prefix + k])
  summary = (f'Linear evaluation on {split} (step {step}):\n' +
             '\n'.join(lines) +
             f'\nBest end point: {best} (top-1 '
             f'{metrics[prefix + best]:.4f}). Results: {path}')
  # The table goes to stdout, where it is read; the log gets one line.
  print(summary, flush=True)
  logging.info('Best end point on %s (step %d): %s, top-1 %.4f.', split,
               step, best, metrics[prefix + best])
  return best, metrics[prefix + best]


def parse_knn_end_points(value: str, end_points: Sequence[str]) -> list[str]:
  """The end points named by `--knn_end_points` (`all`, a list or empty).

  Raises:
    utils.UsageError: for a name that is not an end point of the module.
  """
  value = (value or '').strip()
  if not value:
    return []
  if value == 'all':
    return list(end_points)
  names = [n.strip() for n in value.split(',') if n.strip()]
  unknown = [n for n in names if n not in end_points]
  if unknown:
    raise utils.UsageError(
        f'--knn_end_points names {", ".join(unknown)}, which the module '
        f'does not have. Its end points: {", ".join(end_points)} (or all).')
  return names


def options_summary(task: LinearEvalTask) -> dict[str, Any]:
  """What determines the features, for cache keys and logs."""
  return {
      'hub_module': os.path.abspath(task.hub_module)
                    if '://' not in task.hub_module else task.hub_module,
      'signature': task.module.signature,
      'pool_mode': task.pool_mode,
      'adaptive_pooling': task.adaptive_pooling,
      'combine_patches': task.combine_mode,
      'input_shape': task.input_shape,
  }
