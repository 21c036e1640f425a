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

"""Directories that readers use only once a marker says they are complete.

Object stores such as GCS have no atomic directory rename: "renaming" a
directory copies and deletes its objects one by one, so a reader (or a
kill) can meet half of it under the final name. A single object, though,
appears whole or not at all. So a directory written here is committed by
a small file written last, never by a rename:

1. `begin` writes `WRITE_IN_PROGRESS` into the new directory first;
2. the writer fills the directory in place;
3. `commit` writes `WRITE_COMPLETE` last.

`is_committed` holds for a directory with `WRITE_COMPLETE`, and for one
with neither marker whose `complete` check passes (written by an older
version, which renamed directories into place, or by another program).
`remove` takes the commit marker away first, so a deletion killed half-way
never leaves a committed-looking remnant.
"""

from collections.abc import Callable
import os
import time

import tensorflow as tf

IN_PROGRESS = 'WRITE_IN_PROGRESS'
COMPLETE = 'WRITE_COMPLETE'


def _write(path: str, text: str) -> None:
  with tf.io.gfile.GFile(path, 'w') as f:
    f.write(text)


def begin(directory: str) -> None:
  """Creates `directory` (new or empty) marked as being written."""
  tf.io.gfile.makedirs(directory)
  _write(os.path.join(directory, IN_PROGRESS), f'{time.time():.3f}\n')


def commit(directory: str) -> None:
  """Marks `directory` as complete: call after everything else is in it."""
  _write(os.path.join(directory, COMPLETE), f'{time.time():.3f}\n')


def is_committed(directory: str,
                 complete: Callable[[str], bool] | None = None) -> bool:
  """Whether readers may use `directory`.

  Args:
    directory: the directory.
    complete: for a directory with no marker at all: whether it holds what
      a complete one does (None: such a directory is not committed).
  """
  if tf.io.gfile.exists(os.path.join(directory, COMPLETE)):
    return True
  if tf.io.gfile.exists(os.path.join(directory, IN_PROGRESS)):
    return False
  return complete is not None and complete(directory)


def is_uncommitted(directory: str) -> bool:
  """Whether `directory` was begun here and never committed (a leftover)."""
  return (tf.io.gfile.exists(os.path.join(directory, IN_PROGRESS)) and
          not tf.io.gfile.exists(os.path.join(directory, COMPLETE)))


def remove(directory: str) -> None:
  """Deletes `directory`; a deletion cut short leaves it uncommitted."""
  if not tf.io.gfile.exists(directory):
    return
  _write(os.path.join(directory, IN_PROGRESS), f'{time.time():.3f}\n')
  marker = os.path.join(directory, COMPLETE)
  if tf.io.gfile.exists(marker):
    tf.io.gfile.remove(marker)
  try:
    tf.io.gfile.rmtree(directory)
  except tf.errors.NotFoundError:
    pass  # Removed by another process at the same time.
