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
SEEDS = driver.SEEDS

METRICS = ('logits', 'unrotated', 'classes', 'student')
# Validation top-1 by learning rate: 0.1 is best for every method, 0.001
# among the fine-tuning rates; a perturbation norm of 2 is VAT's best.
LR_BONUS = {'0.01': 0.0, '0.03': 0.01, '0.1': 0.03, '0.3': 0.02,
            '0.0003': 0.0, '0.001': 0.03, '0.003': 0.01}
EPS_BONUS = {'1': 0.0, '2': 0.04, '4': 0.02}
# By the schedule's last epoch and by weight decay: none unless a test
# sets them.
LENGTH_BONUS = {}
WD_BONUS = {}


def _flag(cmd, name):
  return cmd[cmd.index(name) + 1]


class FakeRuns(testdata.StandInRun):
  """Writes what each command of the driver would."""

  def stage(self, cmd):
    if cmd[1].endswith('generate_pseudo_dataset.sh'):
      module = _flag(cmd, '--hub_module')
      assert os.path.isdir(module)
      # MOAM's module gives its class logits as `classes`.
      assert _flag(cmd, '--representation_name') == (
          'classes' if 'moam_step_1' in module else 'logits')
      assert os.path.exists(_flag(cmd, '--labels_file'))
      output = _flag(cmd, '--output_folder')
      os.makedirs(output)
      open(os.path.join(output, 'dataset_info.json'), 'w').close()
      return 30.0
    workdir = _flag(cmd, '--workdir')
    if '--run_eval' not in cmd:
      if '--path_to_initial_ckpt' in cmd:
        assert os.path.exists(os.path.join(
            _flag(cmd, '--path_to_initial_ckpt'), 'TRAINING_IS_DONE'))
      os.makedirs(workdir, exist_ok=True)
      for name in ('TRAINING_IS_DONE', 'label_map_count_500_train_seed_0'):
        open(os.path.join(workdir, name), 'w').close()
      return 60.0
    assert os.path.exists(os.path.join(workdir, 'TRAINING_IS_DONE'))
    exports = os.path.join(workdir, 'export', 'hub')
    stamp = len(os.listdir(exports)) + 1 if os.path.isdir(exports) else 1
    os.makedirs(os.path.join(exports, str(stamp), 'module'))
    split = 'test' if '--test_split' in cmd else 'val'
    if '--eval_raw_weights' in cmd:
      split += '_raw'
    top1 = (0.7 + LR_BONUS.get(_flag(cmd, '--lr'), 0.0) +
            0.01 * int(_flag(cmd, '--random_seed')) +
            (0.05 if 'moam' in cmd[1] else 0.0) -
            (0.02 if '--eval_raw_weights' in cmd else 0.0) +
            (EPS_BONUS[_flag(cmd, '--vat_eps')] if '--vat_eps' in cmd
             else 0.0) +
            (LENGTH_BONUS.get(_flag(cmd, '--schedule').split(',')[-1], 0.0)
             if '--schedule' in cmd else 0.0) +
            (WD_BONUS.get(_flag(cmd, '--weight_decay'), 0.0)
             if '--weight_decay' in cmd else 0.0))
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

  def main(methods, workdir='work', fractions='10p', extra=()):
    commands = runs.main(monkeypatch, driver, [
        's4l_fashion_mnist.py', *extra, '--workdir', str(tmp_path / workdir),
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


def _budget(choice, top1, lengths, wd=False):
  """A table's validation scores of the length (and decay) searches.

  The stand-in gives neither a bonus, so they tie with the rate's stage
  and the config's own settings stay chosen.
  """
  text = ''.join(f', {choice}, epochs {e}: {top1}' for e in lengths)
  if wd:
    text += ''.join(f', {choice}, weight_decay {d}: {top1}'
                    for d in ('1e-4', '3e-4', '3e-3'))
  return text


def _trainings(commands, config, budget=False):
  """The trainings of a config but the controls'.

  Args:
    commands: what the driver ran.
    config: the config script's name.
    budget: with the length and weight decay searches' stages too.
  """
  return [c for c in commands if c[1].endswith(config) and
          '--run_eval' not in c and '--workdir' in c and
          'control_' not in _flag(c, '--workdir') and
          (budget or not {'--schedule', '--weight_decay', '--epochs'} &
           set(c))]


# MOAM's stand-in gain is the same on every seed: SciPy's t-test warns.
@pytest.mark.filterwarnings('ignore:Precision loss:RuntimeWarning')
def test_choices_on_validation_then_finals_read_once(fake):
  main, _ = fake
  commands, report = main('MOAM step 1')
  # MOAM takes S4L-Rotation's rate, which is searched first; the baseline,
  # not named, does not run, and the page has no claims without it.
  assert not _trainings(commands, 'supervised_10p.sh', budget=True)
  assert '| MOAM step 1 | 0.333: 75.0 | 0.333 | 76.00 ± 1.00 |' in report
  assert 'vs supervised' not in report
  assert '- 10p: the supervised baseline is not measured yet' in report
  baseline, report = main('supervised')
  assert {c[1] for c in baseline} == {
      os.path.join('config', 's4l_fashion_mnist', 'supervised_10p.sh')}
  commands += baseline
  rotation = _trainings(commands, 's4l_rotation_10p.sh')
  assert sorted(_flag(c, '--lr') for c in rotation) == sorted(
      ['0.01', '0.03', '0.1', '0.3', '0.1', '0.1'])
  # MOAM: the original's ratio to S4L-Rotation's rate (0.1 / 0.03).
  moam = _trainings(commands, 'moam_step_1_10p.sh')
  assert [(_flag(c, '--lr'), _flag(c, '--random_seed')) for c in moam] == [
      ('0.333', '0'), ('0.333', '1'), ('0.333', '2')]
  assert all('moam_step_1_rescaled_10p' in _flag(c, '--workdir')
             for c in moam)
  tests = [c for c in commands if '--test_split' in c]
  assert len(tests) == 9  # Three methods, three seeds, once each.
  assert sorted({_flag(c, '--lr') for c in tests}) == ['0.1', '0.333']
  # The seeds score 80, 81 and 82; MOAM 5 points more, at a rate the
  # stand-in gives no bonus.
  assert '| supervised | 0.01: 70.0, 0.03: 71.0, 0.1: 73.0, 0.3: 72.0' + \
      _budget('0.1', 73.0, (20, 40), wd=True) + ' | 0.1 | 74.00 ± 1.00 |' \
      in report
  assert '| MOAM step 1 | 0.333: 75.0 | 0.333 | 76.00 ± 1.00 |' in report
  assert 'MOAM step 1 76.00 vs supervised 74.00: +2.00 points' in report
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
  ledger_path = str(tmp_path / 'ledger.json')
  first = experiment.Ledger(ledger_path).get(key)['times']['train']
  testdata.forget_in_ledger(ledger_path, key, 'rows', 'test')
  shutil.rmtree(tmp_path / 'work')
  commands, report = main('supervised')
  assert [_flag(c, '--random_seed') for c in commands] == ['1', '1']
  assert '--test_split' in commands[1]
  entry = experiment.Ledger(ledger_path).get(key)
  assert entry['retrained']
  # Both trainings count in the cost: the lost one under its own name.
  assert entry['times']['train (lost with its machine)'] == first
  assert 'train' in entry['times']
  assert 'the minutes count both trainings' in report
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


def test_a_stage_run_again_keeps_its_lost_runs_seconds(tmp_path):
  times = experiment.StageTimes(str(tmp_path / 'model'))
  times.keep_lost({'train': 60.0, 'val': 6.0}, 'train')
  times.keep_lost({'train': 60.0}, 'train')  # Resumed: counted once.
  times.keep_lost({}, 'test')  # Never ran: nothing to keep.
  assert times.read() == {'train (lost with its machine)': 60.0}
  # Lost a second time: both earlier runs count.
  again = experiment.StageTimes(str(tmp_path / 'again'))
  again.keep_lost({'train': 30.0, 'train (lost with its machine)': 60.0},
                  'train')
  assert again.read() == {'train (lost with its machine)': 90.0}
  assert again.minutes() == 1.5


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
                                                  'fashion_mnist.sh'),
                           budget=True)
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
  # The student, far shorter than SimCLRv2's (100 epochs of ImageNet),
  # searches its length at the fine-tuning's rate.
  lengths = [_flag(c, '--epochs') for c in _trainings(
      commands, 'simclr_distill_10p.sh', budget=True) if '--epochs' in c]
  assert lengths == ['2', '4']
  assert '| SimCLRv2 fine-tune + distil | 0.1: 73.0' + _budget(
      '0.1', 73.0, (2, 4)) + ' | 0.1 |' in report
  assert '| top-1 68.4 |' in report
  assert '1 epochs of the 50,000' in ' '.join(report.split())


