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

r"""Training throughput of ResNet-50 v2 on the GPU, TPU or CPU it finds.

Run by hand from the repository root of the machine to measure: a GPU host
(after `pip install -e '.[gpu]'`), a Cloud TPU VM (`--tpu_name local`, or
`$TPU_NAME`, after `pip install -e '.[tpu]'`), or any CPU:

  python benchmarks/accelerator.py [--batch_size 128] [--steps 20]

It prints the device's name and the host CPU's flags, then training images
per second of

* our ResNet-50 v2 (`models.get_net('resnet50', mode='v2')`) and Keras'
  `ResNet50V2`, both with 1000 classes, softmax cross-entropy plus each
  model's weight decay and SGD with momentum, in float32 and in mixed
  precision, each with and without XLA;
* the rotation task's step on our ResNet-50 v2, with `rotate` applied on
  the device inside the step (as the trainer does when `rotate` ends
  `--preprocessing`), in mixed precision, with and without XLA. It takes
  batch_size / 4 source images, so its network sees batch_size images;
  its rate counts source images.

Mixed precision is what `--mixed_precision` trains with: bfloat16 compute on
TPUs and CPUs, float16 with loss scaling on GPUs, float32 variables. Steps
run as the trainer runs them: `--steps` steps inside one compiled call (its
`--iterations_per_loop`), the step itself compiled by XLA or not. TPUs always
compile, so only the XLA rows run there. Every configuration is compiled
first; then their timed calls alternate over `--rounds` rounds (so a change
in the machine's load hits all alike), and each row gives its median rate
and its ratio to the first row: machines differ, so only ratios measured in
one run compare.

FLOPs are counted one way throughout: a multiply-add is 2 FLOPs, so an
n x n matrix product is 2 n^3. `GFLOP/img` is the FLOPs of the
convolutions and matrix products of one training step's forward and
backward passes, per (source) image, counted on a trace of the loss and
its gradients with TensorFlow's profiler (`dense_flops`); `matmul` divides
the achieved FLOP/s by that of a large matrix product in the same compute
dtype on the same device.

The defaults are sized for one GPU: ten configurations (five compiled by
XLA, which takes most of the time), a few seconds of timed steps each.
`--models`, `--precisions` and `--xla` measure a subset.
"""

import argparse
from collections.abc import Callable, Mapping, Sequence
import contextlib
import dataclasses
import os
import pathlib
import platform
import statistics
import time
from typing import Any

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from revisiting_ssl import (  # noqa: E402
  models,
  preprocess,
  utils,
)
from revisiting_ssl.self_supervision import self_supervision_lib as lib  # noqa: E402
from revisiting_ssl.training import distribution  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]

NUM_CLASSES = 1000
MODELS = ('ours', 'keras', 'rotation')
# The ops whose FLOPs are multiply-adds, the work of a matrix unit.
_MATRIX_OPS = frozenset({
    'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'MatMul',
    'BatchMatMul', 'BatchMatMulV2', 'BatchMatMulV3'})

LossFn = Callable[[Mapping[str, tf.Tensor], bool], tf.Tensor]


# -- Machine ----------------------------------------------------------------


def find_device(tpu_name: str | None
                ) -> tuple[tf.distribute.Strategy, str, str]:
  """The strategy, the device kind (TPU, GPU, CPU) and its description.

  A TPU is used only when named (we never search for one); otherwise the
  first GPU, else the CPU, through the default strategy.
  """
  if tpu_name:
    strategy = distribution.make_strategy(
        use_tpu=True, tpu_name=tpu_name, master=None, num_gpus=1,
        tf_config=None)
    kind = os.environ.get('TPU_ACCELERATOR_TYPE', 'type not reported')
    return strategy, 'TPU', (f'TPU {tpu_name} ({kind}), '
                             f'{strategy.num_replicas_in_sync} cores')
  strategy = tf.distribute.get_strategy()
  gpus = tf.config.list_physical_devices('GPU')
  if gpus:
    details = tf.config.experimental.get_device_details(gpus[0])
    name = details.get('device_name', gpus[0].name)
    capability = details.get('compute_capability')
    if capability:
      name += f' (compute capability {capability[0]}.{capability[1]})'
    return strategy, 'GPU', f'GPU {name}, 1 of {len(gpus)} GPUs'
  return strategy, 'CPU', f'CPU {utils.cpu_description().split(";")[0]}'


# -- FLOPs ------------------------------------------------------------------


def live_ops(graph: Any) -> set[str]:
  """Names of the ops a function's outputs and side effects depend on.

  Tracing writes out whole gradient functions, e.g. the gradient of the
  first convolution's input, which nothing uses; TensorFlow prunes such
  ops before it runs the function.
  """
  pending = list(graph.outputs) + list(graph.control_outputs)
  live = set()
  while pending:
    item = pending.pop()
    op = getattr(item, 'op', item)
    if op.name not in live:
      live.add(op.name)
      pending.extend(op.inputs)
      pending.extend(op.control_inputs)
  return live


