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

"""Cached versus end-to-end linear evaluation on Fashion-MNIST.

1. Pretrains a module with `config/rotation/fashion_mnist.sh` and exports
   its final checkpoint with `--export_only` (skipped with `--hub_module`;
   falls back to the supervised config if the rotation config is missing).
2. Cached probe: `config/evaluation/rotation_or_exemplar_fashion_mnist.sh`
   with `--linear_eval_mode cached` (features, heads and evaluation in one
   command), in a fresh workdir so the features are computed inside the
   timed run. It runs first because it is short.
3. End-to-end probe: the same config without it (training, then
   `--run_eval`), as a user runs it.

It prints the wall time of both (whole commands, start-up included) and the
top-1 accuracy of every end point for both, plus the cached mode's kNN. The
cached mode should be within 0.5 points of the end-to-end probe in at most a
tenth of its time.

Run from the repository root (takes a while on two CPU cores):

  python benchmarks/linear_eval.py [--hub_module M] [--workdir DIR]
      [--pretrain_args "--epochs 1"] [--eval_args "--epochs 15"]

With the config's 70 epochs the end-to-end probe takes about 40 minutes on
two shared cores.
"""

import argparse
import csv
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]

EVAL_CONFIG = REPO / 'config' / 'evaluation' / (
    'rotation_or_exemplar_fashion_mnist.sh')
PRETRAIN_CONFIGS = (REPO / 'config' / 'rotation' / 'fashion_mnist.sh',
                    REPO / 'config' / 'supervised' / 'fashion_mnist.sh')


def run_command(args: list[str], log_path: pathlib.Path) -> float:
  """Runs a command with its output in `log_path`; returns the wall time."""
  print('$', ' '.join(shlex.quote(a) for a in args), flush=True)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  start = time.time()
  with open(log_path, 'w') as log:
    result = subprocess.run(args, stdout=log, stderr=subprocess.STDOUT,
                            env=env, cwd=REPO, check=False)
  elapsed = time.time() - start
  if result.returncode:
    sys.exit(f'Command failed ({result.returncode}); see {log_path}.')
  return elapsed


def latest_export(workdir: pathlib.Path) -> str:
  # hub_export imports TensorFlow, which the driver needs only here.
  from revisiting_ssl.training import hub_export  # noqa: PLC0415
  exports = hub_export.list_exports(str(workdir))
  if not exports:
    sys.exit(f'No hub export under {workdir}.')
  return exports[-1]


def pretrain(base: pathlib.Path, extra: list[str]) -> str:
  config = next((c for c in PRETRAIN_CONFIGS if c.exists()), None)
  if config is None:
    sys.exit('No Fashion-MNIST pretraining config found.')
  if config != PRETRAIN_CONFIGS[0]:
    print(f'NOTE: {PRETRAIN_CONFIGS[0]} is missing; pretraining with '
          f'{config} instead.', flush=True)
  workdir = base / 'pretrain'
  common = ['bash', str(config), '--workdir', str(workdir), '--nouse_tpu',
            *extra]
  seconds = run_command(common, base / 'pretrain.log')
  print(f'Pretraining: {seconds:.0f}s', flush=True)
  run_command(common + ['--export_only'], base / 'pretrain_export.log')
  return latest_export(workdir)


def read_results(workdir: pathlib.Path) -> dict[str, dict[str, str]]:
  with open(workdir / 'linear_eval_results.csv') as f:
    return {row['end_point']: row for row in csv.DictReader(f)}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--workdir', default='/tmp/linear_eval_benchmark')
  parser.add_argument('--hub_module', default=None,
                      help='Evaluate this module instead of pretraining.')
  parser.add_argument('--pretrain_args', default='',
                      help='Extra flags for the pretraining config.')
  parser.add_argument('--eval_args', default='',
                      help='Extra flags for both probes (e.g. --epochs).')
  args = parser.parse_args()
  base = pathlib.Path(args.workdir)
  base.mkdir(parents=True, exist_ok=True)
  module = args.hub_module or pretrain(base, shlex.split(args.pretrain_args))
  print(f'Module: {module}', flush=True)
  extra = shlex.split(args.eval_args)

  e2e_dir, cached_dir = base / 'e2e', base / 'cached'
  for d in (e2e_dir, cached_dir):
    shutil.rmtree(d, ignore_errors=True)
  common = ['--nouse_tpu', '--hub_module', module, *extra]
  cached = run_command(
      ['bash', str(EVAL_CONFIG), '--workdir', str(cached_dir), *common,
       '--linear_eval_mode', 'cached'], base / 'cached.log')
  print(f'Cached probe: {cached:.0f}s', flush=True)
  e2e_train = run_command(
      ['bash', str(EVAL_CONFIG), '--workdir', str(e2e_dir), *common],
      base / 'e2e_train.log')
  e2e_eval = run_command(
      ['bash', str(EVAL_CONFIG), '--workdir', str(e2e_dir), *common,
       '--run_eval', '--eval_timeout_secs', '5'], base / 'e2e_eval.log')

  e2e_rows, cached_rows = read_results(e2e_dir), read_results(cached_dir)
  e2e_total = e2e_train + e2e_eval
  print()
  print(f'End-to-end probe: {e2e_total:.0f}s (train {e2e_train:.0f}s, '
        f'--run_eval {e2e_eval:.0f}s)')
  print(f'Cached probe:     {cached:.0f}s ({cached / e2e_total:.3f} of the '
        f'end-to-end time)')
  print()
  print(f'{"end point":<12} {"e2e top-1":>10} {"cached top-1":>13} '
        f'{"diff (pts)":>11} {"kNN top-1":>10}')
  worst = 0.0
  for end_point in sorted(e2e_rows):
    e2e = float(e2e_rows[end_point]['top1_accuracy'])
    row = cached_rows.get(end_point, {})
    ours = float(row.get('top1_accuracy') or 'nan')
    knn = row.get('knn_top1_accuracy') or ''
    diff = 100 * (ours - e2e)
    worst = max(worst, abs(diff))
    knn_text = f'{float(knn):.4f}' if knn else '-'
    print(f'{end_point:<12} {e2e:>10.4f} {ours:>13.4f} {diff:>+11.2f} '
          f'{knn_text:>10}')
  best = max(e2e_rows, key=lambda k: float(e2e_rows[k]['top1_accuracy']))
  best_diff = 100 * (float(cached_rows[best]['top1_accuracy']) -
                     float(e2e_rows[best]['top1_accuracy']))
  print()
  print(f'Best end point (end to end): {best}, difference {best_diff:+.2f} '
        f'points.')
  print(f'Largest top-1 difference: {worst:.2f} points (target <= 0.5); '
        f'time ratio {cached / e2e_total:.3f} (target <= 0.1).')


if __name__ == '__main__':
  main()