def test_simclrv2_rows_need_the_comparisons_length_search(fake):
  main, _ = fake
  with pytest.raises(SystemExit, match='fashion_mnist.py --rows simclr'):
    main('SimCLRv2 fine-tune')


@pytest.mark.filterwarnings('ignore:Precision loss:RuntimeWarning')
def test_moam_steps_2_and_3_start_from_their_seeds_models(fake):
  main, tmp_path = fake
  commands, report = main('MOAM step 3')
  work = str(tmp_path / 'work')
  # Step 2's data: labelled by the final step 1 model of each seed.
  labelled = {_flag(c, '--output_folder'): _flag(c, '--hub_module')
              for c in commands if 'generate_pseudo_dataset.sh' in c[1]
              and _flag(c, '--representation_name') == 'classes'}
  assert len(labelled) == 3
  for seed in SEEDS:
    output = os.path.join(work, 'pseudo_dataset_moam_step_1_rescaled_10p',
                          f'seed{seed}')
    assert os.path.join(work, 'moam_step_1_rescaled_10p',
                        f'lr0.333_seed{seed}') in labelled[output]
  # Step 2 trains on them at Pseudo-labels' rate, its subset step 1's.
  step_2 = _trainings(commands, 'moam_step_2_10p.sh')
  assert [(_flag(c, '--lr'), _flag(c, '--random_seed')) for c in step_2] == [
      ('0.1', '0'), ('0.1', '1'), ('0.1', '2')]
  for c in step_2:
    assert _flag(c, '--dataset_dir') == os.path.join(
        work, 'pseudo_dataset_moam_step_1_rescaled_10p',
        f'seed{_flag(c, "--random_seed")}')
    assert '--label_subset_seed' not in c
  # Step 3 searches its rates on seed 0, then fine-tunes every seed's step
  # 2 model at the best.
  step_3 = _trainings(commands, 'moam_step_3_10p.sh')
  assert [(_flag(c, '--lr'), _flag(c, '--random_seed')) for c in step_3] == [
      ('0.0003', '0'), ('0.001', '0'), ('0.003', '0'), ('0.01', '0'),
      ('0.001', '1'), ('0.001', '2')]
  for c in step_3:
    seed = _flag(c, '--random_seed')
    assert _flag(c, '--path_to_initial_ckpt') == os.path.join(
        work, 'moam_step_2_10p', f'lr0.1_seed{seed}')
    assert _flag(c, '--label_subset_seed') == seed
  assert '| MOAM step 2 | 0.1: 78.0 | 0.1 | 79.00 ± 1.00 |' in report
  assert '| MOAM step 3 | 0.0003: 75.0, 0.001: 78.0, 0.003: 76.0, 0.01: ' \
      '75.0' + _budget('0.001', 78.0, (3, 6)) + ' | 0.001 | 79.00 ± 1.00 | ' \
      '99.00 ± 0.00 |' in report
  assert '| top-5 91.23 |' in report


