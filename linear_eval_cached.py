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
mode computes them once and trains the same heads on them. It drives the
trainer's public surface (its optimiser, schedule, checkpoints, outer loop
and results record), so `--epochs`, `--batch_size`, `--lr` and
`--decay_epochs` mean what they mean end to end and either mode can
evaluate the other's checkpoints.

1. Features (`self_supervision/feature_store.py`): the module runs once
   over the training split with the evaluation preprocessing (e.g. the
   central crop), plus `--cached_augment_passes` passes with the training
   preprocessing (e.g. random crops; 0 by default), and once over the
   evaluation split. They are stored under `<workdir>/features/` and reused
   by later runs; the files are written in the background while the heads
   train.
2. Heads: minibatch steps over the shuffled stored features, all passes
   pooled together, many steps per `tf.function` call, each minibatch
   gathered by index (the indices are drawn in NumPy, epoch after epoch of
   permutations, so a resumed run continues the same sequence). With
   `--optimizer sgd` and linear heads the gradients are computed in closed
   form (`linear_eval.Heads.closed_form_step`) and applied with
   `optimization.MomentumTF1.apply_lean`: about twice as many steps per
   second as a gradient tape and Keras' generic update.
3. Evaluation: the heads on every example of `--val_split`, with the same
   metrics (`top1_accuracy_<end point>`, `top5_accuracy_<end point>`), and
   the k-nearest-neighbour classifier of `self_supervision/knn.py` on the
   end points of `--knn_end_points` (default `pre_logits`; `all` for every
   one), against the training features of the evaluation-preprocessing
   pass, giving `knn_top1_accuracy_<end point>` and
   `knn_top5_accuracy_<end point>`. Results go where the trainer records
   every evaluation (`eval_results.csv`, TensorBoard's `eval/`) and to
   `linear_eval_results.csv`.

Without `--run_eval` a run extracts, trains (resuming from the workdir's
checkpoint; nothing is trained when it is complete), checkpoints, writes
`TRAINING_IS_DONE` and evaluates once. With `--run_eval` it evaluates the
latest checkpoint of the heads and exports a hub module for it, like the
end-to-end `--run_eval`.

Everything runs on one device (CPU or one GPU); with several replicas use
the end-to-end mode.
"""

from collections.abc import Iterator, Mapping, Sequence
import os
import time
from typing import Any

from absl import logging
import numpy as np
import tensorflow as tf

import evaluation
import optimization
from self_supervision import feature_store, knn, linear_eval
import trainer as trainer_lib
import utils

FeatureSet = feature_store.FeatureSet

_SAVES = feature_store.BackgroundSaves()


# -- Features -----------------------------------------------------------------


def _feature_options(trainer: trainer_lib.Trainer) -> dict[str, Any]:
  options = linear_eval.options_summary(trainer.task)
  options.update(module_stamp=feature_store.module_stamp(
      trainer.task.hub_module), **trainer.pipeline.description())
  return options


def get_features(trainer: trainer_lib.Trainer, split: str,
                 variant: str = 'eval') -> FeatureSet:
  """Stored features of one split and variant, computed if missing.

  Args:
    trainer: the built trainer of a linear-evaluation task.
    split: the data split.
    variant: `eval` (the evaluation preprocessing) or `train<i>` (the i-th
      pass with the training preprocessing).

  Returns:
    (end point -> features, labels).
  """
  cfg = trainer.config
  options = _feature_options(trainer)
  directory = os.path.join(cfg.workdir, feature_store.FEATURES_DIR,
                           feature_store.feature_key(options, split, variant))
  stored = feature_store.load(directory)
  if stored is not None:
    logging.info('Using stored features %s.', directory)
    return stored
  training = variant != 'eval'
  dataset = trainer.data.make(
      split, preprocess_fn=trainer.pipeline.host[training],
      batch_size=cfg.eval_batch_size, training=False, seed=cfg.random_seed,
      skip_corrupt_examples=cfg.skip_corrupt_examples)
  features, labels = feature_store.extract(
      trainer.task, dataset, trainer.pipeline.device[training],
      trainer.data.num_examples(split),
      f'{split} ({"training" if training else "evaluation"} preprocessing)')
  if trainer.is_chief:
    _SAVES.start(directory, features, labels,
                 dict(options, split=split, variant=variant,
                      num_examples=int(labels.shape[0])))
  return features, labels


def training_features(trainer: trainer_lib.Trainer) -> list[FeatureSet]:
  """The evaluation-preprocessing pass and every augmented pass."""
  split = trainer.config.train_split
  sets = [get_features(trainer, split, 'eval')]
  for i in range(trainer.task.cached_augment_passes):
    sets.append(get_features(trainer, split, f'train{i}'))
  return sets


# -- Training the heads -------------------------------------------------------


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


def heads_steps(trainer: trainer_lib.Trainer,
                train_sets: Sequence[FeatureSet]) -> trainer_lib.StepsFn:
  """The trainer's loop body for the heads on stored features.

  Args:
    trainer: the built (and restored) trainer.
    train_sets: feature sets whose examples are pooled for training.

  Returns:
    `run(n)`: n steps from the trainer's current step.
  """
  task = trainer.task
  batch_size = trainer.config.batch_size
  end_points = sorted(train_sets[0][0])

  def pooled(tensors):
    return tensors[0] if len(tensors) == 1 else tf.concat(tensors, axis=0)

  labels = tf.cast(pooled([s[1] for s in train_sets]), tf.int32)
  num = int(labels.shape[0])
  # Flat `[N, D]` views (no copy): the heads flatten their input anyway.
  flat = {k: tf.reshape(pooled([s[0][k] for s in train_sets]), [num, -1])
          for k in end_points}
  optimizer = trainer.optimizer
  variables = task.trainable_variables
  lean = isinstance(optimizer, optimization.MomentumTF1)
  closed_form = lean and task.heads.has_closed_form

  @tf.function(input_signature=[tf.TensorSpec([None, batch_size], tf.int64)])
  def train_chunk(indices):
    # Many steps per call: one graph, no per-step Python or input pipeline.
    loss_sum = tf.constant(0.0)
    penalty_sum = tf.constant(0.0)
    done = tf.constant(0)
    bad_step = tf.constant(-1, tf.int64)
    ones = tf.ones([batch_size], tf.float32)
    for i in tf.range(tf.shape(indices)[0]):
      step = tf.cast(tf.identity(optimizer.iterations), tf.int64)
      idx = indices[i]
      batch = {k: tf.gather(v, idx) for k, v in flat.items()}
      batch_labels = tf.gather(labels, idx)
      if closed_form:
        loss, grads, step_vars = task.heads.closed_form_step(batch,
                                                             batch_labels)
        penalty = task.regularization_loss()
      else:
        with tf.GradientTape() as tape:
          loss = task.head_outputs(batch, batch_labels, ones,
                                   training=True).loss
          penalty = task.regularization_loss()
          total_loss = loss + penalty
        grads = tape.gradient(total_loss, variables)
        step_vars = variables
      done += 1
      if not tf.math.is_finite(loss + penalty):
        bad_step = step
        break
      if lean:
        optimizer.apply_lean(grads, step_vars)
      else:
        optimizer.apply_gradients(zip(grads, step_vars))
      loss_sum += loss
      penalty_sum += penalty
    n = tf.maximum(tf.cast(done, tf.float32), 1.0)
    return loss_sum / n, penalty_sum / n, done, bad_step

  logging.info('Training heads on %d stored examples (batch %d, %d steps '
               'per epoch of the split).', num, batch_size,
               trainer.schedule.steps_per_epoch)
  batches = _index_batches(num, batch_size, trainer.config.random_seed,
                           trainer.step)

  def run(num_steps: int):
    indices = np.stack([next(batches) for _ in range(num_steps)])
    return train_chunk(tf.constant(indices))

  return run


# -- Evaluation ---------------------------------------------------------------


def evaluate_heads(task: linear_eval.LinearEvalTask,
                   features: Mapping[str, tf.Tensor], labels: tf.Tensor,
                   batch_size: int = 1024) -> dict[str, float]:
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

  sums = evaluation.MetricSums()
  num = int(labels.shape[0])
  for begin in range(0, num, batch_size):
    end = min(begin + batch_size, num)
    sums.add(step({k: v[begin:end] for k, v in features.items()},
                  labels[begin:end]))
  return sums.means()


def evaluate(trainer: trainer_lib.Trainer,
             train_sets: Sequence[FeatureSet] | None = None
             ) -> dict[str, float]:
  """Heads and kNN on the evaluation split; records the results.

  Args:
    trainer: the built trainer with the heads to evaluate.
    train_sets: the training features for kNN (loaded when needed and not
      given).

  Returns:
    The metrics, as recorded in `eval_results.csv`.
  """
  task = trainer.task
  cfg = trainer.config
  split = cfg.val_split
  start = time.time()
  features, labels = get_features(trainer, split, 'eval')
  if cfg.eval_drop_remainder:
    # As the original: whole evaluation batches only (SPEC C3.11).
    kept = len(labels) // cfg.eval_batch_size * cfg.eval_batch_size
    features = {k: v[:kept] for k, v in features.items()}
    labels = labels[:kept]
  metrics = evaluate_heads(task, features, labels)
  knn_names = linear_eval.parse_knn_end_points(task.knn_end_points,
                                               sorted(features))
  if knn_names:
    if train_sets is None:
      train_sets = [get_features(trainer, cfg.train_split, 'eval')]
    train_features, train_labels = train_sets[0]
    for end_point in knn_names:
      top1, top5 = knn.knn_accuracy(
          train_features[end_point], train_labels, features[end_point],
          labels, num_classes=task.num_classes, k=task.knn_k,
          temperature=task.knn_temperature)
      metrics[f'knn_top1_accuracy_{end_point}'] = top1
      metrics[f'knn_top5_accuracy_{end_point}'] = top5
  logging.info('Cached evaluation on %s took %.1fs.', split,
               time.time() - start)
  trainer.record_evaluation(metrics, split=split,
                            checkpoint=trainer.manager.latest_checkpoint,
                            extra={'mode': 'cached'})
  return metrics


# -- Entry point --------------------------------------------------------------


def run(trainer: trainer_lib.Trainer, run_eval: bool = False
        ) -> dict[str, float]:
  """`--linear_eval_mode cached`: trains and/or evaluates on stored features.

  Args:
    trainer: the trainer of a `linear_eval` task.
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


def _run(trainer: trainer_lib.Trainer, run_eval: bool) -> dict[str, float]:
  trainer.build()
  start = time.time()
  if run_eval:
    if trainer.restore() is None:
      raise utils.UsageError(
          f'No checkpoint of linear-evaluation heads in --workdir '
          f'{trainer.config.workdir}; run the same command without '
          f'--run_eval first.')
    metrics = evaluate(trainer)
    trainer.export()
    return metrics
  train_sets = training_features(trainer)
  trainer.train(make_steps=lambda: heads_steps(trainer, train_sets))
  metrics = evaluate(trainer, train_sets)
  logging.info('Cached linear evaluation took %.1fs.', time.time() - start)
  return metrics
