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

"""What S4L's tasks share: one trunk over both streams, named linear heads.

S4L trains one network on the unlabelled stream (`unsup`,
every image of the split) and the labelled stream (`sup`, the labelled
subset) at once. Both go through the trunk in one call, concatenated along
the batch (unlabelled first), so batch norm sees their statistics together.
On the trunk's pre-logits sit linear heads with bias and the trunk's weight
decay, one per output (`classes`, `rotations`, `embeddings`). Every end
point is also available split by stream: `<name>_unsup`, `<name>_sup`.

The hub module (`serve`) runs the trunk on the unlabelled input alone, as
S4L's did: `default` is the `classes` logits, and `representation` holds
every end point twice, plain and with the suffix `_unsup`, with
`pre_logits` `[N, 1, 1, C]` (downstream tools, such as the
pseudo-label generator, read these names).
"""

from collections.abc import Mapping

import keras
import tensorflow as tf

from revisiting_ssl import models, utils
from revisiting_ssl.models import layers as net_layers
from revisiting_ssl.models import virtual_replicas
from revisiting_ssl.self_supervision import self_supervision_lib as lib

UNSUP = 'unsup'
SUP = 'sup'
CLASSES = 'classes'


class LinearHeads(keras.layers.Layer):
  """Named dense layers on the pre-logits: S4L's `outputs` heads."""

  def __init__(self, sizes: Mapping[str, int], weight_decay: float,
               name: str = 'heads'):
    """Creates one dense layer (with bias, L2 `weight_decay`) per name."""
    super().__init__(name=name)
    self.names = tuple(sizes)
    regularizer = net_layers.l2_regularizer(weight_decay)
    for head, width in sizes.items():
      setattr(self, f'head_{head}', keras.layers.Dense(
          width, kernel_regularizer=regularizer, name=head))

  def build(self, input_shape):
    for head in self.names:
      getattr(self, f'head_{head}').build(input_shape)

  def call(self, pre_logits):
    """Head name -> float32 logits `[N, width]`."""
    return {head: tf.cast(getattr(self, f'head_{head}')(pre_logits),
                          tf.float32) for head in self.names}


class S4LTask(lib.Task):
  """The base of S4L's semi-supervised tasks (two streams, named heads)."""

  input_streams = (UNSUP, SUP)

  def __init__(self, *, num_classes: int, heads: Mapping[str, int],
               network: models.Network | None = None):
    """Builds the trunk without a classifier and the heads.

    Args:
      num_classes: classes of the data set (the `classes` head).
      heads: further head names and widths (`rotations`: 4, ...).
      network: the trunk's architecture and options (`models.Network`);
        its weight decay (or the network's default) also regularises the
        heads.
    """
    super().__init__(network=network)
    self.num_classes = num_classes
    self.net = self.build_net(None)
    self.heads = LinearHeads({CLASSES: num_classes, **heads},
                             self.network.option('weight_decay'))

  def checkpoint_items(self) -> dict[str, tf.Module]:
    """The trunk and the heads."""
    return {'net': self.net, 'heads': self.heads}

  def apply(self, unsup: tf.Tensor | None, sup: tf.Tensor | None,
            training: bool) -> dict[str, tf.Tensor]:
    """End points of the trunk and heads on one or both image batches.

    Args:
      unsup: `[Nu, H, W, C]` unlabelled images, or None.
      sup: `[Ns, H, W, C]` labelled images, or None.
      training: training mode (batch statistics over both batches).

    Returns:
      The trunk's end points and the heads' logits, each also as
      `<name>_unsup` and `<name>_sup` (one of them alone when only one
      batch is given).
    """
    parts = [(UNSUP, unsup), (SUP, sup)]
    parts = [(name, x) for name, x in parts if x is not None]
    if not parts:
      raise ValueError('apply needs unlabelled or labelled images.')
    # Each virtual replica's group holds its share of both batches, as a
    # replica's concatenation did.
    images = virtual_replicas.interleave([x for _, x in parts])
    _, end_points = self.net(images, training=training)
    pre_logits = tf.reshape(end_points['pre_logits'],
                            [-1, end_points['pre_logits'].shape[-1]])
    end_points = dict(end_points)
    end_points['pre_logits'] = pre_logits[:, tf.newaxis, tf.newaxis, :]
    end_points.update(self.heads(pre_logits))
    sizes = [tf.shape(x)[0] for _, x in parts]
    for name, value in list(end_points.items()):
      pieces = virtual_replicas.deinterleave(value, sizes)
      for (stream, _), piece in zip(parts, pieces):
        end_points[f'{name}_{stream}'] = piece
    return end_points

  def serve(self, images: tf.Tensor, training: bool = False):
    """The module: (`classes` logits, every end point and its `_unsup`)."""
    end_points = self.apply(images, None, training)
    return end_points[CLASSES], end_points


def fold_views(images: tf.Tensor, what: str, task: str,
               views: int | None = None) -> tuple[tf.Tensor, int]:
  """`[B, V, H, W, C]` views folded into the batch, image-major.

  Args:
    images: the stream's images; `[B, H, W, C]` counts as one view.
    what: names the stream in errors.
    task: names the task in errors.
    views: the number of views required, if fixed.

  Returns:
    (`[B * V, H, W, C]`, V).

  Raises:
    utils.UsageError: for another shape.
  """
  if images.shape.rank == 4:
    images = images[:, tf.newaxis]
  if images.shape.rank != 5 or (views and images.shape[1] != views):
    needed = f'{views} views per image' if views else 'images or views'
    raise utils.UsageError(
        f'--task {task} needs {needed} in its {what} stream; got images of '
        f'shape {images.shape}. Check the stream\'s --preprocessing.')
  return utils.flatten_leading(images), images.shape[1]


def masked_cross_entropy(logits: tf.Tensor, labels: tf.Tensor,
                         mask: tf.Tensor) -> tf.Tensor:
  """The masked mean softmax cross-entropy."""
  return lib.masked_mean(
      lib.softmax_cross_entropy(logits, tf.reshape(labels, [-1])),
      tf.reshape(mask, [-1]))