@pytest.mark.filterwarnings('ignore:Precision loss:RuntimeWarning')
def test_vat_norm_is_searched_on_seed_0_validation(fake):
  main, _ = fake
  commands, report = main('VAT + EntMin')
  # (VAT at weight 0 is a control.)
  vat = [c for c in _trainings(commands, 'vat_10p.sh')
         if '--vat_weight' not in c]
  # The rates at the config's norm, then the norms at the best rate (the
  # config's own, 5.7, is the rate search's stage), all seed 0; the final
  # of seed 0 is the search's stage.
  search = [(_flag(c, '--lr'), _flag(c, '--vat_eps') if '--vat_eps' in c
             else None) for c in vat if _flag(c, '--random_seed') == '0']
  assert search == [('0.01', None), ('0.03', None), ('0.1', None),
                    ('0.3', None), ('0.1', '1'), ('0.1', '2'), ('0.1', '4')]
  assert not [c for c in commands if '--test_split' in c and
              '--vat_eps' in c and _flag(c, '--vat_eps') in ('1', '4')]
  # The finals and VAT + EntMin take the rate and the norm.
  finals = [c for c in vat if _flag(c, '--random_seed') != '0']
  assert {(_flag(c, '--lr'), _flag(c, '--vat_eps')) for c in finals} == {
      ('0.1', '2')}
  entmin = _trainings(commands, 'vat_entmin_10p.sh')
  assert {(_flag(c, '--lr'), _flag(c, '--vat_eps')) for c in entmin} == {
      ('0.1', '2')}
  assert '| VAT | 0.01: 70.0, 0.03: 71.0, 0.1: 73.0, 0.3: 72.0, 0.1, ' \
      'vat_eps 1: 73.0, 0.1, vat_eps 2: 77.0, 0.1, vat_eps 4: 75.0' + \
      _budget('0.1, vat_eps 2', 77.0, (20, 40)) + ' | 0.1, vat_eps 2 | ' \
      '78.00 ± 1.00 |' in report
  assert '| VAT + EntMin | 0.1, vat_eps 2: 77.0 | 0.1, vat_eps 2 |' in report


