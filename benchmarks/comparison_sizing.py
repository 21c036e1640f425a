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

r"""What `benchmarks/fashion_mnist.py`'s pretraining will cost, measured.

Trains every trained row of the comparison (its config and flags, as the
driver would) for a few hundred steps in a temporary directory, reads the
trainer's steady images per second (the log lines after the first, which
includes compiling), and prints minutes per epoch and the row's projected
pretraining minutes: every searched setting once (seed 0) and the longest
twice more (seeds 1 and 2, an upper bound). `--extra_flags` tries a change
to every row (e.g. `--jit_compile` or a larger `--batch_size`):

  .venv/bin/python benchmarks/comparison_sizing.py --rows main \
      --extra_flags=--jit_compile

Measure on an otherwise idle machine: the rates are what the plan is made
of.
"""

import argparse
import os
import re
import shlex
import statistics
import sys
import tempfile

import experiment
import fashion_mnist

TRAIN_IMAGES = 50_000
RATE = re.compile(r'step (\d+)/\d+ .* ([\d.]+) images/s')


def config_batch_size(config: str, flags: list[str]) -> int:
  """The batch size a config trains with, after the flags' override."""
  if '--batch_size' in flags:
    return int(flags[flags.index('--batch_size') + 1])
  with open(os.path.join(experiment.REPO, config)) as f:
    return int(re.search(r'--batch_size (\d+)', f.read()).group(1))


def steady_rate(log: str) -> float:
  """Median images/s of the log's step lines after the first."""
  rates = [float(m.group(2)) for m in RATE.finditer(log)]
  if len(rates) < 2:
    raise ValueError('fewer than two step lines in the log: train longer '
                     '(--steps)')
  return statistics.median(rates[1:])


def sizing_command(row, extra: list[str], steps: int, dataset_dir: str,
                   workdir: str) -> list[str]:
  """The command that trains `row`'s pretraining for about `steps` steps."""
  flags = [*row.flags, *extra]
  batch = config_batch_size(row.config, flags)
  epochs = f'{steps * batch / TRAIN_IMAGES:.6f}'
  with open(os.path.join(experiment.REPO, row.config)) as f:
    # A cosine schedule (SimCLR's) has no decay steps to shorten.
    decay = (['--decay_epochs', epochs] if '--decay_epochs' in f.read()
             else [])
  return ['bash', row.config, '--workdir', workdir, '--nouse_tpu',
          '--dataset_dir', dataset_dir, '--val_split', 'val', *flags,
          '--epochs', epochs, *decay, '--warmup_epochs', '0',
          '--iterations_per_loop', str(max(steps // 6, 1)),
          '--save_checkpoints_steps', '1000000']


def measure(row, extra: list[str], steps: int, args) -> float:
  """Images per second of `row`'s pretraining."""
  with tempfile.TemporaryDirectory() as workdir:
    log = os.path.join(workdir, 'log.txt')
    try:
      experiment.run(sizing_command(row, extra, steps, args.dataset_dir,
                                    os.path.join(workdir, 'run')), log)
    except Exception:
      # The log goes with the temporary directory: show its end first.
      with open(log) as f:
        print(f.read()[-3000:], file=sys.stderr)
      raise
    with open(log) as f:
      return steady_rate(f.read())


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--rows', default=','.join(fashion_mnist.GROUPS))
  parser.add_argument('--steps', type=int, default=300)
  parser.add_argument('--extra_flags', default='',
                      help='flags added to every row, e.g. --jit_compile')
  parser.add_argument('--dataset_dir',
                      default='/usr/share/datasets/fashion-mnist')
  args = parser.parse_args()
  wanted = set(args.rows.split(','))
  rows = [r for r in fashion_mnist.ROWS if r.train and (
      r.group in wanted or r.name in wanted)]
  if not rows:
    sys.exit(f'--rows {args.rows!r} selects no trained row.')
  by_name = {r.name: r for r in fashion_mnist.ROWS}
  total = 0.0
  print(experiment.versions())
  for row in rows:
    rate = measure(row, shlex.split(args.extra_flags), args.steps, args)
    per_epoch = TRAIN_IMAGES / rate / 60
    settings = by_name[row.settings_from].settings if row.settings_from else (
        row.settings)
    lengths = [float(s['--epochs']) for s in settings]
    if row.settings_from:
      lengths = [max(lengths)]  # It trains the source's choice only.
    planned = per_epoch * (sum(lengths) + 2 * max(lengths))
    total += planned
    print(f'{row.name}: {rate:.0f} images/s, {per_epoch:.1f} min per epoch; '
          f'pretraining planned: {planned:.0f} min', flush=True)
  print(f'All pretraining of these rows: {total:.0f} min (upper bound; '
        'probes not included).')


if __name__ == '__main__':
  main()
