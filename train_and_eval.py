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
to the data set, the preprocessing, the task, the networks and the trainer.

Flags are matched to the arguments of what they configure by name: a task's
constructor, a preprocessing op, a network's options, `TrainerConfig`. A
flag that is not given is left out, so its owner's default applies; the
help texts below read those defaults (and the valid names) from the owners
and registries, so each is written once, where it is used.

Train:      python train_and_eval.py --task rotation ... --workdir W
Evaluate:   the same command with --run_eval (follows the checkpoints of W,
            evaluates each on --val_split and exports a hub module for it).
Check:      the same command with --dry_run (validates the flags and data,
            builds the network, prints the resolved configuration).

The module is longer than most here (about 750 lines) because it holds every
flag definition with its help text, by design the only place that reads
flags; the logic beside them is the translation of flags into a `Config`.
"""

from collections.abc import Callable
import dataclasses
import inspect
import json
import os
import sys
from typing import Any
import uuid

if __name__ == '__main__' and sys.path and os.path.abspath(
    sys.path[0] or '.') == os.path.dirname(os.path.abspath(__file__)):
  # Run as `python train_and_eval.py`, Python puts this directory first on
  # the path, where our `datasets.py` and `utils.py` would hide packages of
  # those names from every other library; the project is the installed
  # package `revisiting_ssl` instead.
  del sys.path[0]

from absl import flags, logging
import keras
import tensorflow as tf

from revisiting_ssl import cli, datasets, models, preprocess, utils
from revisiting_ssl import trainer as trainer_lib
from revisiting_ssl.data_sources import label_subsets
from revisiting_ssl.probes import linear_eval, linear_eval_cached
from revisiting_ssl.self_supervision import (
  exemplar,
  jigsaw,
  patch_utils,
  rotation_vat,
  s4l_exemplar,
  s4l_rotation,
  vat,
)
from revisiting_ssl.self_supervision import self_supervision_lib as tasks
from revisiting_ssl.training import distribution, input_streams, optimization

# Flags absl itself defines; everything defined below is ours.
_ABSL_FLAGS = frozenset(flags.FLAGS)


def _shown(value: Any) -> str:
  if isinstance(value, (tuple, list)):
    return ','.join('None' if v is None else str(v) for v in value)
  return repr(value) if isinstance(value, str) else str(value)


def _default(owner: Callable[..., Any], name: str) -> str:
  """The default of `owner`'s argument `name`, as help texts show it."""
  return _shown(inspect.signature(owner).parameters[name].default)


def _trainer(name: str) -> str:
  return f'(default {_default(trainer_lib.TrainerConfig, name)})'


def _net_defaults(name: str) -> str:
  """'4; 8 for vgg19': the networks' defaults of one option."""
  by_arch = {a: models.option_defaults(a)[name] for a in models.net_names()}
  common = max(by_arch.values(), key=list(by_arch.values()).count)
  others = [f'{_shown(v)} for {a}' for a, v in by_arch.items()
            if v != common]
  return '; '.join([_shown(common)] + others)


def _choices(names) -> str:
  return ', '.join(names)


def _op_default(op: str, name: str) -> str:
  return _default(preprocess.OPS.lookup(op), name)


_Exemplar = exemplar.ExemplarTask
_LinearEval = linear_eval.LinearEvalTask
_S4LRotation = s4l_rotation.S4LRotationTask
_S4LExemplar = s4l_exemplar.S4LExemplarTask
_VAT = vat.VATTask
_RotationVAT = rotation_vat.RotationVATTask
_LINEAR_EVAL_MODES = ('end_to_end', 'cached')

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
flags.DEFINE_integer('iterations_per_loop', None, 'Training steps run inside '
                     'one compiled call (and between log lines) '
                     f'{_trainer("iterations_per_loop")}.')
flags.DEFINE_integer('virtual_replicas', None, 'Run the per-replica '
                     'computations (batch-norm statistics, exemplar\'s '
                     'normalisation and triplet loss, jigsaw\'s permutation '
                     'subsets) on this many groups of each device\'s batch, '
                     'so that fewer devices compute what more TPU cores '
                     'would with the same global batch: 8 on one GPU for a '
                     'v3-8 recipe '
                     f'{_trainer("virtual_replicas")}.')
