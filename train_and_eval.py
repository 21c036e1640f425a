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

"""Entry point: trains, evaluates and exports self-supervised models.

This is the only module that reads flags. They become one frozen `Config`,
written to `<workdir>/config.json`, from which explicit arguments are handed
to the data set, the task, the networks and the trainer.

Train:      python train_and_eval.py --task rotation ... --workdir W
Evaluate:   the same command with --run_eval (follows the checkpoints of W,
            evaluates each on --val_split and exports a hub module for it).
Check:      the same command with --dry_run (validates the flags and data,
            builds the network, prints the resolved configuration).
"""

import dataclasses
import json
import os
import sys
from typing import Any
import uuid

from absl import app, flags, logging

# Flags absl itself defines; everything defined below is ours.
_ABSL_FLAGS = frozenset(flags.FLAGS)

# Sections of flags, as in the original. Everything the original had keeps
# its name and effective default (SPEC A1).

# -- Job --------------------------------------------------------------------
flags.DEFINE_string('workdir', None, 'Where checkpoints, summaries, '
                    'evaluation results and hub exports are written.')
flags.DEFINE_bool('run_eval', False, 'Evaluate and export every checkpoint '
                  'of --workdir instead of training.')
flags.DEFINE_bool('dry_run', False, 'Validate the flags and data, build the '
                  'network, print the resolved configuration and exit.')
flags.DEFINE_bool('export_only', False, 'Export a hub module of the latest '
                  'checkpoint of --workdir (of the initial weights if there '
                  'is none) and exit.')
flags.DEFINE_bool('use_tpu', True, 'Run on the TPU named by --tpu_name or '
                  '$TPU_NAME. --nouse_tpu runs on the CPU or GPUs.')
flags.DEFINE_string('tpu_name', None, 'The TPU to use (falls back to '
                    '$TPU_NAME; "local" on a TPU VM).')
flags.DEFINE_string('master', None, 'Accepted for the original README\'s '
                    'command line; a grpc:// address names the TPU.')
flags.DEFINE_string('tpu_worker_name', 'tpu_worker', 'TPU job name (kept for '
                    'compatibility; tf.distribute does not need it).')
flags.DEFINE_integer('num_gpus', 1, 'GPUs to train on with MirroredStrategy '
                     'when > 1.')
flags.DEFINE_integer('iterations_per_loop', 500, 'Training steps run inside '
                     'one compiled call (and between log lines).')
flags.DEFINE_bool('jit_compile', None, 'Compile steps with XLA. Default: on '
                  'for TPU, off otherwise (XLA is slower on CPUs).')
flags.DEFINE_bool('mixed_precision', False, 'bfloat16 compute (float16 with '
                  'loss scaling on GPUs), float32 variables.')
flags.DEFINE_integer('random_seed', None, 'Seed for initialisation, data '
                     'order and augmentation; also turns on op determinism.')
flags.DEFINE_integer('keep_checkpoint_max', 5, 'Most recent checkpoints kept.')
flags.DEFINE_float('keep_checkpoint_every_n_hours', 4, 'Also keep one '
                   'checkpoint per this many hours.')
flags.DEFINE_integer('save_checkpoints_secs', 600, 'Checkpoint cadence in '
                     'seconds.')
flags.DEFINE_integer('save_checkpoints_steps', None, 'Checkpoint cadence in '
                     'steps (in addition to --save_checkpoints_secs).')
flags.DEFINE_float('eval_timeout_secs', 600, 'With --run_eval, stop when no '
                   'new checkpoint appears for this long.')
flags.DEFINE_bool('skip_corrupt_examples', False, 'Skip records whose image '
                  'cannot be decoded (and count them) instead of failing.')

# -- Data -------------------------------------------------------------------
flags.DEFINE_string('dataset', None, 'imagenet, tfrecord, fashion_mnist or '
                    'tfds:NAME.')
flags.DEFINE_string('dataset_dir', None, 'Where the data set is (default for '
                    'fashion_mnist: /usr/share/datasets/fashion-mnist).')
