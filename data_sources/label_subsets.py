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

"""Labelled subsets: S4L's published ImageNet lists and a seeded sampler.

A labelled subset is a list of example ids (`DataSource.example_ids`) in
S4L's file format, one JSON object `{"values": [...]}`. For
ImageNet, `--filename_list_template label_map_count_{}_index_0` with
`--num_supervised_examples 128000` (or 13000) names one of the two lists
the S4L authors published, which this project ships in
`data_sources/label_maps/`. For
any other data set, `--labels_per_class N` (or `--label_fraction F`) draws
N examples of every class of the training split with `--label_subset_seed`
and writes the list into the working directory, where a rerun reads it
back and a user can inspect it.
"""

from collections.abc import Sequence
import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

from revisiting_ssl import utils

# Where the published lists are shipped (package data).
LABEL_MAPS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              'label_maps')


@dataclasses.dataclass(frozen=True)
class LabelSubset:
  """The labelled examples of a run.

  Attributes:
    ids: the example ids, as listed.
    path: the list file it was read from, or will be written to.
    write: the list was drawn now and is to be written to `path` when the
      run starts (never by a dry run).
  """
  ids: tuple[str, ...]
  path: str
  write: bool = False


def read(path: str, flag: str) -> list[str]:
  """The ids of a list file.

  Raises:
    utils.UsageError: naming the file and `flag`, if it is missing or not
      a JSON object with a list of unique strings under `values`.
  """
  if not tf.io.gfile.exists(path):
    raise utils.UsageError(f'The label list {path} ({flag}) does not exist.')
  try:
    with tf.io.gfile.GFile(path) as f:
      content = json.load(f)
  except (ValueError, UnicodeDecodeError) as e:
    raise utils.UsageError(
        f'The label list {path} ({flag}) is not valid JSON: {e}') from None
  values = content.get('values') if isinstance(content, dict) else None
  if not isinstance(values, list) or not all(
      isinstance(v, str) for v in values):
    raise utils.UsageError(
        f'The label list {path} ({flag}) must be a JSON object '
        f'{{"values": [...]}} listing example ids as strings.')
  if len(set(values)) != len(values):
    raise utils.UsageError(
        f'The label list {path} ({flag}) lists '
        f'{len(values) - len(set(values))} ids twice.')
  return values


def write(path: str, ids: Sequence[str]) -> None:
  """Writes a list file (atomically)."""
  tmp = path + '.tmp'
  with tf.io.gfile.GFile(tmp, 'w') as f:
    json.dump({'values': list(ids)}, f)
  tf.io.gfile.rename(tmp, path, overwrite=True)


def resolve_template(template: str, count: int) -> str:
  """The file of `--filename_list_template` for `count` labelled examples.

  The path is taken as given when it exists (S4L read it relative to the
  working directory), else from `label_maps/` of this repository.

  Raises:
    utils.UsageError: when neither exists.
  """
  if '{}' not in template:
    raise utils.UsageError(
        f'--filename_list_template {template!r} has no "{{}}" for '
        f'--num_supervised_examples.')
  name = template.format(count)
  for path in (name, os.path.join(LABEL_MAPS_DIR, name)):
    if tf.io.gfile.exists(path):
      return path
  raise utils.UsageError(
      f'No label list {name} (--filename_list_template {template} with '
      f'--num_supervised_examples {count}): looked in the working directory '
      f'and in {LABEL_MAPS_DIR}.')


def sample(ids: np.ndarray, labels: np.ndarray, *, num_classes: int,
           per_class: int, seed: int) -> list[str]:
  """`per_class` ids of every class, drawn without replacement.

  Grouped by class in label order, in the order drawn within a class (as
  S4L's lists are). The same seed gives the same subset.

  Raises:
    utils.UsageError: when a class has fewer than `per_class` examples.
  """
  rng = np.random.default_rng(seed)
  chosen = []
  for label in range(num_classes):
    candidates = ids[labels == label]
    if len(candidates) < per_class:
      raise utils.UsageError(
          f'--labels_per_class {per_class} exceeds the {len(candidates)} '
          f'examples of class {label} in the training split.')
    chosen.extend(rng.choice(candidates, per_class, replace=False).tolist())
  return chosen


def choose(data, split: str, *, workdir: str,
           filename_list_template: str | None = None,
           num_supervised_examples: int | None = None,
           labels_per_class: int | None = None,
           label_fraction: float | None = None,
           label_subset_seed: int = 0) -> LabelSubset | None:
  """The labelled subset the flags ask for, or None for all labels.

  Args:
    data: the `DataSource`.
    split: the training split the subset is drawn from.
    workdir: where a drawn list is written (and read back on a rerun).
    filename_list_template: S4L's list file template.
    num_supervised_examples: the number of labelled examples it names.
    labels_per_class: draw this many examples of every class.
    label_fraction: draw this fraction of the split, spread evenly over the
      classes (round(fraction * split size / classes) per class).
    label_subset_seed: the draw's seed.

  Raises:
    utils.UsageError: for flags that contradict each other, a missing or
      malformed list, a list whose length is not
      `--num_supervised_examples`, or a class too small for the draw.
  """
  drawn = labels_per_class is not None or label_fraction is not None
  if filename_list_template is not None and drawn:
    raise utils.UsageError(
        '--filename_list_template names a published list; '
        '--labels_per_class and --label_fraction draw one. Give one of them.')
  if labels_per_class is not None and label_fraction is not None:
    raise utils.UsageError(
        'Give --labels_per_class or --label_fraction, not both.')
  if filename_list_template is not None:
    if num_supervised_examples is None:
      raise utils.UsageError(
          '--filename_list_template needs --num_supervised_examples (the '
          'count in the list\'s name, e.g. 128000).')
    path = resolve_template(filename_list_template, num_supervised_examples)
    ids = read(path, '--filename_list_template')
    if len(ids) != num_supervised_examples:
      raise utils.UsageError(
          f'The label list {path} has {len(ids)} entries, not the '
          f'{num_supervised_examples} of --num_supervised_examples.')
    return LabelSubset(tuple(ids), path)
  if num_supervised_examples is not None:
    raise utils.UsageError(
        '--num_supervised_examples needs --filename_list_template; to draw '
        'a subset use --labels_per_class or --label_fraction.')
  if not drawn:
    return None
  if label_fraction is not None:
    if not 0 < label_fraction <= 1:
      raise utils.UsageError(
          f'--label_fraction must be in (0, 1], got {label_fraction:g}.')
    labels_per_class = max(1, round(
        label_fraction * data.num_examples(split) / data.num_classes))
  if labels_per_class < 1:
    raise utils.UsageError(
        f'--labels_per_class must be at least 1, got {labels_per_class}.')
  total = labels_per_class * data.num_classes
  path = os.path.join(
      workdir, f'label_map_count_{total}_{split}_seed_{label_subset_seed}')
  if tf.io.gfile.exists(path):
    ids = read(path, 'the label list of --workdir')
    if len(ids) != total:
      raise utils.UsageError(
          f'{path} has {len(ids)} entries, not {total}; remove it to draw '
          f'the subset again.')
    return LabelSubset(tuple(ids), path)
  ids, labels = data.example_ids(split)
  chosen = sample(ids, labels, num_classes=data.num_classes,
                  per_class=labels_per_class, seed=label_subset_seed)
  return LabelSubset(tuple(chosen), path, write=True)
