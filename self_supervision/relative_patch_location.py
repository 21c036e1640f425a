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


"""Relative patch location: where is a patch relative to the centre?

Each of the 8 neighbours of the centre tile of a 3x3 grid is paired with the
centre tile (neighbour first); the FC head classifies the pair into 8
classes, the neighbour's position in row-major order with the centre
skipped: grid position 0 -> class 0 (top-left), 1 -> 1, 2 -> 2, 3 -> 3,
5 -> 4, 6 -> 5, 7 -> 6, 8 -> 7 (bottom-right). The same pairs and labels are
used in training and evaluation.
"""


import numpy as np
import tensorflow as tf

from revisiting_ssl import models
from revisiting_ssl.self_supervision import patch_utils
from revisiting_ssl.self_supervision import self_supervision_lib as lib

CENTRE = patch_utils.NUM_PATCHES // 2
# Row m = (neighbour, centre); the row index is the class.
PAIRS = np.array([(i, CENTRE) for i in range(patch_utils.NUM_PATCHES)
                  if i != CENTRE], np.int32)


@lib.register('relative_patch_location')
class RelativePatchLocationTask(patch_utils.PatchTask):
  """8-way classification of a neighbour's position next to the centre."""

  def __init__(self, *, embed_dim: int = patch_utils.DEFAULT_EMBED_DIM,
               interleave_embeddings: bool = False,
               network: models.Network | None = None):
    """Builds the patch trunk and the 8-way FC head.

    Args:
      embed_dim: per-patch embedding width (`--embed_dim`).
      interleave_embeddings: the original's interleaved concatenation
        order (`--interleave_embeddings`).
      network: the trunk's architecture and options (`models.Network`).
    """
    super().__init__(num_classes=len(PAIRS), embed_dim=embed_dim,
                     interleave_embeddings=interleave_embeddings,
                     network=network)

  def permutations_and_labels(self, training: bool):
    """The 8 (neighbour, centre) pairs; class = row."""
    del training  # Same pairs in training and evaluation.
    return (tf.constant(PAIRS),
            tf.range(len(PAIRS), dtype=tf.int32))
