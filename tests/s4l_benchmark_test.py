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

"""benchmarks/s4l_fashion_mnist.py: its protocol and its ledger.

The training scripts are replaced by a stand-in that writes what a run
would (the done marker, the label list, exports, rows of
`eval_results.csv`) with accuracies chosen so that the right choices are
known. The ledger must let a second machine, without the first one's
workdir, finish the benchmark without training again what was measured.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time

import pytest
import testdata

sys.path.insert(0, str(testdata.REPO / 'benchmarks'))
driver = testdata.load_script('benchmarks/s4l_fashion_mnist.py',
                              's4l_benchmark_driver')
experiment = driver.experiment

METRICS = ('logits', 'unrotated', 'classes', 'student')
# Validation top-1 by learning rate: 0.1 is best for every method.
LR_BONUS = {'0.01': 0.0, '0.03': 0.01, '0.1': 0.03, '0.3': 0.02}


def _flag(cmd, name):
  return cmd[cmd.index(name) + 1]


class FakeRuns(testdata.StandInRun):
  """Writes what each command of the driver would."""

  def stage(self, cmd):
    if cmd[1].endswith('generate_pseudo_dataset.sh'):
      assert os.path.isdir(_flag(cmd, '--hub_module'))
      assert os.path.exists(_flag(cmd, '--labels_file'))
      output = _flag(cmd, '--output_folder')
      os.makedirs(output)
      open(os.path.join(output, 'dataset_info.json'), 'w').close()
      return 30.0
    workdir = _flag(cmd, '--workdir')
    if '--run_eval' not in cmd:
      os.makedirs(workdir, exist_ok=True)
      for name in ('TRAINING_IS_DONE', 'label_map_count_500_train_seed_0'):
        open(os.path.join(workdir, name), 'w').close()
      return 60.0
    assert os.path.exists(os.path.join(workdir, 'TRAINING_IS_DONE'))
    exports = os.path.join(workdir, 'export', 'hub')
    stamp = len(os.listdir(exports)) + 1 if os.path.isdir(exports) else 1
    os.makedirs(os.path.join(exports, str(stamp), 'module'))
    split = 'test' if '--test_split' in cmd else 'val'
    top1 = (0.7 + LR_BONUS[_flag(cmd, '--lr')] +
            0.01 * int(_flag(cmd, '--random_seed')) +
            (0.05 if 'moam' in cmd[1] else 0.0))
    path = os.path.join(workdir, 'eval_results.csv')
    new = not os.path.exists(path)
    with open(path, 'a') as f:
      if new:
        f.write('step,split,' + ','.join(
            f'top{k}_accuracy_{m}' for m in METRICS for k in (1, 5)) + '\n')
      f.write(f'15,{split},' + ','.join(
          f'{top1 if k == 1 else 0.99}' for _ in METRICS for k in (1, 5)) +
              '\n')
    return 5.0


@pytest.fixture
def fake(monkeypatch, tmp_path):
  runs = FakeRuns()
  runs.install(monkeypatch, experiment)

  def main(methods, workdir='work', fractions='10p'):
    commands = runs.main(monkeypatch, driver, [
        's4l_fashion_mnist.py', '--workdir', str(tmp_path / workdir),
        # A results folder that does not exist yet is made.
        '--results', str(tmp_path / 'out' / 'S4L.md'), '--fractions',
        fractions, '--methods', methods,
        '--ledger', str(tmp_path / 'ledger.json'),
        '--comparison_workdir', str(tmp_path / 'comparison'),
        '--comparison_ledger', str(tmp_path / 'comparison_ledger.json')])
    return commands, (tmp_path / 'out' / 'S4L.md').read_text()
  return main, tmp_path


def _comparison_search(path):
  """The comparison's simclr search in its ledger: 1 epoch is chosen.

  4 epochs does no better than 1, so the search stops there and chooses 1,
  as benchmarks/fashion_mnist.py's would.
  """
  best = {'0.25': 80.0, '1': 85.0, '4': 84.9}
  entries = {f'simclr/epochs{e}_seed0': {'probe': {'val': {
      'block1': top1, 'pre_logits': top1 - 5}}} for e, top1 in best.items()}
  path.write_text(json.dumps(entries))


def _trainings(commands, config):
  return [c for c in commands if c[1].endswith(config) and
          '--run_eval' not in c]


# MOAM's stand-in gain is the same on every seed: SciPy's t-test warns.
@pytest.mark.filterwarnings('ignore:Precision loss:RuntimeWarning')
def test_choices_on_validation_then_finals_read_once(fake):
  main, _ = fake
  commands, report = main('MOAM step 1')
  # MOAM takes S4L-Rotation's rate; the supervised baseline always runs.
  rotation = _trainings(commands, 's4l_rotation_10p.sh')
  assert sorted(_flag(c, '--lr') for c in rotation) == sorted(
      ['0.01', '0.03', '0.1', '0.3', '0.1', '0.1'])
  moam = _trainings(commands, 'moam_step_1_10p.sh')
  assert [(_flag(c, '--lr'), _flag(c, '--random_seed')) for c in moam] == [
      ('0.1', '0'), ('0.1', '1'), ('0.1', '2')]
  tests = [c for c in commands if '--test_split' in c]
  assert len(tests) == 9  # Three methods, three seeds, once each.
  assert all(_flag(c, '--lr') == '0.1' for c in tests)
  # The seeds score 80, 81 and 82; MOAM 5 points more.
  assert '| supervised | 0.01: 70.0, 0.03: 71.0, 0.1: 73.0, 0.3: 72.0 |' \
      ' 0.1 | 74.00 ± 1.00 |' in report
  assert '| MOAM step 1 | 0.1: 78.0 | 0.1 | 79.00 ± 1.00 |' in report
  assert 'MOAM step 1 79.00 vs supervised 74.00: +5.00 points' in report
  assert 'Trained a second time' not in report


def test_ledger_resumes_without_the_workdir(fake):
  main, tmp_path = fake
  first, report = main('Pseudo-labels')
  assert any('generate_pseudo_dataset.sh' in c[1] for c in first)
  shutil.rmtree(tmp_path / 'work')
  again, report_again = main('Pseudo-labels', workdir='elsewhere')
  assert again == []  # Every number came from the ledger.
  assert report_again == report.replace(str(tmp_path / 'work'),
                                        str(tmp_path / 'elsewhere'))


def test_model_lost_before_its_test_read_is_trained_again(fake):
  main, tmp_path = fake
  main('supervised')
  key = 'supervised_10p/lr0.1_seed1'
  testdata.forget_in_ledger(str(tmp_path / 'ledger.json'), key, 'rows',
                            'test')
  shutil.rmtree(tmp_path / 'work')
  commands, report = main('supervised')
  assert [_flag(c, '--random_seed') for c in commands] == ['1', '1']
  assert '--test_split' in commands[1]
  assert experiment.Ledger(str(tmp_path / 'ledger.json')).get(key)[
      'retrained']
  assert f'first model went with its machine before its test read or its ' \
      f'pseudo-labels: {key}.' in report
  assert '74.00 ± 1.00' in report  # Its seed's number read again.


def test_pseudo_labels_train_their_supervised_model_again(fake):
  main, tmp_path = fake
  main('supervised')
  shutil.rmtree(tmp_path / 'work')
  commands, report = main('Pseudo-labels')
  # Per seed: the supervised model trained and exported again, the data
  # set, then the pseudo-label model's training and its two readings.
  configs = [os.path.basename(c[1]) for c in commands]
  assert configs == 3 * ['supervised_10p.sh', 'supervised_10p.sh',
                         'generate_pseudo_dataset.sh',
                         'pseudo_labels_10p.sh', 'pseudo_labels_10p.sh',
                         'pseudo_labels_10p.sh']
  (line,) = [x for x in report.split('\n') if 'Trained a second' in x]
  assert line.endswith(', '.join(f'supervised_10p/lr0.1_seed{s}'
                                 for s in range(3)) + '.')


def test_ledger_survives_a_driver_killed_while_writing(tmp_path):
  path = str(tmp_path / 'ledger.json')
  ledger = experiment.Ledger(path)
  ledger.put('a', rows={'val': {'top1': '0.5'}})
  with open(path + '.tmp', 'w') as f:
    f.write('{"half')  # A write the driver did not finish.
  assert experiment.Ledger(path).get('a') == {'rows': {'val': {'top1': '0.5'}}}


def test_drivers_side_by_side_keep_each_others_stages(tmp_path):
  path = str(tmp_path / 'ledger.json')
  one_percent, ten_percent = experiment.Ledger(path), experiment.Ledger(path)
  one_percent.put('a_1p', rows={'val': 1})
  ten_percent.put('a_10p', rows={'val': 2})  # Opened before a_1p was put.
  one_percent.put('a_1p', times={'train': 3.0})
  assert experiment.Ledger(path).entries == {
      'a_1p': {'rows': {'val': 1}, 'times': {'train': 3.0}},
      'a_10p': {'rows': {'val': 2}}}


def test_ledger_writes_from_two_processes_all_land(tmp_path):
  path = str(tmp_path / 'ledger.json')
  script = ('import sys; sys.path.insert(0, sys.argv[1]); import experiment; '
            'ledger = experiment.Ledger(sys.argv[2])\n'
            'for i in range(50): ledger.put(sys.argv[3] + str(i), rows=i)')
  workers = [subprocess.Popen([sys.executable, '-c', script,
                               str(testdata.REPO / 'benchmarks'), path, p])
             for p in ('x', 'y')]
  assert [w.wait(timeout=120) for w in workers] == [0, 0]
  assert len(experiment.Ledger(path).entries) == 100


def test_bad_method_named_before_any_work(fake):
  main, tmp_path = fake
  with pytest.raises(SystemExit, match=re.escape(
      "Unknown methods ['VAT+']; valid: ['supervised', 'S4L-Rotation'")):
    main('VAT+')
  assert not (tmp_path / 'work').exists()


def test_a_stage_stopped_midway_counts_its_earlier_seconds(tmp_path):
  times = experiment.StageTimes(str(tmp_path / 'model'))
  log = str(tmp_path / 'log.txt')
  # While a stage runs, its seconds so far are kept; a driver killed then
  # leaves them for the stage's next run, which adds its own.
  stopped = subprocess.Popen(
      [sys.executable, '-c', textwrap.dedent(f'''
          import sys
          sys.path.insert(0, {str(testdata.REPO / 'benchmarks')!r})
          import experiment
          experiment.run = lambda cmd, log, progress: (
              progress(30.0), progress(90.0), sys.exit(9))
          experiment.StageTimes({str(tmp_path / 'model')!r}).run(
              'pretrain', ['true'], {log!r})
      ''')])
  assert stopped.wait() == 9
  assert times.read() == {}
  assert times.minutes() == 0
  seconds = times.run('pretrain', [sys.executable, '-c', 'pass'], log)
  assert 90.0 < seconds < 120.0
  assert times.read() == {'pretrain': seconds}
  assert 'pretrain (unfinished)' not in (tmp_path / 'model' /
                                         'times.json').read_text()
  # The real `run` reports progress while its command runs.
  seen = []
  experiment.run([sys.executable, '-c', 'import time; time.sleep(0.5)'],
                 log, seen.append, every=0.1)
  assert seen and seen == sorted(seen) and 0 < seen[0] < 0.5


def test_a_driver_that_stops_leaves_no_stage_running(tmp_path):
  pid_file = tmp_path / 'pid'

  def progress(seconds):
    raise OSError(28, 'No space left on device')

  with pytest.raises(OSError, match='No space left'):
    experiment.run([sys.executable, '-c', textwrap.dedent(f'''
        import os, pathlib, time
        pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))
        time.sleep(60)
    ''')], str(tmp_path / 'log.txt'), progress, every=2.0)
  with pytest.raises(ProcessLookupError):
    os.kill(int(pid_file.read_text()), 0)


def test_a_driver_killed_leaves_no_stage_running(tmp_path):
  # The stage is a config script: bash running Python as its child, which
  # saves its step on SIGTERM, as training does.
  pid_file, saved = tmp_path / 'pid', tmp_path / 'saved'
  training = tmp_path / 'training.py'
  training.write_text(textwrap.dedent(f"""
      import os, pathlib, signal, sys, time
      def save(signum, frame):
        pathlib.Path({str(saved)!r}).write_text('step')
        sys.exit(75)
      signal.signal(signal.SIGTERM, save)
      pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))
      time.sleep(60)
  """))
  script = tmp_path / 'stage.sh'
  script.write_text(f'#!/bin/bash\n"{sys.executable}" "{training}"\n'
                    'echo done\n')
  driver = subprocess.Popen([sys.executable, '-c', textwrap.dedent(f"""
      import sys
      sys.path.insert(0, {str(testdata.REPO / 'benchmarks')!r})
      import experiment
      experiment.run(['bash', {str(script)!r}], {str(tmp_path / 'log.txt')!r})
  """)], stderr=subprocess.PIPE, text=True)
  for _ in range(300):
    if pid_file.exists() and pid_file.read_text():
      break
    time.sleep(0.1)
  driver.terminate()  # SIGTERM, as `kill` sends.
  _, stderr = driver.communicate(timeout=60)
  assert saved.read_text() == 'step'
  assert 'Stopped by signal 15' in stderr
  with pytest.raises(ProcessLookupError):
    os.kill(int(pid_file.read_text()), 0)


@pytest.mark.filterwarnings('ignore:Precision loss:RuntimeWarning')
def test_simclrv2_rows_pretrain_fine_tune_and_distil(fake):
  main, tmp_path = fake
  _comparison_search(tmp_path / 'comparison_ledger.json')
  commands, report = main('SimCLRv2 fine-tune + distil', fractions='1p,10p')
  # The comparison's SimCLR networks: its chosen length, one per seed in its
  # workdir, shared by every rate and fraction.
  pretraining = _trainings(commands, os.path.join('simclr',
                                                  'fashion_mnist.sh'))
  assert sorted(_flag(c, '--random_seed') for c in pretraining) == [
      '0', '1', '2']
  assert {_flag(c, '--epochs') for c in pretraining} == {'1'}
  workdirs = {_flag(c, '--random_seed'): _flag(c, '--workdir')
              for c in pretraining}
  assert workdirs['0'] == str(
      tmp_path / 'comparison' / 'simclr' / 'epochs1_seed0' / 'pretrain')
  # Its pretraining time is in the comparison's ledger.
  comparison = json.loads((tmp_path / 'comparison_ledger.json').read_text())
  assert comparison['simclr/epochs1_seed2']['times']['pretrain'] == 60.0
  # Fine-tuning searches the rates on 1% from its seed's pretraining and
  # takes 1%'s for 10%...
  assert sorted(_flag(c, '--lr') for c in _trainings(
      commands, 'simclr_finetune_1p.sh')) == sorted(
          ['0.01', '0.03', '0.1', '0.3', '0.1', '0.1'])
  finetune = _trainings(commands, 'simclr_finetune_10p.sh')
  assert sorted(_flag(c, '--lr') for c in finetune) == ['0.1'] * 3
  for c in finetune:
    assert _flag(c, '--path_to_initial_ckpt') == workdirs[
        _flag(c, '--random_seed')]
  # ...and the distillation takes its rate and its seed's teacher.
  distil = _trainings(commands, 'simclr_distill_10p.sh')
  assert [(_flag(c, '--lr'), _flag(c, '--random_seed')) for c in distil] == [
      ('0.1', '0'), ('0.1', '1'), ('0.1', '2')]
  for c in distil:
    teacher = _flag(c, '--hub_module')
    assert os.path.isdir(teacher)
    assert f'simclr_finetune_10p{os.sep}lr0.1_seed{_flag(c, "--random_seed")}' \
        in teacher
    assert '--label_subset_seed' not in c
  assert '| SimCLRv2 fine-tune | 0.01: 70.0, 0.03: 71.0, 0.1: 73.0, ' \
      '0.3: 72.0 | 0.1 | 74.00 ± 1.00 |' in report
  assert '| SimCLRv2 fine-tune | 0.1: 73.0 | 0.1 | 74.00 ± 1.00 |' in report
  assert '| SimCLRv2 fine-tune + distil | 0.1: 73.0 | 0.1 |' in report
  assert '| top-1 68.4 |' in report
  assert '1 epochs of the 50,000' in ' '.join(report.split())


def test_simclrv2_rows_need_the_comparisons_length_search(fake):
  main, _ = fake
  with pytest.raises(SystemExit, match='fashion_mnist.py --rows simclr'):
    main('SimCLRv2 fine-tune')


@pytest.mark.filterwarnings('ignore:Precision loss:RuntimeWarning')
def test_a_search_best_at_its_largest_rate_goes_on_up(fake, monkeypatch):
  main, _ = fake
  # Validation top-1 rises up to 1, then falls.
  for lr, bonus in (('0.3', 0.05), ('1', 0.06), ('3', 0.04)):
    monkeypatch.setitem(LR_BONUS, lr, bonus)
  commands, report = main('supervised')
  searched = [_flag(c, '--lr') for c in _trainings(
      commands, 'supervised_10p.sh') if _flag(c, '--random_seed') == '0']
  assert searched == ['0.01', '0.03', '0.1', '0.3', '1', '3']
  assert ('| supervised | 0.01: 70.0, 0.03: 71.0, 0.1: 73.0, 0.3: 75.0, '
          '1: 76.0, 3: 74.0 | 1 |') in report
