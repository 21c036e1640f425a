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

"""Linear evaluation on stored features (`--linear_eval_mode cached`).

The end-to-end probe (as the original) runs the frozen module on every
training step, so almost all of its time goes into the module's forward
passes, once per epoch. The module is frozen and runs in inference mode, so
its pooled features are a fixed function of the preprocessed image: this
mode computes them once and trains the same heads on them.

1. Features: the module runs once over the training split with the
   evaluation preprocessing (e.g. the central crop), plus
   `--cached_augment_passes` passes with the training preprocessing (e.g.
   random crops; 0 by default), and once over the evaluation split. The
   pooled features of every end point are stored as `.npy` files under
   `<workdir>/features/<split>-<variant>-<key>/` and reused by later runs;
   the key hashes what determines them (module path and file time,
   signature, pooling, patch combination, preprocessing and its options).
2. Heads: the task's heads, loss, weight decay, optimiser and learning-rate
   schedule (the trainer's, so `--epochs`, `--batch_size`, `--lr`,
   `--decay_epochs` mean what they mean end to end), trained by minibatch
   steps over shuffled stored features, all passes pooled together. The
   features stay in memory as tensors; one `tf.function` call runs an
   epoch of steps, gathering each minibatch by index (the indices are drawn
   in NumPy, epoch after epoch of permutations, so a resumed run continues
   the same sequence), and the feature files are written in the background
   meanwhile. With `--optimizer sgd` and linear heads the gradients are
   computed in closed form and the update is applied with fewer ops than
   Keras' generic path (same rule, same optimiser slots): about twice as
   many steps per second as a gradient tape.
3. Evaluation: the heads on every example of `--val_split`, with the same
   metrics (`top1_accuracy_<end point>`, `top5_accuracy_<end point>`), and a
   k-nearest-neighbour classifier on the end points of `--knn_end_points`
   (default `pre_logits`; `all` for every one): cosine similarity to the
   training features of the evaluation-preprocessing pass, the `--knn_k`
   (20) most similar vote with weight exp(similarity / `--knn_temperature`)
   (0.07; the weighting of Wu et al., 2018), giving
   `knn_top1_accuracy_<end point>` and `knn_top5_accuracy_<end point>`.
   Results go to `eval_results.csv`, `linear_eval_results.csv` and
   TensorBoard (`<workdir>/eval`), as end to end.

Without `--run_eval` a run extracts, trains (resuming from the workdir's
checkpoint; nothing is trained when it is complete), checkpoints, writes
`TRAINING_IS_DONE` and evaluates once. With `--run_eval` it evaluates the
latest checkpoint of the heads and exports a hub module for it, like the
end-to-end `--run_eval`. The checkpoints have the end-to-end format, so
either mode can evaluate the other's heads.

Everything runs on one device (CPU or one GPU); with several replicas use
the end-to-end mode.
"""

from collections.abc import Iterator, Mapping, Sequence
import hashlib
import json
import math
import os
import re
import threading
import time
from typing import Any

from absl import logging
import numpy as np
import tensorflow as tf

import optimization
from self_supervision import linear_eval
import trainer as trainer_lib
import utils

FEATURES_DIR = 'features'
_META = 'meta.json'
_LABELS = 'labels.npy'

# End point -> `[num_examples, h, w, c]` float32, and int32 labels. Kept as
# tensors: a copy of a few GB costs seconds on a busy CPU.
FeatureSet = tuple[dict[str, tf.Tensor], tf.Tensor]


# -- Feature extraction and storage -----------------------------------------


def _file_name(end_point: str) -> str:
  return re.sub(r'[^A-Za-z0-9_.-]', '_', end_point) + '.npy'


def _module_stamp(path: str) -> str:
  """Size and time of the module's graph file: a re-export changes the key."""
  for name in ('saved_model.pb', 'tfhub_module.pb'):
    full = os.path.join(path, name)
    if tf.io.gfile.exists(full):
      stat = tf.io.gfile.stat(full)
      return f'{stat.length}:{stat.mtime_nsec}'
  return ''


