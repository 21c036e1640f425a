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

"""The entry point's flags: its own, and the options of the registries.

`define_flags` defines, on a given set of flags, the job, hardware, data,
optimisation, evaluation and export flags with their help (the original's
names and effective defaults), then one flag per option that a registered
task, network or preprocessing op declares (`run_options`), with its
owner's description and default None (unset: the owner's default).
`help_text` is `--help`, grouped by what reads each flag. Only
`train_and_eval.py` reads the values.
"""

from collections.abc import Callable
import functools
import inspect
import textwrap
from typing import Any

from absl import flags

from revisiting_ssl import cli, datasets, models, preprocess, run_options
from revisiting_ssl import options as options_lib
from revisiting_ssl import trainer as trainer_lib
from revisiting_ssl.data_sources import label_subsets
from revisiting_ssl.self_supervision import self_supervision_lib as tasks
from revisiting_ssl.training import input_streams, optimization


def _default(owner: Callable[..., Any], name: str) -> str:
  """The default of `owner`'s argument `name`, as help texts show it."""
  return options_lib.shown(inspect.signature(owner).parameters[name].default)


def _trainer(name: str) -> str:
  return f'(default {_default(trainer_lib.TrainerConfig, name)})'


def _choices(names) -> str:
  return ', '.join(names)


LINEAR_EVAL_MODES = ('end_to_end', 'cached')
_USAGE = """\
Trains, evaluates and exports self-supervised models.

  python train_and_eval.py --task T --dataset D --workdir W [flags]
  revisiting-ssl --task T ...            (the same, installed)
  ... --run_eval      evaluate and export every checkpoint of W
  ... --export_only   export the latest checkpoint as a hub module
  ... --dry_run       check the flags and data, print the configuration
  ... --import M      use the tasks and networks your module M registers

The configs in config/ hold each recipe's flags. Flags by what reads them;
a flag that this run's task, network or preprocessing does not read is an
error, not ignored."""

# The entry point's own options by group, as `--help` shows them; the
# tasks', networks' and preprocessing ops' options come from their
# registries (`run_options`). A group is read by every run, except the
# labelled subset's (tasks with a labelled stream) and linear
# evaluation's.
ENTRY_GROUPS = {
    'job': ('workdir', 'run_eval', 'dry_run', 'export_only', 'task',
            'architecture', 'random_seed', 'import', 'enable_sup_data'),
    'hardware': ('use_tpu', 'tpu_name', 'master', 'tpu_worker_name',
                 'num_gpus', 'virtual_replicas', 'jit_compile',
                 'mixed_precision', 'iterations_per_loop'),
    'data': ('dataset', 'dataset_dir', 'train_split', 'val_split',
             'test_split', 'batch_size', 'eval_batch_size',
             'eval_drop_remainder', 'skip_corrupt_examples',
             'pseudo_label_key', 'original_label_key', 'unsup_batch_mult',
             'preprocessing', 'preprocessing_eval'),
    'labelled subset': ('filename_list_template', 'num_supervised_examples',
                        'labels_per_class', 'label_fraction',
                        'label_subset_seed', 'cache_dataset',
                        'sup_preprocessing', 'sup_preprocessing_eval'),
    'optimisation': ('lr', 'lr_scale_batch_size', 'lr_scaling', 'epochs',
                     'decay_epochs', 'lr_decay', 'lr_decay_factor',
                     'warmup_epochs', 'optimizer',
                     'schedule', 'polyak_averaging', 'polyak_half_life',
                     'path_to_initial_ckpt',
                     'vars_to_restore'),
    'checkpoints and evaluation': (
        'keep_checkpoint_max', 'keep_checkpoint_every_n_hours',
        'save_checkpoints_secs', 'save_checkpoints_steps',
        'eval_timeout_secs', 'eval_timeout_mins', 'eval_every_checkpoint',
        'eval_raw_weights', 'summary_images'),
    'linear evaluation': ('linear_eval_mode',),
    'export': ('serving_input_key', 'serving_input_shape', 'keep_exports'),
}


