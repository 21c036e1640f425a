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

"""Exact evaluation: metric sums, the results record, following checkpoints.

* `SplitEvaluator` runs a task over every example of a split exactly once
  under any strategy: each input pipeline pads its stream with masked
  examples (the original silently dropped the last partial batch).
* `MetricSums` adds the `(sum, count)` pairs that a task's metrics are made
  of over replicas and batches, so every metric is an exact mean over the
  real examples of a split (padding has count 0).
* `record` writes one evaluation to TensorBoard (`<workdir>/eval`) and as a
  row of `<workdir>/eval_results.csv`, with a warning when the batch-norm
  moving statistics it used have not settled yet
  (`moving_statistics_warning`).
* `follow_checkpoints` is the `--run_eval` loop's schedule: which checkpoint
  to evaluate next, which ones were replaced before their turn, and when to
  stop. It is a pure generator over injected I/O, so it is tested without a
  trainer. `evaluate_checkpoints` runs that loop over a working directory.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
import contextlib
import csv
import math
import os
import time
from typing import Any

from absl import logging
import tensorflow as tf

from revisiting_ssl import utils
from revisiting_ssl.models import layers as net_layers
from revisiting_ssl.models import virtual_replicas as virtual_replicas_lib
from revisiting_ssl.training import (
  checkpointing,
  distribution,
  input_streams,
  kill_points,
)
from revisiting_ssl.training.checkpointing import checkpoint_step

EVAL_RESULTS = 'eval_results.csv'
EVAL_SUMMARY_DIR = 'eval'
# The column of `EVAL_RESULTS` (and the TensorBoard text) of a warning.
WARNING_KEY = 'warning'


class MetricSums:
  """Running sums and counts of metrics given as `(sum, count)` pairs."""

  def __init__(self):
    self._sums: dict[str, float] = {}
    self._counts: dict[str, float] = {}

  def add(self, pairs: Mapping[str, tuple[Any, Any]]) -> None:
    """Adds one batch's `name -> (sum, count)` (tensors or numbers)."""
    for name, (total, count) in pairs.items():
      self._sums[name] = self._sums.get(name, 0.0) + float(total)
      self._counts[name] = self._counts.get(name, 0.0) + float(count)

  def means(self) -> dict[str, float]:
    """Name -> sum / count (NaN without examples), sorted by name.

    `num_examples` is the count of `loss`, which every evaluation step
    reports with one count per real example.
    """
    metrics = {k: self._sums[k] / self._counts[k] if self._counts[k]
               else float('nan') for k in sorted(self._sums)}
    metrics['num_examples'] = self._counts.get('loss', 0.0)
    return metrics