def _control_rows(report):
  section = report.split('## Controls')[1].split('\n## ')[0]
  return [line for line in section.split('\n')
          if line.startswith('| ') and not line.startswith(
              ('| fraction', '| ---'))]


@pytest.mark.filterwarnings('ignore:Precision loss:RuntimeWarning')
def test_controls_are_reported_and_resumed_from_the_ledger(fake):
  main, tmp_path = fake
  commands, report = main('MOAM step 1,VAT')
  work = str(tmp_path / 'work')
  # MOAM's seed-0 model read again with its trained weights.
  (raw,) = [c for c in commands if '--eval_raw_weights' in c and
            'control_' not in _flag(c, '--workdir')]
  assert _flag(raw, '--workdir') == os.path.join(
      work, 'moam_step_1_rescaled_10p', 'lr0.333_seed0')
  # rotation_vat made S4L-Rotation: its batch, schedule, half its weight
  # decay at twice its rate, no VAT, no EntMin.
  (control,) = [c for c in commands if 'control_' in c[c.index(
      '--workdir') + 1] and '--run_eval' not in c]
  assert control[1].endswith('moam_step_1_10p.sh')
  for flag, value in (('--lr', '0.2'), ('--sup_weight', '0.5'),
                      ('--vat_weight', '0'), ('--entmin_factor', '0'),
                      ('--batch_size', '32'), ('--weight_decay', '0.0005'),
                      ('--schedule', '0.5,7,8,9,10'), ('--random_seed', '0')):
    assert _flag(control, flag) == value
  # VAT at weight 0, at the baseline's rate.
  (weightless,) = [c for c in _trainings(commands, 'vat_10p.sh')
                   if '--vat_weight' in c]
  assert (_flag(weightless, '--vat_weight'), _flag(weightless, '--lr')) == (
      '0', '0.1')
  rows = _control_rows(report)
  assert rows[0].startswith('| 10p | MOAM step 1, trained weights (the '
                            'averages: its row) | 73.0 | MOAM step 1, '
                            'Polyak averages | 75.0 | -2.0 |')
  assert rows[1].startswith("| 10p | rotation_vat with S4L-Rotation's loss "
                            '(halved), at twice its rate (0.2) | 73.0 | '
                            'S4L-Rotation | 73.0 | +0.0 |')
  assert rows[2].startswith('| 10p | VAT with --vat_weight 0, at the '
                            "baseline's choice (0.1) | 73.0 | supervised | "
                            '73.0 |')
  shutil.rmtree(tmp_path / 'work')
  again, report_again = main('MOAM step 1,VAT', workdir='elsewhere')
  assert again == []
  assert _control_rows(report_again) == rows


def test_baseline_stem_control_at_1p(fake, monkeypatch):
  main, _ = fake
  # The baseline chooses twice its config's length; the control does not
  # wait for that choice, nor take it.
  monkeypatch.setitem(LENGTH_BONUS, '200', 0.01)
  commands, report = main('supervised', fractions='1p')
  assert "| supervised | 0.01: 70.0, 0.03: 71.0, 0.1: 73.0, 0.3: 72.0, " \
      '0.1, epochs 200: 74.0' in report
  # The baseline's seed-0 stage at its rate and the config's length again,
  # with the root convolution at stride 1 and nothing else changed, read
  # on the validation split only.
  (stem,) = [c for c in commands if '--root_conv_stride' in c and
             '--run_eval' not in c]
  assert stem[1].endswith('supervised_1p.sh')
  assert 'control_stem_stride_1_1p' in _flag(stem, '--workdir')
  for flag, value in (('--root_conv_stride', '1'), ('--lr', '0.1'),
                      ('--random_seed', '0'), ('--label_subset_seed', '0')):
    assert _flag(stem, flag) == value
  assert not {'--schedule', '--epochs', '--weight_decay'} & set(stem)
  assert not [c for c in commands if '--root_conv_stride' in c and
              '--test_split' in c]
  rows = _control_rows(report)
  assert len(rows) == 2
  assert rows[0].startswith('| 1p | supervised with --root_conv_stride 1 '
                            "(the last block at 2x2), at the baseline's "
                            "rate (0.1) and its config's length | 73.0 | "
                            'supervised, the same rate and length | 73.0 | '
                            '+0.0 |')
  # Not at 10%, where the baseline matched the plain CNN.
  commands, report = main('supervised', fractions='10p')
  assert not [c for c in commands if '--root_conv_stride' in c or
              '--architecture' in c]
  assert '| 10p | supervised with' not in report


