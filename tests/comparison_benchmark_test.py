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

"""benchmarks/fashion_mnist.py's protocol and its report's findings.

The driver runs with its commands replaced by a stand-in that writes what
each stage would (checkpoints' marker, exports, probe results, stored
feature sets, the convex probe's JSON), with numbers chosen so that the
choices are known: which settings train, which seeds, when the test split
is read, what a second invocation reruns. The report's findings are
checked on hand-made numbers on both sides of the seeds' spread.
"""

import argparse
import dataclasses
import json
import os
import re
import shutil
import sys
import threading
import time

import pytest
import testdata

sys.path.insert(0, str(testdata.REPO / 'benchmarks'))
driver = testdata.load_script('benchmarks/fashion_mnist.py',
                              'comparison_benchmark')
report = driver.comparison_report
results_page = driver.comparison_results
experiment = driver.experiment

END_POINTS = ('after_root', 'block1', 'block4', 'pre_logits')
# Rotation's validation top-1 by length: best at 1 epoch.
LENGTH_BONUS = {'0.25': 0.0, '0.5': 1.0, '1': 2.0, '2': 1.5}


def _flag(cmd, name):
  return cmd[cmd.index(name) + 1] if name in cmd else None


def _score(directory, seed, end_point, split):
  """A top-1 that depends on the row, length, seed, end point and split."""
  row = os.path.basename(os.path.dirname(directory))
  length = re.match(r'epochs([\d.]+)_seed', os.path.basename(directory))
  base = 70.0 if row.startswith('random') else 80.0
  bonus = LENGTH_BONUS.get(length.group(1), 0.0) if length else 0.0
  return (base + bonus + 0.3 * seed + END_POINTS.index(end_point) +
          (0.5 if split == 'test' else 0.0)) / 100


class FakeStages(testdata.StandInRun):
  """Writes what each command of the driver would."""

  def stage(self, cmd):
    if cmd[1] == 'tools/convex_probe.py':
      self._convex(cmd)
      return 2.0
    workdir = _flag(cmd, '--workdir')
    directory = os.path.dirname(workdir)
    seed = int(_flag(cmd, '--random_seed'))
    os.makedirs(workdir, exist_ok=True)
    if 'evaluation' in cmd[1]:
      split = 'test' if '--run_eval' in cmd else 'val'
      self._probe(workdir, directory, seed, split)
    elif '--export_only' in cmd or '--run_eval' in cmd:
      base = os.path.join(workdir, 'export', 'hub')
      stamp = len(os.listdir(base)) + 1 if os.path.isdir(base) else 1
      os.makedirs(os.path.join(base, str(stamp), 'module'))
      if '--run_eval' in cmd:
        # After training, --run_eval reads only the newest checkpoint
        # unless asked for all.
        curve = ((100, 0.90), (200, 0.91), (300, 0.925), (400, 0.925))
        if '--eval_every_checkpoint' not in cmd:
          curve = curve[-1:]
        with open(os.path.join(workdir, 'eval_results.csv'), 'w') as f:
          f.write('step,split,top1_accuracy_logits\n' + ''.join(
              f'{step},val,{top1}\n' for step, top1 in curve) +
                  '400,test,0.93\n')
    else:
      open(os.path.join(workdir, 'TRAINING_IS_DONE'), 'w').close()
    return 60.0

  def _probe(self, workdir, directory, seed, split):
    heads = os.path.join(workdir, 'heads')
    if split == 'test':
      # As linear_eval_cached's --run_eval: it reads trained heads.
      if not os.path.exists(heads):
        raise RuntimeError(f'No checkpoint of heads in {workdir}')
    else:
      open(heads, 'w').close()
    path = os.path.join(workdir, 'linear_eval_results.csv')
    new = not os.path.exists(path)
    with open(path, 'a') as f:
      if new:
        f.write('end_point,split,step,top1_accuracy\n')
      for e in END_POINTS:
        f.write(f'{e},{split},10,{_score(directory, seed, e, split)}\n')
    splits = ('train', 'val') if split == 'val' else ('test',)
    for name in splits:
      stored = os.path.join(workdir, 'features', f'key_{name}')
      os.makedirs(stored)
      with open(os.path.join(stored, 'meta.json'), 'w') as f:
        json.dump({'split': name, 'variant': 'eval'}, f)

  def _convex(self, cmd):
    for name in ('--train', '--val', '--test'):
      assert os.path.isdir(_flag(cmd, name)), name
    assert _flag(cmd, '--train').endswith('key_train')
    assert _flag(cmd, '--test').endswith('key_test')
    numbers = {'examples': 50, 'test_top1': 75.0, 'knn_test_top1': 70.0}
    # A path chooses a strength by subset size; another run's are reused.
    reused = {}
    if '--l2_from' in cmd:
      with open(_flag(cmd, '--l2_from')) as f:
        reused = json.load(f)
    results = {e: {shots: dict(numbers, examples=n, l2=reused.get(e, {}).get(
        shots, {}).get('l2', 10.0 / n)) for shots, n in
                   (('10', 100), ('100', 1000), ('all', 50000))}
               for e in _flag(cmd, '--end_points').split(',')}
    with open(_flag(cmd, '--json'), 'w') as f:
      json.dump(results, f)