flags.DEFINE_bool('jit_compile', None, 'Compile steps with XLA. Default: on '
                  'for TPU, off otherwise (XLA is slower on CPUs).')
flags.DEFINE_bool('mixed_precision', False, 'bfloat16 compute (float16 with '
                  'loss scaling on GPUs), float32 variables.')
flags.DEFINE_integer('random_seed', None, 'Seed for initialisation, data '
                     'order and augmentation; also turns on op determinism.')
flags.DEFINE_integer('keep_checkpoint_max', None, 'Most recent checkpoints '
                     f'kept {_trainer("keep_checkpoint_max")}.')
flags.DEFINE_float('keep_checkpoint_every_n_hours', None, 'Also keep one '
                   'checkpoint per this many hours '
                   f'{_trainer("keep_checkpoint_every_n_hours")}.')
flags.DEFINE_integer('save_checkpoints_secs', None, 'Checkpoint cadence in '
                     f'seconds {_trainer("save_checkpoints_secs")}.')
flags.DEFINE_integer('save_checkpoints_steps', None, 'Checkpoint cadence in '
                     'steps (in addition to --save_checkpoints_secs).')
flags.DEFINE_float('eval_timeout_secs', None, 'With --run_eval, stop when no '
                   'new checkpoint appears for this long '
                   f'{_trainer("eval_timeout_secs")}.')
flags.DEFINE_bool('eval_every_checkpoint', None, 'With --run_eval, also '
                  'evaluate the checkpoints written while another was being '
                  'evaluated, oldest first (after training: every kept '
                  'checkpoint, a whole validation curve); by default only '
                  'the newest, as the original.')
flags.DEFINE_integer('keep_exports', None, 'Hub modules kept under '
                     f'<workdir>/export/hub {_trainer("keep_exports")}.')
flags.DEFINE_integer('summary_images', None, 'Input images per task view '
                     'written to TensorBoard at the start of training '
                     f'{_trainer("summary_images")}.')
flags.DEFINE_bool('skip_corrupt_examples', None, 'Skip records whose image '
                  'cannot be decoded (and count them) instead of failing.')
flags.DEFINE_integer('eval_timeout_mins', None, 'S4L\'s spelling of '
                     '--eval_timeout_secs, in minutes.')
flags.DEFINE_bool('polyak_averaging', None, 'Evaluate and export a moving '
                  'average of the weights with a half-life of one epoch '
                  '(S4L; the raw weights are exported too, as module_raw).')
flags.DEFINE_string('path_to_initial_ckpt', None, 'Warm start: take the '
                    'weights of a fresh run from this checkpoint (or the '
                    'latest one of this directory).')
flags.DEFINE_string('vars_to_restore', None, 'Warm start: restore the '
                    'variables whose checkpoint names match this regular '
                    'expression from their start (default '
                    f'{_default(trainer_lib.TrainerConfig, "vars_to_restore")}'
                    ').')
flags.DEFINE_integer('enable_sup_data', None, 'Accepted for S4L\'s configs; '
                     'it had no effect there either.')

# -- Data -------------------------------------------------------------------
flags.DEFINE_string('dataset', None, _choices(datasets.names()) + '.')
flags.DEFINE_string('dataset_dir', None, 'Where the data set is (default for '
                    'fashion_mnist: '
                    f'{datasets.default_dataset_dir("fashion_mnist")}).')
flags.DEFINE_string('train_split', 'train', 'Split to train on.')
flags.DEFINE_string('val_split', 'val', 'Split to evaluate on.')
flags.DEFINE_integer('batch_size', None, 'Global training batch size.')
flags.DEFINE_integer('eval_batch_size', None, 'Global evaluation batch size '
                     '(default: --batch_size).')
flags.DEFINE_bool('eval_drop_remainder', None, 'Evaluate only whole '
                  'global batches, as the original did (49,984 of 50,000 '
                  'images with batch 32), to compare with published '
                  'numbers; by default every example, exactly once.')
flags.DEFINE_string('test_split', None, 'With --run_eval, also evaluate the '
                    'last checkpoint on this split (S4L).')
flags.DEFINE_string('filename_list_template', None, 'Labelled subset: S4L\'s '
                    'list file, e.g. label_map_count_{}_index_0, formatted '
                    'with --num_supervised_examples (looked up as given, then '
                    'in data_sources/label_maps/).')
