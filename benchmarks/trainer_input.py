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

"""The trainer's input path from TFRecord shards, beside a plain pipeline.

Writes the sample photos (repeated `--repeat` times) as `--shards` TFRecord
shards with `tools/build_tfrecords.py`, then measures, for the ImageNet
rotation and supervised configs (their flags read from `config/`):

- `trainer`: the batches the trainer trains on, built as it builds them
  (`train_and_eval.build_trainer`, then `Trainer.distributed_dataset`):
  `datasets.get_dataset` with its file checks and error reporting, and the
  host part of the config's preprocessing (ops that run on the accelerator,
  such as `rotate`, are not on the host);
- `plain`: `TFRecordDataset -> parse -> decode -> the same preprocessing
  function -> batch`, with the trainer's shuffle buffer and parallelism and
  nothing else;
- `decode only`: the plain pipeline without the preprocessing (one pixel
  of each decoded image is kept, so no image is copied).

Rates are images per wall-clock second and per CPU second of this process
(images per core: the figure to scale a host by), medians over interleaved
rounds. The reader's overhead is 1 - trainer / plain. Then tf.data's
autotuning is compared with pipelines pinned to one and to every core.

Run by hand from the repository root:

  python benchmarks/trainer_input.py [--data_dir DIR] [--repeat 10]
"""

import argparse
from collections.abc import Callable, Sequence
import os
import pathlib
import shlex
import statistics
import sys
import tempfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import flags  # noqa: E402
import input_pipeline  # noqa: E402  (beside this file)
import tensorflow as tf  # noqa: E402

from revisiting_ssl import (  # noqa: E402
  entry_flags,
  train_and_eval,
  utils,
)
from revisiting_ssl.data_sources import base  # noqa: E402
from revisiting_ssl.tools import build_tfrecords  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFIGS = ('rotation', 'supervised')


def write_shards(photo_dir: str, output_dir: str, repeat: int,
                 shards: int) -> str:
  """Writes the photos, `repeat` times each, as TFRecord shards.

  The photos are named `<wnid>_<name>.JPEG` (as the sample is); the
  converter wants one folder per class, so a tree of links is made first.

  Returns:
    The directory of the shards and their `dataset_info.json`.
  """
  photos = sorted(p for p in pathlib.Path(photo_dir).iterdir()
                  if p.suffix.lower() in ('.jpeg', '.jpg'))
  if not photos:
    sys.exit(f'No *.JPEG / *.jpg files in {photo_dir}')
  tree = pathlib.Path(output_dir) / 'images'
  for photo in photos:
    folder = tree / photo.name.split('_')[0]
    folder.mkdir(parents=True, exist_ok=True)
    for copy in range(repeat):
      link = folder / f'{photo.stem}_{copy}{photo.suffix}'
      if not link.exists():
        link.symlink_to(photo.resolve())
  records = os.path.join(output_dir, 'records')
  if not os.path.exists(os.path.join(records, 'dataset_info.json')):
    build_tfrecords.convert(str(tree), None, records, train_shards=shards,
                            num_threads=2)
  return records


def config_args(name: str) -> list[str]:
  """The arguments `config/<name>/imagenet.sh` passes to the trainer."""
  text = (REPO / 'config' / name / 'imagenet.sh').read_text()
  tokens = shlex.split(text[text.index('"$TRAIN_AND_EVAL"'):], comments=True)
  return [t for t in tokens[1:] if t not in ('\n', '"$@"', '$@')]


def trainer_for(name: str, records: str, batch_size: int | None, workdir: str
                ) -> tuple[train_and_eval.trainer_lib.Trainer, int]:
  """The trainer a config builds on the shards (one device, no TPU)."""
  fv = flags.FlagValues()
  entry_flags.define_flags(fv)
  argv = [*config_args(name), '--dataset', 'tfrecord', '--dataset_dir',
          records, '--train_split', 'train', '--val_split', 'train',
          '--nouse_tpu', '--workdir', workdir]
  if batch_size:
    argv += ['--batch_size', str(batch_size)]
  fv(['trainer_input', *argv])
  values, given = train_and_eval.flag_values(fv)
  config = train_and_eval.make_config(values, given)
  trainer, _ = train_and_eval.build_trainer(config)
  return trainer, config.batch_size


def trainer_dataset(trainer) -> tf.data.Dataset:
  """The trainer's training batches (the default strategy's pipeline)."""
  return trainer.distributed_dataset(trainer.config.train_split,
                                     training=True)


def plain_dataset(files: Sequence[str], preprocess_fn: Callable | None,
                  batch_size: int, buffer: int) -> tf.data.Dataset:
  """TFRecordDataset -> parse -> decode -> `preprocess_fn` -> batches.

  With `preprocess_fn` None only one pixel of each decoded image is kept.
  """
  def parse(record):
    features = tf.io.parse_single_example(record, {
        'image/encoded': tf.io.FixedLenFeature([], tf.string),
        'image/class/label': tf.io.FixedLenFeature([], tf.int64),
    })
    image = tf.io.decode_jpeg(features['image/encoded'], channels=3)
    example = {'image': image,
               'label': tf.cast(features['image/class/label'] - 1, tf.int32)}
    if preprocess_fn is None:
      return {'image': image[:1, :1], 'label': example['label']}
    return preprocess_fn(example)

  ds = tf.data.Dataset.from_tensor_slices(list(files)).shuffle(
      len(files)).repeat()
  ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=len(files),
                     num_parallel_calls=tf.data.AUTOTUNE,
                     deterministic=False)
  ds = ds.shuffle(buffer)
  ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
  return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def pinned(ds: tf.data.Dataset, threads: int) -> tf.data.Dataset:
  """`ds` with autotuning off, on its own pool of `threads` threads."""
  options = tf.data.Options()
  options.autotune.enabled = False
  options.threading.private_threadpool_size = threads
  return ds.with_options(options)