class SplitEvaluator:
  """Exact evaluation of a task over a split, under a strategy."""

  def __init__(self, strategy: tf.distribute.Strategy, task: Any,
               data: Any, streams: Mapping[str, input_streams.InputStream],
               *, eval_batch_size: int, jit_compile: bool,
               skip_corrupt_examples: bool, drop_remainder: bool = False,
               virtual_replicas: int = 1,
               image_dtype: str | None = None,
               translate_errors: Callable[
                   [], contextlib.AbstractContextManager[Any]] = (
                       contextlib.nullcontext)):
    """Prepares the evaluation step (traced on the first call).

    Args:
      strategy: the distribution strategy.
      task: the task (`compute` in evaluation mode).
      data: the data source.
      streams: the task's input streams.
      eval_batch_size: the global batch, divisible by the replicas.
      jit_compile: compile the replica step with XLA.
      skip_corrupt_examples: as `DataSource.make`.
      drop_remainder: evaluate only the whole global batches, as the
        original did (49,984 of 50,000 examples with batch 32),
        for comparisons with published numbers; by default every example.
      virtual_replicas: groups per replica of the per-replica computations
        (`virtual_replicas`).
      image_dtype: the dtype the host casts float32 images to
        (`Pipeline.host_fn`); None: as preprocessed.
      translate_errors: a context around each step that turns data and
        cluster failures into clear errors (the trainer's).
    """
    self.strategy = strategy
    self.task = task
    self.data = data
    self.streams = streams
    self.eval_batch_size = eval_batch_size
    self.skip_corrupt_examples = skip_corrupt_examples
    self.drop_remainder = drop_remainder
    self.image_dtype = image_dtype
    self.translate_errors = translate_errors

    def replica_step(batch):
      batch = input_streams.device_preprocess(task, streams, batch,
                                              training=False)
      with virtual_replicas_lib.scope(virtual_replicas):
        out = task.compute(batch, training=False)
      count = tf.reduce_sum(tf.cast(
          input_streams.mask(task.input_streams, batch), tf.float32))
      metrics = dict(out.metrics)
      metrics['loss'] = (tf.cast(out.loss, tf.float32) * count, count)
      return metrics

    if jit_compile:
      replica_step = tf.function(replica_step, jit_compile=True)

    @tf.function
    def eval_step(iterator):
      per_replica = strategy.run(replica_step, args=(next(iterator),))
      return tf.nest.map_structure(
          lambda x: strategy.reduce('SUM', x, axis=None), per_replica)

    self._step = eval_step

  def __call__(self, split: str) -> dict[str, float]:
    """Metric name -> exact mean over `split`, plus `num_examples`."""
    num_replicas = self.strategy.num_replicas_in_sync
    per_replica = self.eval_batch_size // num_replicas
    count = self.data.num_examples(split)
    steps = (count // self.eval_batch_size if self.drop_remainder else
             math.ceil(count / self.eval_batch_size))
    batches_per_pipeline = steps * distribution.local_replicas(self.strategy)

    def dataset_fn(input_context):
      ds = input_streams.make_dataset(
          self.data, self.streams, split, training=False,
          batch_sizes=dict.fromkeys(self.streams, per_replica),
          image_dtype=self.image_dtype, input_context=input_context,
          skip_corrupt_examples=self.skip_corrupt_examples)
      # Every replica runs the same number of steps: pipelines with fewer
      # batches than their replicas need repeat a batch with mask 0.
      padding = ds.take(1).map(_zero_masks).repeat()
      return ds.concatenate(padding).take(batches_per_pipeline)

    iterator = iter(
        self.strategy.distribute_datasets_from_function(dataset_fn))
    sums = MetricSums()
    progress = utils.Progress(f'Evaluating on {split}', steps,
                              unit='batches')
    for _ in range(steps):
      with self.translate_errors():
        sums.add(self._step(iterator))
      progress.update()
      kill_points.reached('evaluation_batch')
    return sums.means()


def _zero_masks(batch: Mapping[str, Any]) -> dict[str, Any]:
  """`batch` (of one stream or several) with every mask set to 0."""
  if 'mask' in batch:
    return {**batch, 'mask': tf.zeros_like(batch['mask'])}
  return {name: _zero_masks(stream) for name, stream in batch.items()}