flags.DEFINE_integer('num_supervised_examples', None, 'Labelled subset: the '
                     'number of examples of --filename_list_template.')
flags.DEFINE_integer('labels_per_class', None, 'Labelled subset: draw this '
                     'many examples of every class of --train_split (written '
                     'to the working directory).')
flags.DEFINE_float('label_fraction', None, 'Labelled subset: draw this '
                   'fraction of --train_split, evenly over the classes.')
flags.DEFINE_integer('label_subset_seed', None, 'Seed of the drawn labelled '
                     'subset (default '
                     f'{_default(label_subsets.choose, "label_subset_seed")}'
                     ').')
flags.DEFINE_string('pseudo_label_key', None, 'TFRecords of '
                    'tools/generate_pseudo_labels.py: the feature holding the '
                    'pseudo label; training then takes the true label of '
                    'the labelled images and the pseudo label of the rest.')
flags.DEFINE_string('original_label_key', None, 'With --pseudo_label_key: '
                    'the feature holding the true label.')
flags.DEFINE_bool('cache_dataset', None, 'Keep the labelled subset\'s records '
                  'in memory after the first epoch (S4L).')
flags.DEFINE_float('unsup_batch_mult', None, 'S4L: per-replica batch of the '
                   'unlabelled stream = int(per-replica labelled batch * this) '
                   '(default '
                   f'{_default(input_streams.InputStream, "batch_mult")}).')

# -- Task -------------------------------------------------------------------
flags.DEFINE_string('task', None, _choices(tasks.task_names()) + '.')
flags.DEFINE_integer('embed_dim', None, 'Embedding width: of each patch for '
                     'the patch tasks (default '
                     f'{_default(jigsaw.JigsawTask, "embed_dim")}), of '
                     'exemplar (default: the pre-logits).')
flags.DEFINE_float('margin', None, 'Triplet-loss margin (exemplar).')
flags.DEFINE_string('embedding_normalization', None, 'exemplar: L2 '
                    'normalise each embedding dimension across the batch '
                    '("batch", as the original) or each embedding '
                    '("embedding") (default '
                    f'{_default(_Exemplar, "embedding_normalization")}).')
flags.DEFINE_integer('perm_subset_size', None, 'jigsaw: permutations sampled '
                     'per replica and step in training (default '
                     f'{_default(jigsaw.JigsawTask, "perm_subset_size")}).')
flags.DEFINE_string('permutations_path', None, 'jigsaw: permutation file '
                    '(default: permutations_100_max.bin of the package).')
flags.DEFINE_bool('interleave_embeddings', None, 'Patch tasks: concatenate '
                  'the patch embeddings in the original\'s interleaved order '
                  '(channel-major) instead of blocks; matters only for '
                  'original weights.')
flags.DEFINE_string('hub_module', None, 'linear_eval: the hub module to '
                    'evaluate.')
flags.DEFINE_string('signature', None, 'linear_eval: signature of the module '
                    'whose outputs are probed (default '
                    f'{_default(_LinearEval, "signature")}).')
flags.DEFINE_string('eval_model', None, 'linear_eval: '
                    f'{_choices(linear_eval.EVAL_MODELS)} (default '
                    f'{_default(_LinearEval, "eval_model")}).')
flags.DEFINE_integer('channels_hidden', None, 'linear_eval: MLP width '
                     f'(default {_default(_LinearEval, "channels_hidden")}).')
flags.DEFINE_string('pool_mode', None, 'linear_eval: '
                    f'{_choices(utils.POOL_MODES)} (default '
                    f'{_default(_LinearEval, "pool_mode")}).')
flags.DEFINE_string('adaptive_pooling', None, 'linear_eval: regions of the '
                    'adaptive pool modes, fractional (random on every call, '
                    'as the original; cannot compile with XLA) or even '
                    '(fixed, same sizes). Default: even with --jit_compile '
                    '(so on TPUs), else '
                    f'{_default(_LinearEval, "adaptive_pooling")}.')
flags.DEFINE_string('combine_patches', None, 'linear_eval: how patch '
                    'features combine, '
                    f'{_choices(linear_eval.mf.COMBINE_MODES)} (default '
                    f'{_default(_LinearEval, "combine_patches")}).')
flags.DEFINE_string('linear_eval_mode', _LINEAR_EVAL_MODES[0], 'linear_eval: '
                    'end_to_end (as the original) or cached (features '
                    'computed once, heads trained on them).')
