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

"""Tests of the evaluation schedule, metric sums, records and save cadence.

`follow_checkpoints` is driven by a scripted workdir: a fake clock, and a
list of events (checkpoints written, the done file) that happen when the
clock passes their time. Nothing sleeps.
"""

import csv
import logging
import math

import pytest

from revisiting_ssl.models import layers
from revisiting_ssl.training import checkpointing, evaluation


class FakeWorkdir:
  """Checkpoints and the done file appearing at scripted times."""

  def __init__(self, events, keep=3):
    # events: (time, 'ckpt-N' or 'done'); a save keeps the newest `keep`.
    self.events = sorted(events)
    self.keep = keep
    self.now = 0.0
    self.listed = []
    self.done = False
    self.sleeps = 0

  def _advance(self):
    while self.events and self.events[0][0] <= self.now:
      _, what = self.events.pop(0)
      if what == 'done':
        self.done = True
      else:
        self.listed = (self.listed + [what])[-self.keep:]

  def read_state(self):
    self._advance()
    return (self.listed[-1] if self.listed else None), list(self.listed)

  def training_done(self):
    self._advance()
    return self.done

  def clock(self):
    return self.now

  def sleep(self, seconds):
    self.sleeps += 1
    self.now += seconds

  def follow(self, timeout=100.0, evaluate_secs=0.0):
    """Runs the generator; each evaluation takes `evaluate_secs`."""
    yielded = []
    for path, skipped in evaluation.follow_checkpoints(
        read_state=self.read_state, training_done=self.training_done,
        timeout_secs=timeout, poll_secs=1.0, clock=self.clock,
        sleep=self.sleep):
      yielded.append((path, skipped))
      self.now += evaluate_secs
    return yielded


def test_follows_every_checkpoint_then_stops_at_the_done_file():
  workdir = FakeWorkdir([(0, 'ckpt-2'), (5, 'ckpt-4'), (9, 'ckpt-6'),
                         (9.5, 'done')])
  assert workdir.follow() == [('ckpt-2', []), ('ckpt-4', []),
                              ('ckpt-6', [])]
  assert workdir.now < 15  # Stopped at the done file, not the timeout.


def test_checkpoints_written_while_busy_are_named_as_skipped():
  # Evaluating takes 10 s; meanwhile ckpt-4 and ckpt-6 are written.
  workdir = FakeWorkdir([(0, 'ckpt-2'), (3, 'ckpt-4'), (6, 'ckpt-6'),
                         (8, 'ckpt-8'), (30, 'done')], keep=5)
  assert workdir.follow(evaluate_secs=10) == [
      ('ckpt-2', []), ('ckpt-8', ['ckpt-4', 'ckpt-6'])]


def test_final_checkpoint_saved_between_the_two_looks_is_evaluated():
  # Training saves ckpt-6 and writes the done file after the evaluator read
  # the state (latest: ckpt-4, evaluated) and before it checks the file.
  state = {'listed': ['ckpt-4'], 'done': False, 'reads': 0}

  def read_state():
    state['reads'] += 1
    return state['listed'][-1], list(state['listed'])

  def training_done():
    if state['reads'] >= 2 and not state['done']:
      state['listed'].append('ckpt-6')
      state['done'] = True
    return state['done']

  yielded = [p for p, _ in evaluation.follow_checkpoints(
      read_state=read_state, training_done=training_done, timeout_secs=100,
      clock=lambda: 0.0, sleep=lambda _: None)]
  assert yielded == ['ckpt-4', 'ckpt-6']


def test_a_finished_run_is_evaluated_once():
  workdir = FakeWorkdir([(0, 'ckpt-2'), (0, 'ckpt-4'), (0, 'done')])
  assert workdir.follow() == [('ckpt-4', ['ckpt-2'])]
  assert workdir.sleeps == 0


def test_timeout_without_new_checkpoints():
  workdir = FakeWorkdir([(0, 'ckpt-2')])
  assert workdir.follow(timeout=20) == [('ckpt-2', [])]
  assert 20 <= workdir.now <= 21
  empty = FakeWorkdir([])
  assert empty.follow(timeout=5) == []
  assert 5 <= empty.now <= 6


def test_an_older_latest_checkpoint_is_not_evaluated_again():
  # A restarted training from scratch lists a smaller step as latest.
  workdir = FakeWorkdir([(0, 'ckpt-8'), (3, 'ckpt-2'), (10, 'done')])
  assert [p for p, _ in workdir.follow()] == ['ckpt-8']


