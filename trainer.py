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

"""The trainer: TPUEstimator's contract on `tf.distribute`.

One trainer drives every task. It owns the distribution strategy, the
optimiser and schedule, the compiled multi-step training loop, checkpoints
(with automatic resume), TensorBoard summaries, exact evaluation over a split
and the hub export of every evaluated checkpoint.

Resume order: (1) the latest checkpoint in the workdir, (2) a fresh start.
A checkpoint is only written after a loop whose losses were all finite, so a
divergence never overwrites the last good one. Every worker of a multi-worker
job resumes from the chief's checkpoint in the workdir.

Exact resume: with a random seed, the training input iterator (data order,
shuffle buffers and, through per-example seeds, the augmentation) is saved in
every checkpoint where the strategy allows it (the default strategy: one CPU
or GPU), so a run that is killed and restarted ends with the same weights as
one that never was. Other strategies resume the data order from scratch.
"""

from collections.abc import Callable, Mapping, Sequence
import contextlib
import csv
import dataclasses
import math
import os
import re
import tempfile
import time
from typing import Any

from absl import logging
import keras
import numpy as np
import tensorflow as tf

import hub_export
import optimization
import preprocess
from self_supervision import self_supervision_lib
import utils

DONE_FILE = 'TRAINING_IS_DONE'
EVAL_RESULTS = 'eval_results.csv'


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
  """What the trainer needs, resolved from the flags by the entry point."""
  workdir: str
  train_split: str
  val_split: str
  batch_size: int
  eval_batch_size: int
  epochs: float
  lr: float
  lr_scale_batch_size: float | None
  decay_epochs: tuple[float, ...] | None
  warmup_epochs: float
  lr_decay_factor: float
  optimizer: str
  preprocessing: str
  iterations_per_loop: int
  jit_compile: bool
  keep_checkpoint_max: int
  keep_checkpoint_every_n_hours: float
  save_checkpoints_secs: int | None
  save_checkpoints_steps: int | None
  random_seed: int | None
  serving_input_shape: tuple[int | None, ...]
  skip_corrupt_examples: bool = False
  eval_timeout_secs: float = 600.0
  keep_exports: int = 5
  summary_images: int = 3
  loss_scaling: bool = False


class DivergenceError(utils.RunAbortedError):
  """The training loss became NaN or infinite."""


class ClusterError(utils.RunAbortedError):
  """Another worker of a multi-worker job failed or cannot be reached."""


# Messages of the input pipeline's assertions (datasets.py): a user's data
# problem, reported as one line naming the file.
_DATA_ERROR_MARKERS = ('TFRecord file', 'Corrupt record', 'Label out of range',
                       'does not have the expected')


def _data_error(error: tf.errors.OpError) -> utils.UsageError | None:
  """The one-line UsageError for an input-data assertion, or None."""
  message = getattr(error, 'message', None) or str(error)
  match = re.search(r'assertion failed: (.*)', message)
  if not match:
    return None
  # Assert prints each of its data items in brackets.
  items = re.findall(r'\[([^\[\]]*)\]', match.group(1))
  text = ' '.join(i.strip() for i in items if i.strip()) or match.group(1)
  if not any(marker in text for marker in _DATA_ERROR_MARKERS):
    return None
  return utils.UsageError(
      f'Bad input data: {text} (--skip_corrupt_examples skips undecodable '
      f'records).')


def _remove_incomplete_checkpoints(workdir: str) -> None:
  """Deletes what a save killed half-way left behind (never read anyway)."""
  for name in tf.io.gfile.listdir(workdir):
    name = name.rstrip('/')
    if name.startswith('ckpt-') and '_temp' in name:
      path = os.path.join(workdir, name)
      logging.info('Removing %s, left by an interrupted checkpoint save.',
                   path)
      try:
        if tf.io.gfile.isdir(path):
          tf.io.gfile.rmtree(path)
        else:
          tf.io.gfile.remove(path)
      except tf.errors.NotFoundError:
        pass


