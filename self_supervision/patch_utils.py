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

"""What jigsaw and relative patch location share.

Both tasks embed the 9 grid patches of an image with one trunk, then, for
each row of a permutation matrix P `[M, K]`, concatenate the embeddings of the
K listed patches and classify the result with an AlexNet-style FC head.

* `combine_patch_embeddings`: the concatenation step, vectorised with one
  gather, so any batch size works (the original looped over a static batch).
* `PatchHead`: the fc7/fc8 head with its fixed initialisers and L2.
* `PatchTask`: the task skeleton (trunk with the patch strides, loss,
  accuracy, serving of the per-patch trunk, summary images).
* The binary permutation file format:
  `load_permutations`, `write_permutations`.

Concatenation order. By default the K embeddings are concatenated as blocks,
`[patch_1 | patch_2 | ... | patch_K]`. The original interleaved
them (feature `c * K + k` is channel c of the k-th listed patch); the two
differ only by a fixed permutation of the first FC layer's inputs, so
`--interleave_embeddings` matters only for loading original weights.
"""

from collections.abc import Mapping
import os

import keras
import numpy as np
import tensorflow as tf

from revisiting_ssl import models, utils
from revisiting_ssl.models import layers as net_layers
from revisiting_ssl.models import virtual_replicas
from revisiting_ssl.self_supervision import self_supervision_lib as lib

# The 3x3 grid of the original patch tasks.
GRID_SIZE = 3
NUM_PATCHES = GRID_SIZE * GRID_SIZE
# The patch trunks keep more resolution: no root-conv stride, no stride in
# the last stage. The networks know nothing of tasks; the tasks
# pass these.
PATCH_NET_OVERRIDES = {'root_conv_stride': 1, 'strides': (2, 2, 1)}
DEFAULT_EMBED_DIM = 1000

# The FC head's fixed settings; its L2 ignores --weight_decay.
HEAD_HIDDEN_UNITS = 4096
HEAD_WEIGHT_DECAY = 5e-4
HEAD_INIT_STDDEV = 0.005
HEAD_BN_MOMENTUM = 0.997
HEAD_BN_EPSILON = 1e-5
HEAD_DROPOUT_RATE = 0.5

_HEADER_BYTES = 8


# -- Permutation files --------------------------------------------------------


def _bad_file(path: str, problem: str) -> utils.UsageError:
  return utils.UsageError(
      f'--permutations_path {path} is not a valid permutation file: '
      f'{problem}. Expected little-endian int32 (count, length) followed by '
      f'count x length 1-based permutations (tools/make_permutations.py '
      f'writes one).')


def load_permutations(path: str) -> np.ndarray:
  """Reads a permutation file in the original's binary format.

  Format: little-endian int32 header (count, length), then
  count * length little-endian int32 values, row-major, 1-based.

  Args:
    path: the file (any `tf.io.gfile` path).

  Returns:
    int32 `[count, length]`, 0-based: row m, position k is the grid tile
    placed in puzzle slot k.

  Raises:
    utils.UsageError: if the file is missing or malformed: wrong size or
      header, a row that is not a permutation of 1..length, or duplicate
      rows. The message names the file and the problem.
  """
  if not tf.io.gfile.exists(path):
    raise utils.UsageError(f'--permutations_path {path} does not exist.')
  with tf.io.gfile.GFile(path, 'rb') as f:
    data = f.read()
  if len(data) < _HEADER_BYTES:
    raise _bad_file(path, f'it has {len(data)} bytes, less than the 8-byte '
                    f'header')
  count, length = (int(x) for x in np.frombuffer(data[:_HEADER_BYTES], '<i4'))
  if count <= 0 or length <= 0:
    raise _bad_file(path, f'the header says {count} permutations of length '
                    f'{length}')
  expected = _HEADER_BYTES + 4 * count * length
  if len(data) != expected:
    raise _bad_file(path, f'the header says {count} permutations of length '
                    f'{length} ({expected} bytes), but the file has '
                    f'{len(data)} bytes')
  perms = np.frombuffer(data[_HEADER_BYTES:], '<i4').reshape(count, length)
  perms = perms.astype(np.int32) - 1
  valid = np.all(np.sort(perms, axis=1) == np.arange(length), axis=1)
  if not valid.all():
    row = int(np.argmin(valid))
    raise _bad_file(path, f'row {row} ({" ".join(map(str, perms[row] + 1))}) '
                    f'is not a permutation of 1..{length}')
  _, first, counts = np.unique(perms, axis=0, return_index=True,
                               return_counts=True)
  if (counts > 1).any():
    row = int(first[np.argmax(counts > 1)])
    raise _bad_file(path, f'row {row} '
                    f'({" ".join(map(str, perms[row] + 1))}) appears '
                    f'{int(counts.max())} times')
  return perms


