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

"""Weighted kNN over streamed features, in bounded memory.

The cached linear evaluation reports it beside the heads (`--knn_*`): the
weighting of Wu et al. (2018), each of the k most similar training examples
voting for its class with weight exp(cosine similarity / temperature).
Holding the bank of training features in memory would take tens of GB for
one end point of ImageNet's training split. Here the queries come in
blocks and, for each block, the bank streams by in chunks while a running
top-k (similarity and label of the k most similar bank examples so far) is
merged with each chunk. The result is that of the whole bank in memory
(`tests/knn_reference.py`), ties included: `tf.math.top_k` prefers the
lower index, and the running entries (earlier bank examples) come first.

Memory: a block of queries, a bank chunk and their similarity matrix. The
bank is read once per block of queries.
"""

from collections.abc import Callable, Iterable

import tensorflow as tf

# Bank examples compared with a block of queries at once.
BANK_CHUNK = 1024


def _normalised(x):
  return tf.math.l2_normalize(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


def knn_accuracy(bank: Callable[[], Iterable[tuple[tf.Tensor, tf.Tensor]]],
                 queries: Iterable[tuple[tf.Tensor, tf.Tensor]], *,
                 bank_size: int, num_classes: int, k: int,
                 temperature: float) -> tuple[float, float]:
  """Top-1 and top-5 accuracy of a weighted k-nearest-neighbour classifier.

  Each of the k most cosine-similar bank examples votes for its class
  with weight exp(similarity / temperature).

  Args:
    bank: returns a fresh pass over the labelled examples, as chunks of
      (`[c, ...]` features, `[c]` labels); called once per query block.
    queries: blocks of (`[q, ...]` features, `[q]` labels) to classify.
    bank_size: examples in a pass over the bank.
    num_classes: number of classes.
    k: neighbours that vote (at most `bank_size`).
    temperature: softness of the vote weights.

  Returns:
    (top-1 accuracy, top-5 accuracy) over the queries.
  """
  k = min(k, bank_size)
  top5 = min(5, num_classes)
  spec = [tf.TensorSpec([None, None], tf.float32),
          tf.TensorSpec([None, k], tf.float32),
          tf.TensorSpec([None, k], tf.int32),
          tf.TensorSpec(None, tf.float32),
          tf.TensorSpec([None], tf.int32)]

  @tf.function(input_signature=spec)
  def merge(queries, best_sim, best_labels, chunk, chunk_labels):
    similarity = tf.matmul(queries, _normalised(chunk), transpose_b=True)
    similarity = tf.concat([best_sim, similarity], axis=1)
    labels = tf.concat([best_labels, tf.broadcast_to(
        chunk_labels[tf.newaxis], [tf.shape(queries)[0],
                                   tf.shape(chunk_labels)[0]])], axis=1)
    top_sim, top_idx = tf.math.top_k(similarity, k=k)
    return top_sim, tf.gather(labels, top_idx, batch_dims=1)

  @tf.function(input_signature=spec[1:3] + [tf.TensorSpec([None], tf.int32)])
  def hits(best_sim, best_labels, query_labels):
    votes = tf.one_hot(best_labels, num_classes)
    weights = tf.exp(best_sim / temperature)[..., tf.newaxis]
    scores = tf.reduce_sum(votes * weights, axis=1)
    return [tf.reduce_sum(tf.cast(tf.math.in_top_k(query_labels, scores, n),
                                  tf.float32)) for n in (1, top5)]

  hits1 = hits5 = 0.0
  count = 0
  for block, block_labels in queries:
    block = _normalised(tf.convert_to_tensor(block, tf.float32))
    size = int(block.shape[0])
    best_sim = tf.fill([size, k], float('-inf'))
    best_labels = tf.zeros([size, k], tf.int32)
    for chunk, chunk_labels in bank():
      best_sim, best_labels = merge(block, best_sim, best_labels,
                                    tf.cast(chunk, tf.float32),
                                    tf.cast(chunk_labels, tf.int32))
    h1, h5 = hits(best_sim, best_labels, tf.cast(block_labels, tf.int32))
    hits1 += float(h1)
    hits5 += float(h5)
    count += size
  return hits1 / max(count, 1), hits5 / max(count, 1)
