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

r"""Training throughput of our ResNet-50 v2 against Keras' ResNet50V2.

Run by hand from the repository root, e.g.

  .venv/bin/python benchmarks/backbone_throughput.py --batch_size=16 \
      --rounds=3 --steps_per_round=3

Both networks get the same batch of random images, the same loss (softmax
cross-entropy on logits, plus each model's own regularisation losses), the
same optimiser (SGD with momentum 0.9) and the same step structure (one
`tf.function` per step, no XLA). Their steps are timed alternately, so
changes in the machine's load affect both alike. The script also times a
large float32 matrix multiplication to estimate the machine's peak FLOP/s
and reports the share of it that each training step reaches.

Both sides of that share count FLOPs the same way: a multiply-add is 2
FLOPs, so the n x n matrix product is 2 n^3 FLOPs, and a training step's
FLOPs are those of the convolutions and matrix products of its traced
graph, forward and backward passes, as `accelerator.dense_flops` counts
them with TensorFlow's profiler (element-wise ops are left out, which only
lowers the share). For ResNet-50 at 224x224 that is about 3 x 8.2 GFLOPs
per image, not 3 x 4.1: 4.1 G is the forward pass's multiply-adds, and
counting those against the matrix product's 2 n^3 would halve the share. The
script prints the counts, the share for both networks and the CPU's flags
(machines differ, so compare ratios measured in one run).

The two networks do not have the same cost: ours puts each stage's stride
in its first unit, as the original code base does, so more
layers run at the higher resolution; Keras' ResNet50V2 puts it in the last
unit. The profiler counts about 8.2 forward GFLOPs for ours and 7.0 for
Keras' at 224x224, so equal per-FLOP speed gives a ratio of about 0.85.
"""

import os
import statistics
import time

from absl import app, flags, logging

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import accelerator  # noqa: E402  (benchmarks/, the script's directory)
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from revisiting_ssl import (
  models,  # noqa: E402
  utils,  # noqa: E402
)

_BATCH_SIZE = flags.DEFINE_integer('batch_size', 32, 'Images per step.')
_IMAGE_SIZE = flags.DEFINE_integer('image_size', 224, 'Image height/width.')
_ROUNDS = flags.DEFINE_integer('rounds', 3, 'Alternating timing rounds.')
_STEPS = flags.DEFINE_integer('steps_per_round', 3,
                              'Timed steps per model per round.')
_WARMUP = flags.DEFINE_integer('warmup_steps', 2,
                               'Untimed steps per model before timing.')
_MIXED = flags.DEFINE_bool(
    'mixed_precision', False,
    'Also time both networks under mixed_bfloat16 (what --mixed_precision '
    'trains with on CPUs and TPUs), alternating with their float32 steps, '
    'and print the bfloat16 / float32 ratios.')

_NUM_CLASSES = 1000


def make_train_step(apply_fn, model):
  """A `tf.function` training step for `apply_fn(images) -> logits`."""
  optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
  optimizer.build(model.trainable_variables)

  @tf.function(jit_compile=False)
  def step(images, labels):
    with tf.GradientTape() as tape:
      logits = apply_fn(images)
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          labels, tf.cast(logits, tf.float32)))
      if model.losses:
        loss += tf.add_n([tf.cast(x, tf.float32) for x in model.losses])
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss

  return step


def build_steps(image_shape, policy: str):
  """{network name: training step} of both networks under dtype `policy`."""
  with accelerator.precision_policy(policy):
    ours = models.get_net('resnet50', _NUM_CLASSES, mode='v2',
                          filters_factor=4)
    ours.build(image_shape)
    theirs = keras.applications.ResNet50V2(
        weights=None, input_shape=image_shape[1:], classes=_NUM_CLASSES,
        classifier_activation=None)
    return {
        'ours': make_train_step(lambda x: ours(x, training=True)[0], ours),
        'keras': make_train_step(lambda x: theirs(x, training=True),
                                 theirs),
    }


def time_steps(step, images, labels, num_steps):
  """Seconds for `num_steps` steps, waiting for the last one to finish."""
  start = time.perf_counter()
  for _ in range(num_steps):
    loss = step(images, labels)
  loss.numpy()
  return time.perf_counter() - start


