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

"""S4L-Exemplar: crops of one image are one identity.

Both streams give every image as V augmented crops (`crop_inception_patches
(8, 224)|hsvnoise|flip_lr|-1_to_1`, `[B, V, H, W, 3]`; evaluation pipelines
give single images, one view). All crops of both streams go through the
trunk at once; the `classes` head classifies every crop of a labelled image,
and on each stream's `embeddings`, L2-normalised per vector, a batch-hard
soft-margin triplet loss (Hermans et al., 2017) pulls the crops of an image
together:

    loss = CE(classes_sup) + triplet_loss_weight * mean(enabled triplet
           terms)

Batch hard: for every anchor, the farthest embedding of its identity (not
itself) and the closest of another identity, at Euclidean distances
sqrt(max(d^2, 1e-12)); the anchor's loss is softplus(d_pos - d_neg); the
term is the mean over anchors (an anchor without a positive contributes 0,
as in the original). Identities are the images (`--triplet_labels
intended`, the default); `--triplet_labels original` reproduces the
original's swapped arguments: groups of B consecutive crops
(B / V images, the per-replica batch B) are one identity, which equals the
intended labels only for B = V.

Evaluation reports the classification loss and accuracy only, as the
original.
"""

from collections.abc import Mapping
from typing import Any

import tensorflow as tf

from revisiting_ssl import models, utils
from revisiting_ssl.models import virtual_replicas
from revisiting_ssl.self_supervision import s4l_lib
from revisiting_ssl.self_supervision import self_supervision_lib as lib

TRIPLET_LABELS = ('intended', 'original')


def triplet_identities(num_images: int, num_views: int,
                       mode: str) -> tf.Tensor:
  """The identity of each of the image-major `num_images * num_views` crops.

  `intended`: crop k of image b has identity b. `original`: the original's
  `repeat(range(num_views), num_images)`, identity j for crops
  j * num_images .. (j + 1) * num_images - 1.
  """
  if mode == 'intended':
    return tf.repeat(tf.range(num_images), num_views)
  return tf.repeat(tf.range(num_views), num_images)


def batch_hard_soft_margin(embeddings: tf.Tensor, identities: tf.Tensor,
                           weights: tf.Tensor | None = None) -> tf.Tensor:
  """The mean batch-hard soft-margin triplet loss (see the module doc).

  Args:
    embeddings: `[N, D]`.
    identities: `[N]` int.
    weights: optional `[N]`; entries with weight 0 (padding) are neither
      anchors, positives nor negatives.

  Returns:
    The scalar loss, averaged over the anchors of weight > 0.
  """
  embeddings = tf.cast(embeddings, tf.float32)
  n = tf.shape(embeddings)[0]
  valid = (tf.ones([n], tf.bool) if weights is None else
           tf.reshape(weights, [-1]) > 0)
  diff = embeddings[:, tf.newaxis, :] - embeddings[tf.newaxis, :, :]
  distances = tf.sqrt(tf.maximum(tf.reduce_sum(tf.square(diff), -1), 1e-12))
  same = tf.equal(identities[:, tf.newaxis], identities[tf.newaxis, :])
  both = valid[:, tf.newaxis] & valid[tf.newaxis, :]
  positive = same & both & ~tf.eye(n, dtype=tf.bool)
  negative = ~same & both
  has_positive = tf.reduce_any(positive, axis=1)
  hardest_positive = tf.reduce_max(
      tf.where(positive, distances, tf.zeros_like(distances)), axis=1)
  far = tf.stop_gradient(tf.reduce_max(distances)) + 1.0
  hardest_negative = tf.reduce_min(
      tf.where(negative, distances, far * tf.ones_like(distances)), axis=1)
  losses = tf.nn.softplus(hardest_positive - hardest_negative)
  # Without a positive the original's difference is -inf: softplus 0.
  losses = tf.where(has_positive, losses, tf.zeros_like(losses))
  return lib.masked_mean(losses, tf.cast(valid, tf.float32))