def test_baseline_plain_cnn_control_at_1p(fake, monkeypatch):
  main, _ = fake
  monkeypatch.setitem(LENGTH_BONUS, '200', 0.01)
  monkeypatch.setitem(WD_BONUS, '3e-4', 0.005)
  commands, report = main('supervised', fractions='1p')
  # The baseline's seed-0 choice (rate, length, weight decay) again with
  # the network of benchmarks/plain_cnn.py, read on the validation split.
  (plain,) = [c for c in commands if '--architecture' in c and
              '--run_eval' not in c]
  # Run from the repository's root, with benchmarks/ on the path.
  assert plain[:2] == ['env', 'PYTHONPATH=benchmarks']
  assert plain[3].endswith('supervised_1p.sh')
  assert _flag(plain, '--workdir').endswith(
      'control_plain_cnn_1p/lr0.1_epochs200_weight_decay3e-4_seed0')

  def without_workdir(cmd):
    at = cmd.index('--workdir')
    return cmd[:at] + cmd[at + 2:]
  (baseline,) = [c for c in commands if '--run_eval' not in c and _flag(
      c, '--workdir').endswith(
          'supervised_1p/lr0.1_epochs200_weight_decay3e-4_seed0')]
  assert without_workdir(plain[2:]) == without_workdir(baseline) + [
      '--import', 'plain_cnn', '--architecture', 'plain_cnn']
  assert not [c for c in commands if '--architecture' in c and
              '--test_split' in c]
  (row,) = [r for r in _control_rows(report) if 'plain six' in r]
  assert row.startswith('| 1p | supervised with a plain six-convolution '
                        'network (0.29 million weights) in place of the '
                        "ResNet-50, at the baseline's choice | ")
  assert '| supervised (the ResNet-50), the same choice | 74.5 |' in row


def test_plain_cnn_control_command_builds_the_network(data_dir, tmp_path):
  # The control's command as the driver gives it (from the repository's
  # root), in a dry run on the stand-in data: the network of
  # benchmarks/plain_cnn.py replaces the ResNet.
  flags = [f'--{flag}={value}' for flag, value in driver.PLAIN_CNN]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  proc = subprocess.run(
      ['env', 'PYTHONPATH=benchmarks', 'bash',
       'config/s4l_fashion_mnist/supervised_1p.sh', '--dry_run',
       '--workdir', str(tmp_path / 'work'), '--dataset_dir', data_dir,
       '--train_split', 'trainval', '--val_split', 'test',
       '--labels_per_class', '5', *flags],
      capture_output=True, text=True, env=env, timeout=300,
      cwd=str(testdata.REPO))
  assert proc.returncode == 0, proc.stderr[-3000:]
  summary = json.loads(proc.stdout[proc.stdout.index('{'):])
  assert summary['config']['architecture'] == 'plain_cnn'
  # Six 3x3 convolutions (32, 32, 64, 64, 128, 128 channels), their batch
  # norms' scales and offsets, the 128-to-10 logits with bias.
  convs = sum(9 * a * b for a, b in ((3, 32), (32, 32), (32, 64), (64, 64),
                                     (64, 128), (128, 128)))
  norms = 2 * (32 + 32 + 64 + 64 + 128 + 128)
  assert summary['trainable_parameters'] == convs + norms + 128 * 10 + 10


