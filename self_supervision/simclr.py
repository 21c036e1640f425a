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

"""SimCLR (Chen et al., 2020): agreement between two views of an image.

Every image arrives as two augmented views `[B, 2, H, W, C]` (`views(2)`
and SimCLR's ops in `--preprocessing`, `preprocess_ops/contrastive.py`).
The trunk f gives each view's pre-logits h, a projection head g (an MLP
of `--proj_head_layers` layers) maps h to z, and the NT-Xent loss asks
every view's z to pick out its partner among all 2M views of the *global*
batch (M images over all replicas): with s(u, v) the cosine similarity and
tau the temperature, anchor i with partner p(i) costs

    l_i = -log( exp(s(z_i, z_p(i)) / tau) /
                sum_{k != i} exp(s(z_i, z_k) / tau) ).

The loss is the sum of l_i over the anchors divided by the number of
images (the original code's sum of its two directions, each a mean): twice
the paper's mean over the 2M anchors. Each replica takes its own views as
anchors and gathers every replica's z as candidates (`all_gather`, through
which gradients flow), as the original on TPU cores.

Batch norm is cross-replica (global) unless the run sets
`--nosync_batch_norm`. With `--virtual_replicas G` the candidates are still
the whole global batch, so the loss is the original's on G cores; what G
changes is unsynchronised batch norm, whose statistics are then per group,
as per core in the original with global batch norm off.

The hub module's `representation` holds the trunk's end points and the
head's: `proj_head_0` (the pre-logits, the head's input) to `proj_head_L`
(z, also the `default` output), each `[N, width]`; the linear evaluation
can probe any of them.
"""

from collections.abc import Mapping

import keras
import tensorflow as tf

from revisiting_ssl import models, utils
from revisiting_ssl.models import layers as net_layers
from revisiting_ssl.self_supervision import self_supervision_lib as lib

NUM_VIEWS = 2
# Added to the logits that must not count (a view against itself, padding).
_EXCLUDED = 1e9
HEAD_END_POINT = 'proj_head_{}'


def nt_xent(z_a: tf.Tensor, z_b: tf.Tensor, temperature: float,
            mask: tf.Tensor | None = None
            ) -> tuple[tf.Tensor, dict[str, tuple[tf.Tensor, tf.Tensor]]]:
  """SimCLR's NT-Xent loss on this replica's pairs, global negatives.

  Args:
    z_a: `[N, D]` projections of the first views of this replica's images.
    z_b: `[N, D]` those of the second views (row i: image i's partner).
    temperature: tau > 0.
    mask: optional `[N]`, 0 for padded images, which are neither anchors
      nor candidates.

  Returns:
    (loss, metrics): the sum of l_i over this replica's real anchors divided
    by its real images; `contrast_accuracy`, the (sum, count) of anchors
    whose most similar candidate is their partner.
  """
  z_a = tf.math.l2_normalize(tf.cast(z_a, tf.float32), axis=-1)
  z_b = tf.math.l2_normalize(tf.cast(z_b, tf.float32), axis=-1)
  n = tf.shape(z_a)[0]
  mask = tf.ones([n]) if mask is None else tf.cast(mask, tf.float32)
  context = tf.distribute.get_replica_context()
  if context is not None and context.num_replicas_in_sync > 1:
    all_a = context.all_gather(z_a, axis=0)
    all_b = context.all_gather(z_b, axis=0)
    all_mask = context.all_gather(mask, axis=0)
    first = context.replica_id_in_sync_group * n
  else:
    all_a, all_b, all_mask, first = z_a, z_b, mask, 0
  total = tf.shape(all_a)[0]
  # Candidates: every first view, then every second view.
  candidates = tf.concat([all_a, all_b], axis=0)
  anchors = tf.concat([z_a, z_b], axis=0)
  logits = tf.matmul(anchors, candidates, transpose_b=True) / temperature
  rows = first + tf.range(n)
  itself = tf.concat([rows, total + rows], axis=0)
  partner = tf.concat([total + rows, rows], axis=0)
  excluded = tf.one_hot(itself, 2 * total)
  excluded += 1.0 - tf.concat([all_mask, all_mask], axis=0)[tf.newaxis]
  logits -= _EXCLUDED * tf.minimum(excluded, 1.0)
  losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=partner, logits=logits)
  anchor_mask = tf.concat([mask, mask], axis=0)
  loss = tf.math.divide_no_nan(tf.reduce_sum(losses * anchor_mask),
                               tf.reduce_sum(mask))
  hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), partner)
  return loss, {'contrast_accuracy': lib.sum_and_count(hits, anchor_mask)}