def feature_key(trainer: Any, split: str, variant: str) -> str:
  """The directory name of one stored feature set.

  Args:
    trainer: the `trainer.Trainer` of a linear-evaluation task.
    split: the data split.
    variant: `eval` (evaluation preprocessing) or `train<i>` (the i-th pass
      with the training preprocessing).

  Returns:
    `<split>-<variant>-<hash>`.
  """
  task = trainer.task
  options = linear_eval.options_summary(task)
  options.update(
      module_stamp=_module_stamp(task.hub_module), split=split,
      variant=variant, preprocessing=trainer.config.preprocessing,
      preprocess_args={k: str(v) for k, v in
                       sorted(trainer._pp_args.items())})  # pylint: disable=protected-access
  digest = hashlib.sha1(json.dumps(options, sort_keys=True).encode())
  return f'{split}-{variant}-{digest.hexdigest()[:12]}'


def _open(path: str, mode: str):
  # tf.io.gfile reads large local files several times slower than Python.
  if '://' in path:
    return tf.io.gfile.GFile(path, mode)
  return open(path, mode)  # noqa: SIM115


def _load(directory: str) -> FeatureSet | None:
  meta_path = os.path.join(directory, _META)
  if not tf.io.gfile.exists(meta_path):
    return None
  with tf.io.gfile.GFile(meta_path) as f:
    meta = json.load(f)
  features = {}
  for end_point in meta['end_points']:
    with _open(os.path.join(directory, _file_name(end_point)), 'rb') as f:
      features[end_point] = tf.constant(np.load(f))
  with _open(os.path.join(directory, _LABELS), 'rb') as f:
    labels = tf.constant(np.load(f))
  return features, labels


def _save(directory: str, features: Mapping[str, tf.Tensor],
          labels: tf.Tensor, meta: Mapping[str, Any]) -> None:
  tf.io.gfile.makedirs(directory)
  # `.numpy()` of a CPU tensor is a view, so nothing is copied here.
  for end_point, values in features.items():
    with _open(os.path.join(directory, _file_name(end_point)), 'wb') as f:
      np.save(f, values.numpy())
  with _open(os.path.join(directory, _LABELS), 'wb') as f:
    np.save(f, labels.numpy())
  # Written last: a directory without it is incomplete and recomputed.
  with tf.io.gfile.GFile(os.path.join(directory, _META), 'w') as f:
    json.dump(dict(meta, end_points=sorted(features)), f, indent=2)


class _BackgroundSaves:
  """Writes feature sets in threads while the heads train.

  Writing a few GB of `.npy` files takes tens of seconds; the write releases
  the GIL and the training runs in TensorFlow's threads, so the two overlap.
  `wait` re-raises the first error of a write.
  """

  def __init__(self):
    self._threads: list[threading.Thread] = []
    self._errors: list[BaseException] = []

  def start(self, *args: Any) -> None:
    def target():
      try:
        _save(*args)
      except BaseException as e:  # noqa: BLE001 - re-raised by wait().
        self._errors.append(e)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    self._threads.append(thread)

  def wait(self) -> None:
    for thread in self._threads:
      thread.join()
    self._threads = []
    if self._errors:
      error, self._errors = self._errors[0], []
      raise error


_SAVES = _BackgroundSaves()


def extract_features(trainer: Any, split: str,
                     training_preprocessing: bool) -> FeatureSet:
  """Runs the frozen module once over `split` and pools its end points.

  Args:
    trainer: the `trainer.Trainer` of a linear-evaluation task (built).
    split: the split to encode; every example once, in the data set's
      evaluation order.
    training_preprocessing: use the training variant of the preprocessing
      (random crops...) instead of the evaluation one.

  Returns:
    (end point -> float32 `[num_examples, h, w, c]`, int32 labels), as
    tensors.
  """
  task = trainer.task
  cfg = trainer.config
  training = bool(training_preprocessing)
  dataset = trainer.data.make(
      split, preprocess_fn=trainer._host_ops[training],  # pylint: disable=protected-access
      batch_size=cfg.eval_batch_size, training=False,
      seed=cfg.random_seed,
      skip_corrupt_examples=cfg.skip_corrupt_examples)
  device_fn = trainer._device_ops[training]  # pylint: disable=protected-access

  @tf.function
  def encode(batch):
    batch = task.device_preprocess(batch, device_fn)
    keep = batch['mask'] > 0
    features = {k: tf.boolean_mask(v, keep)
                for k, v in task.features(batch['image']).items()}
    return features, tf.boolean_mask(tf.cast(batch['label'], tf.int32), keep)

  num = trainer.data.num_examples(split)
  parts: dict[str, list[tf.Tensor]] = {}
  label_parts = []
  filled = 0
  start = time.time()
  for batch in dataset:
    feats, batch_labels = encode(batch)
    for end_point, values in feats.items():
      parts.setdefault(end_point, []).append(values)
    label_parts.append(batch_labels)
    filled += int(batch_labels.shape[0])
  features = {k: tf.concat(v, axis=0) for k, v in parts.items()}
  labels = tf.concat(label_parts, axis=0)
  if filled != num:
    raise RuntimeError(f'Split {split} yielded {filled} examples, expected '
                       f'{num}.')
  elapsed = time.time() - start
  logging.info('Encoded %d examples of %s (%s preprocessing) in %.1fs '
               '(%.0f images/s).', num, split,
               'training' if training else 'evaluation', elapsed,
               num / max(elapsed, 1e-9))
  return features, labels