class Trainer:
  """Trains, evaluates and exports one task on one data set."""

  def __init__(self, config: TrainerConfig, *,
               task_factory: Callable[[], self_supervision_lib.Task],
               data_source: Any,
               strategy: tf.distribute.Strategy,
               preprocess_args: Mapping[str, Any]):
    """Builds the task, optimiser and checkpoint inside the strategy's scope.

    Args:
      config: the trainer configuration.
      task_factory: builds the task (called inside the strategy's scope).
      data_source: a `datasets` data source.
      strategy: the distribution strategy.
      preprocess_args: flag values for the preprocessing ops.
    """
    self.config = config
    self.strategy = strategy
    self.data = data_source
    self.num_replicas = strategy.num_replicas_in_sync
    if config.batch_size % self.num_replicas:
      raise utils.UsageError(
          f'--batch_size {config.batch_size} does not divide over the '
          f'{self.num_replicas} replicas.')
    if config.eval_batch_size % self.num_replicas:
      # Evaluation pads and masks, so its batch size never changes results;
      # the original's supervised config (eval batch 10 on 8 TPU cores) is
      # rounded up instead of refused.
      rounded = -(-config.eval_batch_size // self.num_replicas) * (
          self.num_replicas)
      logging.warning('--eval_batch_size %d rounded up to %d to divide over '
                      '%d replicas.', config.eval_batch_size, rounded,
                      self.num_replicas)
      config = dataclasses.replace(config, eval_batch_size=rounded)
      self.config = config
    with strategy.scope():
      self.task = task_factory()
    host, device = preprocess.split_device_ops(config.preprocessing,
                                               self.task.device_ops)
    self._pp_args = dict(preprocess_args)
    self._host_ops = {
        training: preprocess.get_preprocess_fn(
            host, is_training=training, **self._pp_args)
        for training in (True, False)}
    self._device_ops = {
        training: (preprocess.get_preprocess_fn(
            device, is_training=training, **self._pp_args)
                   if device else None)
        for training in (True, False)}
    self.schedule = optimization.make_schedule(
        num_examples=data_source.num_examples(config.train_split),
        batch_size=config.batch_size, epochs=config.epochs, lr=config.lr,
        lr_scale_batch_size=config.lr_scale_batch_size,
        decay_epochs=config.decay_epochs,
        warmup_epochs=config.warmup_epochs,
        lr_decay_factor=config.lr_decay_factor)
    self._built = False
    self._train_loop = None
    self._eval_step = None

  # -- Set-up -----------------------------------------------------------------

  def build(self) -> None:
    """Creates every variable (task, optimiser) and the checkpoint manager."""
    if self._built:
      return
    with self.strategy.scope():
      self.task.initialize(self._dummy_batch())
      optimizer = optimization.make_optimizer(self.config.optimizer,
                                              self.schedule)
      if self.config.loss_scaling:
        optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
      optimizer.build(self.task.trainable_variables)
      self.optimizer = optimizer
      self.checkpoint = tf.train.Checkpoint(**checkpoint_variables(
          self.task.checkpoint_items(), optimizer))
    self.is_chief = is_chief(self.strategy)
    # Every worker of a multi-worker job takes part in saving (the save is a
    # collective operation), but only the chief writes into the workdir.
    ckpt_dir = (self.config.workdir if self.is_chief else
                tempfile.mkdtemp(prefix='worker_checkpoints_'))
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, ckpt_dir,
        max_to_keep=self.config.keep_checkpoint_max,
        keep_checkpoint_every_n_hours=(
            self.config.keep_checkpoint_every_n_hours or None),
        step_counter=self.optimizer.iterations)
    self._built = True

  def check_serving_shape(self) -> None:
    """Fails now if the hub module could not take --serving_input_shape.

    Tracing the module's forward pass takes a second or two; learning at
    the first export, hours into a run, that the shape does not fit (VGG's
    fc6 needs a fixed size, the patch networks take patches) costs more.

    Raises:
      utils.UsageError: naming the flag, its value and the network's reason.
    """
    shape = self.config.serving_input_shape
    spec = tf.TensorSpec(shape, tf.float32)
    try:
      tf.function(lambda x: self.task.serve(x, training=False),
                  autograph=False).get_concrete_function(spec)
    except (ValueError, TypeError, tf.errors.OpError) as e:
      shown = ','.join('None' if d is None else str(d) for d in shape)
      raise utils.UsageError(
          f'--serving_input_shape {shown} does not fit the network of the '
          f'hub module: {utils.error_summary(e)}') from None

  def _dummy_batch(self) -> dict[str, tf.Tensor]:
    """Zeros shaped like a batch of 2 examples, after device preprocessing.

    Shapes come from the eval pipeline's static element spec; only when a
    dimension is unknown there is one real batch read to learn it.
    """
    ds = self.data.make(
        self.config.val_split, preprocess_fn=self._host_ops[False],
        batch_size=2, training=False)
    spec = ds.element_spec
    if all(s.shape[1:].is_fully_defined() for s in spec.values()):
      shapes = {k: [2] + s.shape.as_list()[1:] for k, s in spec.items()}
    else:
      real = next(iter(ds))
      shapes = {k: v.shape.as_list() for k, v in real.items()}
    batch = {k: tf.zeros(shapes[k], s.dtype) for k, s in spec.items()}
    return self.task.device_preprocess(batch, self._device_ops[False])

  @property
  def step(self) -> int:
    """The global step (number of updates made)."""
    return int(self.optimizer.iterations.numpy())

  def restore(self) -> str | None:
    """Restores the latest checkpoint of the workdir, if any.

    Every worker reads the chief's checkpoint (non-chief workers save into
    scratch directories), so all of them resume from the same state.
    """
    self.build()
    latest = tf.train.latest_checkpoint(self.config.workdir)
    if latest:
      status = self.checkpoint.restore(latest)
      saved = {name.split('/', 1)[0]
               for name, _ in tf.train.list_variables(latest)}
      wanted = hasattr(self.checkpoint, 'data')
      if wanted != ('data' in saved):
        # The input pipeline's state is missing on one side (written without
        # a seed or by another strategy, or not wanted now): everything else
        # is restored, the data order restarts.
        if wanted:
          logging.warning('%s holds no input pipeline state; the data order '
                          'restarts.', latest)
        status.expect_partial()
        status.assert_nontrivial_match()
      else:
        status.assert_existing_objects_matched()
      logging.info('Resumed from %s (step %d).', latest, self.step)
    return latest

  def _save_input_state(self, iterator) -> bool:
    """Puts the training iterator into the checkpoint, where possible.

    Only with a random seed (otherwise nothing is reproducible anyway) and
    only for iterators that TF can save: the default strategy's. Distributed
    iterators of the other strategies are not checkpointable.
    """
    if self.config.random_seed is None:
      return False
    if not isinstance(iterator, tf.__internal__.tracking.Trackable):
      logging.warning('The input pipeline of %s cannot be checkpointed: a '
                      'resumed run restarts the data order.',
                      type(self.strategy).__name__)
      return False
    self.checkpoint.data = iterator
    return True

  def _distributed_dataset(self, split: str, training: bool,
                           per_replica_batch: int):
    cfg = self.config

    def dataset_fn(input_context):
      return self.data.make(
          split, preprocess_fn=self._host_ops[training],
          batch_size=per_replica_batch, training=training,
          seed=cfg.random_seed, input_context=input_context,
          skip_corrupt_examples=cfg.skip_corrupt_examples)

    return self.strategy.distribute_datasets_from_function(dataset_fn)

  # -- Training -----------------------------------------------------------

  def _replica_train_step(self, batch):
    batch = self.task.device_preprocess(batch, self._device_ops[True])
    with tf.GradientTape() as tape:
      out = self.task.compute(batch, training=True)
      penalty = self.task.regularization_loss()
      total = tf.cast(out.loss, tf.float32) + penalty
      # Gradients are summed over replicas; dividing gives their mean, as
      # the original's cross-shard optimiser did.
      scaled = total / self.num_replicas
      if self.config.loss_scaling:
        scaled = self.optimizer.scale_loss(scaled)
    variables = self.task.trainable_variables
    grads = tape.gradient(scaled, variables)
    self.optimizer.apply_gradients(zip(grads, variables))
    return out.loss, penalty

  def _make_train_loop(self):
    step_fn = self._replica_train_step
    if self.config.jit_compile:
      step_fn = tf.function(step_fn, jit_compile=True)
    strategy = self.strategy

    @tf.function
    def train_loop(iterator, num_steps):
      loss_sum = tf.constant(0.0)
      penalty_sum = tf.constant(0.0)
      done = tf.constant(0)
      bad_step = tf.constant(-1, tf.int64)
      for _ in tf.range(num_steps):
        step = tf.cast(tf.identity(self.optimizer.iterations), tf.int64)
        loss, penalty = strategy.run(step_fn, args=(next(iterator),))
        loss = strategy.reduce('MEAN', loss, axis=None)
        penalty = strategy.reduce('MEAN', penalty, axis=None)
        done += 1
        if not tf.math.is_finite(loss + penalty):
          bad_step = step
          break
        loss_sum += loss
        penalty_sum += penalty
      n = tf.maximum(tf.cast(done, tf.float32), 1.0)
      return loss_sum / n, penalty_sum / n, done, bad_step

    return train_loop

  def train(self) -> dict[str, float]:
    """Trains to the planned step, resuming from the latest checkpoint.

    Returns:
      The last loop's mean loss and the final step.

    Raises:
      DivergenceError: when a loss is NaN or infinite; checkpoints written
        before stay as they were.
    """
    cfg = self.config
    self.build()
    if self.is_chief:
      tf.io.gfile.makedirs(cfg.workdir)
      _remove_incomplete_checkpoints(cfg.workdir)
    # The iterator exists before the restore, so that its saved state (if
    # any) is restored with the weights.
    dataset = self._distributed_dataset(
        cfg.train_split, True, cfg.batch_size // self.num_replicas)
    iterator = iter(dataset)
    self._save_input_state(iterator)
    self.restore()
    total = self.schedule.total_steps
    logging.info('Training %d steps (%d per epoch, base lr %g, warm-up %d, '
                 'boundaries %s) with %d replica(s), global batch %d.',
                 total, self.schedule.steps_per_epoch, self.schedule.base_lr,
                 self.schedule.warmup_steps, list(self.schedule.boundaries),
                 self.num_replicas, cfg.batch_size)
    writer = (tf.summary.create_file_writer(cfg.workdir) if self.is_chief
              else tf.summary.create_noop_writer())
    last_loss = float('nan')
    if self.step < total:
      if self._train_loop is None:
        self._train_loop = self._make_train_loop()
      # A separate iterator: the main one is not advanced.
      self._write_input_images(writer, dataset)
      last_save_time = time.time()
      last_save_step = self.step
      start_step, start_time = self.step, time.time()
      while self.step < total:
        n = min(cfg.iterations_per_loop, total - self.step)
        t0 = time.time()
        with self._clear_errors():
          loss, penalty, done, bad = self._train_loop(
              iterator, tf.constant(n))
        bad = int(bad.numpy())
        if bad >= 0:
          raise DivergenceError(
              f'The training loss became NaN or infinite at step {bad}. '
              f'Training stopped; the last good checkpoint is '
              f'{self.manager.latest_checkpoint}.')
        last_loss = float(loss.numpy())
        elapsed = time.time() - t0
        images_per_sec = int(done) * cfg.batch_size / max(elapsed, 1e-9)
        step = self.step
        rate = (step - start_step) / max(time.time() - start_time, 1e-9)
        eta = (total - step) / max(rate, 1e-9)
        logging.info('step %d/%d loss %.4f (+ weight decay %.4f) '
                     '%.1f images/s, %s left', step, total, last_loss,
                     float(penalty.numpy()), images_per_sec,
                     _format_duration(eta))
        with writer.as_default(step=step):
          tf.summary.scalar('loss', last_loss)
          tf.summary.scalar('regularization_loss', float(penalty.numpy()))
          tf.summary.scalar('learning_rate',
                            self.schedule.value(max(step - 1, 0)))
          tf.summary.scalar('images_per_second', images_per_sec)
        if self._should_save(step, last_save_step, last_save_time, total):
          self.manager.save(checkpoint_number=step)
          last_save_time, last_save_step = time.time(), step
      writer.flush()
    if self.manager.latest_checkpoint is None or (
        self._checkpoint_step(self.manager.latest_checkpoint) != self.step):
      self.manager.save(checkpoint_number=self.step)
    if self.is_chief:
      with tf.io.gfile.GFile(os.path.join(cfg.workdir, DONE_FILE), 'w') as f:
        f.write(f'{self.step}\n')
    return {'loss': last_loss, 'step': self.step}

  def _should_save(self, step, last_step, last_time, total) -> bool:
    cfg = self.config
    if step >= total:
      return True
    if cfg.save_checkpoints_steps and step - last_step >= (
        cfg.save_checkpoints_steps):
      return True
    if cfg.save_checkpoints_secs and time.time() - last_time >= (
        cfg.save_checkpoints_secs):
      return True
    return False

  @staticmethod
  def _checkpoint_step(path: str) -> int:
    return int(path.rsplit('-', 1)[-1])

  @contextlib.contextmanager
  def _clear_errors(self):
    """Turns data and cluster failures inside a step into clear errors.

    Raises:
      utils.UsageError: for a corrupt or truncated input file (named).
      ClusterError: when a collective fails because another worker of a
        multi-worker job died or cannot be reached.
    """
    try:
      yield
    except tf.errors.OpError as e:
      data_error = _data_error(e)
      if data_error is not None:
        raise data_error from None
      multi_worker = isinstance(self.strategy,
                                tf.distribute.MultiWorkerMirroredStrategy)
      if multi_worker and isinstance(e, (
          tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
          tf.errors.CancelledError, tf.errors.AbortedError,
          tf.errors.FailedPreconditionError)):
        raise ClusterError(
            f'Lost contact with another worker at step {self.step} '
            f'({type(e).__name__}: {utils.error_summary(e)}). Restart all '
            f'workers to resume from the last checkpoint '
            f'{tf.train.latest_checkpoint(self.config.workdir)}.') from None
      raise

  def _write_input_images(self, writer, dataset) -> None:
    """Writes a few images of what the task feeds the network."""
    if not self.config.summary_images:
      return
    try:
      batch = next(iter(dataset))
      batch = self.strategy.experimental_local_results(batch)[0]
      batch = self.task.device_preprocess(batch, self._device_ops[True])
      images = self.task.summary_images(batch)
      with writer.as_default(step=self.step):
        for name, value in images.items():
          tf.summary.image(f'input/{name}', value,
                           max_outputs=self.config.summary_images)
    except (tf.errors.OpError, ValueError) as e:
      data_error = (_data_error(e) if isinstance(e, tf.errors.OpError)
                    else None)
      if data_error is not None:
        # Bad input files: better said now than after tracing the loop.
        raise data_error from None
      logging.warning('Could not write input images: %s', e)

  # -- Evaluation -----------------------------------------------------------

  def _make_eval_step(self):
    strategy = self.strategy

    def replica_step(batch):
      batch = self.task.device_preprocess(batch, self._device_ops[False])
      out = self.task.compute(batch, training=False)
      count = tf.reduce_sum(tf.cast(batch['mask'], tf.float32))
      metrics = dict(out.metrics)
      metrics['loss'] = (tf.cast(out.loss, tf.float32) * count, count)
      return metrics

    if self.config.jit_compile:
      replica_step = tf.function(replica_step, jit_compile=True)

    @tf.function
    def eval_step(iterator):
      per_replica = strategy.run(replica_step, args=(next(iterator),))
      return tf.nest.map_structure(
          lambda x: strategy.reduce('SUM', x, axis=None), per_replica)

    return eval_step

  def evaluate(self, split: str | None = None) -> dict[str, float]:
    """Evaluates the current weights on every example of `split` once.

    Each input pipeline pads its stream with masked batches, so that every
    replica runs the same number of steps and metrics are exact means over
    the split (the original silently dropped the last partial batch).
    """
    self.build()
    cfg = self.config
    split = split or cfg.val_split
    per_replica = cfg.eval_batch_size // self.num_replicas
    steps = math.ceil(self.data.num_examples(split) / cfg.eval_batch_size)
    batches_per_pipeline = steps * _local_replicas(self.strategy)

    def dataset_fn(input_context):
      ds = self.data.make(
          split, preprocess_fn=self._host_ops[False],
          batch_size=per_replica, training=False,
          input_context=input_context,
          skip_corrupt_examples=cfg.skip_corrupt_examples)
      padding = ds.take(1).map(
          lambda d: {**d, 'mask': tf.zeros_like(d['mask'])}).repeat()
      return ds.concatenate(padding).take(batches_per_pipeline)

    if self._eval_step is None:
      self._eval_step = self._make_eval_step()
    iterator = iter(
        self.strategy.distribute_datasets_from_function(dataset_fn))
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for _ in range(steps):
      with self._clear_errors():
        result = self._eval_step(iterator)
      for name, (s, c) in result.items():
        sums[name] = sums.get(name, 0.0) + float(s.numpy())
        counts[name] = counts.get(name, 0.0) + float(c.numpy())
    metrics = {k: sums[k] / counts[k] if counts[k] else float('nan')
               for k in sorted(sums)}
    metrics['num_examples'] = counts.get('loss', 0.0)
    return metrics

  def evaluate_checkpoint(self, path: str) -> dict[str, float]:
    """Restores `path`, evaluates it, records the result and exports it."""
    self.build()
    self.checkpoint.restore(path).expect_partial()
    step = self.step
    metrics = self.evaluate()
    logging.info('Evaluation of %s (step %d) on %s: %s', path, step,
                 self.config.val_split,
                 ', '.join(f'{k} {v:.4f}' for k, v in metrics.items()))
    writer = tf.summary.create_file_writer(
        os.path.join(self.config.workdir, 'eval'))
    with writer.as_default(step=step):
      for name, value in metrics.items():
        tf.summary.scalar(name, value)
    writer.flush()
    _append_csv(os.path.join(self.config.workdir, EVAL_RESULTS),
                {'step': step, 'checkpoint': os.path.basename(path),
                 'split': self.config.val_split, **metrics})
    self.task.report(metrics, split=self.config.val_split, step=step,
                     workdir=self.config.workdir)
    self.export()
    return metrics

  def export(self) -> str:
    """Exports the current weights as a hub module under the workdir."""
    self.build()
    return hub_export.export_for_checkpoint(
        self.task.serve, self.task.export_items(), self.config.workdir,
        self.config.serving_input_shape, keep=self.config.keep_exports)

  def run_eval(self) -> dict[str, float]:
    """Follows the workdir's checkpoints: evaluates and exports each one.

    Stops when the final checkpoint has been evaluated and training wrote
    `TRAINING_IS_DONE`, or when no new checkpoint appears within the
    timeout.
    """
    cfg = self.config
    done_path = os.path.join(cfg.workdir, DONE_FILE)
    metrics: dict[str, float] = {}
    seen: set[str] = set()
    last_evaluated = None
    last_new = [time.time()]

    def stop_waiting() -> bool:
      # Training is over (its final checkpoint was yielded before this
      # wait), or nothing new came for --eval_timeout_secs.
      if tf.io.gfile.exists(done_path):
        return True
      if time.time() - last_new[0] >= cfg.eval_timeout_secs:
        logging.info('No new checkpoint for %g s; stopping.',
                     cfg.eval_timeout_secs)
        return True
      return False

    for path in tf.train.checkpoints_iterator(
        cfg.workdir, min_interval_secs=1,
        timeout=max(1.0, min(cfg.eval_timeout_secs, 5.0)),
        timeout_fn=stop_waiting):
      last_new[0] = time.time()
      state = tf.train.get_checkpoint_state(cfg.workdir)
      all_paths = list(state.all_model_checkpoint_paths) if state else []
      skipped = [p for p in all_paths
                 if p not in seen and p != path and
                 (last_evaluated is None or
                  self._checkpoint_step(p) > self._checkpoint_step(
                      last_evaluated)) and
                 self._checkpoint_step(p) < self._checkpoint_step(path)]
      if skipped:
        logging.warning('Skipped checkpoints written while evaluating: %s',
                        ', '.join(os.path.basename(p) for p in skipped))
      seen.update(all_paths)
      try:
        metrics = self.evaluate_checkpoint(path)
      except (tf.errors.NotFoundError, tf.errors.DataLossError) as e:
        logging.warning('Skipped checkpoint %s, which is gone or '
                        'unreadable: %s', path, e)
        continue
      last_evaluated = path
      if tf.io.gfile.exists(done_path):
        latest = tf.train.latest_checkpoint(cfg.workdir)
        if latest == path:
          break
    return metrics


def checkpoint_variables(items: Mapping[str, Any],
                         optimizer: keras.optimizers.Optimizer
                         ) -> dict[str, tf.Variable]:
  """Every variable to checkpoint, keyed by a stable, readable name.

  Checkpoints are keyed by variable path rather than by the object graph:
  Keras 3 layers kept in Python lists are invisible to `tf.train.Checkpoint`'s
  object tracking, which silently dropped the batch-norm statistics of every
  residual unit. Names look like `net/resnet50/block1/unit1/conv_a/kernel`.
  """
  named: dict[str, tf.Variable] = {}
  seen: set[int] = set()

  def add(prefix, variables):
    for v in variables:
      if id(v) in seen:
        continue
      seen.add(id(v))
      base = f'{prefix}/{getattr(v, "path", None) or v.name.split(":")[0]}'
      name, i = base, 1
      while name in named:
        name, i = f'{base}_{i}', i + 1
      named[name] = v

  for prefix, item in items.items():
    add(prefix, item.variables)
  add('optimizer', optimizer.variables)
  return named


def _append_csv(path: str, row: Mapping[str, Any]) -> None:
  """Appends a row, rewriting the header if new columns appear."""
  rows = []
  if tf.io.gfile.exists(path):
    with tf.io.gfile.GFile(path) as f:
      rows = list(csv.DictReader(f))
  rows.append({k: v for k, v in row.items()})
  fields: list[str] = []
  for r in rows:
    for k in r:
      if k not in fields:
        fields.append(k)
  tmp = path + '.tmp'
  with tf.io.gfile.GFile(tmp, 'w') as f:
    writer = csv.DictWriter(f, fieldnames=fields)
    writer.writeheader()
    for r in rows:
      writer.writerow(r)
  tf.io.gfile.rename(tmp, path, overwrite=True)


def _format_duration(seconds: float) -> str:
  if not math.isfinite(seconds):
    return '?'
  seconds = int(seconds)
  h, rest = divmod(seconds, 3600)
  m, s = divmod(rest, 60)
  return f'{h}h{m:02d}m{s:02d}s' if h else f'{m}m{s:02d}s'


# -- Distribution strategies -------------------------------------------------


def make_strategy(*, use_tpu: bool, tpu_name: str | None = None,
                  master: str | None = None, num_gpus: int = 1,
                  tf_config: str | None = None) -> tf.distribute.Strategy:
  """Picks the distribution strategy, as DESIGN.md describes.

  Args:
    use_tpu: use `TPUStrategy` on the TPU named by `tpu_name`.
    tpu_name: the TPU's name or address (`local` on a TPU VM); falls back to
      `master` when that is a `grpc://` address.
    master: accepted for the original README's command line.
    num_gpus: `MirroredStrategy` over this many GPUs when > 1.
    tf_config: the `TF_CONFIG` environment value; several workers select
      `MultiWorkerMirroredStrategy`.

  Raises:
    utils.UsageError: on `--use_tpu` without a TPU name (we never let the
      resolver discover one: that queries cloud metadata servers), or when
      fewer GPUs are visible than asked for.
  """
  if use_tpu:
    name = tpu_name or (master if master and master.startswith('grpc://')
                        else None)
    if not name:
      raise utils.UsageError(
          '--use_tpu (the default) needs a TPU: set --tpu_name or the '
          'TPU_NAME environment variable (use "local" on a TPU VM), or pass '
          '--nouse_tpu to run on the CPU or one GPU.')
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=name)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  if tf_config and _num_workers(tf_config) > 1:
    return tf.distribute.MultiWorkerMirroredStrategy()
  if num_gpus > 1:
    gpus = tf.config.list_logical_devices('GPU')
    if len(gpus) < num_gpus:
      raise utils.UsageError(
          f'--num_gpus {num_gpus} asks for more GPUs than the {len(gpus)} '
          f'visible ones.')
    return tf.distribute.MirroredStrategy([g.name for g in gpus[:num_gpus]])
  return tf.distribute.get_strategy()


def _local_replicas(strategy: tf.distribute.Strategy) -> int:
  """Replicas fed by one input pipeline (the devices of this worker)."""
  try:
    return len(strategy.extended.worker_devices)
  except RuntimeError:  # The default strategy has one device.
    return 1


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """Whether this process writes checkpoints, summaries and exports."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or not isinstance(
      strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  return task_type in (None, 'chief') or (
      task_type == 'worker' and task_id == 0 and
      'chief' not in resolver.cluster_spec().as_dict())


def _num_workers(tf_config: str) -> int:
  import json  # pylint: disable=g-import-not-at-top
  try:
    cluster = json.loads(tf_config).get('cluster', {})
  except ValueError as e:
    raise utils.UsageError(f'TF_CONFIG is not valid JSON: {e}') from None
  return len(cluster.get('worker', [])) + len(cluster.get('chief', []))


def summarize(values: Sequence[float]) -> str:
  """'mean +- std' of a list, for logs."""
  arr = np.asarray(values, np.float64)
  return f'{arr.mean():.4f} +- {arr.std():.4f}'
