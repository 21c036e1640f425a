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


"""Jigsaw puzzles: which permutation shuffled the 9 tiles?

Row m of the permutation file says which grid tile (row-major) sits in
puzzle slot k. The 9 tiles are embedded once; each puzzle concatenates the
tile embeddings in the order of its permutation, and the FC head
(`patch_utils.PatchHead`, shared with relative patch location) classifies
which of the (100) permutations was used.

Training draws `perm_subset_size` distinct permutations per replica and step
(one subset for the whole per-replica batch, as the original did per TPU
core); evaluation scores every image with all permutations.
"""

from collections.abc import Mapping
import secrets

from absl import logging
import tensorflow as tf

from revisiting_ssl import models, utils
from revisiting_ssl.models import virtual_replicas
from revisiting_ssl.self_supervision import patch_utils
from revisiting_ssl.self_supervision import self_supervision_lib as lib


@lib.register('jigsaw')
class JigsawTask(patch_utils.PatchTask):
  """Classifies which permutation of the grid tiles a puzzle shows."""

  def __init__(self, *, permutations_path: str | None = None,
               perm_subset_size: int = 8,
               embed_dim: int = patch_utils.DEFAULT_EMBED_DIM,
               interleave_embeddings: bool = False,
               network: models.Network | None = None,
               random_seed: int | None = None):
    """Loads the permutations and builds the patch trunk and FC head.

    Args:
      permutations_path: the permutation file (`--permutations_path`);
        None means `permutations_100_max.bin` shipped with the package.
      perm_subset_size: permutations drawn per replica and training step.
      embed_dim: per-patch embedding width (`--embed_dim`).
      interleave_embeddings: the original's interleaved concatenation
        order (`--interleave_embeddings`).
      network: the trunk's architecture and options (`models.Network`).
      random_seed: seed of the permutation subsets (`--random_seed`); when
        None, a fresh one per run (logged, and kept in the checkpoint, so
        that a resumed run continues the same sequence).

    Raises:
      utils.UsageError: for a malformed permutation file, permutations
        that do not have 9 entries, or a subset size outside 1..count.
    """
    path = permutations_path or patch_utils.default_permutations_path()
    permutations = patch_utils.load_permutations(path)
    count, length = permutations.shape
    if length != patch_utils.NUM_PATCHES:
      raise utils.UsageError(
          f'--permutations_path {path} holds permutations of {length} '
          f'tiles, but the jigsaw grid has {patch_utils.NUM_PATCHES}.')
    if not 1 <= perm_subset_size <= count:
      raise utils.UsageError(
          f'--perm_subset_size must be between 1 and the {count} '
          f'permutations of {path}, got {perm_subset_size}.')
    super().__init__(num_classes=count, embed_dim=embed_dim,
                     interleave_embeddings=interleave_embeddings,
                     network=network)
    self.permutations_path = path
    self.permutations = permutations
    self.perm_subset_size = int(perm_subset_size)
    # Unseeded runs must not all draw one sequence of subsets: each draws a
    # seed of its own. Under a multi-worker strategy every worker starts
    # from the chief's value, as from any variable's initial value.
    fresh = random_seed is None
    self.random_state.perm_seed = tf.Variable(
        secrets.randbits(62) if fresh else int(random_seed), dtype=tf.int64,
        trainable=False, name='perm_seed',
        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    if fresh:
      logging.info('jigsaw: permutation subsets seeded with %d, drawn for '
                   'this run (a resumed run continues with its checkpoint\'s'
                   ' seed; --random_seed fixes it).',
                   int(self.random_state.perm_seed.numpy()))
    # Subsets drawn so far: the draws are a stateless function of (seed,
    # this count), and both are checkpointed, so a resumed run draws what
    # an uninterrupted one would have.
    self.random_state.perm_draws = tf.Variable(
        0, dtype=tf.int64, trainable=False, name='perm_draws',
        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

  @property
  def num_permutations(self) -> int:
    """The number of classes: permutations in the file."""
    return len(self.permutations)

  def sample_permutation_ids(self) -> tf.Tensor:
    """`perm_subset_size` distinct permutation indices, uniformly drawn.

    The first k of a random order of all indices: argsort of uniform noise
    compiles with XLA, unlike `tf.random.shuffle`. Every replica draws its
    own subset, as every TPU core did in the original: each draws noise for
    all replicas and keeps its own row, so the subsets differ even where
    replicas share one random stream. Virtual replicas count as replicas:
    within a `virtual_replicas.scope` of G groups the result is `[G, k]`,
    the subsets that G real replicas would have drawn; else `[k]`.
    """
    rows, total = virtual_replicas.ids()
    draws = self.random_state.perm_draws
    seed = tf.stack([tf.identity(self.random_state.perm_seed),
                     tf.identity(draws)])
    noise = tf.random.stateless_uniform([total, self.num_permutations], seed)
    draws.assign_add(1)
    order = tf.argsort(tf.gather(noise, rows), axis=-1, stable=True)
    ids = tf.cast(order[:, :self.perm_subset_size], tf.int32)
    return ids if virtual_replicas.count() > 1 else ids[0]

  def permutations_and_labels(self, training: bool):
    """A sampled subset (per virtual replica) in training, all in eval."""
    permutations = tf.constant(self.permutations, tf.int32)
    if not training:
      return permutations, tf.range(self.num_permutations, dtype=tf.int32)
    ids = self.sample_permutation_ids()
    return tf.gather(permutations, ids), ids

  def summary_images(self, batch: Mapping[str, tf.Tensor]
                     ) -> dict[str, tf.Tensor]:
    """The patch mosaics and one random puzzle of each image."""
    images = super().summary_images(batch)
    patches = batch['image'][:4]
    # One random puzzle per image: slot k shows tile P[m, k].
    ids = tf.random.uniform([tf.shape(patches)[0]], 0,
                            self.num_permutations, dtype=tf.int32)
    rows = tf.gather(tf.constant(self.permutations, tf.int32), ids)
    puzzles = tf.gather(patches, rows, axis=1, batch_dims=1)
    images['puzzle'] = lib.rescale_for_display(
        patch_utils.patch_mosaic(puzzles))
    return images