def _old_stages(prefix, metric, val_by_lr, chosen, tests):
  """Ledger entries of a method's stages as an earlier config left them."""
  def row(top1):
    return {f'top{k}_accuracy_{metric}': str(top1 if k == 1 else 0.99)
            for k in (1, 5)}
  entries = {f'{prefix}/lr{lr}_seed0': {'rows': {'val': row(v)},
                                         'times': {'train': 60.0}}
             for lr, v in val_by_lr.items()}
  for seed, top1 in enumerate(tests):
    entry = entries.setdefault(f'{prefix}/lr{chosen}_seed{seed}', {
        'rows': {'val': row(0.5)}, 'times': {'train': 60.0}})
    entry['rows']['test'] = row(top1)
  return entries


@pytest.mark.filterwarnings('ignore:Precision loss:RuntimeWarning')
def test_old_rows_are_kept_apart_and_reported_before(fake):
  main, tmp_path = fake
  old = {**_old_stages('moam_step_1_10p', 'unrotated', {'0.1': 0.794},
                       '0.1', [0.79, 0.80, 0.81]),
         **_old_stages('s4l_exemplar_10p', 'classes',
                       {'0.01': 0.78, '0.03': 0.795, '0.1': 0.777,
                        '0.3': 0.759}, '0.03', [0.77, 0.78, 0.79])}
  (tmp_path / 'ledger.json').write_text(json.dumps(old))
  variant = 'S4L-Exemplar (exemplar crops on labels)'
  commands, report = main(f'MOAM step 1,{variant}')
  # The variant's settings are the old S4L-Exemplar's: nothing runs for it.
  assert not [c for c in commands if 's4l_exemplar' in c[1]]
  assert f'| {variant} | 0.01: 78.0, 0.03: 79.5, 0.1: 77.7, 0.3: 75.9 | ' \
      '0.03 | 78.00 ± 1.00 |' in report
  # The rescaled MOAM is trained afresh under its own keys.
  moam = _trainings(commands, 'moam_step_1_10p.sh')
  assert len(moam) == 3
  ledger = json.loads((tmp_path / 'ledger.json').read_text())
  assert ledger['moam_step_1_10p/lr0.1_seed0'] == old[
      'moam_step_1_10p/lr0.1_seed0']
  assert 'moam_step_1_rescaled_10p/lr0.333_seed0' in ledger
  before = report.split('## Before the rescaling')[1].split('## Cost')[0]
  assert '| MOAM step 1 | 10p | 0.1: 79.4 | 0.1 | 80.00 ± 1.00 | ' \
      '76.00 ± 1.00 |' in before
  assert '| S4L-Exemplar | 10p | 0.01: 78.0, 0.03: 79.5, 0.1: 77.7, 0.3: ' \
      '75.9 | 0.03 | 78.00 ± 1.00 | - |' in before


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
          '1: 76.0, 3: 74.0' + _budget('1', 76.0, (20, 40), wd=True) +
          ' | 1 |') in report


@pytest.mark.filterwarnings('ignore:Precision loss:RuntimeWarning')
def test_report_only_reads_the_ledger_and_names_what_is_missing(fake):
  main, tmp_path = fake
  _, first = main('supervised,VAT')
  shutil.rmtree(tmp_path / 'work')
  commands, report = main('supervised', workdir='elsewhere',
                          extra=['--report_only'])
  assert commands == []  # Not even the missing methods' first stage.
  # The rows done, though --methods named only the baseline this time.
  assert '| VAT | 0.01: 70.0' in report
  assert 'VAT 78.00 vs supervised 74.00' in report
  assert ('| VAT with --vat_weight 0, at the baseline\'s choice (0.1) | 73.0 '
          '| supervised | 73.0 |') in report
  missing = report.split('## Not measured yet')[1].split('##')[0]
  assert '- S4L-Rotation, 10p: s4l_rotation_10p/lr0.01_seed0: val.' \
      in missing
  # The comparison has not chosen SimCLR's length: both SimCLRv2 rows wait.
  for row in ('SimCLRv2 fine-tune', 'SimCLRv2 fine-tune + distil'):
    assert (f"- {row}, 10p: benchmarks/fashion_mnist.py's SimCLR length "
            'search (simclr/epochs0.25_seed0: pretrain).') in missing
  assert '- VAT,' not in missing and '- supervised,' not in missing
  assert 'rows are not measured yet' in report
  # A search that has not ended says where it stands.
  testdata.forget_in_ledger(str(tmp_path / 'ledger.json'),
                            'supervised_10p/lr0.1_epochs40_seed0', 'rows',
                            'val')
  _, report = main('supervised', workdir='elsewhere', extra=['--report_only'])
  missing = report.split('## Not measured yet')[1].split('##')[0]
  assert ('- supervised, 10p: supervised_10p/lr0.1_epochs40_seed0: val (so '
          'far, seed 0, validation top-1: 0.01: 70.0, 0.03: 71.0, 0.1: 73.0, '
          '0.3: 72.0, 0.1, epochs 20: 73.0).') in missing
  # A run that trains something reports every finished method too.
  _, again = main('supervised', workdir='elsewhere')
  assert '| VAT | 0.01: 70.0' in again