@pytest.fixture
def fake(monkeypatch, tmp_path):
  stages = FakeStages()
  stages.install(monkeypatch, experiment)

  def main(rows, workdir='work', *flags):
    return stages.main(monkeypatch, driver, [
        'fashion_mnist.py', '--workdir', str(tmp_path / workdir),
        '--results', str(tmp_path / 'RESULTS.md'), '--rows', rows,
        '--ledger', str(tmp_path / 'ledger.json'), *flags])
  return main, tmp_path


def _split_of_probe(cmd):
  return 'test' if '--run_eval' in cmd else 'val'


def test_protocol_choices_on_validation_test_read_once(fake):
  main, tmp_path = fake
  commands = main('random init,rotation')
  pretrains = [c for c in commands if c[1] == driver.ROTATION and
               '--export_only' not in c]
  # Seed 0 trains lengths until one does not improve (2 epochs: longer
  # ones never train); the chosen one (1 epoch) then seeds 1, 2.
  assert [s['--epochs'] for s in driver.ROTATION_LENGTHS][4:] == [
      '4', '8', '16']
  trained = sorted((_flag(c, '--epochs'), _flag(c, '--random_seed'))
                   for c in pretrains)
  assert trained == sorted([('0.25', '0'), ('0.5', '0'), ('1', '0'),
                            ('2', '0'), ('1', '1'), ('1', '2')])
  for c in pretrains:
    assert _flag(c, '--val_split') == 'val'
    assert float(_flag(c, '--decay_epochs')) == pytest.approx(
        float(_flag(c, '--epochs')) * 5 / 6, rel=1e-5)
  # Random weights: exported, never trained, three seeds.
  exports = [c for c in commands if '--export_only' in c]
  assert {(_flag(c, '--workdir').split(os.sep)[-3], _flag(
      c, '--random_seed')) for c in exports
          if 'random_init' in _flag(c, '--workdir')} == {
              ('random_init', '0'), ('random_init', '1'),
              ('random_init', '2')}
  # Probes train on `train`, choose on `val`; the test split is read once
  # per final model and never for the other settings.
  probes = [c for c in commands if 'evaluation' in c[1]]
  for c in probes:
    assert _flag(c, '--train_split') == 'train'
  test_reads = [os.path.basename(os.path.dirname(_flag(c, '--workdir')))
                for c in probes if _split_of_probe(c) == 'test']
  assert sorted(test_reads) == sorted(
      ['initial_seed0', 'initial_seed1', 'initial_seed2', 'epochs1_seed0',
       'epochs1_seed1', 'epochs1_seed2'])
  for c in probes:
    if _split_of_probe(c) == 'test':
      assert c[-2:] == ['--val_split', 'test']
  # The convex probe: final models, best end point and pre_logits, the
  # low-shot subsets drawn with the model's seed.
  convex = [c for c in commands if c[1] == 'tools/convex_probe.py']
  assert len(convex) == 6
  # Each right after its model's test probe: a model runs all its stages
  # before the next starts, and its stored features are deleted then, as
  # are those of the lengths the search did not choose.
  for c in convex:
    before = commands[commands.index(c) - 1]
    assert _split_of_probe(before) == 'test'
    assert os.path.dirname(_flag(before, '--workdir')) == os.path.dirname(
        _flag(c, '--json'))
  stored = list((tmp_path / 'work').glob('*/*/probe/features'))
  assert stored == []
  assert (tmp_path / 'work' / 'rotation' / 'epochs2_seed0' / 'probe' /
          'linear_eval_results.csv').exists()
  for c in convex:
    assert _flag(c, '--end_points') == 'pre_logits'
    assert _flag(c, '--labels_per_class') == '10,100,all'
    assert _flag(c, '--l2_patience') == '1'
    assert _flag(c, '--tol') == '0.0001'
  # Seed 0 chooses the L2 strengths on `val`; seeds 1 and 2 fit those.
  for model in ('initial', 'epochs1'):
    seeds = {_flag(c, '--label_subset_seed'): c for c in convex
             if f'{model}_seed' in _flag(c, '--json')}
    assert sorted(seeds) == ['0', '1', '2']
    assert '--l2_from' not in seeds['0']
    with open(_flag(seeds['0'], '--json')) as f:
      chosen = json.load(f)
    for seed in ('1', '2'):
      with open(_flag(seeds[seed], '--l2_from')) as f:
        assert json.load(f) == chosen

  text = (tmp_path / 'RESULTS.md').read_text()
  assert ('| rotation | epochs0.25: 83.0, epochs0.5: 84.0, epochs1: 85.0, '
          'epochs2: 84.5 | epochs1 |') in text
  # Test top-1 of the best end point: 80 + 2 + 3 + 0.5 + 0.3 * seed.
  assert '| rotation | 85.8 ± 0.3 |' in text
  assert '| random init | 73.8 ± 0.3 |' in text
  assert '**rotation against random init**' in text
  # Each network's command: random weights are exported, not trained.
  assert re.search(r'initial_seed0/pretrain .* --export_only\n', text)
  assert re.search(r'epochs1_seed0/pretrain .* --decay_epochs 0.833333\n',
                   text)
  assert 'Beats random weights at its best end point: reproduces' in text
  for plot in ('fashion_mnist.png', 'fashion_mnist_lengths.png',
               'fashion_mnist_low_shot.png'):
    assert (tmp_path / plot).stat().st_size > 1000
  assert 'fashion_mnist_networks.png' not in text
  # A row's cost in all counts the settings its search did not choose, and
  # no other row's: 100 more minutes on one of rotation's.
  def minutes(text):
    return {row: int(m) for row, m in re.findall(
        r'^- (.+?): (\d+) min in all; ', text, re.M)}
  before = minutes(text)
  assert set(before) == {'random init', 'rotation'}
  ledger = experiment.Ledger(str(tmp_path / 'ledger.json'))
  times = ledger.entries['rotation/epochs0.25_seed0']['times']
  ledger.put('rotation/epochs0.25_seed0',
             times=dict(times, pretrain=times['pretrain'] + 6000.0))
  assert main('random init,rotation', 'work', '--report_only') == []
  text = (tmp_path / 'RESULTS.md').read_text()
  assert minutes(text) == {'random init': before['random init'],
                           'rotation': before['rotation'] + 100}
  assert f'took {sum(before.values()) + 100} minutes in all' in text

  # A second invocation reuses every stage; another group's report keeps
  # the rows already done.
  assert main('random init,rotation') == []
  # A network row brings its reference (rotation at width 1 and the same
  # length) with it, all seeds; the main rotation row's choice is not used.
  commands = main('rotation (vgg19)')
  pretrains = {(_flag(c, '--architecture'), _flag(c, '--random_seed'),
                _flag(c, '--epochs')) for c in commands
               if c[1] == driver.ROTATION and '--export_only' not in c}
  assert pretrains == {(a, s, '1') for a in (None, 'vgg19')
                       for s in ('0', '1', '2')}
  # The convex probe is for the main rows only; their features go after
  # the test probe.
  assert not [c for c in commands if c[1] == 'tools/convex_probe.py']
  assert not list((tmp_path / 'work').glob('*/*/probe/features'))
  assert {os.path.basename(os.path.dirname(os.path.dirname(_flag(
      c, '--workdir')))) for c in commands if '--workdir' in c} == {
          'rotation__1_epoch', 'rotation__vgg19'}
  text = (tmp_path / 'RESULTS.md').read_text()
  assert '| rotation (vgg19) |' in text and '| random init |' in text
  assert '| rotation (vgg19) | as rotation (1 epoch) | epochs1 |' in text
  assert re.search(r'\| rotation \(vgg19\) \| [\d.]+ ± [\d.]+ \| '
                   r'[\d.]+ ± [\d.]+ \| - \| - \| - \|', text)
  assert '| rotation (1 epoch) | epochs1: 85.0 | epochs1 |' in text
  # Widths and networks get a depth plot of their own.
  assert '![widths and networks](fashion_mnist_networks.png)' in text
  assert (tmp_path / 'fashion_mnist_networks.png').stat().st_size > 1000


