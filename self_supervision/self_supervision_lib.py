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

"""The task contract and the task registry.

A task owns *what is learned*: the on-device part of its input processing, the
network and heads it builds, its loss and its metrics, and what its hub module
exports. The trainer (`trainer.py`) owns *how*: distribution, the optimiser,
the loop, checkpoints, summaries and the export call. This replaces the
original's per-task `model_fn` for TPUEstimator.

Batches are dicts of tensors as produced by `datasets.py` (for tasks with
several input streams, a dict of such dicts by stream name):
  * `image`: the preprocessed images of the per-replica batch;
  * `label`: int32 labels (class labels, or per-image task labels that a
    preprocessing op set, e.g. `rotate`);
  * `mask`: float32 `[B]`, 1 for real examples and 0 for the padding that
    makes evaluation see every example of a split exactly once. Training
    batches carry ones.

What a task computes per replica. The trainer calls `compute` once per
replica on that replica's batch. With `--virtual_replicas G` it does so
inside `models.virtual_replicas.scope(G)`, and the batch then holds the G
groups that G TPU cores would have received: every computation the
original made per core (batch-norm statistics, normalisation along the
batch, a loss over the batch such as the triplet loss, a per-replica random
draw such as jigsaw's permutation subset) must run per group
(`virtual_replicas.split`, `mean_over_groups`, `ids`; the networks' batch
norm does so itself), and streams concatenated into one trunk pass must be
interleaved group by group (`interleave`). A pass whose batch statistics
must not move the moving averages (VAT's perturbed pass) runs inside
`models.layers.frozen_moving_statistics()`.

Options. A task's options are the keyword arguments of its constructor that
have defaults, each described in its docstring's `Args:`; they become flags
(`run_options`). The entry point passes `num_classes` (the data set's) and
`network` (a `models.Network`, the architecture with the user's options) to
a constructor that takes them.

Tasks are registered by name in `TASKS` when their modules are imported;
importing the package (`self_supervision/__init__.py`) imports all of them,
and a user's module registers its own with `register`.
"""

from collections.abc import Mapping, Sequence
import dataclasses
from typing import Any

import keras
import tensorflow as tf

from revisiting_ssl import models, utils

TASKS = utils.Registry('task', flag='--task')


def task_names() -> list[str]:
  """Names accepted by `--task` (every module of the package registers)."""
  return TASKS.names()


def get_task_class(name: str) -> type['Task']:
  """Returns the task class registered under `name`.

  Raises:
    utils.UsageError: for an unknown name, listing the valid ones.
  """
  return TASKS.lookup(name)


@dataclasses.dataclass
class TaskOutput:
  """What a task computes on one per-replica batch.

  Attributes:
    loss: scalar task loss, the mean over the batch's real examples, without
      the weight-decay penalty (the trainer adds `regularization_loss()`).
    metrics: name -> (sum, count) over the batch's real examples. The trainer
      adds sums and counts over replicas and steps, so evaluation metrics are
      exact means over the split.
  """
  loss: tf.Tensor
  metrics: dict[str, tuple[tf.Tensor, tf.Tensor]]


