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


"""Exemplar: crops of one image are one class.

Every image arrives as P independently augmented crops `[B, P, H, W, 3]`.
The trunk embeds all P * B crops; crops of the same image are positives,
crops of other images negatives, and a semi-hard triplet loss on squared
Euclidean distances pulls positives together.

Two behaviours of the original are kept by default:
  * the embeddings are L2-normalised along the *batch* axis (every embedding
    dimension has unit norm over the per-replica batch), not per embedding;
    `embedding_normalization='embedding'` gives the conventional variant;
  * the loss and the normalisation use the per-replica batch (per virtual
    replica with `--virtual_replicas`, see `virtual_replicas`).

Padded evaluation examples (mask 0) take part in neither: their embeddings
are zeroed before the normalisation and they form no pairs.
"""

from collections.abc import Mapping

import tensorflow as tf

from revisiting_ssl import models, utils
from revisiting_ssl.models import virtual_replicas
from revisiting_ssl.self_supervision import self_supervision_lib as lib

# --embedding_normalization -> the axis normalised over.
NORMALIZATIONS = {'batch': 0, 'embedding': 1}


def pairwise_squared_distances(embeddings: tf.Tensor) -> tf.Tensor:
  """D[i, j] = |e_i|^2 + |e_j|^2 - 2 e_i.e_j, clamped at 0, zero diagonal."""
  squares = tf.reduce_sum(tf.square(embeddings), axis=1)
  distances = (squares[:, tf.newaxis] + squares[tf.newaxis, :] -
               2.0 * tf.matmul(embeddings, embeddings, transpose_b=True))
  distances = tf.maximum(distances, 0.0)
  # Rounding leaves small non-zero self-distances; they are exactly zero.
  off_diagonal = 1.0 - tf.eye(tf.shape(embeddings)[0], dtype=distances.dtype)
  return distances * off_diagonal


def triplet_semihard_loss(labels: tf.Tensor, embeddings: tf.Tensor,
                          margin: float,
                          weights: tf.Tensor | None = None) -> tf.Tensor:
  """Semi-hard triplet loss on squared Euclidean distances.

  For every ordered pair (a, p), a != p, of equal labels, the negative n*
  is the closest negative farther from a than p (D[a, n] > D[a, p]); if
  there is none, the farthest negative (and distance 0 if a has no
  negatives at all, as the TF1 contrib loss). The pair's loss is
  max(0, margin + D[a, p] - D[a, n*]); the result is the mean over pairs.
  Vectorised over all (a, p, n) at once; compiles with XLA.

  Args:
    labels: int `[N]`.
    embeddings: float `[N, D]`.
    margin: the margin.
    weights: optional `[N]`; entries with weight 0 (padding) are neither
      anchors, positives nor negatives.

  Returns:
    The scalar loss (0 if there is no positive pair).
  """
  embeddings = tf.cast(embeddings, tf.float32)
  labels = tf.reshape(labels, [-1])
  n = tf.shape(labels)[0]
  valid = (tf.ones([n], tf.bool) if weights is None else
           tf.reshape(weights, [-1]) > 0)
  distances = pairwise_squared_distances(embeddings)
  same = tf.equal(labels[:, tf.newaxis], labels[tf.newaxis, :])
  both_valid = valid[:, tf.newaxis] & valid[tf.newaxis, :]
  positive = same & both_valid & ~tf.eye(n, dtype=tf.bool)
  negative = ~same & both_valid
  # [anchor, positive, negative]
  d_ap = distances[:, :, tf.newaxis]
  d_an = distances[:, tf.newaxis, :]
  semihard = negative[:, tf.newaxis, :] & (d_an > d_ap)
  # A finite stand-in for infinity keeps gradients clean.
  far = tf.stop_gradient(tf.reduce_max(distances)) + 1.0
  closest_semihard = tf.reduce_min(tf.where(semihard, d_an, far), axis=2)
  has_semihard = tf.reduce_any(semihard, axis=2)
  farthest = tf.reduce_max(
      tf.where(negative, distances, tf.zeros_like(distances)), axis=1)
  d_an_star = tf.where(has_semihard, closest_semihard,
                       farthest[:, tf.newaxis])
  pair_loss = tf.maximum(margin + distances - d_an_star, 0.0)
  positive = tf.cast(positive, tf.float32)
  return tf.math.divide_no_nan(tf.reduce_sum(pair_loss * positive),
                               tf.reduce_sum(positive))