flags.DEFINE_string('train_split', 'train', 'Split to train on.')
flags.DEFINE_string('val_split', 'val', 'Split to evaluate on.')
flags.DEFINE_integer('batch_size', None, 'Global training batch size.')
flags.DEFINE_integer('eval_batch_size', None, 'Global evaluation batch size '
                     '(default: --batch_size).')

# -- Task -------------------------------------------------------------------
flags.DEFINE_string('task', None, 'supervised, rotation, exemplar, jigsaw, '
                    'relative_patch_location or linear_eval.')
flags.DEFINE_integer('embed_dim', None, 'Embedding width of the patch tasks '
                     '(default 1000) and exemplar.')
flags.DEFINE_float('margin', None, 'Triplet-loss margin (exemplar).')
flags.DEFINE_string('embedding_normalization', 'batch', 'exemplar: L2 '
                    'normalise each embedding dimension across the batch '
                    '("batch", as the original) or each embedding '
                    '("embedding").')
flags.DEFINE_integer('perm_subset_size', 8, 'jigsaw: permutations sampled '
                     'per replica and step in training.')
flags.DEFINE_string('permutations_path', None, 'jigsaw: permutation file '
                    '(default: permutations_100_max.bin in the repository).')
flags.DEFINE_string('hub_module', None, 'linear_eval: the hub module to '
                    'evaluate.')
flags.DEFINE_string('signature', 'representation', 'linear_eval: signature '
                    'of the module whose outputs are probed.')
flags.DEFINE_string('eval_model', 'linear', 'linear_eval: linear or mlp.')
flags.DEFINE_integer('channels_hidden', 1000, 'linear_eval: MLP width.')
flags.DEFINE_string('pool_mode', 'adaptive_max', 'linear_eval: '
                    'adaptive_max, adaptive_avg, max or avg.')
flags.DEFINE_string('combine_patches', 'avg_pool', 'linear_eval: avg_pool, '
                    'max_pool or concat for patch inputs.')
flags.DEFINE_string('linear_eval_mode', 'end_to_end', 'linear_eval: '
                    'end_to_end (as the original) or cached (features '
                    'computed once, heads trained on them).')
flags.DEFINE_integer('cached_augment_passes', 0, 'linear_eval cached: '
                     'extra passes over the training split with the '
                     'training preprocessing (one pass with the evaluation '
                     'preprocessing is always made).')
flags.DEFINE_string('knn_end_points', 'pre_logits', 'linear_eval cached: '
                    'end points also evaluated by weighted k-nearest '
                    'neighbours (comma-separated, "all", or "" for none).')
flags.DEFINE_integer('knn_k', 20, 'linear_eval cached: neighbours per kNN '
                     'vote.')
flags.DEFINE_float('knn_temperature', 0.07, 'linear_eval cached: kNN vote '
                   'weight is exp(cosine similarity / this).')

# -- Network ----------------------------------------------------------------
flags.DEFINE_string('architecture', None, 'resnet50, resnet101, resnet152, '
                    'revnet50 or vgg19.')
flags.DEFINE_integer('filters_factor', None, 'Width multiplier (default 4; '
                     '8 for vgg19).')
flags.DEFINE_bool('last_relu', None, 'Final ReLU before pooling (default '
                  'True).')
flags.DEFINE_string('mode', None, 'ResNet v1 or v2 (default v2).')
flags.DEFINE_float('weight_decay', None, 'L2 strength (default 1e-4 for the '
                   'networks, 0 for linear-evaluation heads).')
flags.DEFINE_bool('sync_batch_norm', False, 'Batch-norm statistics over all '
                  'replicas instead of per replica.')

# -- Preprocessing ------------------------------------------------------------
flags.DEFINE_string('preprocessing', None, 'Comma-separated preprocessing '
                    'ops.')
flags.DEFINE_string('resize_size', None, 'resize / inception sizes: "h,w" '
                    'or one number.')
flags.DEFINE_string('crop_size', None, 'crop sizes: "h,w" or one number.')
flags.DEFINE_integer('smaller_size', None, 'resize_small target side.')
flags.DEFINE_float('grayscale_probability', None, 'to_gray probability '
                   '(default 1).')
