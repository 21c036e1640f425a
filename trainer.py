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

One trainer drives every task: it builds the task and the optimiser inside
the strategy's scope, runs the compiled multi-step training loop, writes
TensorBoard summaries, evaluates exactly over a split and exports the hub
module of every evaluated checkpoint. Its neighbours in `training/` hold
the rest: `training/distribution.py` picks the strategy,
`training/optimization.py` the schedule and optimisers,
`training/checkpointing.py` the checkpoint keys, cadence, restore and done
file, `training/evaluation.py` the metric sums, the results record and the
`--run_eval` schedule, `training/hub_export.py` the export,
`training/input_streams.py` the task's input streams (one, or S4L's two
zipped). The preprocessing of every
stream comes assembled (`preprocess.Pipeline`); the trainer only applies its
host part in `tf.data` and its device part in the step.

Resume order: (1) the latest checkpoint in the workdir, (2) a fresh start.
A checkpoint is only written after a loop whose losses were all finite, so a
divergence never overwrites the last good one. Every worker of a multi-worker
job resumes from the chief's checkpoint in the workdir.

Exact resume: with a random seed, the training input iterator (data order,
shuffle buffers and, through per-example seeds, the augmentation) is saved in
every checkpoint where the strategy allows it (the default strategy: one CPU
or GPU). Under the other strategies, whose iterators cannot be saved, each
input pipeline starts at the example the restored step puts it at
(`DataSource.make`'s `start`). Either way a run that is stopped and
restarted ends with the same weights as one that never was.

Preemption: during training a SIGTERM (or a TPU maintenance notice) stops
every worker after the same step, which is saved (`training/preemption.py`);
`train` then raises `preemption.Preempted`.

With Polyak averaging (`training/polyak.py`) evaluation uses the averaged
weights (the trained ones with `eval_raw_weights`, recorded as
`<split>_raw`), and every export writes `module` with the averages and
`module_raw` with the trained weights.

Other loops (the heads of cached linear evaluation,
`probes/linear_eval_cached.py`)
reuse the outer loop by passing `train(make_steps=...)`: logging, summaries,
the divergence check, checkpoint cadence, the final save and the done file
stay here.

The module is longer than most here (about 760 lines) because its one class
keeps together what shares the compiled steps, the strategy and the task's
variables: the training loop, exact evaluation and the `--run_eval` loop.
"""

from collections.abc import Callable, Mapping
import contextlib
import dataclasses
import os
import re
import tempfile
import time
from typing import Any

from absl import logging
import keras
import tensorflow as tf

from revisiting_ssl import datasets, utils
from revisiting_ssl.models import layers as net_layers
from revisiting_ssl.models import virtual_replicas
from revisiting_ssl.self_supervision import self_supervision_lib
from revisiting_ssl.training import (
  checkpointing,
  distribution,
  evaluation,
  hub_export,
  input_streams,
  kill_points,
  optimization,
  polyak,
  preemption,
  step_errors,
)

# Appended to the split's name in the records of an evaluation of the raw
# weights of a Polyak-averaged run (`eval_raw_weights`), so that those rows
# and the averages' rows of the same checkpoints are told apart.
RAW_SUFFIX = '_raw'

# Runs `n` training steps: (mean loss, mean weight-decay penalty, steps
# done, step of the first non-finite loss or -1), as tensors or numbers.
StepsFn = Callable[[int], tuple[Any, Any, Any, Any]]


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
  """What the trainer needs; the defaults of these settings live here.

  The entry point fills in only the flags that were set, so an unset flag
  means the default written below.
  """
  workdir: str
  train_split: str
  val_split: str
  batch_size: int
  epochs: float
  lr: float
  lr_scale_batch_size: float | None = None  # None or 0: no scaling.
  lr_scaling: str = 'linear'  # Or sqrt (`optimization.LR_SCALINGS`).
  lr_decay: str = 'piecewise'  # Or cosine (`optimization.LR_DECAYS`).
  eval_batch_size: int | None = None  # None: batch_size.
  decay_epochs: tuple[float, ...] | None = None
  warmup_epochs: float = 0.0
  lr_decay_factor: float = 0.1
  optimizer: str = 'sgd'
  iterations_per_loop: int = 500
  jit_compile: bool = False
  keep_checkpoint_max: int = 5
  keep_checkpoint_every_n_hours: float = 4.0
  save_checkpoints_secs: int | None = 600
  save_checkpoints_steps: int | None = None
  random_seed: int | None = None
  serving_input_shape: tuple[int | None, ...] = (None, None, None, 3)
  serving_input_key: str = hub_export.DEFAULT_INPUT_KEY
  skip_corrupt_examples: bool = False
  eval_timeout_secs: float = 600.0
  # With --run_eval: also the checkpoints written while another was being
  # evaluated (after training: all of them), oldest first. The original
  # evaluated only the newest.
  eval_every_checkpoint: bool = False
  keep_exports: int = 5
  summary_images: int = 3
  loss_scaling: bool = False
  # The dtype of the images the host emits for a task that allows it
  # (`Task.host_cast`): the entry point sets the bfloat16 compute policy's.
  # None: float32, as preprocessed.
  host_dtype: str | None = None
  polyak_averaging: bool = False
  # The averages' half-life as a fraction of the training steps; None: one
  # epoch, as S4L (1/200 of MOAM's 200 epochs).
  polyak_half_life: float | None = None
  # Evaluate the trained weights of a Polyak-averaged run instead of the
  # averages; rows are recorded under the split's name + RAW_SUFFIX.
  eval_raw_weights: bool = False
  path_to_initial_ckpt: str | None = None
  vars_to_restore: str = '.*'
  test_split: str | None = None
  eval_drop_remainder: bool = False
  virtual_replicas: int = 1


class DivergenceError(utils.RunAbortedError):
  """The training loss became NaN or infinite."""


# Raised by a step when another worker of a multi-worker job is lost.
ClusterError = step_errors.ClusterError


class Trainer:
  """Trains, evaluates and exports one task on one data set."""

  def __init__(self, config: TrainerConfig, *,
               task_factory: Callable[[], self_supervision_lib.Task],
               data_source: datasets.DataSource,
               strategy: tf.distribute.Strategy,
               streams: Mapping[str, input_streams.InputStream]):
    """Builds the task and the schedule; checks what is cheap to check.

    Args:
      config: the trainer configuration.
      task_factory: builds the task (called inside the strategy's scope).
      data_source: the data set.
      strategy: the distribution strategy (`distribution.make_strategy`).
      streams: the task's input streams by name (`Task.input_streams`).

    Raises:
      utils.UsageError: for a batch that does not divide over the
        replicas, an unknown optimiser, a bad schedule or loop length.
    """
    self.strategy = strategy
    self.data = data_source
    self.streams = dict(streams)
    self.num_replicas = strategy.num_replicas_in_sync
    if config.virtual_replicas < 1:
      raise utils.UsageError(f'--virtual_replicas must be at least 1, got '
                             f'{config.virtual_replicas}.')
    # Every group a per-replica computation sees: real times virtual.
    groups = self.num_replicas * config.virtual_replicas
    where = (f'{self.num_replicas} replicas' if config.virtual_replicas == 1
             else f'{self.num_replicas} replica(s) x '
             f'{config.virtual_replicas} virtual replica(s)')
    if config.batch_size % groups:
      raise utils.UsageError(
          f'--batch_size {config.batch_size} does not divide over the '
          f'{where}.')
    eval_batch_size = config.eval_batch_size or config.batch_size
    if eval_batch_size % groups:
      # Evaluation pads and masks, so its batch size never changes results;
      # the original's supervised config (eval batch 10 on 8 TPU cores) is
      # rounded up instead of refused.
      rounded = -(-eval_batch_size // groups) * groups
      logging.warning('--eval_batch_size %d rounded up to %d to divide over '
                      'the %s.', eval_batch_size, rounded, where)
      eval_batch_size = rounded
    self.config = dataclasses.replace(config,
                                      eval_batch_size=eval_batch_size)
    if config.iterations_per_loop < 1:
      raise utils.UsageError('--iterations_per_loop must be at least 1.')
    optimization.OPTIMIZERS.lookup(config.optimizer)
    self.schedule = optimization.make_schedule(
        num_examples=input_streams.epoch_size(data_source, self.streams,
                                              config.train_split),
        batch_size=config.batch_size, epochs=config.epochs, lr=config.lr,
        lr_scale_batch_size=config.lr_scale_batch_size,
        lr_scaling=config.lr_scaling, lr_decay=config.lr_decay,
        decay_epochs=config.decay_epochs,
        warmup_epochs=config.warmup_epochs,
        lr_decay_factor=config.lr_decay_factor)
    polyak.check_half_life(config.polyak_half_life, config.polyak_averaging)
    if config.eval_raw_weights and not config.polyak_averaging:
      raise utils.UsageError(
          '--eval_raw_weights evaluates the trained weights instead of their '
          'Polyak averages; it needs --polyak_averaging (without it, the '
          'trained weights are what is evaluated).')
    self.train_batches = input_streams.per_replica_batches(
        self.streams, config.batch_size // self.num_replicas)
    for name, size in self.train_batches.items():
      if size % config.virtual_replicas:
        raise utils.UsageError(
            f'The {name} stream\'s per-replica batch of {size} (with '
            f'--unsup_batch_mult) does not divide over '
            f'--virtual_replicas {config.virtual_replicas}.')
    with strategy.scope():
      self.task = task_factory()
    if set(self.task.input_streams) != set(self.streams):
      raise ValueError(
          f'--task {self.task.name} reads the streams '
          f'{sorted(self.task.input_streams)}, got {sorted(self.streams)}.')
    # The dtype of every image batch from the host (`Pipeline.host_fn`).
    self.image_dtype = config.host_dtype if self.task.host_cast else None
    self.is_chief = distribution.is_chief(strategy)
    self._built = False
    self._train_loop = None
    self._evaluator = None

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
      self.checkpoint_names = checkpointing.checkpoint_variables(
          self.task.checkpoint_items(), optimizer)
      self.averages = None
      if self.config.polyak_averaging:
        self.averages = polyak.Averages(
            self.task.trainable_variables,
            {id(v): n for n, v in self.checkpoint_names.items()},
            decay=polyak.decay(polyak.half_life_steps(
                self.config.polyak_half_life,
                steps_per_epoch=self.schedule.steps_per_epoch,
                total_steps=self.schedule.total_steps)))
        self.checkpoint_names.update(self.averages.checkpoint_names)
      self.checkpoint = tf.train.Checkpoint(**self.checkpoint_names)
    self.stop = preemption.StopRequest(
        notice=preemption.tpu_maintenance_notice(self.strategy))
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
    if self.config.path_to_initial_ckpt:
      # A bad warm start is found now, before anything is written; the
      # names only matter for a fresh start (a resumed run ignores it).
      checkpointing.warm_start(
          self.checkpoint_names, self.config.path_to_initial_ckpt,
          self.config.vars_to_restore, check_only=True,
          check_names=not tf.train.latest_checkpoint(self.config.workdir))
    self._built = True

  def recorded_split(self, split: str) -> str:
    """The name under which an evaluation on `split` is recorded."""
    return split + RAW_SUFFIX if self.config.eval_raw_weights else split

  @contextlib.contextmanager
  def averaged_weights(self):
    """Within: the weights exported (Polyak's, if on)."""
    if self.averages is None:
      yield
    else:
      with self.averages.swapped_in():
        yield

  def check_serving_shape(self) -> None:
    """Fails now if the hub module could not take its serving input."""
    hub_export.check_input_key(self.config.serving_input_key)
    hub_export.check_serving_shape(self.task.serve,
                                   self.config.serving_input_shape)

  def _dummy_batch(self) -> dict[str, Any]:
    """Zeros shaped like a batch of 2 examples, after device preprocessing.

    Shapes come from the eval pipeline's static element spec; only when a
    dimension is unknown there is one real batch read to learn it.
    """
    ds = input_streams.make_dataset(
        self.data, self.streams, self.config.val_split, training=False,
        batch_sizes=dict.fromkeys(self.streams, 2),
        image_dtype=self.image_dtype)
    spec = ds.element_spec
    specs = tf.nest.flatten(spec)
    if all(s.shape[1:].is_fully_defined() for s in specs):
      zeros = [tf.zeros([2] + s.shape.as_list()[1:], s.dtype) for s in specs]
    else:
      real = tf.nest.flatten(next(iter(ds)))
      zeros = [tf.zeros_like(v) for v in real]
    batch = tf.nest.pack_sequence_as(spec, zeros)
    return input_streams.device_preprocess(self.task, self.streams, batch,
                                           training=False)

  @property
  def pipeline(self) -> Any:
    """The `preprocess.Pipeline` of a single-stream task."""
    if len(self.streams) != 1:
      raise ValueError(f'--task {self.task.name} has several streams.')
    return next(iter(self.streams.values())).pipeline

  @property
  def step(self) -> int:
    """The global step (number of updates made)."""
    return int(self.optimizer.iterations.numpy())

  def restore(self) -> str | None:
    """Restores the latest checkpoint of the workdir, if any.

    Every worker reads the chief's checkpoint (non-chief workers save into
    scratch directories), so all of them resume from the same state.

    Returns:
      The restored checkpoint's path, or None.
    """
    self.build()
    latest = checkpointing.restore_latest(self.checkpoint,
                                          self.config.workdir)
    if latest:
      logging.info('Resumed from %s (step %d).', latest, self.step)
    return latest

  def summary_writer(self, subdir: str = ''):
    """A TensorBoard writer into the workdir (a no-op off the chief)."""
    if not self.is_chief:
      return tf.summary.create_noop_writer()
    return tf.summary.create_file_writer(
        os.path.join(self.config.workdir, subdir))

  def _save_input_state(self, iterator) -> None:
    """Puts the training iterator into the checkpoint, where possible.

    Only with a random seed (otherwise nothing is reproducible anyway) and
    only for iterators that TF can save: the default strategy's. The other
    strategies' pipelines resume at the restored step's position instead
    (`distributed_dataset`'s `start_step`).
    """
    if self.config.random_seed is None:
      return
    if not isinstance(iterator, tf.__internal__.tracking.Trackable):
      return
    setattr(self.checkpoint, checkpointing.INPUT_STATE_KEY, iterator)

  def distributed_dataset(self, split: str, training: bool,
                          start_step: int = 0):
    """The training (or evaluation) batches of every replica.

    Args:
      split: the split.
      training: training or evaluation batches.
      start_step: in training, the first step the batches are for: each
        input pipeline begins where that many steps would have left it.
    """
    cfg = self.config
    batch_sizes = (self.train_batches if training else dict.fromkeys(
        self.streams, cfg.eval_batch_size // self.num_replicas))

    def dataset_fn(input_context):
      starts = None
      if start_step:
        # Each pipeline feeds its share of the replicas every step.
        feeds = (input_context.num_replicas_in_sync //
                 input_context.num_input_pipelines)
        starts = {name: start_step * size * feeds
                  for name, size in batch_sizes.items()}
      return input_streams.make_dataset(
          self.data, self.streams, split, training=training,
          batch_sizes=batch_sizes, seed=cfg.random_seed, starts=starts,
          image_dtype=self.image_dtype, input_context=input_context,
          skip_corrupt_examples=cfg.skip_corrupt_examples)

    return self.strategy.distribute_datasets_from_function(dataset_fn)

  # -- Training -----------------------------------------------------------

  def _replica_train_step(self, batch):
    batch = input_streams.device_preprocess(self.task, self.streams, batch,
                                            training=True)
    with tf.GradientTape() as tape, virtual_replicas.scope(
        self.config.virtual_replicas):
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
    if self.averages is not None:
      self.averages.update()
    return out.loss, penalty

  def make_train_loop(self):
    """The compiled loop: `loop(iterator, num_steps)` -> a `StepsFn` result."""
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
        if self.stop.in_loop(strategy) > 0:
          break
      n = tf.maximum(tf.cast(done, tf.float32), 1.0)
      return loss_sum / n, penalty_sum / n, done, bad_step

    return train_loop

  def train(self, make_steps: Callable[[], StepsFn] | None = None
            ) -> dict[str, float]:
    """Trains to the planned step, resuming from the latest checkpoint.

    Args:
      make_steps: builds another loop body (called after the restore, only
        when there is something left to train); None trains the task on its
        input stream.

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
      checkpointing.remove_incomplete_checkpoints(cfg.workdir)
    dataset = iterator = None
    if make_steps is None:
      # The iterator exists before the restore, so that its saved state (if
      # any) is restored with the weights.
      dataset = self.distributed_dataset(cfg.train_split, training=True)
      iterator = iter(dataset)
      self._save_input_state(iterator)
    restored = self.restore()
    if (restored and iterator is not None and cfg.random_seed is not None
        and not isinstance(iterator, tf.__internal__.tracking.Trackable)):
      # This strategy's iterators are not saved: start where the step is.
      dataset = self.distributed_dataset(cfg.train_split, training=True,
                                         start_step=self.step)
      iterator = iter(dataset)
    if restored is None and cfg.path_to_initial_ckpt:
      checkpointing.warm_start(self.checkpoint_names, cfg.path_to_initial_ckpt,
                               cfg.vars_to_restore)
      if self.averages is not None:
        self.averages.reset()
    total = self.schedule.total_steps
    logging.info('Training %d steps (%d per epoch, base lr %g, warm-up %d, '
                 'boundaries %s) with %d replica(s)%s, global batch %d.',
                 total, self.schedule.steps_per_epoch, self.schedule.base_lr,
                 self.schedule.warmup_steps, list(self.schedule.boundaries),
                 self.num_replicas,
                 (f' x {cfg.virtual_replicas} virtual'
                  if cfg.virtual_replicas > 1 else ''), cfg.batch_size)
    writer = self.summary_writer()
    last_loss = float('nan')
    if self.step < total:
      if make_steps is not None:
        run_steps = make_steps()
      else:
        if self._train_loop is None:
          self._train_loop = self.make_train_loop()
        # A separate iterator: the main one is not advanced.
        self._write_input_images(writer, dataset)
        loop = self._train_loop
        run_steps = lambda n: loop(iterator, tf.constant(n))  # noqa: E731
      with self.stop:
        last_loss = self._run_loop(run_steps, writer, total)
    self.finish()
    return {'loss': last_loss, 'step': self.step}

  def _run_loop(self, run_steps: StepsFn, writer, total: int) -> float:
    """Calls `run_steps` to `total`: logs, summaries, checkpoints."""
    cfg = self.config
    cadence = checkpointing.SaveCadence(
        every_steps=cfg.save_checkpoints_steps,
        every_secs=cfg.save_checkpoints_secs, step=self.step)
    start_step, start_time = self.step, time.time()
    last_loss = float('nan')
    while self.step < total:
      n = min(cfg.iterations_per_loop, total - self.step)
      t0 = time.time()
      with self._translate_errors():
        loss, penalty, done, bad = run_steps(n)
      if int(bad) >= 0:
        raise DivergenceError(
            f'The training loss became NaN or infinite at step {int(bad)}. '
            f'Training stopped; the last good checkpoint is '
            f'{self.manager.latest_checkpoint}.')
      last_loss, penalty = float(loss), float(penalty)
      elapsed = time.time() - t0
      images_per_sec = int(done) * cfg.batch_size / max(elapsed, 1e-9)
      step = self.step
      rate = (step - start_step) / max(time.time() - start_time, 1e-9)
      eta = (total - step) / max(rate, 1e-9)
      logging.info('step %d/%d loss %.4f (+ weight decay %.4f) '
                   '%.1f images/s, %s left', step, total, last_loss, penalty,
                   images_per_sec, utils.format_duration(eta))
      with writer.as_default(step=step):
        tf.summary.scalar('loss', last_loss)
        tf.summary.scalar('regularization_loss', penalty)
        tf.summary.scalar('learning_rate',
                          self.schedule.value(max(step - 1, 0)))
        tf.summary.scalar('images_per_second', images_per_sec)
      kill_points.reached('train_loop')
      with self._translate_errors():
        stop = self.stop.agreed(self.strategy)
      due = cadence.due(step, total)
      if stop and not due and self.is_chief:
        checkpointing.mark_preemption_save(
            os.path.join(cfg.workdir, f'ckpt-{step}'))
      if due or stop:
        self.save()
        cadence.saved(step)
      if stop and step < total:
        writer.flush()
        raise preemption.Preempted(
            step, os.path.join(cfg.workdir, f'ckpt-{step}'),
            self.stop.reason or 'another worker')
    writer.flush()
    return last_loss

  def save(self) -> None:
    """Saves the current step (every worker takes part)."""
    self.manager.save(
        checkpoint_number=self.step,
        options=tf.train.CheckpointOptions(experimental_write_callbacks=[
            lambda: kill_points.reached('checkpoint_written')]))

  def finish(self) -> None:
    """Saves the current step (if not saved yet) and writes the done file."""
    latest = self.manager.latest_checkpoint
    if latest is None or checkpointing.checkpoint_step(latest) != self.step:
      self.save()
    if self.is_chief:
      checkpointing.write_done_file(self.config.workdir, self.step)

  def _translate_errors(self):
    """`step_errors.translated` for this run: clear errors from a step's."""
    return step_errors.translated(
        data=self.data, train_split=self.config.train_split,
        strategy=self.strategy, step=lambda: self.step,
        workdir=self.config.workdir)

  def _write_input_images(self, writer, dataset) -> None:
    """Writes a few images of what the task feeds the network."""
    if not self.config.summary_images:
      return
    try:
      batch = next(iter(dataset))
      batch = self.strategy.experimental_local_results(batch)[0]
      batch = input_streams.device_preprocess(self.task, self.streams, batch,
                                              training=True)
      # Display arithmetic in float32 (the host may send bfloat16).
      batch = tf.nest.map_structure(
          lambda x: tf.cast(x, tf.float32) if x.dtype == tf.bfloat16 else x,
          batch)
      images = self.task.summary_images(batch)
      with writer.as_default(step=self.step):
        for name, value in images.items():
          tf.summary.image(f'input/{name}', value,
                           max_outputs=self.config.summary_images)
    except (tf.errors.OpError, ValueError) as e:
      data_error = (datasets.input_data_error(e)
                    if isinstance(e, tf.errors.OpError) else None)
      if data_error is not None:
        # Bad input files: better said now than after tracing the loop.
        raise data_error from None
      logging.warning('Could not write input images: %s', e)

  # -- Evaluation -----------------------------------------------------------

  def evaluate(self, split: str | None = None) -> dict[str, float]:
    """Evaluates the weights (the averages, if on) on every example once.

    With `eval_raw_weights`, the trained weights even when averaging is on.
    See `evaluation.SplitEvaluator`: padded, masked, exact means.
    """
    self.build()
    if self._evaluator is None:
      self._evaluator = evaluation.SplitEvaluator(
          self.strategy, self.task, self.data, self.streams,
          eval_batch_size=self.config.eval_batch_size,
          jit_compile=self.config.jit_compile,
          skip_corrupt_examples=self.config.skip_corrupt_examples,
          drop_remainder=self.config.eval_drop_remainder,
          virtual_replicas=self.config.virtual_replicas,
          image_dtype=self.image_dtype,
          translate_errors=self._translate_errors)
    weights = (contextlib.nullcontext() if self.config.eval_raw_weights
               else self.averaged_weights())
    with weights:
      return self._evaluator(split or self.config.val_split)

  def record_evaluation(self, metrics: Mapping[str, float], *, split: str,
                        checkpoint: str | None,
                        extra: Mapping[str, Any] | None = None) -> None:
    """Records an evaluation of the current weights (on the chief).

    TensorBoard, `eval_results.csv` (`evaluation.record`, with a warning
    when the batch-norm statistics have not settled) and the task's own
    report (linear evaluation's table per end point).
    """
    if not self.is_chief:
      return
    workdir = self.config.workdir
    evaluation.record(workdir, metrics, step=self.step, split=split,
                      checkpoint=checkpoint, extra=extra,
                      warning=self.moving_statistics_warning())
    self.task.report(metrics, split=split, step=self.step, workdir=workdir)

  def moving_statistics_warning(self) -> str | None:
    """`evaluation.moving_statistics_warning` for the current weights.

    The statistics have seen one update per training step; those a warm
    start took from another checkpoint count as settled.
    """
    self.build()
    warm = set()
    if self.config.path_to_initial_ckpt:
      pattern = re.compile(self.config.vars_to_restore)
      warm = {id(v) for name, v in self.checkpoint_names.items()
              if pattern.match(name)}
    layers = net_layers.batch_norm_layers(
        self.task.checkpoint_items().values())
    return evaluation.moving_statistics_warning(
        self.step, [layer.momentum for layer in layers
                    if id(layer.moving_mean) not in warm])

  def evaluate_checkpoint(self, path: str) -> dict[str, float]:
    """Restores `path`, evaluates it, exports it and records the result.

    The record comes last: a checkpoint with a row in `eval_results.csv`
    has its export, and an evaluator killed before the row evaluates the
    checkpoint again when restarted.
    """
    self.build()
    self.checkpoint.restore(path).expect_partial()
    metrics = self.evaluate()
    self.export()
    self.record_evaluation(metrics,
                           split=self.recorded_split(self.config.val_split),
                           checkpoint=path)
    return metrics

  def export(self) -> str:
    """Exports the current weights as a hub module under the workdir.

    With Polyak averaging, `module` holds the averages and `module_raw`
    (beside it) the trained weights.
    """
    self.build()
    variants = None
    if self.averages is not None:
      variants = {'module': self.averaged_weights,
                  'module_raw': contextlib.nullcontext}
    return hub_export.export_for_checkpoint(
        self.task.serve, self.task.export_items(), self.config.workdir,
        self.config.serving_input_shape, keep=self.config.keep_exports,
        variants=variants, input_key=self.config.serving_input_key)

  def run_eval(self) -> dict[str, float]:
    """Follows the workdir's checkpoints: evaluates and exports each one.

    Stops when the final checkpoint has been evaluated and training wrote
    `TRAINING_IS_DONE`, or when no new checkpoint appears within the
    timeout (`evaluation.evaluate_checkpoints`, which says what is
    skipped). With `--test_split`, the last evaluated checkpoint is then
    evaluated on it too.

    Returns:
      The metrics of the last checkpoint on `--val_split`.
    """
    cfg = self.config
    metrics, last = evaluation.evaluate_checkpoints(
        cfg.workdir, self.evaluate_checkpoint,
        split=self.recorded_split(cfg.val_split),
        timeout_secs=cfg.eval_timeout_secs,
        every_checkpoint=cfg.eval_every_checkpoint)
    test_name = cfg.test_split and self.recorded_split(cfg.test_split)
    if cfg.test_split and last and os.path.basename(
        last) not in evaluation.recorded_checkpoints(cfg.workdir, test_name):
      # As S4L: the last checkpoint once more, on the test split.
      self.checkpoint.restore(last).expect_partial()
      self.record_evaluation(self.evaluate(cfg.test_split), split=test_name,
                             checkpoint=last)
    return metrics