flags.DEFINE_integer('cached_augment_passes', None, 'linear_eval cached: '
                     'extra passes over the training split with the '
                     'training preprocessing (default '
                     f'{_default(_LinearEval, "cached_augment_passes")}; one '
                     'pass with the evaluation preprocessing is always '
                     'made).')
flags.DEFINE_string('knn_end_points', None, 'linear_eval cached: end points '
                    'also evaluated by weighted k-nearest neighbours '
                    '(comma-separated, "all", or "" for none; default '
                    f'{_default(_LinearEval, "knn_end_points")}).')
flags.DEFINE_integer('knn_k', None, 'linear_eval cached: neighbours per kNN '
                     f'vote (default {_default(_LinearEval, "knn_k")}).')
flags.DEFINE_float('knn_temperature', None, 'linear_eval cached: kNN vote '
                   'weight is exp(cosine similarity / this) (default '
                   f'{_default(_LinearEval, "knn_temperature")}).')
flags.DEFINE_integer('rot_loss_sup', None, 'S4L-Rotation: 1 to train '
                     'rotation on the labelled images too (default '
                     f'{_default(_S4LRotation, "rot_loss_sup")}).')
flags.DEFINE_integer('rot_loss_unsup', None, 'S4L-Rotation: 1 to train '
                     'rotation on the unlabelled images (default '
                     f'{_default(_S4LRotation, "rot_loss_unsup")}).')
flags.DEFINE_float('rot_loss_weight', None, 'S4L-Rotation: weight of the '
                   'rotation loss (default '
                   f'{_default(_S4LRotation, "rot_loss_weight")}).')
flags.DEFINE_integer('triplet_loss_sup', None, 'S4L-Exemplar: 1 for the '
                     'triplet loss on the labelled images (default '
                     f'{_default(_S4LExemplar, "triplet_loss_sup")}).')
flags.DEFINE_integer('triplet_loss_unsup', None, 'S4L-Exemplar: 1 for the '
                     'triplet loss on the unlabelled images (default '
                     f'{_default(_S4LExemplar, "triplet_loss_unsup")}).')
flags.DEFINE_float('triplet_loss_weight', None, 'S4L-Exemplar: weight of the '
                   'triplet loss (default '
                   f'{_default(_S4LExemplar, "triplet_loss_weight")}).')
flags.DEFINE_integer('triplet_embed_dim', None, 'S4L-Exemplar: embedding '
                     'width (default '
                     f'{_default(_S4LExemplar, "triplet_embed_dim")}).')
flags.DEFINE_string('triplet_labels', None, 'S4L-Exemplar: "intended" '
                    '(crops of an image are one identity) or "original" '
                    '(the original\'s swapped grouping, SPEC C4.1) (default '
                    f'{_default(_S4LExemplar, "triplet_labels")}).')
flags.DEFINE_float('vat_eps', None, 'VAT: L2 norm of the perturbation per '
                   f'example (default {_default(_VAT, "vat_eps")}).')
flags.DEFINE_integer('vat_num_power_method_iters', None, 'VAT: power '
                     'iterations for the adversarial direction (default '
                     f'{_default(_VAT, "vat_num_power_method_iters")}).')
flags.DEFINE_float('vat_weight', None, 'VAT: weight of the VAT loss '
                   f'(default {_default(_VAT, "vat_weight")}).')
flags.DEFINE_float('entmin_factor', None, 'VAT: weight of the entropy '
                   'minimisation loss (default '
                   f'{_default(_VAT, "entmin_factor")}).')
flags.DEFINE_bool('apply_vat_to_labeled', None, '--task vat: perturb the '
                  'labelled images too.')
flags.DEFINE_float('sup_weight', None, '--task rotation_vat: weight of '
                   'classification; rotation gets 1 - sup_weight - '
                   f'vat_weight (default {_default(_RotationVAT, "sup_weight")}'
                   ').')

# -- Network ----------------------------------------------------------------
flags.DEFINE_string('architecture', None, _choices(models.net_names()) + '.')
flags.DEFINE_integer('filters_factor', None, 'Width multiplier (default '
                     f'{_net_defaults("filters_factor")}).')
flags.DEFINE_bool('last_relu', None, 'Final ReLU before pooling (default '
                  f'{_net_defaults("last_relu")}).')