flags.DEFINE_bool('randomize_resize_method', None, 'Random interpolation in '
                  'resize (training only).')
flags.DEFINE_integer('splits_per_side', None, 'crop_patches grid size.')
flags.DEFINE_integer('patch_jitter', None, 'crop_patches jitter in pixels '
                     '(default 0).')
flags.DEFINE_integer('num_of_inception_patches', None, 'Crops per image of '
                     'crop_inception_preprocess_patches.')
flags.DEFINE_bool('legacy_resize', False, 'TF1 bilinear sampling (not '
                  'equivariant with rotation) instead of TF2\'s.')

# -- Optimisation -------------------------------------------------------------
flags.DEFINE_float('lr', None, 'Base learning rate for a batch of '
                   '--lr_scale_batch_size.')
flags.DEFINE_float('lr_scale_batch_size', None, 'Reference batch size of '
                   '--lr (0: no scaling).')
flags.DEFINE_float('epochs', None, 'Training length in epochs (fractions '
                   'allowed).')
flags.DEFINE_list('decay_epochs', None, 'Epochs at which the learning rate '
                  'decays (default: none within training).')
flags.DEFINE_float('lr_decay_factor', 0.1, 'Decay per boundary.')
flags.DEFINE_float('warmup_epochs', 0, 'Linear warm-up length in epochs.')
flags.DEFINE_string('optimizer', 'sgd', 'sgd (momentum 0.9) or adam.')

# -- Export -------------------------------------------------------------------
flags.DEFINE_string('serving_input_key', 'image', 'Input key of the hub '
                    'module signatures.')
flags.DEFINE_string('serving_input_shape', 'None,None,None,3', 'Input shape '
                    'of the hub module.')

FLAGS = flags.FLAGS

_REQUIRED = ('workdir', 'dataset', 'task', 'batch_size', 'epochs', 'lr',
             'lr_scale_batch_size', 'preprocessing')


@dataclasses.dataclass(frozen=True)
class Config:
  """Every resolved setting of one run (flags plus effective defaults)."""
  values: tuple[tuple[str, Any], ...]

  def __getattr__(self, name):
    for key, value in self.values:
      if key == name:
        return value
    raise AttributeError(name)

  def as_dict(self) -> dict[str, Any]:
    return dict(self.values)


def make_config() -> Config:
  """Turns the parsed flags into the frozen configuration."""
  import utils  # pylint: disable=g-import-not-at-top
  values = {name: FLAGS[name].value for name in _OWN_FLAGS}
  missing = [f'--{n}' for n in _REQUIRED if values.get(n) is None]
  if missing:
    raise utils.UsageError(f'Missing required flag(s): {", ".join(missing)}.')
  values['workdir'] = os.path.expanduser(values['workdir'])
  if values['dataset_dir']:
    values['dataset_dir'] = os.path.expanduser(values['dataset_dir'])
  if values['hub_module']:
    values['hub_module'] = os.path.expanduser(values['hub_module'])
  if values['eval_batch_size'] is None:
    values['eval_batch_size'] = values['batch_size']
  if values['jit_compile'] is None:
    values['jit_compile'] = values['use_tpu']
  if values['tpu_name'] is None:
    values['tpu_name'] = os.environ.get('TPU_NAME') or None
  if values['decay_epochs'] is not None:
    try:
      values['decay_epochs'] = [float(x) for x in values['decay_epochs']]
    except ValueError:
      raise utils.UsageError(
          f'--decay_epochs must be numbers, got '
          f'{",".join(values["decay_epochs"])}.') from None
  values['serving_input_shape'] = utils.str2intlist(
      values['serving_input_shape'], name='serving_input_shape')
  for name in ('batch_size', 'eval_batch_size'):
    if values[name] <= 0:
      raise utils.UsageError(f'--{name} must be positive, got '
                             f'{values[name]}.')
  for name in ('lr', 'epochs'):
    if not values[name] > 0:
      raise utils.UsageError(f'--{name} must be positive, got '
                             f'{values[name]:g}.')
  if values['warmup_epochs'] < 0:
    raise utils.UsageError('--warmup_epochs must not be negative.')
  if values['warmup_epochs'] > values['epochs']:
    raise utils.UsageError(
        f'--warmup_epochs {values["warmup_epochs"]:g} exceeds --epochs '
        f'{values["epochs"]:g}: the learning rate would never reach --lr.')
  for name, choices in (('linear_eval_mode', ('end_to_end', 'cached')),
                        ('embedding_normalization', ('batch', 'embedding')),
                        ('optimizer', ('sgd', 'adam'))):
    if values[name] not in choices:
      raise utils.UsageError(
          f'Unknown --{name} {values[name]!r}. Valid choices: '
          f'{", ".join(choices)}.')
  if values['iterations_per_loop'] < 1:
    raise utils.UsageError('--iterations_per_loop must be at least 1.')
  return Config(tuple(sorted(values.items())))