def write_permutations(path: str, permutations: np.ndarray) -> None:
  """Writes 0-based permutations `[count, length]` in the binary format."""
  perms = np.asarray(permutations, np.int64)
  if perms.ndim != 2:
    raise ValueError(f'Expected [count, length] permutations, got shape '
                     f'{perms.shape}.')
  header = np.array(perms.shape, '<i4').tobytes()
  with tf.io.gfile.GFile(path, 'wb') as f:
    f.write(header + (perms + 1).astype('<i4').tobytes())


def default_permutations_path() -> str:
  """`permutations_100_max.bin` of the package (the repository root)."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  return os.path.join(root, 'permutations_100_max.bin')


# -- Combination and head -----------------------------------------------------


def combine_patch_embeddings(embeddings: tf.Tensor,
                             permutations: tf.Tensor | np.ndarray,
                             num_patches: int = NUM_PATCHES,
                             interleave: bool = False) -> tf.Tensor:
  """Concatenates patch embeddings in the order of each permutation row.

  Args:
    embeddings: `[B * num_patches, D]`, image-major (the patches of image b
      are rows b * num_patches ..), D static.
    permutations: int `[M, K]`: row m lists K patch indices in
      0..num_patches-1.
    num_patches: patches per image.
    interleave: the original's channel-major order (feature c * K + k)
      instead of blocks (feature k * D + c).

  Returns:
    `[B * M, K * D]`, image-major then permutation: row b * M + m holds the
    embeddings of image b's patches P[m, 0], .., P[m, K-1].
  """
  dim = embeddings.shape[-1]
  permutations = tf.convert_to_tensor(permutations, tf.int32)
  num_rows, length = permutations.shape
  per_image = tf.reshape(embeddings, [-1, num_patches, dim])
  # [B, M, K, D]: one gather for every image and row.
  gathered = tf.gather(per_image, permutations, axis=1)
  if interleave:
    gathered = tf.transpose(gathered, [0, 1, 3, 2])
  out = tf.reshape(gathered, [-1, length * dim])
  batch = embeddings.shape[0]
  if batch is not None and num_rows is not None:
    out.set_shape([batch // num_patches * num_rows, length * dim])
  return out


class PatchHead(keras.layers.Layer):
  """The fc7/fc8 head of the patch tasks.

  dense(4096, truncated normal std 0.005, bias 0.1, L2 5e-4) -> batch norm
  (momentum 0.997, epsilon 1e-5) -> ReLU -> dropout 0.5 (training only) ->
  dense(num_classes, truncated normal std 0.005, bias 0, L2 5e-4). The
  original wrote these as convolutions whose kernel covers their 1x1 input,
  which is a dense layer. The L2 strength is fixed, not `--weight_decay`.
  """

  def __init__(self, num_classes: int, *,
               hidden_units: int = HEAD_HIDDEN_UNITS,
               sync_batch_norm: bool = False, name: str = 'patch_head',
               **kwargs):
    """Creates the head.

    Args:
      num_classes: width of the logits.
      hidden_units: width of the hidden layer.
      sync_batch_norm: batch statistics over all replicas.
      name: layer name.
      **kwargs: other `keras.layers.Layer` arguments.
    """
    super().__init__(name=name, **kwargs)
    regularizer = net_layers.l2_regularizer(HEAD_WEIGHT_DECAY)
    self.hidden = keras.layers.Dense(
        hidden_units,
        kernel_initializer=keras.initializers.TruncatedNormal(
            stddev=HEAD_INIT_STDDEV),
        bias_initializer=keras.initializers.Constant(0.1),
        kernel_regularizer=regularizer, name='fc7')
    # The trunks' layer: per-(virtual-)replica statistics, replica copies
    # kept equal; on `[N, 4096]` it computes what Keras' layer does.
    self.batch_norm = net_layers.FusedBatchNorm(
        momentum=HEAD_BN_MOMENTUM, epsilon=HEAD_BN_EPSILON,
        synchronized=bool(sync_batch_norm), name='fc7_bn')
    self.dropout = keras.layers.Dropout(HEAD_DROPOUT_RATE)
    self.classifier = keras.layers.Dense(
        num_classes,
        kernel_initializer=keras.initializers.TruncatedNormal(
            stddev=HEAD_INIT_STDDEV),
        bias_initializer='zeros', kernel_regularizer=regularizer,
        name='fc8')
    self.hidden_units = hidden_units

  def build(self, input_shape):
    """Creates the variables for inputs `[N, K * D]`."""
    self.hidden.build(input_shape)
    self.batch_norm.build((None, self.hidden_units))
    self.classifier.build((None, self.hidden_units))

  def call(self, inputs, training=False):
    """Logits `[N, num_classes]` (float32) of combined embeddings."""
    training = bool(training)
    x = self.hidden(inputs)
    x = keras.ops.relu(self.batch_norm(x, training=training))
    x = self.dropout(x, training=training)
    return tf.cast(self.classifier(x), tf.float32)


# -- Summary images -----------------------------------------------------------


def patch_mosaic(patches: tf.Tensor, gap: int = 2) -> tf.Tensor:
  """Tiles each image's grid patches into one picture, with gaps.

  Args:
    patches: `[N, n*n, h, w, C]` in row-major grid order.
    gap: pixels between neighbouring patches (filled with 0, black after
      `lib.rescale_for_display`'s minimum, roughly).

  Returns:
    `[N, n*h + (n-1)*gap, n*w + (n-1)*gap, C]`.
  """
  n = int(round(patches.shape[1] ** 0.5))
  if n * n != patches.shape[1]:
    raise ValueError(f'Expected a square number of patches, got shape '
                     f'{patches.shape}.')
  padded = tf.pad(patches, [[0, 0], [0, 0], [0, gap], [0, gap], [0, 0]])
  h, w, c = padded.shape[2:]
  # [N, n, n, h, w, C] -> [N, n, h, n, w, C] -> [N, n*h, n*w, C].
  grid = tf.reshape(padded, [-1, n, n, h, w, c])
  grid = tf.transpose(grid, [0, 1, 3, 2, 4, 5])
  grid = tf.reshape(grid, [-1, n * h, n * w, c])
  return grid[:, :n * h - gap, :n * w - gap, :]


# -- The task skeleton --------------------------------------------------------


class PatchTask(lib.Task):
  """A task on the patches of a grid: embed, combine, classify.

  Subclasses give the permutation matrix and labels per step through
  `permutations_and_labels`.
  """

  # The patches only move (flatten_leading) before the trunk.
  host_cast = True

  def __init__(self, *, num_classes: int, embed_dim: int = DEFAULT_EMBED_DIM,
               interleave_embeddings: bool = False,
               network: models.Network | None = None):
    """Builds the trunk (with the patch strides) and the FC head.

    Args:
      num_classes: outputs of the FC head.
      embed_dim: per-patch embedding width (the trunk's logits).
      interleave_embeddings: concatenate embeddings in the original's
        interleaved order instead of blocks.
      network: the trunk's architecture and options (`models.Network`).

    Raises:
      utils.UsageError: for a non-positive embed_dim.
    """
    super().__init__(network=network)
    if isinstance(embed_dim, bool) or int(embed_dim) != embed_dim or (
        embed_dim <= 0):
      raise utils.UsageError(
          f'--embed_dim must be a positive integer, got {embed_dim!r}.')
    self.embed_dim = int(embed_dim)
    self.interleave_embeddings = bool(interleave_embeddings)
    self.net = self.build_net(self.embed_dim, **PATCH_NET_OVERRIDES)
    self.head = PatchHead(
        num_classes,
        sync_batch_norm=bool(self.network.option('sync_batch_norm')))
    # Random state a resumed run must continue from. Keras keeps the
    # dropout's seed generator out of checkpoints, so it is added here;
    # subclasses add their own.
    self.random_state = tf.Module(name='random_state')
    seed_generator = getattr(self.head.dropout, 'seed_generator', None)
    if seed_generator is not None:
      self.random_state.dropout_seed = seed_generator.state

  def permutations_and_labels(self, training: bool
                              ) -> tuple[tf.Tensor, tf.Tensor]:
    """The permutation matrix `[M, K]` and the label of each row `[M]`.

    Or one of each per virtual replica, `[G, M, K]` and `[G, M]`.
    """
    raise NotImplementedError

  def checkpoint_items(self) -> dict[str, tf.Module]:
    """The trunk, the FC head and the random state."""
    return {'net': self.net, 'head': self.head,
            'random_state': self.random_state}

  def export_items(self) -> dict[str, tf.Module]:
    """The per-patch trunk only: the FC head is not part of the module."""
    return {'net': self.net}

  def embed(self, patches: tf.Tensor, training: bool) -> tf.Tensor:
    """Per-patch embeddings `[N, D]` of patches `[N, h, w, C]`."""
    embeddings, _ = self.net(patches, training=training)
    embeddings = tf.cast(embeddings, tf.float32)
    return tf.reshape(embeddings, [-1, self.embed_dim])

  def compute(self, batch: Mapping[str, tf.Tensor],
              training: bool) -> lib.TaskOutput:
    """Embeds the patches, combines them per permutation, classifies."""
    images = batch['image']
    if images.shape.rank != 5 or images.shape[1] != NUM_PATCHES:
      raise utils.UsageError(
          f'--task {self.name} needs {NUM_PATCHES} patches per image '
          f'([B, {NUM_PATCHES}, h, w, C]) from --preprocessing ending in '
          f'crop_patches(,standardization) with --splits_per_side '
          f'{GRID_SIZE}; got images of shape {images.shape}.')
    embeddings = self.embed(utils.flatten_leading(images), training)
    permutations, row_labels = self.permutations_and_labels(training)
    if permutations.shape.rank == 2:
      permutations, row_labels = permutations[None], row_labels[None]
    # One permutation matrix per virtual replica (or one for all): each
    # group of images is combined with its own.
    groups = virtual_replicas.split(embeddings)
    if len(groups) != permutations.shape[0]:
      permutations = tf.repeat(permutations, len(groups), axis=0)
      row_labels = tf.repeat(row_labels, len(groups), axis=0)
    combined, labels = [], []
    for group, perms, rows in zip(groups, tf.unstack(permutations),
                                  tf.unstack(row_labels)):
      combined.append(combine_patch_embeddings(
          group, perms, interleave=self.interleave_embeddings))
      labels.append(tf.tile(rows, [tf.shape(group)[0] // NUM_PATCHES]))
    logits = self.head(tf.concat(combined, 0), training=training)
    mask = tf.repeat(tf.cast(batch['mask'], tf.float32),
                     tf.shape(permutations)[1])
    return lib.cross_entropy_and_accuracy(logits, tf.concat(labels, 0), mask)

  def serve(self, images: tf.Tensor, training: bool = False):
    """The per-patch trunk: `[N, h, w, 3]` -> (embedding, end points).

    The combination step and the FC head are not part of the module.
    """
    embeddings, end_points = self.net(images, training=training)
    return tf.reshape(embeddings, [-1, self.embed_dim]), end_points

  def summary_images(self, batch: Mapping[str, tf.Tensor]
                     ) -> dict[str, tf.Tensor]:
    """The patches of a few images as 3x3 mosaics."""
    patches = batch['image'][:4]
    return {'patches': lib.rescale_for_display(patch_mosaic(patches))}

