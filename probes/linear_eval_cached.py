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

1. Features (`probes/feature_store.py`): the module runs once
   over the training split with the evaluation preprocessing (e.g. the
   central crop), plus `--cached_augment_passes` passes with the training
   preprocessing (e.g. random crops; 0 by default), and once over the
   evaluation split. Each pass is written to disk in shards while it is
   encoded, under `<workdir>/features/`, and reused by later runs.
2. Heads: minibatch steps over a `tf.data` stream of the stored shards,
   all passes pooled and shuffled (`feature_store.training_stream`: shards
   in a new random order every epoch, examples permuted within windows of a
   few hundred MB), many steps per `tf.function` call. The order is a
   function of `--random_seed` and the epoch, so a resumed run continues
   the same sequence. With `--optimizer sgd` and linear heads the gradients
   are computed in closed form (`linear_eval.Heads.closed_form_step`) and
   applied with `optimization.MomentumTF1.apply_lean`: about twice as many
   steps per second as a gradient tape and Keras' generic update.
3. Evaluation: the heads on every example of `--val_split`, streamed, with
   the same metrics (`top1_accuracy_<end point>`,
   `top5_accuracy_<end point>`), and the weighted k-nearest-neighbour
   classifier (`probes/streamed_knn.py`, over streamed
   features) on the end points of
   `--knn_end_points` (default `pre_logits`; `all` for every one), against
   the training features of the evaluation-preprocessing pass, giving
   `knn_top1_accuracy_<end point>` and `knn_top5_accuracy_<end point>`.
   Results go where the trainer records every evaluation
   (`eval_results.csv`, TensorBoard's `eval/`) and to
   `linear_eval_results.csv`.

Memory stays bounded whatever the split's size: one batch while encoding,
a few shards and shuffle windows while training, one block of kNN queries
(`feature_store.StreamOptions`).

Protocol: the heads see fixed views, the features of the evaluation
preprocessing and of `--cached_augment_passes` fixed augmented passes,
reused every epoch. The paper's protocol, which the
end-to-end mode follows, draws a fresh random crop every step; with a
deterministic preprocessing the two are the same.

Without `--run_eval` a run extracts, trains (resuming from the workdir's
checkpoint; nothing is trained when it is complete), checkpoints, writes
`TRAINING_IS_DONE` and evaluates once. With `--run_eval` it evaluates the
latest checkpoint of the heads and exports a hub module for it, like the
end-to-end `--run_eval`.

Everything runs on one device (CPU or one GPU); with several replicas use
the end-to-end mode.
"""

from collections.abc import Sequence
import os
import tempfile
import time
from typing import Any

from absl import logging
import tensorflow as tf

from revisiting_ssl import trainer as trainer_lib
from revisiting_ssl import utils
from revisiting_ssl.probes import feature_store, linear_eval, streamed_knn
from revisiting_ssl.training import evaluation, optimization

StoredFeatures = feature_store.StoredFeatures
StreamOptions = feature_store.StreamOptions

# Examples per evaluation batch of the heads.
_EVAL_BATCH = 1024


# -- Features -----------------------------------------------------------------


def _feature_options(trainer: trainer_lib.Trainer) -> dict[str, Any]:
  options = linear_eval.options_summary(trainer.task)
  options.update(module_stamp=feature_store.module_stamp(
      trainer.task.hub_module), **trainer.pipeline.description())
  return options


def get_features(trainer: trainer_lib.Trainer, split: str,
                 variant: str = 'eval',
                 options: StreamOptions = feature_store.DEFAULTS
                 ) -> StoredFeatures:
  """Stored features of one split and variant, computed if missing.

  Args:
    trainer: the built trainer of a linear-evaluation task.
    split: the data split.
    variant: `eval` (the evaluation preprocessing) or `train<i>` (the i-th
      pass with the training preprocessing).
    options: the shard size of a new set.

  Returns:
    The stored set.
  """
  cfg = trainer.config
  key_options = _feature_options(trainer)
  key = feature_store.feature_key(key_options, split, variant)
  root = os.path.join(cfg.workdir, feature_store.FEATURES_DIR)
  directory = os.path.join(root, key)
  stored = feature_store.load(directory)
  if stored is not None:
    logging.info('Using stored features %s.', directory)
    return stored
  if not trainer.is_chief:
    # Only the chief writes to the workdir (as with checkpoints).
    directory = os.path.join(tempfile.mkdtemp(prefix='worker_features_'),
                             key)
  training = variant != 'eval'
  dataset = trainer.data.make(
      split, preprocess_fn=trainer.pipeline.host[training],
      batch_size=cfg.eval_batch_size, training=False, seed=cfg.random_seed,
      skip_corrupt_examples=cfg.skip_corrupt_examples)
  return feature_store.extract(
      trainer.task, dataset, trainer.pipeline.device[training],
      trainer.data.num_examples(split),
      f'{split} ({"training" if training else "evaluation"} preprocessing)',
      directory, dict(key_options, split=split, variant=variant), options)


def training_features(trainer: trainer_lib.Trainer,
                      options: StreamOptions = feature_store.DEFAULTS
                      ) -> list[StoredFeatures]:
  """The evaluation-preprocessing pass and every augmented pass."""
  split = trainer.config.train_split
  sets = [get_features(trainer, split, 'eval', options)]
  for i in range(trainer.task.cached_augment_passes):
    sets.append(get_features(trainer, split, f'train{i}', options))
  return sets


# -- Training the heads -------------------------------------------------------


def heads_steps(trainer: trainer_lib.Trainer,
                train_sets: Sequence[StoredFeatures],
                options: StreamOptions = feature_store.DEFAULTS
                ) -> trainer_lib.StepsFn:
  """The trainer's loop body for the heads on stored features.

  Args:
    trainer: the built (and restored) trainer.
    train_sets: feature sets whose examples are pooled for training.
    options: the stream's window and reads.

  Returns:
    `run(n)`: n steps from the trainer's current step.
  """
  task = trainer.task
  batch_size = trainer.config.batch_size
  optimizer = trainer.optimizer
  variables = task.trainable_variables
  lean = isinstance(optimizer, optimization.MomentumTF1)
  closed_form = lean and task.heads.has_closed_form

  @tf.function
  def train_chunk(iterator, num_steps):
    # Many steps per call: one graph, no per-step Python.
    loss_sum = tf.constant(0.0)
    penalty_sum = tf.constant(0.0)
    done = tf.constant(0)
    bad_step = tf.constant(-1, tf.int64)
    ones = tf.ones([batch_size], tf.float32)
    for _ in tf.range(num_steps):
      step = tf.cast(tf.identity(optimizer.iterations), tf.int64)
      batch, batch_labels = next(iterator)
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

  num = sum(s.num_examples for s in train_sets)
  logging.info('Training heads on %d stored examples in %d shards (batch %d, '
               '%d steps per epoch of the split).', num,
               sum(s.num_shards for s in train_sets), batch_size,
               trainer.schedule.steps_per_epoch)
  iterator = iter(feature_store.training_stream(
      train_sets, batch_size, seed=trainer.config.random_seed,
      start_step=trainer.step, options=options))

  def run(num_steps: int):
    return train_chunk(iterator, tf.constant(num_steps))

  return run


# -- Evaluation ---------------------------------------------------------------


def evaluate_heads(task: linear_eval.LinearEvalTask, stored: StoredFeatures,
                   limit: int | None = None,
                   options: StreamOptions = feature_store.DEFAULTS
                   ) -> dict[str, float]:
  """The task's metrics over the stored examples (exact means).

  Args:
    task: the task with the heads.
    stored: the evaluation features, streamed.
    limit: evaluate the first `limit` examples only (default all).
    options: the parallel reads.

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
  left = stored.num_examples if limit is None else limit
  for batch, labels in feature_store.evaluation_stream(
      stored, _EVAL_BATCH, options=options):
    if left <= 0:
      break
    size = min(left, int(labels.shape[0]))
    left -= size
    sums.add(step({k: v[:size] for k, v in batch.items()}, labels[:size]))
  return sums.means()


def knn_metrics(task: linear_eval.LinearEvalTask, bank: StoredFeatures,
                queries: StoredFeatures, end_points: Sequence[str],
                limit: int | None = None,
                options: StreamOptions = feature_store.DEFAULTS
                ) -> dict[str, float]:
  """The kNN accuracies of the queries' end points against a labelled bank.

  Args:
    task: the task (its kNN settings and classes).
    bank: the training features.
    queries: the evaluation features.
    end_points: the end points to classify.
    limit: classify the first `limit` queries only (default all).
    options: the bound on a block of queries.

  Returns:
    `knn_top1_accuracy_<end point>` and `knn_top5_accuracy_<end point>`.
  """
  metrics = {}
  for end_point in end_points:
    dim = queries.dims[end_point]
    block = max(1, min(options.knn_block_bytes // (4 * dim),
                       options.knn_block_bytes // (
                           4 * (streamed_knn.BANK_CHUNK + task.knn_k))))
    if limit is not None:
      block = min(block, max(limit, 1))

    def blocks(stored, size, end_point=end_point, count=None):
      stream = feature_store.evaluation_stream(stored, size, [end_point],
                                               options)
      if count is not None:
        stream = stream.unbatch().take(count).batch(size)
      return ((features[end_point], labels) for features, labels in stream)

    top1, top5 = streamed_knn.knn_accuracy(
        lambda: blocks(bank, streamed_knn.BANK_CHUNK),  # noqa: B023
        blocks(queries, block, count=limit), bank_size=bank.num_examples,
        num_classes=task.num_classes, k=task.knn_k,
        temperature=task.knn_temperature)
    metrics[f'knn_top1_accuracy_{end_point}'] = top1
    metrics[f'knn_top5_accuracy_{end_point}'] = top5
  return metrics