def test_plots_with_nothing_to_draw_are_left_out(fake):
  main, tmp_path = fake
  # The width rows' reference alone: no method, no width, no convex probe.
  main('rotation (1 epoch)')
  text = (tmp_path / 'RESULTS.md').read_text()
  assert '| rotation (1 epoch) | ' in text
  for plot in ('fashion_mnist.png', 'fashion_mnist_networks.png',
               'fashion_mnist_low_shot.png', 'fashion_mnist_lengths.png'):
    assert plot not in text
    assert not (tmp_path / plot).exists()


def test_a_search_stops_only_when_a_length_does_not_improve(
    fake, monkeypatch):
  main, tmp_path = fake
  # Every length better than the last by the minimum gain: all are tried,
  # and the report says that longer pretraining might still help.
  gain = driver.MIN_GAIN
  monkeypatch.setattr(sys.modules[__name__], 'LENGTH_BONUS', {
      s['--epochs']: i * gain for i, s in enumerate(driver.ROTATION_LENGTHS)})
  commands = main('rotation')
  trained = [_flag(c, '--epochs') for c in commands
             if c[1] == driver.ROTATION and '--export_only' not in c and
             _flag(c, '--random_seed') == '0']
  assert trained == [s['--epochs'] for s in driver.ROTATION_LENGTHS]
  assert ('**rotation**: the longest setting tried was the best' in
          (tmp_path / 'RESULTS.md').read_text())


def test_lengths_measured_past_the_stop_are_shown_not_chosen(fake):
  """A length an earlier run trained past today's stop: reported only."""
  main, tmp_path = fake
  # Rotation's search stops at 2 epochs (it does not improve on 1); the
  # ledger already has 4 epochs, better than any, from an earlier run.
  experiment.Ledger(str(tmp_path / 'ledger.json')).put(
      'rotation/epochs4_seed0', probe={'val': {'block1': 90.0}})
  commands = main('rotation')
  assert not [c for c in commands if _flag(c, '--epochs') == '4']
  text = (tmp_path / 'RESULTS.md').read_text()
  assert ('| rotation | epochs0.25: 83.0, epochs0.5: 84.0, epochs1: 85.0, '
          'epochs2: 84.5, epochs4: 90.0 (past the stop) | epochs1 |') in text
  assert (tmp_path / 'fashion_mnist_lengths.png').stat().st_size > 1000