class ProjectionHead(keras.layers.Layer):
  """SimCLR's projection head g: dense layers with batch norm.

  Each layer is a bias-free dense layer (decayed kernel) and batch norm;
  all but the last end with an offset and a ReLU, the last has neither, as
  SimCLR's. Hidden layers are `width` wide (the input's width if None),
  the last `out_dim`. Fine-tuning keeps only the first layers (`keep`),
  built as in the whole head, under the same names.
  """

  def __init__(self, num_layers: int, width: int | None, out_dim: int, *,
               weight_decay: float, synchronized: bool,
               keep: int | None = None, name: str = 'projection_head'):
    """Creates the batch norms (the dense layers appear in `build`)."""
    super().__init__(name=name)
    self.num_layers = num_layers
    self.kept = num_layers if keep is None else keep
    self.width = width
    self.out_dim = out_dim
    self.weight_decay = weight_decay
    for j in range(self.kept):
      setattr(self, f'norm_{j}', net_layers.FusedBatchNorm(
          momentum=net_layers.BN_MOMENTUM, epsilon=net_layers.BN_EPSILON,
          center=not self._last(j), scale=True, synchronized=synchronized,
          name=f'bn_{j}'))

  def _last(self, j: int) -> bool:
    return j == self.num_layers - 1

  def build(self, input_shape):
    """Creates the dense layers for inputs of `input_shape[-1]` channels."""
    width = input_shape[-1]
    hidden = self.width or width
    for j in range(self.kept):
      units = self.out_dim if self._last(j) else hidden
      dense = keras.layers.Dense(
          units, use_bias=False,
          kernel_regularizer=net_layers.l2_regularizer(self.weight_decay),
          name=f'dense_{j}')
      setattr(self, f'dense_{j}', dense)
      dense.build((None, width))
      getattr(self, f'norm_{j}').build((None, units))
      width = units

  def call(self, x, training=False):
    """The head's input and each kept layer's output `[x, h_1, ...]`."""
    outputs = [x]
    for j in range(self.kept):
      x = getattr(self, f'dense_{j}')(x)
      x = getattr(self, f'norm_{j}')(x, training=training)
      if not self._last(j):
        x = tf.nn.relu(x)
      outputs.append(x)
    return outputs


def check_head_options(proj_head_layers: int, proj_head_width: int | None,
                       proj_out_dim: int) -> None:
  """Raises utils.UsageError for a head that cannot be built."""
  for flag, value, minimum in (('proj_head_layers', proj_head_layers, 0),
                               ('proj_out_dim', proj_out_dim, 1)):
    if isinstance(value, bool) or not isinstance(value, int) or (
        value < minimum):
      raise utils.UsageError(
          f'--{flag} must be an integer >= {minimum}, got {value!r}.')
  if proj_head_width is not None and (
      isinstance(proj_head_width, bool) or proj_head_width < 1):
    raise utils.UsageError(
        f'--proj_head_width must be a positive integer, got '
        f'{proj_head_width!r}.')


def global_batch_norm(network: models.Network | None
                      ) -> models.Network | None:
  """The network with cross-replica batch norm unless the user chose."""
  if network is None or 'sync_batch_norm' in network.options or (
      not network.supports('sync_batch_norm')):
    return network
  return network.with_options(sync_batch_norm=True)