def get_features(trainer: Any, split: str,
                 variant: str = 'eval') -> FeatureSet:
  """Stored features of one split and variant, computed if missing.

  Args:
    trainer: the `trainer.Trainer` of a linear-evaluation task (built).
    split: the data split.
    variant: `eval` or `train<i>` (see `feature_key`).

  Returns:
    (end point -> features, labels).
  """
  directory = os.path.join(trainer.config.workdir, FEATURES_DIR,
                           feature_key(trainer, split, variant))
  stored = _load(directory)
  if stored is not None:
    logging.info('Using stored features %s.', directory)
    return stored
  features, labels = extract_features(
      trainer, split, training_preprocessing=variant != 'eval')
  if trainer.is_chief:
    _SAVES.start(directory, features, labels,
                 dict(linear_eval.options_summary(trainer.task), split=split,
                      variant=variant, num_examples=int(labels.shape[0])))
  return features, labels


def training_features(trainer: Any) -> list[FeatureSet]:
  """The evaluation-preprocessing pass and every augmented pass."""
  split = trainer.config.train_split
  sets = [get_features(trainer, split, 'eval')]
  for i in range(trainer.task.cached_augment_passes):
    sets.append(get_features(trainer, split, f'train{i}'))
  return sets


# -- Training the heads -----------------------------------------------------


def _index_batches(num_examples: int, batch_size: int, seed: int | None,
                   start_step: int) -> Iterator[np.ndarray]:
  """Batches of indices: epochs of random permutations, end to end.

  Like a shuffled, repeated stream with `drop_remainder`, batches can span
  two epochs. Resuming at `start_step` skips that many batches.
  """
  rng = np.random.default_rng(seed)
  buffer = np.zeros([0], np.int64)
  step = 0
  while True:
    while len(buffer) < batch_size:
      buffer = np.concatenate([buffer, rng.permutation(num_examples)])
    batch, buffer = buffer[:batch_size], buffer[batch_size:]
    if step >= start_step:
      yield batch
    step += 1


def _is_momentum_tf1(optimizer: Any) -> bool:
  return (type(optimizer) is optimization.MomentumTF1 and
          hasattr(optimizer, '_accumulators'))


def _momentum_tf1_update(optimizer: Any, grads: Sequence[tf.Tensor],
                         variables: Sequence[Any]) -> None:
  """`MomentumTF1.apply_gradients`, with far fewer ops per step.

  The heads' steps are so small that the generic Keras update path costs
  twice as much as the step itself. This applies the same rule (a <- m * a +
  g; w <- w - lr * a, lr from the schedule at the current iteration) to the
  optimiser's own slots, so checkpoints stay interchangeable.
  """
  # pylint: disable=protected-access
  lr = optimizer.learning_rate
  for grad, variable in zip(grads, variables):
    acc = optimizer._accumulators[optimizer._get_variable_index(variable)]
    acc.assign(optimizer.momentum * acc + tf.cast(grad, acc.dtype))
    variable.assign_sub(tf.cast(lr, variable.dtype) * acc)
  optimizer.iterations.assign_add(1)