def test_ledger_resumes_on_a_machine_without_the_workdir(fake):
  main, tmp_path = fake
  main('random init,supervised')
  report = (tmp_path / 'RESULTS.md').read_text()
  shutil.rmtree(tmp_path / 'work')
  assert main('random init,supervised') == []
  assert (tmp_path / 'RESULTS.md').read_text() == report
  assert 'Trained a second time' not in report


def test_report_only_runs_no_stage(fake):
  main, tmp_path = fake
  main('random init')
  # Rotation has not run: nothing trains, and the report has the rows done,
  # in a folder made for it.
  results = tmp_path / 'report' / 'RESULTS.md'
  assert main('rotation', 'work', '--report_only',
              '--results', str(results)) == []
  text = results.read_text()
  assert '| random init | ' in text
  assert '| rotation | ' not in text
  assert (results.parent / 'fashion_mnist.png').stat().st_size > 1000
  # The page names the row asked for that has not run, and its first stage;
  # rows not asked for are not named.
  assert ('**Not complete.** These rows are not in the tables, the plots '
          'or the findings yet, their stages still to run (the first of '
          'each: network, then stage): rotation '
          '(rotation/epochs0.25_seed0: pretrain).\n\nProtocol.') in text
  assert 'exemplar (' not in text
  # The findings that wait for rotation say so.
  (waiting,) = [x for x in text.splitlines() if 'Not tested yet' in x]
  assert 'rotation against random init, with its low-shot gain (needs ' \
      'rotation)' in waiting
  # Everything asked for is done: nothing is named as still to run.
  main('rotation')
  assert 'Not complete' not in (tmp_path / 'RESULTS.md').read_text()


def _assert_trained_again(commands, seed):
  """The commands pretrain and export `seed`'s network, probe, convex."""
  assert [os.path.basename(c[1]) for c in commands] == [
      'fashion_mnist.sh', 'fashion_mnist.sh',
      'rotation_or_exemplar_fashion_mnist.sh',
      'rotation_or_exemplar_fashion_mnist.sh', 'convex_probe.py']
  assert {_flag(c, '--random_seed') for c in commands[:4]} == {str(seed)}
  assert commands[1][-1] == '--export_only'
  assert [_split_of_probe(c) for c in commands[2:4]] == ['val', 'test']


def test_network_lost_before_its_convex_probe_is_trained_again(fake):
  main, tmp_path = fake
  main('rotation')
  key = os.path.join('rotation', 'epochs1_seed2')
  testdata.forget_in_ledger(str(tmp_path / 'ledger.json'), key, 'convex')
  shutil.rmtree(tmp_path / 'work')
  commands = main('rotation')
  # Seed 2's network again, its probe's features stored again, then the
  # convex probe it lacked.
  _assert_trained_again(commands, seed=2)
  # Seed 0's L2 choices come from the ledger: its files went too.
  with open(_flag(commands[4], '--l2_from')) as f:
    assert json.load(f)['pre_logits']['10']['l2'] == 0.1
  text = (tmp_path / 'RESULTS.md').read_text()
  assert ('went with its machine before all its stages ran: rotation '
          'seed 2 (val top-1 at pre_logits: 85.60 the first, 85.60 the '
          'second).') in text
  assert '| rotation | 85.8 ± 0.3 |' in text


def test_network_lost_before_its_test_read_trains_its_heads_again(fake):
  main, tmp_path = fake
  main('rotation')
  key = os.path.join('rotation', 'epochs1_seed0')
  ledger = str(tmp_path / 'ledger.json')
  testdata.forget_in_ledger(ledger, key, 'probe', 'test')
  testdata.forget_in_ledger(ledger, key, 'convex')
  # The search's numbers, from the first network: the second scores 1.0
  # point less on `val`.
  with open(ledger) as f:
    entries = json.load(f)
  first = entries[key]['probe']['val']
  first_pretrain = entries[key]['times']['pretrain']
  entries[key]['probe']['val'] = {e: v + 1.0 for e, v in first.items()}
  with open(ledger, 'w') as f:
    json.dump(entries, f)
  shutil.rmtree(tmp_path / 'work')
  # The probe's heads are trained on `val` before they are read on `test`
  # (the real --run_eval fails without them).
  _assert_trained_again(main('rotation'), seed=0)
  with open(ledger) as f:
    entry = json.load(f)[key]
  assert entry['retrained']
  # Both pretrainings count in the cost: the lost one under its own name.
  assert entry['times']['pretrain (lost with its machine)'] == first_pretrain
  assert entry['val_again'] == first
  assert entry['probe']['val'] == {e: v + 1.0 for e, v in first.items()}
  text = (tmp_path / 'RESULTS.md').read_text()
  assert ('rotation seed 0 (val top-1 at pre_logits: 86.00 the first, '
          '85.00 the second)') in text