def append_csv(path: str, row: Mapping[str, Any]) -> None:
  """Appends a row to a CSV file, rewriting the header if new columns appear.

  The file is replaced atomically, so a reader never sees half a table.
  """
  rows = []
  if tf.io.gfile.exists(path):
    with tf.io.gfile.GFile(path) as f:
      rows = list(csv.DictReader(f))
  rows.append(dict(row))
  fields: list[str] = []
  for r in rows:
    for k in r:
      if k not in fields:
        fields.append(k)
  tmp = path + '.tmp'
  with tf.io.gfile.GFile(tmp, 'w') as f:
    writer = csv.DictWriter(f, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
  tf.io.gfile.rename(tmp, path, overwrite=True)


def recorded_checkpoints(workdir: str, split: str) -> set[str]:
  """The checkpoint names `eval_results.csv` has a row for on `split`.

  A restarted evaluator skips them, so every checkpoint has one row.
  """
  path = os.path.join(workdir, EVAL_RESULTS)
  if not tf.io.gfile.exists(path):
    return set()
  with tf.io.gfile.GFile(path) as f:
    return {row['checkpoint'] for row in csv.DictReader(f)
            if row.get('split') == split and row.get('checkpoint')}


def moving_statistics_warning(updates: int,
                              momenta: Sequence[float]) -> str | None:
  """A warning when batch-norm moving statistics have not settled.

  Evaluation normalises with the moving statistics; until their starting
  values have decayed (`net_layers.SETTLED_START_WEIGHT`), the metrics say
  more about the statistics than about the model, so a short debugging run
  looks broken (a 157-step rotation run: training loss 0.36, evaluation
  loss 10.1).

  Args:
    updates: the updates the statistics have seen: the training steps, one
      per step (a training step runs each network once).
    momenta: the momentum of each batch-norm layer evaluated.

  Returns:
    The warning, or None when every layer's statistics have settled (or
    there is no batch norm).
  """
  needs = [(net_layers.updates_to_settle(m), m) for m in momenta]
  if not needs or updates >= max(needs)[0]:
    return None
  needed, momentum = max(needs)
  return (f'the batch-norm moving statistics have seen {updates} updates '
          f'(one per training step); with momentum {momentum:g} their '
          f'starting values still make up {momentum ** updates:.0%} of them, '
          f'and {needed} updates bring that to '
          f'{net_layers.SETTLED_START_WEIGHT:.0%}. Metrics in inference mode '
          f'can be far worse than in training until then.')


def record(workdir: str, metrics: Mapping[str, float], *, step: int,
           split: str, checkpoint: str | None,
           extra: Mapping[str, Any] | None = None,
           warning: str | None = None) -> None:
  """Logs one evaluation, writes it to TensorBoard and `eval_results.csv`.

  Args:
    workdir: the working directory.
    metrics: metric name -> value.
    step: the evaluated checkpoint's step.
    split: the evaluated split.
    checkpoint: the evaluated checkpoint's path (its file name is
      recorded), or None.
    extra: further columns of the CSV row (e.g. the evaluation mode).
    warning: what makes the metrics unreliable, if anything (e.g.
      `moving_statistics_warning`): logged, written to TensorBoard as text
      and to the `warning` column.
  """
  logging.info('Evaluation of %s (step %d) on %s: %s', checkpoint, step,
               split, ', '.join(f'{k} {v:.4f}' for k, v in metrics.items()))
  if warning:
    logging.warning('Evaluation of %s (step %d): %s', checkpoint, step,
                    warning)
  writer = tf.summary.create_file_writer(
      os.path.join(workdir, EVAL_SUMMARY_DIR))
  with writer.as_default(step=step):
    for name, value in metrics.items():
      tf.summary.scalar(name, value)
    if warning:
      tf.summary.text(WARNING_KEY, warning)
  writer.flush()
  row = {'step': step,
         'checkpoint': os.path.basename(checkpoint) if checkpoint else '',
         'split': split, **(extra or {}), **metrics}
  if warning:
    row[WARNING_KEY] = warning
  append_csv(os.path.join(workdir, EVAL_RESULTS), row)


def follow_checkpoints(*, read_state: Callable[[], tuple[str | None,
                                                         Sequence[str]]],
                       training_done: Callable[[], bool],
                       timeout_secs: float, poll_secs: float = 1.0,
                       clock: Callable[[], float] = time.time,
                       sleep: Callable[[float], None] = time.sleep
                       ) -> Iterator[tuple[str, list[str]]]:
  """The checkpoints `--run_eval` evaluates, newest first, as they appear.

  Each step yields the latest checkpoint if it is newer than the last one
  yielded, with the listed checkpoints between the two that were never
  yielded (written while the consumer was busy; they are skipped). The
  generator stops after yielding the latest checkpoint of a finished
  training, when training is done and nothing newer is listed, or when no
  new checkpoint has appeared for `timeout_secs`.

  Args:
    read_state: returns (latest checkpoint path or None, every listed
      checkpoint path), e.g. from `tf.train.get_checkpoint_state`.
    training_done: whether training wrote its done file.
    timeout_secs: how long to wait for a new checkpoint.
    poll_secs: pause between two looks at the state.
    clock: the time in seconds.
    sleep: waits for the given seconds.

  Yields:
    (checkpoint path, skipped checkpoint paths in step order).
  """
  last: str | None = None
  seen: set[str] = set()
  last_new = clock()

  def newer(path: str | None) -> bool:
    return bool(path) and path != last and (
        last is None or checkpoint_step(path) > checkpoint_step(last))

  while True:
    latest, listed = read_state()
    if newer(latest):
      low = checkpoint_step(last) if last else -1
      skipped = sorted(
          (p for p in listed if p not in seen and p != latest and
           low < checkpoint_step(p) < checkpoint_step(latest)),
          key=checkpoint_step)
      seen.update(listed)
      last = latest
      yield latest, skipped
      last_new = clock()
      if training_done() and not newer(read_state()[0]):
        return
      continue
    if training_done():
      # Training may have saved its final checkpoint since the state was
      # read; the done file is written after it.
      if not newer(read_state()[0]):
        return
      continue
    if clock() - last_new >= timeout_secs:
      logging.info('No new checkpoint for %g s; stopping.', timeout_secs)
      return
    sleep(poll_secs)


def evaluate_checkpoints(workdir: str,
                         evaluate: Callable[[str], dict[str, float]], *,
                         split: str, timeout_secs: float,
                         every_checkpoint: bool
                         ) -> tuple[dict[str, float], str | None]:
  """Evaluates a working directory's checkpoints as they appear.

  `--run_eval`'s loop (`follow_checkpoints`): a checkpoint recorded under
  `split` before is not evaluated again (but counts as the last one), a
  preemption's off-cadence save is not evaluated (the resumed run goes on
  from it), and one that training's `keep` deleted while it was read is
  skipped. Checkpoints written while another was being evaluated are
  skipped unless `every_checkpoint`.

  Args:
    workdir: the training's working directory.
    evaluate: evaluates (and records) one checkpoint; returns its metrics.
    split: the name its records have in `EVAL_RESULTS`.
    timeout_secs: how long to wait for a new checkpoint.
    every_checkpoint: evaluate the skipped ones too, oldest first.

  Returns:
    (the metrics of the last checkpoint evaluated, or {}; the last
    checkpoint evaluated or recorded before, or None).
  """

  def read_state():
    state = tf.train.get_checkpoint_state(workdir)
    if not state:
      return None, []
    return (state.model_checkpoint_path or None,
            list(state.all_model_checkpoint_paths))

  metrics: dict[str, float] = {}
  last = None
  for newest, skipped in follow_checkpoints(
      read_state=read_state,
      training_done=lambda: checkpointing.is_done(workdir),
      timeout_secs=timeout_secs,
      poll_secs=min(max(timeout_secs / 10, 0.1), 1.0)):
    paths = [newest]
    if every_checkpoint:
      paths = [*skipped, newest]
    elif skipped:
      logging.warning('Skipped checkpoints written while evaluating: %s',
                      ', '.join(os.path.basename(p) for p in skipped))
    recorded = recorded_checkpoints(workdir, split)
    for path in paths:
      if checkpointing.is_preemption_save(path):
        logging.info('%s was saved on a preemption, off the save cadence; '
                     'not evaluated (the resumed run goes on from it).', path)
        continue
      if os.path.basename(path) in recorded:
        logging.info('%s was evaluated before; not again.', path)
        last = path
        continue
      try:
        metrics = evaluate(path)
        last = path
      except tf.errors.OpError as e:
        # Training's `keep` may delete a checkpoint while it is read.
        if not isinstance(e, (tf.errors.NotFoundError,
                              tf.errors.DataLossError)) and (
                                  checkpointing.files_present(path)):
          raise
        logging.warning('Skipped checkpoint %s, which is gone or '
                        'unreadable: %s', path, utils.error_summary(e))
  return metrics, last