def _linear_layers(task: Any) -> list[Any] | None:
  """The heads' dense layers when the closed-form gradient applies.

  That is: linear heads (one dense layer each, no dropout) computing in
  float32, in the order of `task.heads.end_point_names`; None otherwise.
  """
  heads = task.heads
  if task.eval_model != 'linear' or heads is None:
    return None
  layers = [h[0] for h in heads.head_layers]
  if any(len(h) != 1 or layer.compute_dtype != 'float32'
         for h, layer in zip(heads.head_layers, layers)):
    return None
  return layers


def _linear_heads_step(layers: Sequence[Any], end_points: Sequence[str],
                       features: Mapping[str, tf.Tensor], labels: tf.Tensor,
                       weight_decay: float
                       ) -> tuple[tf.Tensor, list[tf.Tensor], list[Any]]:
  """Loss and gradients of linear heads, without a gradient tape.

  For logits z = x K + b and the mean cross-entropy over B examples, the
  gradients are dK = x^T (softmax(z) - onehot(y)) / B and db = the column
  sums of the same, plus wd * K from the penalty 0.5 * wd * |K|^2: the
  tape's results, up to summation order. The kernel's gradient is computed
  as (d^T x)^T, which reads x in its stored order; the tape's x^T d takes
  twice as long on CPU, and these products dominate the step.

  Args:
    layers: the heads' dense layers, one per end point.
    end_points: their end points, in the same order.
    features: end point -> `[B, D]` features of the batch.
    labels: `[B]` int32 labels.
    weight_decay: the heads' L2 strength.

  Returns:
    (summed mean cross-entropy of the heads, gradients, their variables).
  """
  batch = tf.cast(tf.shape(labels)[0], tf.float32)
  losses, grads, variables = [], [], []
  for layer, end_point in zip(layers, end_points):
    x = features[end_point]
    kernel, bias = layer.kernel, layer.bias
    logits = tf.matmul(x, kernel) + bias
    loss, dlogits = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(
        features=logits, labels=labels)
    dlogits /= batch
    dkernel = tf.transpose(tf.matmul(dlogits, x, transpose_a=True))
    if weight_decay:
      dkernel += weight_decay * tf.convert_to_tensor(kernel)
    losses.append(tf.reduce_mean(loss))
    grads += [dkernel, tf.reduce_sum(dlogits, axis=0)]
    variables += [kernel, bias]
  return tf.add_n(losses), grads, variables