def test_supervised_row_reports_its_own_head(fake):
  main, tmp_path = fake
  commands = main('supervised')
  own = [c for c in commands if '--run_eval' in c and
         c[1] == driver.SUPERVISED]
  assert len(own) == 3  # One per final seed, with the test split.
  for c in own:
    assert _flag(c, '--test_split') == 'test'
    assert _flag(c, '--keep_exports') == '100'
  text = (tmp_path / 'RESULTS.md').read_text()
  # Two lengths searched (32 epochs gains nothing here): 16 is chosen.
  assert '| supervised | epochs16: 83.0, epochs32: 83.0 | epochs16 |' in text
  # A row that searched one length has no curve.
  one = report.Selection.best_of({'epochs16': ({'--epochs': '16'},
                                               {'block1': 83.0})})
  assert not results_page.comparison_plots.plot_lengths(
      {'supervised': one}, str(tmp_path / 'one.png'))
  assert not (tmp_path / 'one.png').exists()
  assert ('**Supervised reference**, its own head on the test split: '
          '93.0 ± 0.0 (at least 92 asked: met). Validation top-1 by '
          'training step: 100: 90.0 ± 0.0, 200: 91.0 ± 0.0, 300: 92.5 ± 0.0, '
          '400: 92.5 ± 0.0; from step 300 to 400: plateaued.') in text
  # The probe keeps the module it was first given, whatever was exported
  # since.
  directory = tmp_path / 'work' / 'supervised' / 'epochs16_seed1'
  module = (directory / 'module.txt').read_text()
  assert module.endswith(os.path.join('hub', '1', 'module'))
  assert len(os.listdir(directory / 'pretrain' / 'export' / 'hub')) == 2


def test_unknown_rows_are_named(fake):
  main, _ = fake
  with pytest.raises(SystemExit, match="--rows: unknown \\['rotatoin'\\]"):
    main('rotatoin')


def _final(seed, test, best='block1', convex_top1=80.0):
  return report.Final(
      seed=seed, val=dict(test), test=dict(test), best=best,
      convex={e: {s: {'test_top1': convex_top1, 'knn_test_top1': 70.0,
                      'examples': 50000 if s == 'all' else 10 * int(s)}
                  for s in ('10', '100', 'all')}
              for e in (best, 'pre_logits')},
      minutes={'pretrain': 60.0}, commands=['cmd'])


def _row(best, last, spread=0.2):
  """Three seeds with `best` at block1 and `last` at pre_logits."""
  return [_final(seed, {'block1': best + d, 'pre_logits': last + d})
          for seed, d in enumerate((-spread, 0.0, spread))]


@pytest.mark.parametrize('gap, expected', [(1.0, 'reproduces'),
                                           (0.1, 'does not reproduce')])
def test_findings_need_a_gap_beyond_the_spread(gap, expected):
  finals = {'random init': _row(80.0, 70.0),
            'rotation': _row(80.0 + gap, 75.0),
            'rotation (1 epoch)': _row(80.0 + gap, 75.0),
            'rotation (filters_factor 2)': _row(80.0 + 2 * gap, 75.0),
            'rotation (filters_factor 4)': _row(80.0 + 3 * gap, 75.0),
            'rotation (revnet50)': _row(81.0, 79.0),
            # VGG loses 10 points towards the end, the others 2 to 6.
            'rotation (vgg19)': _row(81.0, 71.0)}
  lines = report.findings(finals, {})
  (against,) = [line for line in lines
                if line.startswith('- **rotation against random init')]
  assert against.endswith(f'best end point: {expected}.')
  (width,) = [line for line in lines if line.startswith('- **Width**')]
  assert width.endswith('reproduces.' if gap > 0.5 else
                        'not beyond the spread.')
  (network,) = [line for line in lines if 'Architecture' in line]
  assert 'rotation (vgg19) 10.0 ± 0.0' in network
  assert network.endswith('skip connections: reproduces.')
  # Width and architecture are tested; the other methods are not yet.
  (waiting,) = [line for line in lines if 'Not tested yet' in line]
  assert waiting == (
      '- **Not tested yet**, their rows still to run: relative patch '
      'location against random init (patches), with its low-shot gain '
      '(needs relative patch location, random init (patches)); exemplar '
      'against random init, with its low-shot gain (needs exemplar); jigsaw '
      'against random init (patches), with its low-shot gain (needs '
      'jigsaw, random init (patches)); the ranking of the four methods '
      '(needs relative patch location, exemplar, jigsaw).')