@lib.register('s4l_exemplar', semi_supervised_form_of='exemplar')
class S4LExemplarTask(s4l_lib.S4LTask):
  """Exemplar's triplet loss on both streams plus classification."""

  def __init__(self, *, num_classes: int, triplet_loss_sup: int = 1,
               triplet_loss_unsup: int = 1, triplet_loss_weight: float = 1.0,
               triplet_embed_dim: int = 1000,
               triplet_labels: str = 'intended',
               network: models.Network | None = None):
    """Builds the trunk and the `classes` and `embeddings` heads.

    Args:
      num_classes: classes of the data set.
      triplet_loss_sup: 1 for the triplet term on the labelled images.
      triplet_loss_unsup: 1 for the term on the unlabelled images.
      triplet_loss_weight: weight of the triplet loss.
      triplet_embed_dim: width of the `embeddings` head.
      triplet_labels: `intended` or `original` (see the module doc).
      network: the trunk's architecture and options (`models.Network`).

    Raises:
      utils.UsageError: for switches other than 0 and 1, both off, a
        negative weight, a non-positive width or unknown labels.
    """
    switches = {}
    for flag, value in (('triplet_loss_sup', triplet_loss_sup),
                        ('triplet_loss_unsup', triplet_loss_unsup)):
      if value not in (0, 1):
        raise utils.UsageError(f'--{flag} must be 0 or 1, got {value}.')
      switches[flag] = bool(value)
    if not any(switches.values()):
      raise utils.UsageError(
          '--triplet_loss_sup 0 and --triplet_loss_unsup 0 leave no triplet '
          'loss; for classification alone use --task supervised.')
    if triplet_loss_weight < 0:
      raise utils.UsageError(f'--triplet_loss_weight must not be negative, '
                             f'got {triplet_loss_weight:g}.')
    if triplet_embed_dim < 1:
      raise utils.UsageError(f'--triplet_embed_dim must be positive, got '
                             f'{triplet_embed_dim}.')
    if triplet_labels not in TRIPLET_LABELS:
      raise utils.UsageError(
          f'Unknown --triplet_labels {triplet_labels!r}. Valid choices: '
          f'{", ".join(TRIPLET_LABELS)}.')
    self.triplet_sup = switches['triplet_loss_sup']
    self.triplet_unsup = switches['triplet_loss_unsup']
    self.triplet_loss_weight = float(triplet_loss_weight)
    self.triplet_labels = triplet_labels
    super().__init__(num_classes=num_classes,
                     heads={'embeddings': triplet_embed_dim},
                     network=network)

  def _triplet(self, embeddings, num_images, num_views, mask):
    groups = virtual_replicas.count()
    # Identities as a replica (virtual or real) numbers its own images.
    identities = tf.tile(triplet_identities(num_images // groups, num_views,
                                            self.triplet_labels), [groups])
    weights = tf.repeat(mask, num_views)

    def replica_loss(embeddings, identities, weights):
      return batch_hard_soft_margin(tf.math.l2_normalize(embeddings, -1),
                                    identities, weights)

    return virtual_replicas.mean_over_groups(
        replica_loss, embeddings, identities, weights, weights=weights)

  def compute(self, batch: Mapping[str, Any],
              training: bool) -> lib.TaskOutput:
    """The S4L-Exemplar loss (training) or classification loss (eval)."""
    unsup, sup = batch[s4l_lib.UNSUP], batch[s4l_lib.SUP]
    sup_images, sup_views = s4l_lib.fold_views(sup['image'], 'labelled',
                                               self.name)
    unsup_images, unsup_views = s4l_lib.fold_views(
        unsup['image'], 'unlabelled', self.name)
    use_unsup = training and self.triplet_unsup
    end_points = self.apply(unsup_images if use_unsup else None, sup_images,
                            training)
    labels = tf.cast(sup['label'], tf.int32)
    mask = tf.cast(sup['mask'], tf.float32)
    logits = end_points['classes_sup']
    loss = s4l_lib.masked_cross_entropy(
        logits, tf.repeat(labels, sup_views), tf.repeat(mask, sup_views))
    metrics = lib.classification_metrics(
        logits, tf.repeat(labels, sup_views), tf.repeat(mask, sup_views),
        'classes')
    if not training:
      return lib.TaskOutput(loss=loss, metrics=metrics)
    terms = []
    if use_unsup:
      terms.append(self._triplet(
          end_points['embeddings_unsup'], tf.shape(unsup['image'])[0],
          unsup_views, tf.cast(unsup['mask'], tf.float32)))
    if self.triplet_sup:
      terms.append(self._triplet(end_points['embeddings_sup'],
                                 tf.shape(sup['image'])[0], sup_views, mask))
    triplet = tf.add_n(terms) / len(terms)
    return lib.TaskOutput(loss=loss + self.triplet_loss_weight * triplet,
                          metrics=metrics)