# Flags defined in this file.
_OWN_FLAGS = frozenset(FLAGS) - _ABSL_FLAGS


def net_kwargs(config: Config) -> dict[str, Any]:
  """Arguments for `models.get_net`; unset ones keep the network default."""
  names = ('filters_factor', 'mode', 'last_relu', 'weight_decay',
           'sync_batch_norm')
  return {n: getattr(config, n) for n in names
          if getattr(config, n) is not None}


def preprocess_args(config: Config) -> dict[str, Any]:
  """The preprocessing ops' flag values."""
  names = ('resize_size', 'crop_size', 'smaller_size',
           'grayscale_probability', 'randomize_resize_method',
           'splits_per_side', 'patch_jitter', 'num_of_inception_patches',
           'legacy_resize')
  return {n: getattr(config, n) for n in names
          if getattr(config, n) is not None}


def check_workdir(workdir: str) -> None:
  """Creates the workdir if needed and checks that it can be written."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  import utils  # pylint: disable=g-import-not-at-top
  probe = os.path.join(workdir, f'.write_probe_{uuid.uuid4().hex}')
  try:
    tf.io.gfile.makedirs(workdir)
    with tf.io.gfile.GFile(probe, 'w') as f:
      f.write('ok')
    tf.io.gfile.remove(probe)
  except (tf.errors.OpError, OSError) as e:
    raise utils.UsageError(
        f'Cannot write to --workdir {workdir}: {utils.error_summary(e)}'
    ) from None


def build_trainer(config: Config):
  """Validates the data and builds the strategy, task and trainer."""
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  import datasets  # pylint: disable=g-import-not-at-top
  from self_supervision import self_supervision_lib  # pylint: disable=g-import-not-at-top
  import trainer as trainer_lib  # pylint: disable=g-import-not-at-top
  import utils  # pylint: disable=g-import-not-at-top

  # Names first: they are cheap to check and the commonest mistakes.
  task_cls = self_supervision_lib.get_task_class(config.task)
  dataset_dir = config.dataset_dir or datasets.default_dataset_dir(
      config.dataset)
  if not dataset_dir:
    raise utils.UsageError(f'--dataset_dir is required for --dataset '
                           f'{config.dataset}.')
  data = datasets.get_dataset(config.dataset, dataset_dir)
  splits = [config.val_split] if config.run_eval else [config.train_split,
                                                      config.val_split]
  for split in dict.fromkeys(splits):
    data.check(split)

  if config.random_seed is not None:
    keras.utils.set_random_seed(config.random_seed)
    tf.config.experimental.enable_op_determinism()
  strategy = trainer_lib.make_strategy(
      use_tpu=config.use_tpu, tpu_name=config.tpu_name, master=config.master,
      num_gpus=config.num_gpus, tf_config=os.environ.get('TF_CONFIG'))
  loss_scaling = False
  if config.mixed_precision:
    on_gpu = (not config.use_tpu and
              bool(tf.config.list_logical_devices('GPU')))
    keras.mixed_precision.set_global_policy(
        'mixed_float16' if on_gpu else 'mixed_bfloat16')
    loss_scaling = on_gpu

  task_values = config.as_dict()
  task_values['num_classes'] = data.num_classes
  task_values['net_kwargs'] = net_kwargs(config)
  task_values['batch_size'] = config.batch_size
  task_kwargs = utils.matching_kwargs(task_cls.__init__, task_values)

  trainer_config = trainer_lib.TrainerConfig(
      workdir=config.workdir, train_split=config.train_split,
      val_split=config.val_split, batch_size=config.batch_size,
      eval_batch_size=config.eval_batch_size, epochs=config.epochs,
      lr=config.lr, lr_scale_batch_size=config.lr_scale_batch_size,
      decay_epochs=(tuple(config.decay_epochs) if config.decay_epochs
                    else None),
      warmup_epochs=config.warmup_epochs,
      lr_decay_factor=config.lr_decay_factor, optimizer=config.optimizer,
      preprocessing=config.preprocessing,
      iterations_per_loop=config.iterations_per_loop,
      jit_compile=config.jit_compile,
      keep_checkpoint_max=config.keep_checkpoint_max,
      keep_checkpoint_every_n_hours=config.keep_checkpoint_every_n_hours,
      save_checkpoints_secs=config.save_checkpoints_secs,
      save_checkpoints_steps=config.save_checkpoints_steps,
      random_seed=config.random_seed,
      serving_input_shape=tuple(config.serving_input_shape),
      skip_corrupt_examples=config.skip_corrupt_examples,
      eval_timeout_secs=config.eval_timeout_secs,
      loss_scaling=loss_scaling)
  return trainer_lib.Trainer(
      trainer_config, task_factory=lambda: task_cls(**task_kwargs),
      data_source=data, strategy=strategy,
      preprocess_args=preprocess_args(config))


def run(config: Config) -> dict[str, Any]:
  """Runs the job the configuration describes; returns its results."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  logging.info('Working directory: %s', config.workdir)
  if not config.dry_run:
    check_workdir(config.workdir)
  trainer = build_trainer(config)
  trainer.build()
  trainer.check_serving_shape()
  if config.dry_run:
    num_params = sum(int(tf.size(v)) for v in trainer.task.trainable_variables)
    summary = {
        'config': _jsonable(config.as_dict()),
        'trainable_parameters': num_params,
        'steps_per_epoch': trainer.schedule.steps_per_epoch,
        'total_steps': trainer.schedule.total_steps,
        'base_lr': trainer.schedule.base_lr,
        'warmup_steps': trainer.schedule.warmup_steps,
        'decay_boundaries': list(trainer.schedule.boundaries),
        'replicas': trainer.num_replicas,
    }
    print(json.dumps(summary, indent=2, sort_keys=True))
    return summary
  name = ('eval_config.json' if config.run_eval or config.export_only
          else 'config.json')
  if trainer.is_chief:
    with tf.io.gfile.GFile(os.path.join(config.workdir, name), 'w') as f:
      json.dump(_jsonable(config.as_dict()), f, indent=2, sort_keys=True)
  if config.export_only:
    trainer.restore()
    return {'module': trainer.export()}
  if config.task == 'linear_eval' and config.linear_eval_mode == 'cached':
    from self_supervision import linear_eval_cached  # pylint: disable=g-import-not-at-top
    return linear_eval_cached.run(trainer, run_eval=config.run_eval)
  if config.run_eval:
    return trainer.run_eval()
  return trainer.train()


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
  return {k: (list(v) if isinstance(v, tuple) else v)
          for k, v in values.items()}


def main(argv):
  """Runs the job; a user's mistake ends it with one line, not a trace."""
  if len(argv) > 1:
    sys.exit(f'Error: unexpected arguments: {" ".join(argv[1:])}')
  import utils  # pylint: disable=g-import-not-at-top
  try:
    config = make_config()
    run(config)
  except (utils.UsageError, utils.RunAbortedError) as e:
    # A mistake, a diverged run or a lost worker is not a bug: say what
    # happened and where, without a trace.
    logging.flush()
    sys.exit(f'Error: {e}')


if __name__ == '__main__':
  app.run(main)
