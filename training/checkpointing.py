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

"""Checkpoints of a working directory: their keys, cadence, restore, end.

* Keys: every variable is saved under a readable path such as
  `net/resnet50/block1/unit1/conv_a/kernel` (`checkpoint_variables`).
* Cadence: a checkpoint at every multiple of `--save_checkpoints_steps`
  (the first loop end at or after it) and/or every
  `--save_checkpoints_secs` seconds, and always at the last step
  (`SaveCadence`).
* Restore: the latest complete checkpoint of the workdir; saves killed
  half-way leave `ckpt-N_temp` files that nothing reads, and they are
  removed before training resumes (`remove_incomplete_checkpoints`).
* Warm start: a fresh run can take the task's weights from another
  checkpoint (`--path_to_initial_ckpt`, `--vars_to_restore`).
* End: when training reaches its last step the chief writes
  `TRAINING_IS_DONE` (the original's evaluator waited for this file, which
  nothing wrote), so `--run_eval` knows when to stop.
"""

from collections.abc import Mapping
import os
import re
import time
from typing import Any

from absl import logging
import keras
import tensorflow as tf

from revisiting_ssl import utils

DONE_FILE = 'TRAINING_IS_DONE'

# Top-level key of the input pipeline's state in a checkpoint.
INPUT_STATE_KEY = 'data'


def checkpoint_variables(items: Mapping[str, Any],
                         optimizer: keras.optimizers.Optimizer
                         ) -> dict[str, tf.Variable]:
  """Every variable to checkpoint, keyed by a stable, readable name.

  Checkpoints are keyed by variable path rather than by the object graph:
  Keras 3 layers kept in Python lists are invisible to `tf.train.Checkpoint`'s
  object tracking, which silently dropped the batch-norm statistics of every
  residual unit.

  Args:
    items: prefix -> object with `variables` (a task's checkpoint items).
    optimizer: the optimiser, whose slots go under `optimizer/`.

  Returns:
    Name -> variable; a variable shared by two items is saved once.
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


def checkpoint_step(path: str) -> int:
  """The step of a checkpoint path `.../ckpt-<step>`."""
  return int(path.rsplit('-', 1)[-1])


def files_present(path: str) -> bool:
  """Whether the index and data files of checkpoint `path` all exist."""
  if not tf.io.gfile.exists(path + '.index'):
    return False
  shards = tf.io.gfile.glob(path + '.data-*-of-*')
  if not shards:
    return False
  count = int(shards[0].rsplit('-of-', 1)[1])
  return len(shards) == count


def remove_incomplete_checkpoints(workdir: str) -> None:
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


def restore_latest(checkpoint: tf.train.Checkpoint,
                   workdir: str) -> str | None:
  """Restores the latest checkpoint of `workdir` into `checkpoint`, if any.

  The input pipeline's state may be missing on one side: written without a
  seed or by a strategy whose iterators cannot be saved, or not wanted now.
  Then everything else is restored and the data order restarts.

  Returns:
    The restored path, or None when the workdir has no checkpoint.

  Raises:
    AssertionError: (from TensorFlow) when the checkpoint does not hold the
      variables of `checkpoint`, e.g. one of another task or network.
  """
  latest = tf.train.latest_checkpoint(workdir)
  if not latest:
    return None
  status = checkpoint.restore(latest)
  saved = {name.split('/', 1)[0]
           for name, _ in tf.train.list_variables(latest)}
  wanted = hasattr(checkpoint, INPUT_STATE_KEY)
  if wanted != (INPUT_STATE_KEY in saved):
    if wanted:
      logging.warning('%s holds no input pipeline state; the data order '
                      'restarts.', latest)
    status.expect_partial()
    status.assert_nontrivial_match()
  else:
    status.assert_existing_objects_matched()
  return latest


# Beside `ckpt-N.index`: the checkpoint was saved only for a preemption.
PREEMPTION_SAVE_SUFFIX = '.preempted'


def write_done_file(workdir: str, step: int) -> None:
  """Marks the workdir's training as complete at `step`."""
  with tf.io.gfile.GFile(os.path.join(workdir, DONE_FILE), 'w') as f:
    f.write(f'{step}\n')


def mark_preemption_save(path: str) -> None:
  """Marks the checkpoint at `path` as one saved only for a preemption.

  Written before the checkpoint is listed, so that an evaluator never sees
  it unmarked. Such a checkpoint is off the save cadence: the resumed run
  goes on from it, and it is not evaluated, so that `eval_results.csv`
  ends as an uninterrupted run's.
  """
  with tf.io.gfile.GFile(path + PREEMPTION_SAVE_SUFFIX, 'w') as f:
    f.write('saved on preemption\n')