def test_metric_sums_are_exact_means_over_real_examples():
  sums = evaluation.MetricSums()
  sums.add({'loss': (6.0, 3.0), 'top1': (2.0, 3.0), 'rare': (0.0, 0.0)})
  sums.add({'loss': (1.0, 1.0), 'top1': (1.0, 1.0), 'rare': (0.0, 0.0)})
  means = sums.means()
  assert means['loss'] == pytest.approx(7 / 4)
  assert means['top1'] == pytest.approx(3 / 4)
  assert math.isnan(means['rare'])
  assert means['num_examples'] == 4
  assert list(means)[:3] == ['loss', 'rare', 'top1']


def test_append_csv_extends_the_header(tmp_path):
  path = str(tmp_path / 'results.csv')
  evaluation.append_csv(path, {'step': 1, 'loss': 0.5})
  evaluation.append_csv(path, {'step': 2, 'loss': 0.4, 'top1': 0.9})
  with open(path) as f:
    rows = list(csv.DictReader(f))
  assert rows == [{'step': '1', 'loss': '0.5', 'top1': ''},
                  {'step': '2', 'loss': '0.4', 'top1': '0.9'}]
  assert not (tmp_path / 'results.csv.tmp').exists()


def test_record_writes_the_row_and_summaries(tmp_path):
  evaluation.record(str(tmp_path), {'loss': 0.25, 'top1': 0.5}, step=7,
                    split='test', checkpoint=str(tmp_path / 'ckpt-7'),
                    extra={'mode': 'cached'})
  with open(tmp_path / evaluation.EVAL_RESULTS) as f:
    (row,) = list(csv.DictReader(f))
  assert row == {'step': '7', 'checkpoint': 'ckpt-7', 'split': 'test',
                 'mode': 'cached', 'loss': '0.25', 'top1': '0.5'}
  assert list((tmp_path / evaluation.EVAL_SUMMARY_DIR).iterdir())


def test_moving_statistics_settle_after_their_momentum_s_updates():
  # 0.99 ** 459 < 1% <= 0.99 ** 458; the patch head's 0.997 needs 1533.
  assert layers.updates_to_settle(0.99) == 459
  assert layers.updates_to_settle(0.997) == 1533
  assert layers.updates_to_settle(1.0) == 0  # Frozen statistics.
  warning = evaluation.moving_statistics_warning(157, [0.99, 0.99])
  assert '157 updates' in warning and '459 updates' in warning
  assert '21%' in warning  # 0.99 ** 157 of the starting values.
  assert evaluation.moving_statistics_warning(459, [0.99]) is None
  # The slowest layer decides.
  assert '1533' in evaluation.moving_statistics_warning(500, [0.99, 0.997])
  assert evaluation.moving_statistics_warning(3, []) is None  # No BN.


def test_record_writes_a_warning(tmp_path, caplog):
  with caplog.at_level(logging.WARNING, logger='absl'):
    evaluation.record(str(tmp_path), {'loss': 0.25}, step=7, split='test',
                      checkpoint=None, warning='statistics, unsettled')
    evaluation.record(str(tmp_path), {'loss': 0.5}, step=9, split='test',
                      checkpoint=None)
  assert [r.getMessage() for r in caplog.records
          if 'unsettled' in r.getMessage()] == [
              'Evaluation of None (step 7): statistics, unsettled']
  with open(tmp_path / evaluation.EVAL_RESULTS) as f:
    rows = list(csv.DictReader(f))
  assert [r[evaluation.WARNING_KEY] for r in rows] == [
      'statistics, unsettled', '']


def test_save_cadence_by_steps_time_and_end():
  now = [0.0]
  cadence = checkpointing.SaveCadence(every_steps=4, every_secs=60, step=0,
                                      clock=lambda: now[0])
  assert not cadence.due(3, total=100)
  assert cadence.due(4, total=100)
  cadence.saved(4)
  now[0] = 59
  assert not cadence.due(5, total=100)
  now[0] = 60
  assert cadence.due(5, total=100)
  cadence.saved(5)
  assert cadence.due(100, total=100)
  never = checkpointing.SaveCadence(every_steps=None, every_secs=None,
                                    step=0, clock=lambda: now[0])
  now[0] = 1e9
  assert not never.due(99, total=100) and never.due(100, total=100)