def test_probe_artefacts_change_a_verdict():
  # The paper's probe puts rotation 1 point above random weights; the
  # converged probe finds both at about 89 (it gains about 6 points on
  # random weights' features, 5 on rotation's).
  finals = {'random init': [dataclasses.replace(f, convex={
      e: {s: dict(v, test_top1=89.0 + f.seed * 0.1) for s, v in d.items()}
      for e, d in f.convex.items()}) for f in _row(83.0, 60.0)],
            'rotation': [dataclasses.replace(f, convex={
                e: {s: dict(v, test_top1=89.0 + f.seed * 0.1)
                    for s, v in d.items()} for e, d in f.convex.items()})
                         for f in _row(84.0, 80.0)]}
  (line,) = [x for x in report.findings(finals, {})
             if "paper's probe against the converged one" in x]
  assert 'random init 6.1 ± 0.1 (29.1 ± 0.1)' in line
  assert 'rotation 5.1 ± 0.1 (9.1 ± 0.1)' in line
  assert line.endswith('change with the probe: rotation against random init '
                       '(paper probe: higher; convex: within the spread).')
  # The same verdict from both probes: none named.
  finals['rotation'] = _row(84.0, 80.0, spread=0.2)
  finals['random init'] = [dataclasses.replace(f, convex={
      e: {s: dict(v, test_top1=70.0) for s, v in d.items()}
      for e, d in f.convex.items()}) for f in _row(83.0, 60.0)]
  (line,) = [x for x in report.findings(finals, {})
             if "paper's probe against the converged one" in x]
  assert line.endswith('change with the probe: none.')
  # Rows without the convex probe (widths, networks): no such finding.
  assert not [x for x in report.findings(
      {'rotation (vgg19)': [dataclasses.replace(f, convex={})
                            for f in _row(84.0, 80.0)]}, {})
              if 'converged one' in x]


def test_ranking_against_the_paper():
  finals = {'rotation': _row(85.0, 80.0), 'exemplar': _row(86.0, 80.0),
            'relative patch location': _row(84.0, 80.0),
            'jigsaw': _row(83.95, 80.0)}
  (line,) = [x for x in report.findings(finals, {}) if 'Ranking' in x]
  assert ('here exemplar > rotation > relative patch location ≈ jigsaw'
          in line)
  assert line.startswith('- **Ranking** (')
  assert line.endswith('Same order: no.')
  # With some methods still to run, the line says it is partial.
  del finals['jigsaw'], finals['relative patch location']
  (line,) = [x for x in report.findings(finals, {}) if 'Ranking' in x]
  assert line.startswith('- **Ranking of the 2 methods run so far** (')
  assert 'here exemplar > rotation;' in line


def test_a_search_won_by_its_longest_setting_is_flagged():
  scores = {'epochs1': ({'--epochs': '1'}, {'a': 80.0}),
            'epochs2': ({'--epochs': '2'}, {'a': 81.0})}
  selection = report.Selection.best_of(scores, still_improving=True)
  assert selection.name == 'epochs2'
  assert any('longest setting tried' in line
             for line in report.findings({}, {'rotation': selection}))
  # A search that stopped because the gain was too small is not flagged.
  selection = report.Selection.best_of(scores)
  assert not any('longest setting tried' in line
                 for line in report.findings({}, {'rotation': selection}))
  # Ties go to the first (cheaper) setting.
  scores['epochs2'] = ({'--epochs': '2'}, {'a': 80.0})
  assert report.Selection.best_of(scores).name == 'epochs1'


def test_tables_give_mean_and_std(tmp_path):
  finals = {'rotation': _row(85.0, 80.0, spread=1.0)}
  assert '| rotation | 85.0 ± 1.0 | 80.0 ± 1.0 | 80.0 ± 0.0 |' in (
      report.table(finals, report.COLUMNS))
  assert report.depth_table(finals).splitlines()[0] == (
      '| row | block1 | pre_logits |')
  results_page.comparison_plots.plot_low_shot(finals,
                                        str(tmp_path / 'low_shot.png'))
  assert (tmp_path / 'low_shot.png').stat().st_size > 1000


def test_s4l_benchmark_shares_the_rule():
  """The S4L report calls a gain a gain by the same rule."""
  assert experiment.compare([81.0, 82.0, 83.0], [80.0, 80.5, 81.0]) == 1
  assert experiment.compare([80.0, 82.0, 84.0], [80.0, 80.5, 81.0]) == 0
  assert experiment.compare([70.0, 70.1], [80.0, 80.1]) == -1
  s4l = testdata.load_script('benchmarks/s4l_fashion_mnist.py',
                             's4l_benchmark')
  assert s4l.experiment.compare is experiment.compare
  with open(testdata.REPO / 'benchmarks' / 'S4L_RESULTS.md') as f:
    assert 'A gain counts only beyond the seeds\' spread' in f.read()


def test_costs_are_reported_per_stage():
  finals = {'rotation': _row(85.0, 80.0)}
  assert results_page.costs(finals) == '- rotation: pretrain 1.0 min per seed'
  # With the row's minutes in all (its search and seeds), those first.
  assert results_page.costs(finals, {'rotation': 250.4}) == (
      '- rotation: 250 min in all; pretrain 1.0 min per seed')