def trunk_and_head(task: lib.Task, images: tf.Tensor, training: bool,
                   layers: int | None = None) -> dict[str, tf.Tensor]:
  """The trunk's end points and `proj_head_j` (float32 `[N, C]`) on images.

  Args:
    task: a task with `net` and `head` (a `ProjectionHead`).
    images: `[N, H, W, C]`.
    training: training mode.
    layers: how many of the head's layers to add (None: all).
  """
  _, end_points = task.net(images, training=training)
  end_points = dict(end_points)
  pre_logits = end_points['pre_logits']
  pre_logits = tf.reshape(pre_logits, [-1, pre_logits.shape[-1]])
  outputs = task.head(pre_logits, training=training)
  for j, x in enumerate(outputs[:None if layers is None else layers + 1]):
    end_points[HEAD_END_POINT.format(j)] = tf.cast(x, tf.float32)
  return end_points


@lib.register('simclr')
class SimCLRTask(lib.Task):
  """Contrastive learning of two views with the NT-Xent loss."""

  # The views only move (flatten_leading) before the trunk.
  host_cast = True

  def __init__(self, *, temperature: float = 0.1, proj_head_layers: int = 2,
               proj_head_width: int | None = None, proj_out_dim: int = 128,
               network: models.Network | None = None):
    """Builds the trunk and the projection head.

    Args:
      temperature: tau of the NT-Xent loss (0.1 for ImageNet, 0.5 for
        CIFAR-10 in the paper).
      proj_head_layers: layers of the projection head (2 in SimCLR, 3 in
        SimCLRv2; 0: the loss on the pre-logits).
      proj_head_width: width of its hidden layers (default: that of the
        pre-logits).
      proj_out_dim: width of its output z.
      network: the trunk's architecture and options (`models.Network`);
        its batch norm is cross-replica unless --sync_batch_norm is set.

    Raises:
      utils.UsageError: for a temperature that is not positive or a head
        that cannot be built.
    """
    super().__init__(network=global_batch_norm(network))
    if not temperature > 0:
      raise utils.UsageError(
          f'--temperature must be positive, got {temperature:g}.')
    check_head_options(proj_head_layers, proj_head_width, proj_out_dim)
    self.temperature = float(temperature)
    self.net = self.build_net(None)
    self.head = ProjectionHead(
        proj_head_layers, proj_head_width, proj_out_dim,
        weight_decay=self.network.option('weight_decay'),
        synchronized=bool(self.network.option('sync_batch_norm')))

  def checkpoint_items(self) -> dict[str, tf.Module]:
    """The trunk and the projection head."""
    return {'net': self.net, 'projection': self.head}

  def compute(self, batch: Mapping[str, tf.Tensor],
              training: bool) -> lib.TaskOutput:
    """The NT-Xent loss over the global batch; `contrast_accuracy`."""
    images = batch['image']
    if images.shape.rank != 5 or images.shape[1] != NUM_VIEWS:
      raise utils.UsageError(
          f'--task simclr needs {NUM_VIEWS} views of every image ([B, 2, H, '
          f'W, C]): start --preprocessing with 0_to_1|views(2) and end it '
          f'with SimCLR\'s augmentation; got images of shape '
          f'{images.shape}.')
    # Image-major, so that batch-norm groups hold whole images.
    end_points = trunk_and_head(self, utils.flatten_leading(images),
                                training)
    z = end_points[HEAD_END_POINT.format(self.head.num_layers)]
    z = tf.reshape(z, [-1, NUM_VIEWS, z.shape[-1]])
    loss, metrics = nt_xent(z[:, 0], z[:, 1], self.temperature,
                            batch['mask'])
    return lib.TaskOutput(loss=loss, metrics=metrics)

  def serve(self, images: tf.Tensor, training: bool = False):
    """(z `[N, proj_out_dim]`, the trunk's and the head's end points)."""
    end_points = trunk_and_head(self, images, training)
    return end_points[HEAD_END_POINT.format(self.head.num_layers)], end_points