def define_flags(fv: flags.FlagValues) -> None:
  """Defines every flag on `fv`: the entry point's and the registries'.

  Call after the user's modules (`--import`) are imported, so that their
  tasks and networks bring their options. The entry point's flags keep the
  original's names and effective defaults; an option of a task, network or
  op has the default None (unset: its owner's default) and its owner's
  description.
  """
  string, integer, boolean, real, listing = (
      functools.partial(definer, flag_values=fv) for definer in (
          flags.DEFINE_string, flags.DEFINE_integer, flags.DEFINE_bool,
          flags.DEFINE_float, flags.DEFINE_list))
  # -- Job ---------------------------------------------------------------------
  string('workdir', None, 'Where checkpoints, summaries, '
         'evaluation results and hub exports are written.')
  boolean('run_eval', False, 'Evaluate and export every checkpoint '
          'of --workdir instead of training.')
  boolean('dry_run', False, 'Validate the flags and data, build the '
          'network, print the resolved configuration and exit.')
  boolean('export_only', False, 'Export a hub module of the latest '
          'checkpoint of --workdir (of the initial weights if there '
          'is none) and exit.')
  boolean('use_tpu', True, 'Run on the TPU named by --tpu_name or '
          '$TPU_NAME. --nouse_tpu runs on the CPU or GPUs.')
  string('tpu_name', None, 'The TPU to use (falls back to '
         '$TPU_NAME; "local" on a TPU VM).')
  string('master', None, 'Accepted for the original README\'s '
         'command line; a grpc:// address names the TPU.')
  string('tpu_worker_name', 'tpu_worker', 'TPU job name (kept for '
         'compatibility; tf.distribute does not need it).')
  integer('num_gpus', 1, 'GPUs to train on with MirroredStrategy '
          'when > 1.')
  integer('iterations_per_loop', None, 'Training steps run inside '
          'one compiled call (and between log lines) '
          f'{_trainer("iterations_per_loop")}.')
  integer('virtual_replicas', None, 'Run the per-replica '
          'computations (batch-norm statistics, exemplar\'s '
          'normalisation and triplet loss, jigsaw\'s permutation '
          'subsets) on this many groups of each device\'s batch, '
          'so that fewer devices compute what more TPU cores '
          'would with the same global batch: 8 on one GPU for a '
          'v3-8 recipe '
          f'{_trainer("virtual_replicas")}.')
  boolean('jit_compile', None, 'Compile steps with XLA. Default: on '
          'for TPU, off otherwise (XLA is slower on CPUs).')
  boolean('mixed_precision', False, 'bfloat16 compute (float16 with '
          'loss scaling on GPUs), float32 variables.')
  integer('random_seed', None, 'Seed for initialisation, data '
          'order and augmentation; also turns on op determinism.')
  integer('keep_checkpoint_max', None, 'Most recent checkpoints '
          f'kept {_trainer("keep_checkpoint_max")}.')
  real('keep_checkpoint_every_n_hours', None, 'Also keep one '
       'checkpoint per this many hours '
       f'{_trainer("keep_checkpoint_every_n_hours")}.')
  integer('save_checkpoints_secs', None, 'Checkpoint cadence in '
          f'seconds {_trainer("save_checkpoints_secs")}.')
  integer('save_checkpoints_steps', None, 'Checkpoint cadence in '
          'steps (in addition to --save_checkpoints_secs).')
  real('eval_timeout_secs', None, 'With --run_eval, stop when no '
       'new checkpoint appears for this long '
       f'{_trainer("eval_timeout_secs")}.')
  boolean('eval_every_checkpoint', None, 'With --run_eval, also '
          'evaluate the checkpoints written while another was being '
          'evaluated, oldest first (after training: every kept '
          'checkpoint, a whole validation curve); by default only '
          'the newest, as the original.')
  boolean('eval_raw_weights', None, 'With --polyak_averaging: '
          'evaluate the trained weights instead of their averages, '
          'recording the rows of eval_results.csv under the split\'s '
          f'name + {trainer_lib.RAW_SUFFIX} (e.g. val'
          f'{trainer_lib.RAW_SUFFIX}), beside the averages\' rows.')
  integer('keep_exports', None, 'Hub modules kept under '
          f'<workdir>/export/hub {_trainer("keep_exports")}.')
  integer('summary_images', None, 'Input images per task view '
          'written to TensorBoard at the start of training '
          f'{_trainer("summary_images")}.')
  boolean('skip_corrupt_examples', None, 'Skip records whose image '
          'cannot be decoded (and count them) instead of failing.')
  integer('eval_timeout_mins', None, 'S4L\'s spelling of '
          '--eval_timeout_secs, in minutes.')
  boolean('polyak_averaging', None, 'Evaluate and export a moving '
          'average of the weights with a half-life of one epoch '
          '(S4L; the raw weights are exported too, as module_raw).')
  real('polyak_half_life', None, 'With --polyak_averaging: the '
       'averages\' half-life as a fraction of the training steps, '
       'in (0, 1]; S4L\'s one epoch was 0.005 of MOAM\'s 200 '
       '(default: one epoch, whatever the length).')
  string('path_to_initial_ckpt', None, 'Warm start: take the '
         'weights of a fresh run from this checkpoint (or the '
         'latest one of this directory).')
  string('vars_to_restore', None, 'Warm start: restore the '
         'variables whose checkpoint names match this regular '
         'expression from their start (default '
         f'{_default(trainer_lib.TrainerConfig, "vars_to_restore")}'
         ').')
  integer('enable_sup_data', None, 'Accepted for S4L\'s configs; '
          'it had no effect there either.')
  # -- Data --------------------------------------------------------------------
  string('dataset', None, _choices(datasets.names()) + '.')
  string('dataset_dir', None, 'Where the data set is (default for '
         'fashion_mnist: '
         f'{datasets.default_dataset_dir("fashion_mnist")}).')
  string('train_split', 'train', 'Split to train on.')
  string('val_split', 'val', 'Split to evaluate on.')
  integer('batch_size', None, 'Global training batch size.')
  integer('eval_batch_size', None, 'Global evaluation batch size '
          '(default: --batch_size).')
  boolean('eval_drop_remainder', None, 'Evaluate only whole '
          'global batches, as the original did (49,984 of 50,000 '
          'images with batch 32), to compare with published '
          'numbers; by default every example, exactly once.')
  string('test_split', None, 'With --run_eval, also evaluate the '
         'last checkpoint on this split (S4L).')
  string('filename_list_template', None, 'Labelled subset: S4L\'s '
         'list file, e.g. label_map_count_{}_index_0, formatted '
         'with --num_supervised_examples (looked up as given, then '
         'in data_sources/label_maps/).')
  integer('num_supervised_examples', None, 'Labelled subset: the '
          'number of examples of --filename_list_template.')
  integer('labels_per_class', None, 'Labelled subset: draw this '
          'many examples of every class of --train_split (written '
          'to the working directory).')
  real('label_fraction', None, 'Labelled subset: draw this '
       'fraction of --train_split, evenly over the classes.')
  integer('label_subset_seed', None, 'Seed of the drawn labelled '
          'subset (default '
          f'{_default(label_subsets.choose, "label_subset_seed")}'
          ').')
  string('pseudo_label_key', None, 'TFRecords of '
         'tools/generate_pseudo_labels.py: the feature holding the '
         'pseudo label; training then takes the true label of '
         'the labelled images and the pseudo label of the rest.')
  string('original_label_key', None, 'With --pseudo_label_key: '
         'the feature holding the true label.')
  boolean('cache_dataset', None, 'Keep the labelled subset\'s records '
          'in memory after the first epoch (S4L).')
  real('unsup_batch_mult', None, 'S4L: per-replica batch of the '
       'unlabelled stream = int(per-replica labelled batch * this) '
       '(default '
       f'{_default(input_streams.InputStream, "batch_mult")}).')
  # -- Task --------------------------------------------------------------------
  string('task', None, _choices(tasks.task_names()) + '.')
  string('linear_eval_mode', LINEAR_EVAL_MODES[0], 'linear_eval: '
         'end_to_end (as the original) or cached (features '
         'computed once, heads trained on them).')
  # -- Network -----------------------------------------------------------------
  string('architecture', None, _choices(models.net_names()) + '.')
  # -- Preprocessing -----------------------------------------------------------
  string('preprocessing', None, 'Preprocessing ops, comma- or '
         '|-separated (S4L\'s syntax, with arguments such as '
         'resize(224)): ' f'{_choices(preprocess.op_names())}. '
         'S4L: of the unlabelled stream.')
  string('preprocessing_eval', None, 'Preprocessing in evaluation '
         '(default: --preprocessing).')
  string('sup_preprocessing', None, 'Preprocessing of the labelled '
         'stream (S4L; default: --preprocessing). With --task '
         'rotation or exemplar it selects S4L-Rotation or '
         'S4L-Exemplar.')
  string('sup_preprocessing_eval', None, 'Preprocessing of the '
         'labelled stream in evaluation (default: '
         '--sup_preprocessing).')
  # -- Optimisation ------------------------------------------------------------
  real('lr', None, 'Base learning rate for a batch of '
       '--lr_scale_batch_size.')
  real('lr_scale_batch_size', None, 'Reference batch size of '
       '--lr (0: no scaling).')
  string('lr_scaling', None, 'How --lr scales with the batch size B: '
         'linear, --lr * B / --lr_scale_batch_size; sqrt, --lr * sqrt(B / '
         '--lr_scale_batch_size), SimCLR\'s --lr * sqrt(B) when that is '
         f'unset {_trainer("lr_scaling")}.')
  real('epochs', None, 'Training length in epochs (fractions '
       'allowed).')
  listing('decay_epochs', None, 'Epochs at which the learning rate '
          'decays (default: none within training).')
  string('lr_decay', None, 'The decay after the warm-up: piecewise, by '
         '--lr_decay_factor at each of --decay_epochs; cosine, along a '
         f'half cosine to 0 (SimCLR\'s) {_trainer("lr_decay")}.')
  real('lr_decay_factor', None, 'Decay per boundary '
       f'{_trainer("lr_decay_factor")}.')
  real('warmup_epochs', None, 'Linear warm-up length in epochs '
       f'{_trainer("warmup_epochs")}.')
  string('optimizer', None,
         f'{_choices(optimization.OPTIMIZERS.names())} '
         '(sgd: TF1 momentum 0.9; adam: TF1 defaults; lars: SimCLR\'s, '
         'momentum 0.9, eta 0.001, biases and batch norm not adapted) '
         f'{_trainer("optimizer")}.')
  string('schedule', None, 'S4L\'s schedule in epochs: '
         '"warmup,decay1,...,decayK,end", instead of --epochs, '
         '--decay_epochs and --warmup_epochs.')
  # -- Export ------------------------------------------------------------------
  string('serving_input_key', None, 'Input key of the hub '
         'module signatures '
         f'{_trainer("serving_input_key")}.')
  string('serving_input_shape', None, 'Input shape of the hub '
         f'module {_trainer("serving_input_shape")}.')
  listing('import', None, 'Your own modules to import before the flags are '
          'read (comma-separated dotted names, e.g. my_lab.tasks): the '
          'tasks, networks, data sets and ops they register are used by '
          'name, with their options as flags.')
  definers = {options_lib.BOOL: boolean, options_lib.INT: integer,
              options_lib.FLOAT: real, options_lib.STRING: string,
              options_lib.LIST: listing}
  merged = run_options.merged(run_options.registered())
  for name, (option, defaults) in sorted(merged.items()):
    if name in fv:
      continue  # An entry option that a component reads too.
    definers[option.kind](
        name, None, f'{option.help[:1].upper()}{option.help[1:]} (default '
        f'{defaults}).')