flags.DEFINE_string('mode', None, 'ResNet v1 or v2 (default '
                    f'{_net_defaults("mode")}).')
flags.DEFINE_float('weight_decay', None, 'L2 strength (default '
                   f'{_net_defaults("weight_decay")} for the networks, '
                   f'{_default(_LinearEval, "weight_decay")} for '
                   'linear-evaluation heads).')
flags.DEFINE_bool('sync_batch_norm', None, 'Batch-norm statistics over all '
                  'replicas instead of per replica (default '
                  f'{_net_defaults("sync_batch_norm")}).')

# -- Preprocessing ------------------------------------------------------------
flags.DEFINE_string('preprocessing', None, 'Preprocessing ops, comma- or '
                    '|-separated (S4L\'s syntax, with arguments such as '
                    'resize(224)): ' f'{_choices(preprocess.op_names())}. '
                    'S4L: of the unlabelled stream.')
flags.DEFINE_string('preprocessing_eval', None, 'Preprocessing in evaluation '
                    '(default: --preprocessing).')
flags.DEFINE_string('sup_preprocessing', None, 'Preprocessing of the labelled '
                    'stream (S4L; default: --preprocessing). With --task '
                    'rotation or exemplar it selects S4L-Rotation or '
                    'S4L-Exemplar.')
flags.DEFINE_string('sup_preprocessing_eval', None, 'Preprocessing of the '
                    'labelled stream in evaluation (default: '
                    '--sup_preprocessing).')
flags.DEFINE_string('resize_size', None, 'resize / inception sizes: "h,w" '
                    'or one number.')
flags.DEFINE_string('crop_size', None, 'crop sizes: "h,w" or one number.')
flags.DEFINE_integer('smaller_size', None, 'resize_small target side.')
flags.DEFINE_float('grayscale_probability', None, 'to_gray probability '
                   '(default '
                   f'{_op_default("to_gray", "grayscale_probability")}).')
flags.DEFINE_bool('randomize_resize_method', None, 'Random interpolation in '
                  'resize (training only).')
flags.DEFINE_integer('splits_per_side', None, 'crop_patches grid size.')
flags.DEFINE_integer('patch_jitter', None, 'crop_patches jitter in pixels '
                     '(default '
                     f'{_op_default("crop_patches", "patch_jitter")}).')
flags.DEFINE_integer('num_of_inception_patches', None, 'Crops per image of '
                     'crop_inception_preprocess_patches.')