class Task:
  """Base class of every task.

  Subclasses implement `compute` and `serve`, create their Keras layers in
  `__init__` (the trainer constructs tasks inside the distribution strategy's
  scope), and list everything that holds variables in `checkpoint_items`.

  Attributes:
    device_ops: names of preprocessing ops that this task applies inside its
      step on the accelerator when they end the `--preprocessing` list
      (instead of on the host). They must give the same result on a batch as
      per example. See `device_preprocess`.
    input_streams: the streams the task reads (`training/input_streams.py`):
      `unsup` (every image of the split; the pretext tasks) and/or `sup`
      (the labelled images, restricted to a labelled subset when one is
      given). With one stream, batches are that stream's dicts; with
      several, a dict of them by stream name.
    host_cast: whether the host may emit the images in the trunk's compute
      dtype (bfloat16 under `--mixed_precision`; `Pipeline.host_fn`). True
      only when the images reach the trunk's first layer, which casts them
      to that dtype anyway, through exact value moves alone (reshapes,
      `rotate`'s reversals and transposes, gathers), so that the network
      sees the same values. Tasks that compute on the images first (VAT's
      perturbations) or feed them to a module of another policy (linear
      evaluation) keep float32.
  """

  device_ops: Sequence[str] = ()
  input_streams: Sequence[str] = ('unsup',)
  host_cast: bool = False

  def __init__(self, *, network: models.Network | None = None):
    """Stores how to build the trunk.

    Args:
      network: the architecture with the user's options, which the task
        calls to build its trunk (adding options of its own, such as the
        patch tasks' strides); None for a task without a trunk of its own
        (linear evaluation), which then takes no `network` argument.
    """
    self.network = network

  # -- Building -------------------------------------------------------------

  def build_net(self, num_classes: int | None, **overrides) -> keras.Model:
    """Builds the trunk with `num_classes` outputs and the task's overrides."""
    if self.network is None:
      raise utils.UsageError(
          f'--architecture is required for --task {self.name}. Valid '
          f'choices: {", ".join(models.net_names())}.')
    return self.network(num_classes, **overrides)

  @property
  def name(self) -> str:
    """The registered name of the task."""
    return getattr(self, '_registered_name', type(self).__name__)

  def checkpoint_items(self) -> dict[str, tf.Module]:
    """Objects holding the task's variables, saved in every checkpoint."""
    raise NotImplementedError

  def export_items(self) -> dict[str, tf.Module]:
    """Objects owning the variables of the hub module (`serve`'s weights).

    Defaults to everything in the checkpoint; tasks whose module is only a
    part of what they train (the patch tasks export the per-patch trunk
    without the FC head) narrow it.
    """
    return self.checkpoint_items()

  def initialize(self, batch: Mapping[str, tf.Tensor]) -> None:
    """Creates all variables by running the task once on `batch`.

    Called by the trainer in cross-replica context inside the strategy's scope
    with a small batch of zeros shaped like the real input (after device
    preprocessing), so that every variable exists before the first
    distributed step.
    """
    self.compute(batch, training=False)

  @property
  def trainable_variables(self) -> list[tf.Variable]:
    """All variables the optimiser updates."""
    variables = []
    for item in self.checkpoint_items().values():
      variables.extend(item.trainable_variables)
    return variables

  def regularization_loss(self) -> tf.Tensor:
    """The weight-decay penalty of the trunk and heads (0.5 * wd * sum w^2)."""
    losses = []
    for item in self.checkpoint_items().values():
      losses.extend(getattr(item, 'losses', []))
    if not losses:
      return tf.constant(0.0)
    return tf.add_n([tf.cast(x, tf.float32) for x in losses])

  # -- Per step ---------------------------------------------------------------

  def device_preprocess(self, batch: Mapping[str, tf.Tensor],
                        device_fn) -> dict[str, tf.Tensor]:
    """Applies the ops of `device_ops` that were moved off the host.

    Args:
      batch: the per-replica batch as it came from the host.
      device_fn: the composed preprocessing function of the moved ops, or
        None if nothing was moved.

    Returns:
      The batch the task computes on.
    """
    if device_fn is None:
      return dict(batch)
    return device_fn(dict(batch))

  def compute(self, batch: Mapping[str, tf.Tensor],
              training: bool) -> TaskOutput:
    """Loss and metrics on one per-replica batch."""
    raise NotImplementedError

  def serve(self, images: tf.Tensor,
            training: bool = False) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """What the hub module computes: (default output, end points)."""
    raise NotImplementedError

  def report(self, metrics: Mapping[str, float], *, split: str, step: int,
             workdir: str) -> None:
    """Called after each evaluation with its exact metrics.

    Tasks with results of their own to record (linear evaluation writes a
    table per end point) override this; the trainer has already logged the
    metrics and written them to TensorBoard and `eval_results.csv`.
    """
    del metrics, split, step, workdir

  def summary_images(self, batch: Mapping[str, Any]
                     ) -> dict[str, tf.Tensor]:
    """A few pictures of what the network sees, `[N, H, W, C]` in [0, 1].

    Args:
      batch: a per-replica batch after device preprocessing, as `compute`
        gets it.

    Returns:
      Name -> pictures (`display_images`): `input`, or one per stream by
      stream name.
    """
    if 'image' in batch:
      return {'input': display_images(batch['image'])}
    return {name: display_images(stream['image'])
            for name, stream in sorted(batch.items())}


# Task name -> the name of its semi-supervised form (S4L's configs call
# S4L-Rotation `--task rotation`, with a labelled stream).
SEMI_SUPERVISED_FORMS: dict[str, str] = {}


def register(name: str, semi_supervised_form_of: str | None = None):
  """Class decorator: registers a task under `name`.

  Args:
    name: the `--task` name.
    semi_supervised_form_of: the task this one extends with a labelled
      stream; `--task <that task>` with S4L's labelled-stream flags selects
      this one (`semi_supervised_task_name`).
  """

  def decorator(cls):
    cls._registered_name = name  # pylint: disable=protected-access
    if semi_supervised_form_of:
      SEMI_SUPERVISED_FORMS[semi_supervised_form_of] = name
    return TASKS.register(name)(cls)

  return decorator


