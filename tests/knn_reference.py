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

"""Weighted kNN with the whole bank in memory: a reference for tests.

The library's kNN (`probes/streamed_knn.py`) streams the bank in
chunks with a running top-k; this is the direct computation of the same
classifier (Wu et al., 2018: each of the k most cosine-similar training
examples votes for its class with weight exp(similarity / temperature)),
written separately so that the streamed one is checked against it.
"""

import numpy as np
import tensorflow as tf


def knn_accuracy(train_features: tf.Tensor | np.ndarray,
                 train_labels: tf.Tensor | np.ndarray,
                 test_features: tf.Tensor | np.ndarray,
                 test_labels: tf.Tensor | np.ndarray, *,
                 num_classes: int, k: int, temperature: float,
                 batch_size: int = 1024) -> tuple[float, float]:
  """Top-1 and top-5 accuracy of a weighted k-nearest-neighbour classifier.

  Features are flattened and L2-normalised, so the dot product is the cosine
  similarity.

  Args:
    train_features: `[N, ...]` features of the labelled examples.
    train_labels: `[N]` their labels.
    test_features: `[M, ...]` features to classify.
    test_labels: `[M]` their labels.
    num_classes: number of classes.
    k: neighbours that vote (at most N).
    temperature: softness of the vote weights.
    batch_size: test examples compared at once.

  Returns:
    (top-1 accuracy, top-5 accuracy) over the M test examples.
  """
  def normalised(x):
    x = tf.convert_to_tensor(x, tf.float32)
    x = tf.reshape(x, [tf.shape(x)[0], -1])
    return tf.math.l2_normalize(x, axis=1)

  bank = normalised(train_features)
  bank_labels = tf.cast(tf.convert_to_tensor(train_labels), tf.int32)
  k = min(k, int(bank_labels.shape[0]))
  top5 = min(5, num_classes)

  @tf.function
  def classify(queries, query_labels):
    similarity = tf.matmul(queries, bank, transpose_b=True)
    top_sim, top_idx = tf.math.top_k(similarity, k=k)
    votes = tf.one_hot(tf.gather(bank_labels, top_idx), num_classes)
    weights = tf.exp(top_sim / temperature)[..., tf.newaxis]
    scores = tf.reduce_sum(votes * weights, axis=1)
    hits1 = tf.math.in_top_k(query_labels, scores, 1)
    hits5 = tf.math.in_top_k(query_labels, scores, top5)
    return (tf.reduce_sum(tf.cast(hits1, tf.float32)),
            tf.reduce_sum(tf.cast(hits5, tf.float32)))

  queries = normalised(test_features)
  labels = tf.cast(tf.convert_to_tensor(test_labels), tf.int32)
  hits1 = hits5 = 0.0
  num = int(labels.shape[0])
  for begin in range(0, num, batch_size):
    h1, h5 = classify(queries[begin:begin + batch_size],
                      labels[begin:begin + batch_size])
    hits1 += float(h1.numpy())
    hits5 += float(h5.numpy())
  return hits1 / max(num, 1), hits5 / max(num, 1)
