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

"""Peak memory of the cached linear evaluation as the split grows.

For each training-split size, a fresh process runs `linear_eval_cached.run`
(extraction into the sharded store, heads trained on the stream, streamed
evaluation with kNN on `pre_logits`) on a tiny exported module and reports
the peak resident memory (Linux `VmHWM`, reset between the stages through
`/proc/self/clear_refs`) of each stage. The split is the same 1,000 random
images repeated, so only the number of examples changes; the evaluation
split has 1,000 images. The toy module maps 15x15 images to a 15x15x40 end
point (9,000 features, not pooled), so an example stores 36 KB: the
whole-split in-memory store this replaced would hold `in memory` of the
table as tensors. With the streams, memory stops growing once the split is
larger than the shuffle window (`feature_store.StreamOptions`).

Run from the repository root (Linux only; about 3 minutes on two cores,
and 4.5 GB of disk for the largest size):

  python benchmarks/feature_store_memory.py [--sizes 2000,8000,32000,128000]
      [--workdir /tmp/feature_store_memory] [--epochs 1]
"""

import argparse
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]

SIDE = 15
CHANNELS = 40
NUM_CLASSES = 10
NUM_IMAGES = 1000
NUM_TEST = 1000


def peak_rss_mb() -> float:
  """The process's peak resident memory since the last reset, in MB."""
  with open('/proc/self/status') as f:
    for line in f:
      if line.startswith('VmHWM:'):
        return int(line.split()[1]) / 1024
  return float('nan')


def reset_peak() -> None:
  with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')


# -- In the child processes ----------------------------------------------------


def export_module(path: str) -> None:
  """A fixed random 1x1 convolution: end points `block1` and `pre_logits`."""
  import numpy as np  # noqa: PLC0415
  import tensorflow as tf  # noqa: PLC0415

  from revisiting_ssl.training import hub_export  # noqa: PLC0415

  class Net(tf.Module):

    def __init__(self):
      super().__init__()
      rng = np.random.default_rng(0)
      self.kernel = tf.Variable(rng.normal(size=[1, 1, 3, CHANNELS]),
                                dtype=tf.float32)
      self.proj = tf.Variable(rng.normal(size=[CHANNELS, NUM_CLASSES]),
                              dtype=tf.float32)

    def serve(self, images, training=False):
      del training
      x = tf.nn.relu(tf.nn.conv2d(images, self.kernel, 1, 'SAME'))
      pre_logits = tf.reduce_mean(x, axis=[1, 2])
      logits = tf.matmul(pre_logits, self.proj)
      return logits, {'block1': x, 'pre_logits': pre_logits,
                      'logits': logits}

  net = Net()
  hub_export.export_hub_module(net.serve, {'net': net}, path,
                               [None, SIDE, SIDE, 3])


class RepeatedSource:
  """The `datasets.DataSource` contract: the same images, repeated."""

  num_classes = NUM_CLASSES

  def __init__(self, num_train: int):
    import numpy as np  # noqa: PLC0415
    rng = np.random.default_rng(1)
    self._images = rng.integers(0, 256, size=[NUM_IMAGES, SIDE, SIDE, 3],
                                dtype=np.uint8)
    self._labels = (np.arange(NUM_IMAGES) % NUM_CLASSES).astype(np.int32)
    self._sizes = {'train': num_train, 'test': NUM_TEST}

  def num_examples(self, split):
    return self._sizes[split]

  def check(self, split):
    del split

  def make(self, split, *, preprocess_fn, batch_size, training, seed=None,
           input_context=None, skip_corrupt_examples=False):
    import tensorflow as tf  # noqa: PLC0415
    del input_context, skip_corrupt_examples
    num = self._sizes[split]
    ds = tf.data.Dataset.from_tensor_slices(
        {'image': self._images, 'label': self._labels}).repeat()
    if training:
      ds = ds.shuffle(NUM_IMAGES, seed=seed)
    else:
      # Every example once, then masked padding to whole batches.
      pad = -num % batch_size
      ds = ds.take(num).map(lambda x: dict(x, mask=1.0)).concatenate(
          ds.take(pad).map(lambda x: dict(x, mask=0.0)))

    def preprocess(example):
      out = dict(preprocess_fn({'image': example['image'],
                                'label': example['label']}))
      out['mask'] = example.get('mask', 1.0)
      return out

    return ds.map(preprocess).batch(batch_size, drop_remainder=True)