def is_preemption_save(path: str) -> bool:
  """Whether `mark_preemption_save` marked the checkpoint at `path`."""
  return tf.io.gfile.exists(path + PREEMPTION_SAVE_SUFFIX)


def is_done(workdir: str) -> bool:
  """Whether training in `workdir` has written `TRAINING_IS_DONE`."""
  return tf.io.gfile.exists(os.path.join(workdir, DONE_FILE))


class SaveCadence:
  """When to write the next checkpoint: by steps, by time, and at the end."""

  def __init__(self, *, every_steps: int | None, every_secs: float | None,
               step: int, clock=time.time):
    """Starts counting from a save (or a restore) at `step`.

    Args:
      every_steps: save after this many steps (None or 0: never by steps).
      every_secs: save after this many seconds (None or 0: never by time).
      step: the step of the last save or restore.
      clock: returns the time in seconds (for tests).
    """
    self._every_steps = every_steps
    self._every_secs = every_secs
    self._clock = clock
    self.saved(step)

  def saved(self, step: int) -> None:
    """Records a save at `step`, now."""
    self._last_step = step
    self._last_time = self._clock()

  def due(self, step: int, total: int) -> bool:
    """Whether to save at `step` of a run of `total` steps."""
    if step >= total:
      return True
    # At the multiples of `every_steps`: a run resumed from any step (a
    # preemption's) saves the same steps as one never stopped.
    if self._every_steps and (step // self._every_steps >
                              self._last_step // self._every_steps):
      return True
    return bool(self._every_secs and
                self._clock() - self._last_time >= self._every_secs)


def _key(name: str) -> str:
  """The key `tf.train.Checkpoint(**{name: variable})` saves `name` under."""
  return name.replace('.', '..').replace('/', '.S') + (
      '/.ATTRIBUTES/VARIABLE_VALUE')


def warm_start(variables: Mapping[str, tf.Variable], path: str,
               pattern: str, check_only: bool = False,
               check_names: bool = True) -> list[str]:
  """Assigns the values of checkpoint `path` to the variables it matches.

  Args:
    variables: checkpoint name -> variable (`checkpoint_variables`); the
      optimiser's slots are never taken, so optimisation starts afresh.
    path: a checkpoint (prefix) or a directory, whose latest is taken.
    pattern: a regular expression; the variables whose names match it
      from their start are restored (S4L's `--vars_to_restore`, `.*`).
    check_only: only check that the warm start would work.
    check_names: with `check_only`, also check the names and shapes (not
      only that the checkpoint can be read).

  Returns:
    The restored (or, checking, the matching) names.

  Raises:
    utils.UsageError: for a missing checkpoint, an invalid pattern, no
      variable matched, or a shape that differs.
  """
  if tf.io.gfile.isdir(path):
    path = tf.train.latest_checkpoint(path) or path
  try:
    reader = tf.train.load_checkpoint(path)
  except (tf.errors.OpError, ValueError) as e:
    raise utils.UsageError(
        f'--path_to_initial_ckpt {path} is not a readable checkpoint: '
        f'{utils.error_summary(e)}') from None
  if check_only and not check_names:
    return []
  try:
    regex = re.compile(pattern)
  except re.error as e:
    raise utils.UsageError(f'--vars_to_restore {pattern!r} is not a regular '
                           f'expression: {e}.') from None
  shapes = reader.get_variable_to_shape_map()
  restored, mismatched = [], []
  for name, variable in variables.items():
    if name.startswith('optimizer/') or not regex.match(name):
      continue
    key = _key(name)
    if key not in shapes:
      continue
    if list(shapes[key]) != variable.shape.as_list():
      mismatched.append(f'{name} {shapes[key]} vs {variable.shape}')
      continue
    if not check_only:
      variable.assign(reader.get_tensor(key))
    restored.append(name)
  if mismatched:
    raise utils.UsageError(
        f'--path_to_initial_ckpt {path}: shapes differ for '
        f'{", ".join(mismatched[:5])}.')
  if not restored:
    raise utils.UsageError(
        f'--path_to_initial_ckpt {path} holds no variable of this task '
        f'matching --vars_to_restore {pattern!r}.')
  if not check_only:
    logging.info('Warm start: %d variables from %s.', len(restored), path)
  return restored