def test_low_shot_gain_is_compared_with_all_labels():
  def row(top1_by_shots):
    seeds = _row(85.0, 80.0)
    for f in seeds:
      for shots, top1 in top1_by_shots.items():
        for e in f.convex:
          f.convex[e][shots]['test_top1'] = top1 + 0.1 * f.seed
    return seeds
  finals = {'random init': row({'10': 50.0, '100': 70.0, 'all': 80.0}),
            'rotation': row({'10': 60.0, '100': 75.0, 'all': 81.0})}
  (line,) = [x for x in report.findings(finals, {})
             if '**rotation, low-shot**' in x]
  assert '+10.0 / +5.0 / +1.0' in line and line.endswith('labels: yes.')
  finals['rotation'] = row({'10': 50.5, '100': 70.0, 'all': 81.0})
  (line,) = [x for x in report.findings(finals, {})
             if '**rotation, low-shot**' in x]
  assert line.endswith('labels: no.')
  # A larger gain with 10 labels that is within the spread: no, and why.
  finals['random init'][0].convex['block1']['10']['test_top1'] = 40.0
  finals['rotation'] = row({'10': 52.0, '100': 70.0, 'all': 81.0})
  (line,) = [x for x in report.findings(finals, {})
             if '**rotation, low-shot**' in x]
  assert line.endswith('labels: no: the gain grows with fewer labels, but '
                       "with 10 per class it is within the seeds' spread.")


def test_sizing_reads_steady_rates_and_batch_sizes():
  sizing = testdata.load_script('benchmarks/comparison_sizing.py',
                                'comparison_sizing')
  log = '\n'.join(f'I1204 trainer.py:496] step {50 * i}/300 loss 1.0 (+ '
                  f'weight decay 2.0) {rate} images/s, 1m left'
                  for i, rate in enumerate((10.0, 100.0, 120.0, 110.0), 1))
  assert sizing.steady_rate(log) == 110.0  # The compiling loop is left out.
  with pytest.raises(ValueError, match='train longer'):
    sizing.steady_rate(log.splitlines()[0])
  assert sizing.config_batch_size(driver.ROTATION, []) == 32
  assert sizing.config_batch_size(driver.SUPERVISED, []) == 64
  assert sizing.config_batch_size(driver.ROTATION,
                                  ['--batch_size', '128']) == 128
  # Step schedules are shortened with the run; a cosine one has nothing to
  # shorten (and refuses --decay_epochs).
  rows = {r.name: r for r in driver.ROWS}
  for name, decays in (('rotation', True), ('simclr', False)):
    command = sizing.sizing_command(rows[name], [], 100, 'data', 'w')
    assert ('--decay_epochs' in command) == decays, name


def test_plateau_of_the_supervised_head():
  def own(curve, test=91.0):
    return {'test': test, 'val_curve': list(curve.items())}
  rising = [own({100: 88.0 + d, 300: 89.0 + d, 400: 91.0 + d}, 92.5)
            for d in (0.0, 0.1, 0.2)]
  line = report.plateau(rising)
  assert line.endswith('from step 300 to 400: still rising.')
  assert '92.5 ± 0.0 (at least 92 asked: met)' in line
  flat = [own({100: 88.0, 300: 91.0 + d, 400: 91.1 - d}) for d in (0.0, 0.3)]
  line = report.plateau(flat)
  assert line.endswith('plateaued.') and 'not met' in line
  # One checkpoint in the last quarter says nothing about a plateau.
  line = report.plateau([own({400: 91.0})])
  assert line.endswith('too few checkpoints to tell whether it plateaued.')


def test_s4l_report_orders_the_methods():
  s4l = testdata.load_script('benchmarks/s4l_fashion_mnist.py',
                             's4l_benchmark')
  finals = {('supervised', '10p'): [(80.0, 99, 1), (80.5, 99, 1)],
            ('VAT', '10p'): [(82.0, 99, 1), (82.2, 99, 1)],
            ('MOAM step 1', '10p'): [(82.1, 99, 1), (82.5, 99, 1)]}
  here, paper = s4l.s4l_report.rankings(['10p'], finals)
  assert here == '- 10p, here: MOAM step 1 ≈ VAT > supervised.'
  assert paper.startswith('- 10%, the paper (top-5): MOAM step 3 91.23 > '
                          'MOAM step 2 89.96 > MOAM step 1 88.8 > '
                          'S4L-Rotation 83.82 >')


def test_a_gain_below_the_minimum_ends_the_search(fake, monkeypatch):
  main, tmp_path = fake
  # 2 epochs gains a little less than the minimum over 1 epoch: the search
  # stops there, and the best trained (2 epochs) is chosen.
  gain = driver.MIN_GAIN
  monkeypatch.setattr(sys.modules[__name__], 'LENGTH_BONUS', {
      '0.25': 0.0, '0.5': gain, '1': 2 * gain, '2': 2.9 * gain,
      '4': 4 * gain})
  commands = main('rotation')
  trained = sorted({(_flag(c, '--epochs'), _flag(c, '--random_seed'))
                    for c in commands if c[1] == driver.ROTATION and
                    '--export_only' not in c})
  assert trained == sorted([('0.25', '0'), ('0.5', '0'), ('1', '0'),
                            ('2', '0'), ('2', '1'), ('2', '2')])
  assert 'longest setting tried' not in (tmp_path / 'RESULTS.md').read_text()