def train_heads(trainer: Any, train_sets: Sequence[FeatureSet]) -> float:
  """Trains the task's heads on stored features to the planned step.

  Args:
    trainer: the built `trainer.Trainer` (its optimiser, schedule and
      checkpoint manager are used, so checkpoints match the end-to-end
      mode's).
    train_sets: feature sets whose examples are pooled for training.

  Returns:
    The mean loss of the last epoch (NaN if nothing was trained).

  Raises:
    trainer.DivergenceError: on a NaN or infinite loss.
  """
  task = trainer.task
  cfg = trainer.config
  schedule = trainer.schedule
  total = schedule.total_steps
  if trainer.step >= total:
    logging.info('The heads are trained already (step %d).', trainer.step)
    return float('nan')
  end_points = sorted(train_sets[0][0])

  def pooled(tensors):
    return tensors[0] if len(tensors) == 1 else tf.concat(tensors, axis=0)

  features = {k: pooled([s[0][k] for s in train_sets]) for k in end_points}
  labels = tf.cast(pooled([s[1] for s in train_sets]), tf.int32)
  num = int(labels.shape[0])
  batch_size = cfg.batch_size
  optimizer = trainer.optimizer
  variables = task.trainable_variables
  fast_sgd = _is_momentum_tf1(optimizer)

  linear_layers = _linear_layers(task) if fast_sgd else None
  # Flat `[N, D]` views (no copy): the heads flatten their input anyway.
  flat = {k: tf.reshape(v, [num, -1]) for k, v in features.items()}

  @tf.function(input_signature=[tf.TensorSpec([None, batch_size], tf.int64)])
  def train_chunk(indices):
    # Many steps per call: one graph, no per-step Python or input pipeline.
    loss_sum = tf.constant(0.0)
    ones = tf.ones([batch_size], tf.float32)
    for i in tf.range(tf.shape(indices)[0]):
      idx = indices[i]
      batch = {k: tf.gather(v, idx) for k, v in flat.items()}
      batch_labels = tf.gather(labels, idx)
      if linear_layers is not None:
        loss, grads, step_vars = _linear_heads_step(
            linear_layers, task.heads.end_point_names, batch, batch_labels,
            task.weight_decay)
        _momentum_tf1_update(optimizer, grads, step_vars)
      else:
        with tf.GradientTape() as tape:
          loss = task.head_outputs(batch, batch_labels, ones,
                                   training=True).loss
          total_loss = loss + task.regularization_loss()
        grads = tape.gradient(total_loss, variables)
        if fast_sgd:
          _momentum_tf1_update(optimizer, grads, variables)
        else:
          optimizer.apply_gradients(zip(grads, variables))
      loss_sum += loss
    return loss_sum / tf.cast(tf.shape(indices)[0], tf.float32)

  logging.info('Training heads on %d stored examples for %d steps (batch '
               '%d, %d steps per epoch of the split).', num,
               total - trainer.step, batch_size, schedule.steps_per_epoch)
  writer = (tf.summary.create_file_writer(cfg.workdir) if trainer.is_chief
            else tf.summary.create_noop_writer())
  batches = _index_batches(num, batch_size, cfg.random_seed, trainer.step)
  chunk = max(schedule.steps_per_epoch, 1)
  last_loss = float('nan')
  start = time.time()
  while trainer.step < total:
    n = min(chunk, total - trainer.step)
    indices = np.stack([next(batches) for _ in range(n)])
    last_loss = float(train_chunk(tf.constant(indices)).numpy())
    if not math.isfinite(last_loss):
      raise trainer_lib.DivergenceError(
          f'The loss of the heads became NaN or infinite before step '
          f'{trainer.step}.')
    step = trainer.step
    logging.info('step %d/%d loss %.4f (%.1fs)', step, total, last_loss,
                 time.time() - start)
    with writer.as_default(step=step):
      tf.summary.scalar('loss', last_loss)
      tf.summary.scalar('learning_rate', schedule.value(max(step - 1, 0)))
  writer.flush()
  return last_loss


# -- Evaluation -------------------------------------------------------------


def evaluate_heads(task: Any, features: Mapping[str, tf.Tensor],
                   labels: tf.Tensor, batch_size: int = 1024
                   ) -> dict[str, float]:
  """The task's metrics over every stored example (exact means).

  Returns:
    Metric name -> value, plus `loss` and `num_examples`, as
    `Trainer.evaluate` returns them.
  """

  @tf.function
  def step(batch, batch_labels):
    mask = tf.ones_like(batch_labels, tf.float32)
    out = task.head_outputs(batch, batch_labels, mask, training=False)
    count = tf.reduce_sum(mask)
    metrics = dict(out.metrics)
    metrics['loss'] = (out.loss * count, count)
    return metrics

  sums: dict[str, float] = {}
  counts: dict[str, float] = {}
  num = int(labels.shape[0])
  for begin in range(0, num, batch_size):
    end = min(begin + batch_size, num)
    result = step({k: v[begin:end] for k, v in features.items()},
                  labels[begin:end])
    for name, (s, c) in result.items():
      sums[name] = sums.get(name, 0.0) + float(s.numpy())
      counts[name] = counts.get(name, 0.0) + float(c.numpy())
  metrics = {k: sums[k] / counts[k] if counts[k] else float('nan')
             for k in sorted(sums)}
  metrics['num_examples'] = float(num)
  return metrics