def conv_gradient_flops(op: tf.Operation) -> int:
  """FLOPs of a convolution's input or filter gradient, 2 per multiply-add.

  Each has as many multiply-adds as the forward convolution: one per
  element of the output's gradient and filter tap. (TensorFlow's profiler
  estimates them from the input's size over the stride instead, which
  counts the padding of a "valid" convolution on a padded input: 12% too
  many backward FLOPs for Keras' ResNet50V2.)
  """
  kernel = (op.inputs[1] if op.type == 'Conv2DBackpropInput'
            else op.outputs[0]).shape  # [height, width, in, out]
  out_gradient = op.inputs[2].shape
  return (2 * out_gradient.num_elements() * kernel.num_elements() //
          kernel[-1])


def dense_flops(graph: Any) -> tuple[int, int]:
  """(forward, backward) FLOPs of a function's convolutions and matmuls.

  As TensorFlow's profiler counts them (convolutions' gradients as
  `conv_gradient_flops`): 2 per multiply-add, the convention of a matrix
  product's 2 n^3. Ops in the gradient tape's name scope are the backward
  pass; ops whose results are not used are left out (`live_ops`), and so
  are element-wise ops (batch norm, activations, the optimiser's update):
  they run at memory speed rather than on the matrix units, so counting
  them would flatter a comparison with a matrix product.

  Args:
    graph: a concrete function's graph (`function.graph`).

  Returns:
    The forward and the backward FLOPs.
  """
  options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  options['output'] = 'none'
  logger = tf.get_logger()
  level = logger.level
  logger.setLevel('ERROR')  # Deprecation notes of the TF1 profiler's code.
  try:
    root = tf.compat.v1.profiler.profile(graph=graph, options=options)
  finally:
    logger.setLevel(level)
  live = live_ops(graph)
  totals = [0, 0]
  nodes = list(root.children)
  while nodes:
    node = nodes.pop()
    nodes.extend(node.children)
    if not node.float_ops or node.name not in live:
      continue  # Not counted, not used, or a name scope rather than an op.
    op = graph.get_operation_by_name(node.name)
    if op.type in ('Conv2DBackpropInput', 'Conv2DBackpropFilter'):
      flops = conv_gradient_flops(op)
    elif op.type in _MATRIX_OPS:
      flops = node.float_ops
    else:
      continue
    totals['gradient_tape' in node.name.split('/')] += flops
  return totals[0], totals[1]


def training_flops(loss_fn: LossFn, variables: Sequence[tf.Variable],
                   batch: Mapping[str, tf.Tensor]) -> tuple[int, int]:
  """`dense_flops` of the loss and its gradients on `batch` (traced only).

  Batch norm runs in inference mode here, which changes no convolution or
  matrix product and updates no statistics.
  """

  @tf.function
  def gradients(batch):
    with tf.GradientTape() as tape:
      loss = loss_fn(batch, False)
    return loss, tape.gradient(loss, variables)

  return dense_flops(gradients.get_concrete_function(batch).graph)


def matmul_rate(strategy: tf.distribute.Strategy, size: int,
                dtype: tf.DType, repeats: int = 10, trials: int = 3) -> float:
  """Best FLOP/s of `size` x `size` matrix products (2 n^3 FLOPs each)."""
  def operands(context):
    del context
    shape = [size, size]
    return (tf.random.stateless_normal(shape, [0, 1], dtype=dtype),
            tf.random.stateless_normal(shape, [0, 2], dtype=dtype))

  def products(a, b):
    c = a
    for _ in range(repeats):
      # Scaled so that values stay near 1, in float16 too.
      c = tf.matmul(c, b) * tf.cast(size**-0.5, dtype)
    return tf.reduce_sum(tf.cast(c, tf.float32))

  @tf.function
  def run(a, b):
    return strategy.reduce('SUM', strategy.run(products, args=(a, b)),
                           axis=None)

  a, b = strategy.experimental_distribute_values_from_function(operands)
  run(a, b).numpy()  # Trace and warm up.
  best = float('inf')
  for _ in range(trials):
    start = time.perf_counter()
    run(a, b).numpy()
    best = min(best, time.perf_counter() - start)
  return 2 * size**3 * repeats * strategy.num_replicas_in_sync / best


# -- Configurations -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Config:
  """One measured configuration: a model, a precision, XLA or not."""
  model: str
  mixed: bool
  xla: bool

  def __str__(self) -> str:
    precision = 'mixed' if self.mixed else 'float32'
    return f'{self.model:8s} {precision:7s} XLA {"on" if self.xla else "off"}'