@pytest.mark.filterwarnings('ignore:Precision loss:RuntimeWarning')
def test_length_and_baseline_decay_are_searched_and_passed_on(
    fake, monkeypatch):
  main, tmp_path = fake
  # Validation top-1 rises with the length up to 80 epochs (8 times the
  # config's 10, the longest searched); a weight decay of 3e-4 adds a
  # little.
  for epochs, bonus in (('20', 0.01), ('40', 0.02), ('80', 0.03)):
    monkeypatch.setitem(LENGTH_BONUS, epochs, bonus)
  monkeypatch.setitem(WD_BONUS, '3e-4', 0.005)
  commands, report = main('Pseudo-labels,MOAM step 1,VAT')
  work = str(tmp_path / 'work')
  budget = [(_flag(c, '--schedule'), _flag(c, '--weight_decay')
             if '--weight_decay' in c else None)
            for c in _trainings(commands, 'supervised_10p.sh', budget=True)
            if '--schedule' in c or '--weight_decay' in c]
  # Twice and four times the config's length, then on up while the longest
  # is the best, up to 8 times; the schedule's shape stretched.
  assert budget[:3] == [('1,14,16,18,20', None), ('2,28,32,36,40', None),
                        ('4,56,64,72,80', None)]
  # Then the weight decay at 80 epochs (1e-3, the config's, ran already).
  assert budget[3:6] == [('4,56,64,72,80', wd)
                         for wd in ('1e-4', '3e-4', '3e-3')]
  # The finals of seeds 1 and 2 at the choice, flagged as the longest.
  assert budget[6:] == [('4,56,64,72,80', '3e-4')] * 2
  assert '| 0.1, epochs 80, weight_decay 3e-4 (the longest tried: may ' \
      'improve on) | 77.50 ± 1.00 |' in report
  # Pseudo-labels takes the baseline's rate and weight decay, not its
  # length (it trains on all 50,000 images for its config's); its key and
  # its data set name the supervised model that labelled them.
  pseudo = _trainings(commands, 'pseudo_labels_10p.sh', budget=True)
  assert len(pseudo) == 3
  for c in pseudo:
    seed = _flag(c, '--random_seed')
    assert '--schedule' not in c
    assert _flag(c, '--weight_decay') == '3e-4'
    assert _flag(c, '--workdir') == os.path.join(
        work, 'pseudo_labels_10p', 'lr0.1_weight_decay3e-4_from_epochs80_'
        f'weight_decay3e-4_seed{seed}')
    assert _flag(c, '--dataset_dir') == os.path.join(
        work, 'pseudo_dataset_10p_epochs80_weight_decay3e-4', f'seed{seed}')
  # MOAM step 1 trains as long as S4L-Rotation chose, its own schedule's
  # shape stretched; VAT searches its own length.
  moam = _trainings(commands, 'moam_step_1_10p.sh', budget=True)
  assert {_flag(c, '--schedule') for c in moam} == {'4,40,60,76,80'}
  assert '| 0.1, epochs 80 (the longest tried: may improve on) |' in report
  vat = [c for c in _trainings(commands, 'vat_10p.sh', budget=True)
         if '--vat_weight' not in c and _flag(c, '--random_seed') == '1']
  assert [(_flag(c, '--vat_eps'), _flag(c, '--schedule')) for c in vat] == [
      ('2', '4,56,64,72,80')]
  # The weight-0 control trains with the baseline's settings.
  (weightless,) = [c for c in _trainings(commands, 'vat_10p.sh', budget=True)
                   if '--vat_weight' in c]
  assert (_flag(weightless, '--schedule'),
          _flag(weightless, '--weight_decay')) == ('4,56,64,72,80', '3e-4')
  assert ("VAT with --vat_weight 0, at the baseline's choice (0.1, epochs 80, "
          'weight_decay 3e-4) | 76.5 | supervised | 76.5 |') in report