def measure(pipelines: dict[str, tuple[object, int, int]], args) -> dict:
  """Median (wall, CPU) rates of every pipeline over interleaved rounds.

  Every measurement makes a new iterator, skips batches untimed and times
  the next ones, then deletes the iterator: an iterator left alive would
  go on filling its buffers in the background, in this process.

  Args:
    pipelines: name -> (dataset, batch size, batches skipped before the
      timed ones; at least one, which fills the shuffle buffer).
    args: the command line.
  """
  rates = {name: [] for name in pipelines}
  for round_index in range(args.rounds):
    for name, (ds, batch, skip) in pipelines.items():
      rates[name].append(input_pipeline.images_per_second(
          ds, batch, max(1, skip), args.num_batches))
    print(f'  round {round_index + 1}/{args.rounds} done', flush=True)
  return {name: (statistics.median(r[0] for r in runs),
                 statistics.median(r[1] for r in runs))
          for name, runs in rates.items()}


def print_table(results: dict, reference: str) -> None:
  ref_wall, ref_cpu = results[reference]
  print(f'  {"pipeline":34s} {"img/s":>7s} {"img/CPU-s":>9s} '
        f'{"wall ratio":>10s} {"CPU ratio":>9s}   (to {reference})')
  for name, (wall, cpu) in results.items():
    print(f'  {name:34s} {wall:7.1f} {cpu:9.1f} {wall / ref_wall:10.2f} '
          f'{cpu / ref_cpu:9.2f}')


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument(
      '--data_dir', default=str(REPO / '..' / 'shared' / 'data' /
                                'imagenet-sample'),
      help='folder of <wnid>_<name>.JPEG photos (default: '
           '../shared/data/imagenet-sample relative to the repository)')
  parser.add_argument('--repeat', type=int, default=10,
                      help='copies of each photo in the shards')
  parser.add_argument('--shards', type=int, default=8)
  parser.add_argument('--work_dir', default=None,
                      help='where the shards go (default: a temporary '
                           'folder); kept and reused when given')
  parser.add_argument('--configs', default=','.join(CONFIGS))
  parser.add_argument('--batch_size', type=int, default=None,
                      help='default: each config\'s own')
  parser.add_argument('--num_batches', type=int, default=8,
                      help='timed batches per measurement')
  parser.add_argument('--warmup_batches', type=int, default=2)
  parser.add_argument('--rounds', type=int, default=3)
  args = parser.parse_args(argv)
  configs = args.configs.split(',')
  for name in configs:
    if name not in CONFIGS:
      sys.exit(f'Unknown config {name!r}; valid: {", ".join(CONFIGS)}.')

  with tempfile.TemporaryDirectory() as tmp:
    work_dir = args.work_dir or tmp
    records = write_shards(args.data_dir, work_dir, args.repeat, args.shards)
    print(f'host: {utils.cpu_description()}')
    print(f'tf.data sees {os.cpu_count()} cores; {records}')
    summary = {}
    for name in configs:
      trainer, batch = trainer_for(name, records, args.batch_size,
                                   os.path.join(tmp, 'workdir'))
      files = trainer.data.files('train')
      count = trainer.data.num_examples('train')
      host_fn = trainer.pipeline.host_fn(True, trainer.image_dtype)
      on_device = trainer.pipeline.device[True] is not None
      print(f'\n{name}: {count} records in {len(files)} shards, batch '
            f'{batch}, --preprocessing {trainer.pipeline.preprocessing}'
            f'{" (its last ops on the accelerator)" if on_device else ""}',
            flush=True)
      buffer = base.shuffle_buffer(count)
      # The reader checks every file and record on its first read: the
      # steady state is timed after two epochs, the first epoch apart.
      later = args.warmup_batches + -(-2 * count // batch)
      pipelines = {
          'trainer': (trainer_dataset(trainer), batch, later),
          'plain': (plain_dataset(files, host_fn, batch, buffer), batch,
                    later),
          'decode only': (plain_dataset(files, None, batch, buffer), batch,
                          later),
          'trainer, first epoch': (trainer_dataset(trainer), batch, 1),
      }
      results = measure(pipelines, args)
      print_table(results, 'plain')
      plain_cpu = results['plain'][1]
      overhead = 1 - results['trainer'][1] / plain_cpu
      first_overhead = 1 - results['trainer, first epoch'][1] / plain_cpu
      print(f'  reader overhead (CPU time): {overhead:.1%}; in the first '
            f'epoch: {first_overhead:.1%}')
      summary[name] = dict(results, overhead=overhead)

    # Does autotuning use every core? The supervised plain pipeline pinned
    # to one thread and to one per core, beside autotuned.
    name = configs[-1]
    cores = os.cpu_count() or 1
    trainer, batch = trainer_for(name, records, args.batch_size,
                                 os.path.join(tmp, 'workdir'))
    plain = plain_dataset(trainer.data.files('train'),
                          trainer.pipeline.host_fn(True, trainer.image_dtype),
                          batch, base.shuffle_buffer(
                              trainer.data.num_examples('train')))
    print(f'\n{name}, plain pipeline: autotuned against pinned',
          flush=True)
    warmup = args.warmup_batches
    tuning = measure({
        'autotuned': (plain, batch, warmup),
        'pinned, 1 thread': (pinned(plain, 1), batch, warmup),
        f'pinned, {cores} threads': (pinned(plain, cores), batch, warmup),
    }, args)
    print_table(tuning, 'pinned, 1 thread')
    summary['tuning'] = tuning
  return summary


if __name__ == '__main__':
  main()
