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


"""Training throughput of every pretext task against the supervised task.

Builds each task on the same small backbone (ResNet-50 at filters_factor 1:
v2 for supervised and rotation, v1 with the patch strides for the patch
tasks, v1 for exemplar, as the Fashion-MNIST configs), feeds it random
batches already in its input format and times compiled training steps
(forward, backward, SGD update). The rate counts *source* images per
second (one rotation example = 1 image seen 4 times, one patch example = 1
image cut into 9 patches, one exemplar example = 1 image as P crops), and is
printed as a ratio to the supervised task. Measurements are interleaved over
several rounds and the median is reported, so that load from other
processes affects all tasks alike; the CPU-time rate is printed too.

Run by hand from the repository root:

  python benchmarks/task_throughput.py [--batch_size 32] [--steps 5]
"""

import argparse
import os
import pathlib
import statistics
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]

from revisiting_ssl import models, preprocess  # noqa: E402
from revisiting_ssl.self_supervision import self_supervision_lib as lib  # noqa: E402


def task_specs(image_size: int, patch_size: int, num_crops: int,
               embed_dim: int) -> list[tuple[str, dict, list[int]]]:
  """(task, constructor arguments, per-example input shape) per task."""
  v1 = models.Network('resnet50', filters_factor=1, mode='v1')
  v2 = models.Network('resnet50', filters_factor=1, mode='v2')
  image = [image_size, image_size, 3]
  return [
      ('supervised', {'num_classes': 10, 'network': v2}, image),
      ('rotation', {'network': v2}, image),
      ('relative_patch_location', {'embed_dim': embed_dim, 'network': v1},
       [9, patch_size, patch_size, 3]),
      ('jigsaw', {'embed_dim': embed_dim, 'network': v1},
       [9, patch_size, patch_size, 3]),
      ('exemplar', {'embed_dim': embed_dim, 'margin': 0.5,
                    'network': v1}, [num_crops] + image),
  ]


def make_step(task: lib.Task, example_batch: dict, jit_compile: bool):
  """Creates the variables; returns a compiled training step.

  The step applies the task's device ops first, as the trainer does.
  """
  device_fn = None
  if task.device_ops:
    device_fn = preprocess.get_preprocess_fn(','.join(task.device_ops),
                                             is_training=True)
  task.initialize(task.device_preprocess(example_batch, device_fn))
  optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
  optimizer.build(task.trainable_variables)

  def step(batch):
    batch = task.device_preprocess(batch, device_fn)
    with tf.GradientTape() as tape:
      out = task.compute(batch, training=True)
      total = out.loss + task.regularization_loss()
    variables = task.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(total, variables),
                                  variables))
    return out.loss

  return tf.function(step, jit_compile=jit_compile)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--batch_size', type=int, default=32,
                      help='source images per step')
  parser.add_argument('--image_size', type=int, default=32)
  parser.add_argument('--patch_size', type=int, default=16)
  parser.add_argument('--num_crops', type=int, default=4,
                      help='exemplar crops per image')
  parser.add_argument('--embed_dim', type=int, default=128)
  parser.add_argument('--steps', type=int, default=5,
                      help='timed steps per measurement')
  parser.add_argument('--rounds', type=int, default=3,
                      help='interleaved measurements per task (median)')
  parser.add_argument('--jit_compile', action='store_true')
  args = parser.parse_args(argv)
  # Every task has its own step function; TF warns about the retraces.
  tf.get_logger().setLevel('ERROR')

  specs = task_specs(args.image_size, args.patch_size, args.num_crops,
                     args.embed_dim)
  runs = []
  for name, kwargs, shape in specs:
    task = lib.get_task_class(name)(**kwargs)
    batch = {'image': tf.random.normal([args.batch_size] + shape),
             'label': tf.zeros([args.batch_size], tf.int32),
             'mask': tf.ones([args.batch_size])}
    step = make_step(task, batch, args.jit_compile)
    t0 = time.perf_counter()
    step(batch).numpy()  # Traces and compiles.
    print(f'{name}: compiled in {time.perf_counter() - t0:.1f}s',
          flush=True)
    runs.append((name, step, batch))

  rates = {name: [] for name, _, _ in runs}
  cpu_rates = {name: [] for name, _, _ in runs}
  for round_index in range(args.rounds):
    for name, step, batch in runs:
      step(batch).numpy()
      wall, cpu = time.perf_counter(), time.process_time()
      for _ in range(args.steps):
        loss = step(batch)
      loss.numpy()
      wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
      images = args.steps * args.batch_size
      rates[name].append(images / wall)
      cpu_rates[name].append(images / cpu)
    print(f'  round {round_index + 1}/{args.rounds} done', flush=True)

  base = statistics.median(rates['supervised'])
  cpu_base = statistics.median(cpu_rates['supervised'])
  print(f'\nbatch {args.batch_size} source images, {args.image_size}px '
        f'images, {args.patch_size}px patches, {args.num_crops} exemplar '
        f'crops, XLA {args.jit_compile}, {os.cpu_count()} CPUs')
  print(f'{"task":26s} {"img/s":>7s} {"vs sup.":>7s} {"img/CPU-s":>9s} '
        f'{"vs sup.":>7s}  img/s per round')
  for name, _, _ in runs:
    rate = statistics.median(rates[name])
    cpu_rate = statistics.median(cpu_rates[name])
    spread = ', '.join(f'{r:.0f}' for r in rates[name])
    print(f'{name:26s} {rate:7.1f} {rate / base:7.2f} {cpu_rate:9.1f} '
          f'{cpu_rate / cpu_base:7.2f}  ({spread})')


if __name__ == '__main__':
  main()