def child(size: int, module: str, workdir: str, epochs: float,
          batch_size: int) -> dict[str, float]:
  """Runs the cached evaluation on `size` examples; peak memory per stage."""
  import tensorflow as tf  # noqa: PLC0415

  from revisiting_ssl import preprocess  # noqa: PLC0415
  from revisiting_ssl import trainer as trainer_lib  # noqa: PLC0415
  from revisiting_ssl.probes import (
    linear_eval,  # noqa: PLC0415
    linear_eval_cached,  # noqa: PLC0415
  )
  from revisiting_ssl.training import input_streams  # noqa: PLC0415

  os.makedirs(workdir, exist_ok=True)
  config = trainer_lib.TrainerConfig(
      workdir=workdir, train_split='train', val_split='test',
      batch_size=batch_size, eval_batch_size=250, epochs=epochs, lr=0.01,
      iterations_per_loop=100, save_checkpoints_secs=None, random_seed=0,
      summary_images=0, serving_input_shape=(None, SIDE, SIDE, 3))
  trainer = trainer_lib.Trainer(
      config, task_factory=lambda: linear_eval.LinearEvalTask(
          hub_module=module, num_classes=NUM_CLASSES, pool_mode='max'),
      data_source=RepeatedSource(size),
      strategy=tf.distribute.get_strategy(),
      streams={'sup': input_streams.InputStream(
          preprocess.build_pipeline('-1_to_1'))})
  trainer.build()
  result = {'size': size, 'baseline_mb': peak_rss_mb()}
  times = {}
  reset_peak()
  start = time.time()
  train_sets = linear_eval_cached.training_features(trainer)
  times['extract_s'] = time.time() - start
  result['extract_mb'] = peak_rss_mb()
  reset_peak()
  start = time.time()
  trainer.train(make_steps=lambda: linear_eval_cached.heads_steps(
      trainer, train_sets))
  times['train_s'] = time.time() - start
  result['train_mb'] = peak_rss_mb()
  reset_peak()
  start = time.time()
  metrics = linear_eval_cached.evaluate(trainer, train_sets)
  times['eval_s'] = time.time() - start
  result['eval_mb'] = peak_rss_mb()
  stored = train_sets[0]
  result.update(times, example_kb=stored.example_bytes / 1024,
                store_mb=stored.num_examples * stored.example_bytes / 2**20,
                shards=stored.num_shards,
                top1=metrics['top1_accuracy_block1'])
  return result


# -- The driver ----------------------------------------------------------------


def run_child(args: list[str]) -> str:
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  out = subprocess.run([sys.executable, __file__, *args], env=env,
                       capture_output=True, text=True, check=False)
  if out.returncode:
    sys.exit(f'Child {args} failed:\n{out.stderr[-3000:]}')
  return out.stdout


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--sizes', default='2000,8000,32000,128000')
  parser.add_argument('--workdir', default='/tmp/feature_store_memory')
  parser.add_argument('--epochs', type=float, default=1.0)
  parser.add_argument('--batch_size', type=int, default=256)
  parser.add_argument('--child', type=int, default=None,
                      help=argparse.SUPPRESS)
  parser.add_argument('--export', default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  base = pathlib.Path(args.workdir)
  module = str(base / 'module')
  if args.export:
    export_module(args.export)
    return
  if args.child is not None:
    workdir = str(base / f'size_{args.child}')
    result = child(args.child, module, workdir, args.epochs,
                   args.batch_size)
    print('RESULT ' + json.dumps(result))
    return

  shutil.rmtree(base, ignore_errors=True)
  base.mkdir(parents=True)
  run_child(['--workdir', str(base), '--export', module])
  from revisiting_ssl import utils  # noqa: PLC0415  (TensorFlow: only for this line)
  print(f'CPU: {utils.cpu_description()}')
  print(f'Python {platform.python_version()}; one process per size; '
        f'{args.epochs:g} epoch(s) of batch {args.batch_size}.')
  header = (f'{"examples":>9} {"in memory":>10} {"shards":>6} '
            f'{"baseline":>9} {"extract":>8} {"train":>8} {"eval":>8}  '
            f'{"times (s)":>16}')
  print('Peak resident memory (MB) per stage; "in memory" is what the '
        'whole-split store held (MB).')
  print(header)
  for size in (int(s) for s in args.sizes.split(',')):
    out = run_child(['--workdir', str(base), '--child', str(size),
                     '--epochs', str(args.epochs),
                     '--batch_size', str(args.batch_size)])
    line = next(x for x in out.splitlines() if x.startswith('RESULT '))
    r = json.loads(line[len('RESULT '):])
    times = f'{r["extract_s"]:.0f}/{r["train_s"]:.0f}/{r["eval_s"]:.0f}'
    print(f'{r["size"]:>9} {r["store_mb"]:>10.0f} {r["shards"]:>6} '
          f'{r["baseline_mb"]:>9.0f} {r["extract_mb"]:>8.0f} '
          f'{r["train_mb"]:>8.0f} {r["eval_mb"]:>8.0f}  {times:>16}',
          flush=True)
    shutil.rmtree(base / f'size_{size}', ignore_errors=True)


if __name__ == '__main__':
  main()