def normalize_embeddings(embeddings: tf.Tensor, mode: str) -> tf.Tensor:
  """L2 normalisation across the batch (`batch`) or per row (`embedding`).

  `mode` is one of `NORMALIZATIONS` (the task checks the flag).
  """
  return tf.math.l2_normalize(embeddings, axis=NORMALIZATIONS[mode])


@lib.register('exemplar')
class ExemplarTask(lib.Task):
  """Instance discrimination with a semi-hard triplet loss."""

  # The crops only move (flatten_leading) before the trunk.
  host_cast = True

  def __init__(self, *, margin: float | None = None,
               embed_dim: int | None = None,
               embedding_normalization: str = 'batch',
               network: models.Network | None = None):
    """Builds the trunk.

    Args:
      margin: the triplet-loss margin (`--margin`, required).
      embed_dim: embedding width, the trunk's logits; None uses the
        pre-logits, as the original did when the flag was unset.
      embedding_normalization: `batch` (the original) or `embedding`.
      network: the trunk's architecture and options (`models.Network`).

    Raises:
      utils.UsageError: if --margin is unset or negative, or for an unknown
        normalisation or a non-positive embed_dim.
    """
    super().__init__(network=network)
    if margin is None:
      raise utils.UsageError('--margin is required for --task exemplar '
                             '(the configs use 0.5).')
    if margin < 0:
      raise utils.UsageError(f'--margin must not be negative, got {margin}.')
    if embedding_normalization not in NORMALIZATIONS:
      raise utils.UsageError(
          f'--embedding_normalization must be one of '
          f'{", ".join(NORMALIZATIONS)}, got {embedding_normalization!r}.')
    if embed_dim is not None and (isinstance(embed_dim, bool) or
                                  embed_dim <= 0):
      raise utils.UsageError(
          f'--embed_dim must be a positive integer, got {embed_dim!r}.')
    self.margin = float(margin)
    self.embedding_normalization = embedding_normalization
    self.net = self.build_net(embed_dim)

  def checkpoint_items(self) -> dict[str, tf.Module]:
    """The trunk."""
    return {'net': self.net}

  def _embed(self, images: tf.Tensor, training: bool):
    embeddings, end_points = self.net(images, training=training)
    embeddings = tf.cast(embeddings, tf.float32)
    # VGG's pre-logits are [N, 1, 1, C].
    return tf.reshape(embeddings, [-1, embeddings.shape[-1]]), end_points

  def compute(self, batch: Mapping[str, tf.Tensor],
              training: bool) -> lib.TaskOutput:
    """The triplet loss over the P * B crops; no metrics."""
    images = batch['image']
    if images.shape.rank != 5 or (images.shape[1] or 0) < 2:
      raise utils.UsageError(
          f'--task exemplar needs at least 2 crops per image ([B, P, H, W, '
          f'C] from crop_inception_preprocess_patches with '
          f'--num_of_inception_patches >= 2); got images of shape '
          f'{images.shape}.')
    num_crops = images.shape[1]
    embeddings, _ = self._embed(utils.flatten_leading(images), training)
    mask = tf.repeat(tf.cast(batch['mask'], tf.float32), num_crops)
    labels = tf.repeat(tf.range(tf.shape(images)[0]), num_crops)

    def replica_loss(embeddings, labels, mask):
      embeddings = normalize_embeddings(embeddings * mask[:, tf.newaxis],
                                        self.embedding_normalization)
      return triplet_semihard_loss(labels, embeddings, self.margin,
                                   weights=mask)

    # Per (virtual) replica, as the original per TPU core.
    loss = virtual_replicas.mean_over_groups(
        replica_loss, embeddings, labels, mask, weights=mask)
    return lib.TaskOutput(loss=loss, metrics={})

  def serve(self, images: tf.Tensor, training: bool = False):
    """The trunk: (embedding `[N, D]`, end points)."""
    return self._embed(images, training)