def _markdown_tables(text):
  """Column name -> row name -> cell, over every table in `text`."""
  columns = {}
  header = None
  for line in text.splitlines():
    if not line.startswith('| '):
      header = None
      continue
    cells = [c.strip() for c in line.strip('|').split('|')]
    if header is None:
      header = cells
    elif not cells[0].startswith('---'):
      for name, value in zip(header[1:], cells[1:]):
        columns.setdefault(name, {})[cells[0]] = value
  return columns


def test_readme_table_has_the_results_pages_numbers():
  """The README's short table is copied from RESULTS.md: they agree."""
  readme = _markdown_tables((testdata.REPO / 'README.md').read_text())
  page = _markdown_tables(
      (testdata.REPO / 'benchmarks' / 'RESULTS.md').read_text())
  same = {'best end point, paper probe': 'best end point (paper probe)',
          'pre_logits, paper probe': 'pre_logits (paper probe)',
          'best end point, convex': 'best end point (convex)',
          '10 labels per class, convex': 'convex, 10 per class'}
  # The README's rows are the page's but for rotation's widths and
  # networks, which the page alone shows.
  assert set(readme['best end point, paper probe']) == (
      set(page['best end point (paper probe)']) -
      {*report.WIDTHS, *report.NETWORKS})
  for ours, theirs in same.items():
    for row, value in readme[ours].items():
      assert page[theirs].get(row, '-') == value, (row, ours)


def test_simclr_row_runs_through_the_same_protocol(fake):
  main, tmp_path = fake
  commands = main('random init,simclr')
  pretrains = [c for c in commands
               if c[1] == 'config/simclr/fashion_mnist.sh' and
               '--export_only' not in c]
  # The length search on `val` stops after 4 epochs (no gain over 1), then
  # seeds 1 and 2 train the chosen length; the cosine decay takes no
  # --decay_epochs.
  assert sorted((_flag(c, '--epochs'), _flag(c, '--random_seed'))
                for c in pretrains) == sorted(
                    [('0.25', '0'), ('1', '0'), ('4', '0'), ('1', '1'),
                     ('1', '2')])
  assert not [c for c in pretrains if '--decay_epochs' in c]
  probes = [c for c in commands if c[1] == driver.SIMCLR_EVAL]
  assert sorted(os.path.basename(os.path.dirname(_flag(c, '--workdir')))
                for c in probes if _split_of_probe(c) == 'test') == [
                    'epochs1_seed0', 'epochs1_seed1', 'epochs1_seed2']
  convex = [c for c in commands if c[1] == 'tools/convex_probe.py'
            and f'{os.sep}simclr{os.sep}' in _flag(c, '--json')]
  assert len(convex) == 3  # With its low-shot subsets.
  text = (tmp_path / 'RESULTS.md').read_text()
  assert '| simclr | 85.8 ± 0.3 |' in text


def test_two_drivers_wanting_one_network_train_it_once(monkeypatch, tmp_path):
  # benchmarks/s4l_fashion_mnist.py fine-tunes this benchmark's SimCLR
  # networks and trains one that is missing: a driver that asks while the
  # other trains it waits, then uses it.
  started = threading.Event()

  class SlowPretraining(FakeStages):

    def stage(self, cmd):
      started.set()
      time.sleep(0.5)
      return super().stage(cmd)

  runs = SlowPretraining()
  runs.install(monkeypatch, experiment)
  args = argparse.Namespace(
      workdir=str(tmp_path), dataset_dir=str(tmp_path / 'data'),
      ledger=experiment.Ledger(str(tmp_path / 'ledger.json')), convex_l2='',
      read_only=False)
  (row,) = [r for r in driver.ROWS if r.name == 'simclr']
  first, second = (driver.comparison_network.Model(args, row,
                                                   {'--epochs': '1'}, 0)
                   for _ in range(2))
  training = threading.Thread(target=first.pretrained)
  training.start()
  assert started.wait(10)
  assert second.pretrained() == first.pretrain_dir
  training.join()
  assert len(runs.commands) == 1
  assert os.path.exists(os.path.join(first.pretrain_dir, 'TRAINING_IS_DONE'))


def test_simclr_against_the_pretext_tasks():
  finals = {'random init': _row(80.0, 70.0), 'rotation': _row(85.0, 75.0),
            'exemplar': _row(86.0, 75.0), 'simclr': _row(85.1, 78.0)}
  (line,) = [x for x in report.findings(finals, {}) if 'SimCLR' in x]
  assert line.startswith('- **SimCLR against the pretext tasks**')
  assert ('paper probe: 85.1 ± 0.2 against random init 80.0 ± 0.2 (higher), '
          'rotation 85.0 ± 0.2 (within the spread), exemplar 86.0 ± 0.2 '
          '(lower)') in line
  assert 'convex, 10 labels per class: 80.0 ± 0.0 against' in line
  assert '69.3 (linear probe, top-1)' in line
  assert line.endswith('(rotation, exemplar), paper probe: no.')
  finals['simclr'] = _row(87.0, 78.0)
  (line,) = [x for x in report.findings(finals, {}) if 'SimCLR' in x]
  assert line.endswith('(rotation, exemplar), paper probe: yes.')
  assert not [x for x in report.findings({'rotation': _row(85.0, 75.0)}, {})
              if 'SimCLR' in x]