def configurations(model_names: Sequence[str], precisions: Sequence[str],
                   xla: Sequence[str], device_kind: str) -> list[Config]:
  """The configurations to measure, in the order of the rows."""
  configs = []
  for model in model_names:
    for precision in precisions:
      if model == 'rotation' and precision != 'mixed':
        continue
      for on in xla:
        if device_kind == 'TPU' and on == 'off':
          continue  # TPUs compile every step with XLA.
        configs.append(Config(model, precision == 'mixed', on == 'on'))
  return configs


def example_batch(model: str, batch_size: int, image_size: int
                  ) -> dict[str, tf.Tensor]:
  """Random images and labels; a quarter of the images for rotation."""
  n = max(1, batch_size // 4) if model == 'rotation' else batch_size
  return {
      'image': tf.random.stateless_uniform(
          [n, image_size, image_size, 3], [1, 0], -1.0, 1.0),
      'label': tf.random.stateless_uniform(
          [n], [1, 1], 0, NUM_CLASSES, dtype=tf.int32),
      'mask': tf.ones([n]),
  }


def build_model(model: str, image_size: int, filters_factor: int
                ) -> tuple[LossFn, list[tf.Variable], Callable[[], Any]]:
  """(loss_fn(batch, training), trainable variables, weight-decay fn).

  Call inside the strategy's scope and the precision policy.
  """
  if model == 'rotation':
    task = lib.get_task_class('rotation')(network=models.Network(
        'resnet50', mode='v2', filters_factor=filters_factor))
    # The trainer's split: `rotate` ends the ops, so it moves to the device.
    rotate = preprocess.build_pipeline(
        'rotate', device_ops=task.device_ops).device[True]

    def task_loss(batch, training):
      batch = task.device_preprocess(batch, rotate)
      return task.compute(batch, training=training).loss

    task.initialize(task.device_preprocess(
        example_batch(model, 8, image_size), rotate))
    return task_loss, task.trainable_variables, task.regularization_loss

  if model == 'ours':
    net = models.get_net('resnet50', NUM_CLASSES, mode='v2',
                         filters_factor=filters_factor)
    net(tf.zeros([1, image_size, image_size, 3]), training=False)
  else:
    net = keras.applications.ResNet50V2(
        weights=None, input_shape=(image_size, image_size, 3),
        classes=NUM_CLASSES, classifier_activation=None)

  def loss(batch, training):
    logits = net(batch['image'], training=training)
    if model == 'ours':
      logits, _ = logits  # (logits, end points)
    logits = tf.cast(logits, tf.float32)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        batch['label'], logits))

  def weight_decay():
    if not net.losses:
      return tf.constant(0.0)
    return tf.add_n([tf.cast(x, tf.float32) for x in net.losses])

  return loss, net.trainable_variables, weight_decay


def make_train_loop(strategy: tf.distribute.Strategy, loss_fn: LossFn,
                    variables: Sequence[tf.Variable],
                    weight_decay: Callable[[], Any], *, xla: bool,
                    loss_scaling: bool) -> Callable[..., tf.Tensor]:
  """`loop(batch, num_steps)`: SGD steps in one call, as the trainer runs.

  Call inside the strategy's scope (the optimiser's variables).
  """
  optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
  if loss_scaling:
    optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
  optimizer.build(variables)

  def replica_step(batch):
    with tf.GradientTape() as tape:
      loss = tf.cast(loss_fn(batch, True), tf.float32) + weight_decay()
      scaled = optimizer.scale_loss(loss) if loss_scaling else loss
    grads = tape.gradient(scaled, variables)
    optimizer.apply_gradients(zip(grads, variables))
    return loss

  step = tf.function(replica_step, jit_compile=True) if xla else replica_step

  @tf.function
  def loop(batch, num_steps):
    loss = tf.constant(0.0)
    for _ in tf.range(num_steps):
      loss = strategy.reduce('MEAN', strategy.run(step, args=(batch,)),
                             axis=None)
    return loss

  return loop


@contextlib.contextmanager
def precision_policy(name: str):
  """Within: Keras' global dtype policy is `name` (restored after)."""
  previous = keras.mixed_precision.global_policy()
  keras.mixed_precision.set_global_policy(name)
  try:
    yield
  finally:
    keras.mixed_precision.set_global_policy(previous)