# --lr_scale_batch_size may be left out: no scaling. --epochs
# may come from --schedule.
REQUIRED = ('workdir', 'dataset', 'task', 'batch_size', 'lr',
             'preprocessing')
# What the entry point hands the trainer itself, rather than an option.
ENTRY_TRAINER_ARGS = ('loss_scaling', 'host_dtype')


def option_names() -> set[str]:
  """Every option of a run: the entry point's and the registries'."""
  return {name for names in ENTRY_GROUPS.values() for name in names} | set(
      run_options.merged(run_options.registered()))


def sections(fv: flags.FlagValues
             ) -> list[tuple[str, list[tuple[flags.Flag, bool]]]]:
  """(title, [(flag, required)]) by what reads the flags, as `--help`."""
  found = [(group.capitalize(), [(fv[name], name in REQUIRED)
                                 for name in names])
           for group, names in ENTRY_GROUPS.items()]
  shown = {name for names in ENTRY_GROUPS.values() for name in names}
  by_options: dict[tuple[str, ...], list[str]] = {}
  for component in run_options.registered():
    names = tuple(sorted(set(component.options) - shown))
    if names:
      key = (component.group, *names)
      by_options.setdefault(key, []).append(component.name)
  for (group, *names), owners in by_options.items():
    plural = 's' if len(owners) > 1 else ''
    found.append((f'{group.capitalize()}{plural} {", ".join(owners)}',
                  [(fv[name], False) for name in names]))
  return found