def semi_supervised_task_name(name: str) -> str:
  """The semi-supervised form of task `name` (`name` itself if none)."""
  return SEMI_SUPERVISED_FORMS.get(name, name)


def rescale_for_display(images: tf.Tensor) -> tf.Tensor:
  """Maps images of any value range to [0, 1] per image, for TensorBoard.

  With several views per image (`[N, V, H, W, C]`) one scale serves all
  views of an image, so they stay comparable.
  """
  images = tf.cast(images, tf.float32)
  axes = list(range(1, images.shape.rank))
  low = tf.reduce_min(images, axis=axes, keepdims=True)
  high = tf.reduce_max(images, axis=axes, keepdims=True)
  return (images - low) / tf.maximum(high - low, 1e-6)


# Examples shown per summary: TensorBoard shows `--summary_images` of them.
_DISPLAYED_EXAMPLES = 4


def display_images(images: tf.Tensor) -> tf.Tensor:
  """The first few examples as pictures in [0, 1], for TensorBoard.

  Args:
    images: `[B, H, W, C]`, or `[B, V, H, W, C]` with V views of each
      example (the four rotations, the exemplar crops).

  Returns:
    `[N, H, W, C]`, or `[N, H, V * W + (V - 1) * gap, C]` with an example's
    views side by side (`view_strip`).
  """
  images = images[:_DISPLAYED_EXAMPLES]
  if images.shape.rank == 5:
    return view_strip(images)
  return rescale_for_display(images)


def view_strip(views: tf.Tensor, gap: int = 2) -> tf.Tensor:
  """Puts the views of each example side by side, in one picture.

  Args:
    views: `[N, V, H, W, C]`.
    gap: black pixels between neighbouring views.

  Returns:
    `[N, H, V * W + (V - 1) * gap, C]` in [0, 1], one scale per example
    (`rescale_for_display`); view k starts at column k * (W + gap).
  """
  views = rescale_for_display(views)
  padded = tf.pad(views, [[0, 0], [0, 0], [0, 0], [0, gap], [0, 0]])
  _, num_views, height, width, channels = tf.unstack(tf.shape(padded))
  # [N, V, H, W', C] -> [N, H, V, W', C] -> [N, H, V * W', C].
  strip = tf.transpose(padded, [0, 2, 1, 3, 4])
  strip = tf.reshape(strip, [-1, height, num_views * width, channels])
  return strip[:, :, :num_views * width - gap, :]


def masked_mean(values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
  """Mean of `values` over the entries where `mask` is 1 (0 if none)."""
  mask = tf.cast(mask, values.dtype)
  return tf.math.divide_no_nan(tf.reduce_sum(values * mask),
                               tf.reduce_sum(mask))


def sum_and_count(values: tf.Tensor,
                  mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """A metric's (sum, count) over the real examples, as `TaskOutput` wants."""
  values = tf.cast(values, tf.float32)
  mask = tf.cast(mask, tf.float32)
  return tf.reduce_sum(values * mask), tf.reduce_sum(mask)


def classification_metrics(logits: tf.Tensor, labels: tf.Tensor,
                           mask: tf.Tensor, suffix: str
                           ) -> dict[str, tuple[tf.Tensor, tf.Tensor]]:
  """`top1_accuracy_<suffix>` and `top5_accuracy_<suffix>` (TF's in_top_k)."""
  logits = tf.cast(logits, tf.float32)
  labels = tf.cast(labels, tf.int32)
  metrics = {}
  for k in (1, 5):
    k_eff = min(k, logits.shape[-1])
    hits = tf.math.in_top_k(labels, logits, k_eff)
    metrics[f'top{k}_accuracy_{suffix}'] = sum_and_count(hits, mask)
  return metrics


def cross_entropy_and_accuracy(logits: tf.Tensor, labels: tf.Tensor,
                               mask: tf.Tensor) -> TaskOutput:
  """Masked mean cross-entropy and the `accuracy` metric (argmax hits)."""
  loss = masked_mean(softmax_cross_entropy(logits, labels), mask)
  hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32),
                  tf.cast(labels, tf.int32))
  return TaskOutput(loss=loss, metrics={'accuracy': sum_and_count(hits, mask)})


def softmax_cross_entropy(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
  """Per-example sparse softmax cross-entropy, computed in float32."""
  return tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.cast(labels, tf.int32), logits=tf.cast(logits, tf.float32))