# -- Main -------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--batch_size', type=int, default=128,
                      help='images per step and replica')
  parser.add_argument('--image_size', type=int, default=224)
  parser.add_argument('--steps', type=int, default=20,
                      help='steps per timed call')
  parser.add_argument('--rounds', type=int, default=3,
                      help='timed calls per configuration (median)')
  parser.add_argument('--warmup_steps', type=int, default=5,
                      help='untimed steps after compiling')
  parser.add_argument('--filters_factor', type=int, default=4,
                      help="our network's width (4 = the standard one)")
  parser.add_argument('--models', default=','.join(MODELS))
  parser.add_argument('--precisions', default='float32,mixed')
  parser.add_argument('--xla', default='off,on')
  parser.add_argument('--matmul_size', type=int, default=0,
                      help='side of the reference matrix product; 0: 8192 '
                      'on accelerators, 2048 on the CPU')
  parser.add_argument('--tpu_name', default=os.environ.get('TPU_NAME'),
                      help='the TPU to use ("local" on a TPU VM)')
  args = parser.parse_args(argv)
  for name, valid in (('models', MODELS), ('precisions', ('float32', 'mixed')),
                      ('xla', ('off', 'on'))):
    values = getattr(args, name).split(',')
    if not set(values) <= set(valid):
      parser.error(f'--{name} takes a list of {", ".join(valid)}.')
    setattr(args, name, values)
  return args


def main(argv: Sequence[str] | None = None) -> None:
  start = time.perf_counter()
  args = parse_args(argv)
  strategy, kind, device = find_device(args.tpu_name)
  replicas = strategy.num_replicas_in_sync
  mixed_dtype = tf.float16 if kind == 'GPU' else tf.bfloat16
  print(f'device: {device}')
  print(f'host: {utils.cpu_description()}; TensorFlow {tf.__version__}, Keras '
        f'{keras.__version__}, Python {platform.python_version()}')
  configs = configurations(args.models, args.precisions, args.xla, kind)

  size = args.matmul_size or (2048 if kind == 'CPU' else 8192)
  matmul = {}
  for dtype, needed in ((tf.float32, not all(c.mixed for c in configs)),
                        (mixed_dtype, any(c.mixed for c in configs))):
    if needed:
      matmul[dtype] = matmul_rate(strategy, size, dtype)
  print(f'matmul {size}x{size} (2n^3 FLOPs): ' + ', '.join(
      f'{d.name} {r / 1e12:.3g} TFLOP/s' for d, r in matmul.items()))
  print(f'batch {args.batch_size} x {replicas} replicas of '
        f'{args.image_size}x{args.image_size} images (rotation: a quarter '
        f'as many source images, x4 rotations), {args.steps} steps per '
        f'call, {args.rounds} rounds', flush=True)

  runs, flops = [], {}
  for config in configs:
    policy = ('mixed_float16' if kind == 'GPU' else
              'mixed_bfloat16') if config.mixed else 'float32'
    compile_start = time.perf_counter()
    with precision_policy(policy):
      with strategy.scope():
        loss_fn, variables, weight_decay = build_model(
            config.model, args.image_size, args.filters_factor)
        loop = make_train_loop(
            strategy, loss_fn, variables, weight_decay, xla=config.xla,
            loss_scaling=config.mixed and kind == 'GPU')
      local = example_batch(config.model, args.batch_size, args.image_size)
      batch = strategy.experimental_distribute_values_from_function(
          lambda context, model=config.model: example_batch(
              model, args.batch_size, args.image_size))
      loop(batch, tf.constant(max(1, args.warmup_steps))).numpy()
      if config.model not in flops:
        # Per source image; the same in every precision.
        flops[config.model] = sum(training_flops(
            loss_fn, variables, local)) / len(local['label'])
    seconds = time.perf_counter() - compile_start
    print(f'  {config}: compiled and warmed up in {seconds:.1f} s',
          flush=True)
    images = len(local['label']) * replicas * args.steps
    runs.append((config, loop, batch, images, seconds))

  rates = {config: [] for config, *_ in runs}
  for _ in range(args.rounds):
    for config, loop, batch, images, _ in runs:
      call_start = time.perf_counter()
      loop(batch, tf.constant(args.steps)).numpy()
      rates[config].append(images / (time.perf_counter() - call_start))

  print(f'\n{"configuration":21s} {"img/s":>9s} {"vs first":>8s} '
        f'{"GFLOP/img":>9s} {"TFLOP/s":>8s} {"matmul":>7s} '
        f'{"compile":>8s}')
  first = None
  for config, _, _, _, seconds in runs:
    rate = statistics.median(rates[config])
    first = first or rate
    achieved = rate * flops[config.model]
    share = achieved / matmul[mixed_dtype if config.mixed else tf.float32]
    print(f'{config!s:21s} {rate:9.2f} {rate / first:8.3f} '
          f'{flops[config.model] / 1e9:9.4g} {achieved / 1e12:8.4g} '
          f'{share:7.1%} {seconds:7.1f}s')
  print('GFLOP/img: convolutions and matrix products of the forward and '
        'backward pass (a multiply-add is 2 FLOPs); rotation rows count '
        'source images.')
  print(f'total {time.perf_counter() - start:.0f} s', flush=True)


if __name__ == '__main__':
  main()