def knn_accuracy(train_features: tf.Tensor | np.ndarray,
                 train_labels: tf.Tensor | np.ndarray,
                 test_features: tf.Tensor | np.ndarray,
                 test_labels: tf.Tensor | np.ndarray, *,
                 num_classes: int, k: int = 20, temperature: float = 0.07,
                 batch_size: int = 1024) -> tuple[float, float]:
  """Top-1 and top-5 accuracy of a weighted k-nearest-neighbour classifier.

  Features are flattened and L2-normalised, so the dot product is the cosine
  similarity; each of the k most similar training examples votes for its
  class with weight exp(similarity / temperature).

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


def evaluate(trainer: Any, train_sets: Sequence[FeatureSet] | None = None
             ) -> dict[str, float]:
  """Heads and kNN on the evaluation split; records the results.

  Args:
    trainer: the built `trainer.Trainer` with the heads to evaluate.
    train_sets: the training features for kNN (loaded when needed and not
      given).

  Returns:
    The metrics, as written to `eval_results.csv`.
  """
  task = trainer.task
  cfg = trainer.config
  split = cfg.val_split
  start = time.time()
  features, labels = get_features(trainer, split, 'eval')
  metrics = evaluate_heads(task, features, labels)
  knn_names = linear_eval.parse_knn_end_points(task.knn_end_points,
                                               sorted(features))
  if knn_names:
    if train_sets is None:
      train_sets = [get_features(trainer, cfg.train_split, 'eval')]
    train_features, train_labels = train_sets[0]
    for end_point in knn_names:
      top1, top5 = knn_accuracy(
          train_features[end_point], train_labels, features[end_point],
          labels, num_classes=task.num_classes, k=task.knn_k,
          temperature=task.knn_temperature)
      metrics[f'knn_top1_accuracy_{end_point}'] = top1
      metrics[f'knn_top5_accuracy_{end_point}'] = top5
  step = trainer.step
  logging.info('Evaluation (cached, step %d) on %s in %.1fs: %s', step, split,
               time.time() - start,
               ', '.join(f'{k} {v:.4f}' for k, v in metrics.items()))
  if trainer.is_chief:
    writer = tf.summary.create_file_writer(os.path.join(cfg.workdir, 'eval'))
    with writer.as_default(step=step):
      for name, value in metrics.items():
        tf.summary.scalar(name, value)
    writer.flush()
    latest = trainer.manager.latest_checkpoint
    trainer_lib._append_csv(  # pylint: disable=protected-access
        os.path.join(cfg.workdir, trainer_lib.EVAL_RESULTS),
        {'step': step,
         'checkpoint': os.path.basename(latest) if latest else '',
         'split': split, 'mode': 'cached', **metrics})
    task.report(metrics, split=split, step=step, workdir=cfg.workdir)
  return metrics


# -- Entry point ------------------------------------------------------------


def run(trainer: Any, run_eval: bool = False) -> dict[str, float]:
  """`--linear_eval_mode cached`: trains and/or evaluates on stored features.

  Args:
    trainer: the `trainer.Trainer` of a `linear_eval` task.
    run_eval: evaluate (and export) the latest checkpoint of the heads
      instead of training.

  Returns:
    The evaluation metrics.

  Raises:
    utils.UsageError: for another task, several replicas, or `--run_eval`
      without trained heads in the workdir.
  """
  if not isinstance(trainer.task, linear_eval.LinearEvalTask):
    raise utils.UsageError('--linear_eval_mode cached needs --task '
                           'linear_eval.')
  if trainer.num_replicas > 1:
    raise utils.UsageError(
        f'--linear_eval_mode cached runs on one device, but the strategy has '
        f'{trainer.num_replicas} replicas; use --linear_eval_mode '
        f'end_to_end.')
  try:
    return _run(trainer, run_eval)
  finally:
    # The features are complete on disk before the run ends (or fails).
    _SAVES.wait()


def _run(trainer: Any, run_eval: bool) -> dict[str, float]:
  trainer.build()
  cfg = trainer.config
  start = time.time()
  if run_eval:
    if trainer.restore() is None:
      raise utils.UsageError(
          f'No checkpoint of linear-evaluation heads in --workdir '
          f'{cfg.workdir}; run the same command without --run_eval first.')
    metrics = evaluate(trainer)
    trainer.export()
    return metrics
  trainer.restore()
  train_sets = training_features(trainer)
  train_heads(trainer, train_sets)
  latest = trainer.manager.latest_checkpoint
  if latest is None or trainer._checkpoint_step(latest) != trainer.step:  # pylint: disable=protected-access
    trainer.manager.save(checkpoint_number=trainer.step)
  if trainer.is_chief:
    with tf.io.gfile.GFile(os.path.join(cfg.workdir, trainer_lib.DONE_FILE),
                           'w') as f:
      f.write(f'{trainer.step}\n')
  metrics = evaluate(trainer, train_sets)
  logging.info('Cached linear evaluation took %.1fs.', time.time() - start)
  return metrics