def help_text(fv: flags.FlagValues) -> str:
  """`--help`: the flags grouped by what reads them, required ones marked."""
  lines = [_USAGE, '']
  for title, entries in sections(fv):
    lines.append(textwrap.fill(f'{title}:', width=80, subsequent_indent='  '))
    lines += [cli.describe(flag, required=required)
              for flag, required in entries]
    lines.append('')
  return '\n'.join(lines)


def markdown(fv: flags.FlagValues) -> str:
  """The flag reference, `docs/flags.md`."""
  lines = ['# Flags', '',
           'Every flag of `train_and_eval.py` (and `revisiting-ssl`), grouped '
           'by what', 'reads it, as `--help` prints them. Generated from the '
           'code by', '`python -m revisiting_ssl.entry_flags > docs/flags.md`'
           '; a test fails when', 'this page is stale. A task\'s, '
           'network\'s or preprocessing op\'s option is', 'unset unless '
           'given, and then takes the default its owner states; a flag',
           'that the run does not read is an error.', '']
  for title, entries in sections(fv):
    lines += [f'## {title}', '', '| Flag | Default | Description |',
              '| --- | --- | --- |']
    for flag, required in entries:
      default = ('required' if required else '' if flag.default is None
                 else f'`{flag.default_as_str.strip(chr(39))}`')
      text = ' '.join(flag.help.split()).replace('|', '\\|')
      lines.append(f'| `--{flag.name}` | {default} | {text} |')
    lines.append('')
  return '\n'.join(lines)


if __name__ == '__main__':
  _values = flags.FlagValues()
  define_flags(_values)
  print(markdown(_values), end='')