def evaluate(trainer: trainer_lib.Trainer,
             train_sets: Sequence[StoredFeatures] | None = None,
             options: StreamOptions = feature_store.DEFAULTS
             ) -> dict[str, float]:
  """Heads and kNN on the evaluation split; records the results.

  Args:
    trainer: the built trainer with the heads to evaluate.
    train_sets: the training features for kNN (found, or computed, when
      needed and not given).
    options: the stream sizes.

  Returns:
    The metrics, as recorded in `eval_results.csv`.
  """
  task = trainer.task
  cfg = trainer.config
  split = cfg.val_split
  start = time.time()
  stored = get_features(trainer, split, 'eval', options)
  limit = None
  if cfg.eval_drop_remainder:
    # As the original: whole evaluation batches only.
    limit = stored.num_examples // cfg.eval_batch_size * cfg.eval_batch_size
  metrics = evaluate_heads(task, stored, limit, options)
  knn_names = linear_eval.parse_knn_end_points(task.knn_end_points,
                                               list(stored.end_points))
  if knn_names:
    if train_sets is None:
      train_sets = [get_features(trainer, cfg.train_split, 'eval', options)]
    metrics.update(knn_metrics(task, train_sets[0], stored, knn_names, limit,
                               options))
  logging.info('Cached evaluation on %s took %.1fs.', split,
               time.time() - start)
  trainer.record_evaluation(metrics, split=split,
                            checkpoint=trainer.manager.latest_checkpoint,
                            extra={'mode': 'cached',
                                   'cached_augment_passes':
                                       task.cached_augment_passes})
  return metrics


# -- Entry point --------------------------------------------------------------


def run(trainer: trainer_lib.Trainer, run_eval: bool = False,
        options: StreamOptions = feature_store.DEFAULTS
        ) -> dict[str, float]:
  """`--linear_eval_mode cached`: trains and/or evaluates on stored features.

  Args:
    trainer: the trainer of a `linear_eval` task.
    run_eval: evaluate (and export) the latest checkpoint of the heads
      instead of training.
    options: the sizes that bound memory (shards, windows, kNN blocks).

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
  trainer.build()
  start = time.time()
  if run_eval:
    if trainer.restore() is None:
      raise utils.UsageError(
          f'No checkpoint of linear-evaluation heads in --workdir '
          f'{trainer.config.workdir}; run the same command without '
          f'--run_eval first.')
    metrics = evaluate(trainer, options=options)
    trainer.export()
    return metrics
  train_sets = training_features(trainer, options)
  trainer.train(make_steps=lambda: heads_steps(trainer, train_sets, options))
  metrics = evaluate(trainer, train_sets, options)
  logging.info('Cached linear evaluation took %.1fs.', time.time() - start)
  return metrics