def main(argv):
  del argv
  cpu = utils.cpu_description()
  logging.info('CPU: %s', cpu)
  batch, size = _BATCH_SIZE.value, _IMAGE_SIZE.value
  images = tf.random.uniform((batch, size, size, 3), -1.0, 1.0)
  labels = tf.random.uniform((batch,), 0, _NUM_CLASSES, dtype=tf.int32)
  policies = ['float32'] + (['mixed_bfloat16'] if _MIXED.value else [])
  if _MIXED.value:
    units = utils.cpu_bfloat16_units()
    logging.info(
        'bfloat16 units of this CPU: %s', ', '.join(units) if units else
        'none (no avx512_bf16 or amx_bf16 flag): bfloat16 is emulated '
        'here, so expect mixed precision to be slower than float32')

  # (network, policy) -> step; steps alternate, so load affects all alike.
  steps, flops = {}, {}
  for policy in policies:
    for name, step in build_steps(images.shape, policy).items():
      steps[name, policy] = step
  for (name, policy), step in steps.items():
    start = time.perf_counter()
    time_steps(step, images, labels, _WARMUP.value)
    logging.info('%s %s: warm-up (incl. tracing) %.1f s', name, policy,
                 time.perf_counter() - start)
    forward, backward = accelerator.dense_flops(
        step.get_concrete_function(images, labels).graph)
    flops[name, policy] = (forward + backward) / batch
    logging.info('%s %s: %.3g GFLOPs per image forward, %.3g per training '
                 'step (convolutions and matrix products, a multiply-add '
                 'counted as 2)', name, policy, forward / batch / 1e9,
                 flops[name, policy] / 1e9)

  totals = {key: 0.0 for key in steps}
  round_seconds = []
  order = list(steps)
  for round_index in range(_ROUNDS.value):
    seconds = {}
    for key in order:
      seconds[key] = time_steps(steps[key], images, labels, _STEPS.value)
      totals[key] += seconds[key]
      logging.info('round %d %s %s: %.2f img/s', round_index, *key,
                   batch * _STEPS.value / seconds[key])
    round_seconds.append(seconds)
    order.reverse()  # Alternate who goes first.
  num_images = batch * _STEPS.value * _ROUNDS.value
  rates = {key: num_images / totals[key] for key in steps}

  def ratio(a, b):
    """Rate of a over rate of b: overall and the median of the rounds'."""
    return (rates[a] / rates[b],
            statistics.median(s[b] / s[a] for s in round_seconds))

  matmul = {policy: accelerator.matmul_rate(
      tf.distribute.get_strategy(), 2048,
      tf.float32 if policy == 'float32' else tf.bfloat16)
            for policy in policies}
  logging.info('load average: %s', os.getloadavg())
  for policy in policies:
    logging.info('%s: ours %.2f img/s, keras %.2f img/s, ratio ours/keras '
                 '%.3f (median of per-round ratios %.3f)', policy,
                 rates['ours', policy], rates['keras', policy],
                 *ratio(('ours', policy), ('keras', policy)))
    shares = [(100 * rates[n, policy] * flops[n, policy] / matmul[policy], n)
              for n in ('ours', 'keras')]
    logging.info('%s matmul %.1f GFLOP/s (2n^3 FLOPs per n x n product); '
                 'the training steps reach %s of it', policy,
                 matmul[policy] / 1e9,
                 ', '.join(f'{share:.1f}% ({n})' for share, n in shares))
  if _MIXED.value:
    for name in ('ours', 'keras'):
      logging.info('%s: mixed_bfloat16 / float32 = %.2fx (median of rounds '
                   '%.2fx)', name, *ratio((name, 'mixed_bfloat16'),
                                          (name, 'float32')))
    logging.info('matmul bfloat16 / float32 = %.2fx: the most a training '
                 'step made of such products can gain on this CPU (%s)',
                 matmul['mixed_bfloat16'] / matmul['float32'], cpu)


if __name__ == '__main__':
  app.run(main)