flags.DEFINE_bool('legacy_resize', None, 'TF1 bilinear sampling (not '
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
flags.DEFINE_float('lr_decay_factor', None, 'Decay per boundary '
                   f'{_trainer("lr_decay_factor")}.')
flags.DEFINE_float('warmup_epochs', None, 'Linear warm-up length in epochs '
                   f'{_trainer("warmup_epochs")}.')
flags.DEFINE_string('optimizer', None,
                    f'{_choices(optimization.OPTIMIZERS.names())} '
                    '(sgd: TF1 momentum 0.9; adam: TF1 defaults) '
                    f'{_trainer("optimizer")}.')
flags.DEFINE_string('schedule', None, 'S4L\'s schedule in epochs: '
                    '"warmup,decay1,...,decayK,end", instead of --epochs, '
                    '--decay_epochs and --warmup_epochs.')

# -- Export -------------------------------------------------------------------
flags.DEFINE_string('serving_input_key', None, 'Input key of the hub '
                    'module signatures '
                    f'{_trainer("serving_input_key")}.')
flags.DEFINE_string('serving_input_shape', None, 'Input shape of the hub '
                    f'module {_trainer("serving_input_shape")}.')

FLAGS = flags.FLAGS

# Flags defined in this file.
_OWN_FLAGS = frozenset(FLAGS) - _ABSL_FLAGS

# --lr_scale_batch_size may be left out: no scaling (SPEC C4.6). --epochs
# may come from --schedule.
_REQUIRED = ('workdir', 'dataset', 'task', 'batch_size', 'lr',
             'preprocessing')

# What the entry point hands to the owners itself, rather than a flag.
ENTRY_TASK_ARGS = ('num_classes', 'net_kwargs')
ENTRY_TRAINER_ARGS = ('loss_scaling', 'host_dtype')
# Network options the tasks set themselves (the patch networks' strides).
TASK_NET_ARGS = tuple(patch_utils.PATCH_NET_OVERRIDES)


@dataclasses.dataclass(frozen=True)
class Config:
  """Every flag of one run, as given (None: unset, the owner's default)."""
  values: tuple[tuple[str, Any], ...]

  def __getattr__(self, name):
    for key, value in self.values:
      if key == name:
        return value
    raise AttributeError(name)

  def as_dict(self) -> dict[str, Any]:
    return dict(self.values)

  def given(self, names) -> dict[str, Any]:
    """The set values among `names` (unset ones are left out)."""
    values = self.as_dict()
    return {n: values[n] for n in names
            if n in values and values[n] is not None}


def make_config() -> Config:
  """Turns the parsed flags into the frozen configuration.

  Only what no owner checks is checked here: required flags, the flags
  whose values this module interprets, and the batch sizes.

  Raises:
    utils.UsageError: naming the flag.
  """
  values = {name: FLAGS[name].value for name in _OWN_FLAGS}
  missing = [f'--{n}' for n in _REQUIRED if values.get(n) is None]
  if missing:
    raise utils.UsageError(f'Missing required flag(s): {", ".join(missing)}.')
  for name in ('workdir', 'dataset_dir', 'hub_module'):
    if values[name]:
      values[name] = os.path.expanduser(values[name])
  if values['jit_compile'] is None:
    values['jit_compile'] = values['use_tpu']
  if values['jit_compile']:
    if values['adaptive_pooling'] == 'fractional':
      raise utils.UsageError(
          '--adaptive_pooling fractional cannot compile with XLA (no '
          'FractionalMaxPool kernel), which --jit_compile (on by default '
          'with --use_tpu) turns on; use --adaptive_pooling even.')
    if values['adaptive_pooling'] is None:
      values['adaptive_pooling'] = 'even'
  if values['tpu_name'] is None:
    values['tpu_name'] = os.environ.get('TPU_NAME') or None
  _resolve_schedule(values)
  _resolve_timeout(values)
  if values['decay_epochs'] is not None:
    try:
      values['decay_epochs'] = [float(x) for x in values['decay_epochs']]
    except ValueError:
      raise utils.UsageError(
          f'--decay_epochs must be numbers, got '
          f'{",".join(values["decay_epochs"])}.') from None
  if values['serving_input_shape'] is not None:
    values['serving_input_shape'] = utils.str2intlist(
        values['serving_input_shape'], name='serving_input_shape')
  for name in ('batch_size', 'eval_batch_size'):
    if values[name] is not None and values[name] <= 0:
      raise utils.UsageError(f'--{name} must be positive, got '
                             f'{values[name]}.')
  if values['linear_eval_mode'] not in _LINEAR_EVAL_MODES:
    raise utils.UsageError(
        f'Unknown --linear_eval_mode {values["linear_eval_mode"]!r}. Valid '
        f'choices: {", ".join(_LINEAR_EVAL_MODES)}.')
  return Config(tuple(sorted(values.items())))


def _resolve_schedule(values: dict[str, Any]) -> None:
  """S4L's --schedule "warmup,decay...,end" into the revisiting flags."""
  schedule = values.pop('schedule')
  if schedule is None:
    if values['epochs'] is None:
      raise utils.UsageError('Missing required flag(s): --epochs (or '
                             '--schedule).')
    return
  given = [f'--{n}' for n in ('epochs', 'decay_epochs', 'warmup_epochs')
           if values[n] is not None]
  if given:
    raise utils.UsageError(
        f'--schedule sets the training length, warm-up and decays; drop '
        f'{", ".join(given)}.')
  try:
    entries = [float(x) for x in schedule.split(',')]
  except ValueError:
    raise utils.UsageError(
        f'--schedule must be comma-separated numbers of epochs '
        f'("warmup,decay1,...,end"), got {schedule!r}.') from None
  if len(entries) < 2 or any(b < a for a, b in zip(entries, entries[1:])):
    raise utils.UsageError(
        f'--schedule needs at least a warm-up and an end, in non-decreasing '
        f'order ("warmup,decay1,...,end"), got {schedule!r}.')
  values['warmup_epochs'] = entries[0]
  values['decay_epochs'] = [str(e) for e in entries[1:-1]] or None
  values['epochs'] = entries[-1]
  values['schedule'] = schedule


def _resolve_timeout(values: dict[str, Any]) -> None:
  minutes = values.pop('eval_timeout_mins')
  if minutes is not None:
    if values['eval_timeout_secs'] is not None:
      raise utils.UsageError(
          'Give --eval_timeout_secs or --eval_timeout_mins, not both.')
    values['eval_timeout_secs'] = 60.0 * minutes


def check_workdir(workdir: str) -> None:
  """Creates the workdir if needed and checks that it can be written."""
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


def trainer_config(config: Config, **resolved: Any
                   ) -> trainer_lib.TrainerConfig:
  """`TrainerConfig` from the set flags and the values resolved here."""
  fields = [f.name for f in dataclasses.fields(trainer_lib.TrainerConfig)]
  values = config.given(fields)
  for name in ('decay_epochs', 'serving_input_shape'):
    if name in values:
      values[name] = tuple(values[name])
  values.update(resolved)
  return trainer_lib.TrainerConfig(**values)


def task_class(config: Config) -> type[tasks.Task]:
  """The task `--task` names; S4L's form with a labelled stream's flags."""
  name = config.task
  if config.sup_preprocessing is not None:
    semi = tasks.semi_supervised_task_name(name)
    if semi != name:
      logging.info('--task %s with --sup_preprocessing: %s.', name, semi)
      name = semi
  return tasks.get_task_class(name)


def make_streams(config: Config, task_cls: type[tasks.Task],
                 subset: label_subsets.LabelSubset | None
                 ) -> dict[str, input_streams.InputStream]:
  """The task's input streams from the preprocessing and subset flags.

  The unlabelled stream reads --preprocessing(_eval); the labelled one
  --sup_preprocessing(_eval), or the former for a task without an
  unlabelled stream (the supervised baseline).

  Raises:
    utils.UsageError: for a flag the task has no stream for.
  """
  names = tuple(task_cls.input_streams)
  two = len(names) > 1
  op_args = config.given(preprocess.op_arg_names())
  task = task_cls._registered_name  # pylint: disable=protected-access
  unused = []
  if input_streams.LABELLED not in names:
    if config.sup_preprocessing is not None:
      unused.append('--sup_preprocessing')
    if subset is not None:
      unused.append('a labelled subset')
  if unused:
    raise utils.UsageError(
        f'--task {task} reads the stream(s) {", ".join(names)}, on which '
        f'{" and ".join(unused)} would have no effect.')
  if config.unsup_batch_mult is not None and not two:
    # S4L's supervised configs set it for the unlabelled stream they never
    # use; that stream is not built at all (SPEC C4.7).
    logging.info('--task %s reads one stream; --unsup_batch_mult is unused.',
                 task)
  streams = {}
  for name in names:
    if name == input_streams.LABELLED and (two or config.sup_preprocessing):
      train, evaluation = config.sup_preprocessing, (
          config.sup_preprocessing_eval)
    else:
      train, evaluation = config.preprocessing, config.preprocessing_eval
    pipeline = preprocess.build_pipeline(
        train, eval_preprocessing=evaluation,
        device_ops=task_cls.device_ops, **op_args)
    extra = {}
    if name == input_streams.LABELLED and subset is not None:
      extra = {'keep_ids': subset.ids, 'cache': bool(config.cache_dataset)}
    if name == input_streams.UNLABELLED and two and (
        config.unsup_batch_mult is not None):
      extra = {'batch_mult': config.unsup_batch_mult}
    streams[name] = input_streams.InputStream(pipeline, **extra)
  return streams


def build_trainer(config: Config) -> tuple[
    trainer_lib.Trainer, label_subsets.LabelSubset | None]:
  """Validates the data and builds the strategy, task and trainer.

  Returns:
    The trainer and the labelled subset (None: every label).
  """
  # Names first: they are cheap to check and the commonest mistakes.
  task_cls = task_class(config)
  data = datasets.get_dataset(
      config.dataset, config.dataset_dir,
      **config.given(['pseudo_label_key', 'original_label_key']))
  splits = [config.val_split] if config.run_eval else [config.train_split,
                                                      config.val_split]
  if config.run_eval and config.test_split:
    splits.append(config.test_split)
  for split in dict.fromkeys(splits):
    data.check(split)
  subset = label_subsets.choose(
      data, config.train_split, workdir=config.workdir,
      **config.given(['filename_list_template', 'num_supervised_examples',
                      'labels_per_class', 'label_fraction',
                      'label_subset_seed']))
  if (subset is not None and config.filename_list_template is not None and
      config.train_split != 'trainval'):
    logging.warning('The label list %s names training images; with '
                    '--train_split %s some may not be in the split.',
                    subset.path, config.train_split)
  streams = make_streams(config, task_cls, subset)

  if config.random_seed is not None:
    keras.utils.set_random_seed(config.random_seed)
    tf.config.experimental.enable_op_determinism()
  strategy = distribution.make_strategy(
      use_tpu=config.use_tpu, tpu_name=config.tpu_name, master=config.master,
      num_gpus=config.num_gpus, tf_config=os.environ.get('TF_CONFIG'))
  loss_scaling = False
  resolved = {}
  if config.mixed_precision:
    on_gpu = (not config.use_tpu and
              bool(tf.config.list_logical_devices('GPU')))
    keras.mixed_precision.set_global_policy(
        'mixed_float16' if on_gpu else 'mixed_bfloat16')
    loss_scaling = on_gpu
    if not on_gpu:
      # The trunk's first layer casts its input to bfloat16 anyway: the host
      # sends it so (same values, half the traffic; `Task.host_cast`).
      resolved['host_dtype'] = 'bfloat16'

  task_values = config.given(config.as_dict())
  task_values['num_classes'] = data.num_classes
  task_values['net_kwargs'] = config.given(models.NET_KWARGS)
  task_kwargs = utils.matching_kwargs(task_cls, task_values)
  trainer = trainer_lib.Trainer(
      trainer_config(config, jit_compile=config.jit_compile,
                     loss_scaling=loss_scaling, **resolved),
      task_factory=lambda: task_cls(**task_kwargs),
      data_source=data, strategy=strategy, streams=streams)
  return trainer, subset


def run(config: Config) -> dict[str, Any]:
  """Runs the job the configuration describes; returns its results."""
  logging.info('Working directory: %s', config.workdir)
  if not config.dry_run:
    check_workdir(config.workdir)
  trainer, subset = build_trainer(config)
  trainer.build()
  trainer.check_serving_shape()
  if config.dry_run:
    num_params = sum(int(tf.size(v)) for v in trainer.task.trainable_variables)
    summary = {
        'config': _jsonable(config.as_dict()),
        'trainer': _jsonable(dataclasses.asdict(trainer.config)),
        'trainable_parameters': num_params,
        'steps_per_epoch': trainer.schedule.steps_per_epoch,
        'total_steps': trainer.schedule.total_steps,
        'base_lr': trainer.schedule.base_lr,
        'warmup_steps': trainer.schedule.warmup_steps,
        'decay_boundaries': list(trainer.schedule.boundaries),
        'replicas': trainer.num_replicas,
        'task': trainer.task.name,
        'streams': {name: {'batch': batch} for name, batch in
                    trainer.train_batches.items()},
        'labelled_examples': len(subset.ids) if subset else None,
    }
    print(json.dumps(summary, indent=2, sort_keys=True))
    return summary
  if subset is not None:
    logging.info('Labelled subset: %d examples (%s).', len(subset.ids),
                 subset.path)
    if subset.write and trainer.is_chief:
      label_subsets.write(subset.path, subset.ids)
  name = ('eval_config.json' if config.run_eval or config.export_only
          else 'config.json')
  if trainer.is_chief:
    with tf.io.gfile.GFile(os.path.join(config.workdir, name), 'w') as f:
      json.dump(_jsonable(config.as_dict()), f, indent=2, sort_keys=True)
  if config.export_only:
    trainer.restore()
    return {'module': trainer.export()}
  if config.task == 'linear_eval' and config.linear_eval_mode == 'cached':
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
  try:
    config = make_config()
    run(config)
  except (utils.UsageError, utils.RunAbortedError) as e:
    # A mistake, a diverged run or a lost worker is not a bug: say what
    # happened and where, without a trace.
    logging.flush()
    sys.exit(f'Error: {e}')


def run_cli() -> None:
  """The `revisiting-ssl` command: `python train_and_eval.py` installed."""
  cli.run(main, __name__)


if __name__ == '__main__':
  run_cli()
