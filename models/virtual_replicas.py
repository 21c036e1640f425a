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

"""Virtual replicas: an 8-core TPU's per-replica computations on one device.

Some computations of the original ran per TPU core, on the per-core batch:
batch-norm statistics (unless synchronised), exemplar's normalisation along
the batch axis and its triplet loss, jigsaw's permutation subset,
S4L-Exemplar's triplet loss. On fewer devices the same global
batch makes larger groups, which changes results: exemplar's fixed margin,
for one, is about 8x off relative to the distances with one group of 512
instead of eight of 64.

`--virtual_replicas N` splits each device's batch into N equal, contiguous
groups (images in order, so group g holds the examples a TPU core g would
have received) and runs each per-replica computation once per group. The
trainer opens `scope(N)` around every replica step; the layers and tasks ask
`count()` while their graph is traced. Outside a scope everything is one
group, and nothing changes.
"""

from collections.abc import Callable, Sequence
import contextlib
import threading

import tensorflow as tf

_STATE = threading.local()


@contextlib.contextmanager
def scope(groups: int):
  """Within: per-replica computations run on `groups` groups of the batch.

  Thread-local, because `tf.distribute` traces each replica in a thread of
  its own: open it inside the replica function.
  """
  if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
    raise ValueError(f'groups must be a positive integer, got {groups!r}.')
  before = count()
  _STATE.groups = groups
  try:
    yield
  finally:
    _STATE.groups = before


def count() -> int:
  """The number of groups of the active scope (1 outside any)."""
  return getattr(_STATE, 'groups', 1)


def check_divisible(size: int | None, what: str) -> None:
  """Raises ValueError unless a known batch `size` divides into the groups."""
  groups = count()
  if size is not None and size % groups:
    raise ValueError(f'{what}: a batch of {size} does not divide into '
                     f'{groups} virtual replicas.')


def split(x: tf.Tensor) -> list[tf.Tensor]:
  """`x` `[N, ...]` as the groups' `[N / G, ...]` pieces, in order."""
  check_divisible(x.shape[0], 'split')
  return tf.split(x, count(), axis=0) if count() > 1 else [x]


def ids() -> tuple[tf.Tensor, int]:
  """(this replica's virtual replica indices `[G]`, all virtual replicas).

  Virtual replica `r * G + g` is group g of replica r, so that N virtual
  replicas on R devices number like N * R real ones.
  """
  groups = count()
  context = tf.distribute.get_replica_context()
  replicas = context.num_replicas_in_sync if context else 1
  first = (context.replica_id_in_sync_group * groups if replicas > 1 else 0)
  return first + tf.range(groups), replicas * groups


def mean_over_groups(fn: Callable[..., tf.Tensor], *tensors: tf.Tensor,
                     weights: tf.Tensor | None = None) -> tf.Tensor:
  """The mean of `fn` over the groups of `tensors` (each `[N, ...]`).

  Args:
    fn: a scalar function of one group's slices of `tensors`.
    *tensors: split along their first axis.
    weights: optional `[N]` example weights (evaluation masks): each group's
      value counts by its total weight, as the evaluation weighs replicas,
      and a group of padding alone counts nothing. Training weights are all
      1: the plain mean over groups, as over replicas.

  Returns:
    The scalar mean (`fn` of everything outside a scope).
  """
  if count() == 1:
    return fn(*tensors)
  pieces = [split(t) for t in tensors]
  values = tf.stack([fn(*group) for group in zip(*pieces)])
  if weights is None:
    return tf.reduce_mean(values)
  totals = tf.stack([tf.reduce_sum(w) for w in split(weights)])
  return tf.math.divide_no_nan(tf.reduce_sum(values * totals),
                               tf.reduce_sum(totals))


def interleave(parts: Sequence[tf.Tensor]) -> tf.Tensor:
  """Concatenates `parts` so that each group holds its share of each part.

  A replica that concatenated its unlabelled and labelled images fed one
  batch-norm group of both; `concat([a, b])` split into groups would give
  groups of `a` alone and of `b` alone. This gives group g = `[a_g; b_g]`.
  The inverse is `deinterleave`.
  """
  if count() == 1 or len(parts) == 1:
    return tf.concat(list(parts), axis=0)
  pieces = [split(p) for p in parts]
  return tf.concat([x for group in zip(*pieces) for x in group], axis=0)


def deinterleave(x: tf.Tensor, sizes: Sequence[int | tf.Tensor]
                 ) -> list[tf.Tensor]:
  """The parts of `interleave(parts)`, given the parts' sizes."""
  if count() == 1 or len(sizes) == 1:
    return tf.split(x, list(sizes), axis=0) if len(sizes) > 1 else [x]
  groups = count()
  per_group = [s // groups for s in sizes]
  chunks = tf.split(x, per_group * groups, axis=0)
  return [tf.concat(chunks[i::len(sizes)], axis=0)
          for i in range(len(sizes))]
