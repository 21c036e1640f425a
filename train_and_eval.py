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
to the data set, the preprocessing, the task, the network and the trainer.

The flags are the entry point's own (defined here, with their help) and the
options the registered tasks, networks and preprocessing ops declare in
their signatures (`run_options`), so each option's default and help are
written once, by its owner. A flag that is not given is left out, so its
owner's default applies; a flag that is given but read by none of the
run's components is an error before any work. `--import` brings the user's
own modules, whose tasks and networks add their options the same way. The
Python API (`api.py`) runs the same `make_config` and `run` on a private
set of flags.

Train:      python train_and_eval.py --task rotation ... --workdir W
Preempted:  a SIGTERM saves the step and exits with status 75; the same
            command resumes there.
Evaluate:   the same command with --run_eval (follows the checkpoints of W,
            evaluates each on --val_split and exports a hub module for it).
Check:      the same command with --dry_run (validates the flags and data,
            builds the network, prints the resolved configuration).
"""

from collections.abc import Iterable, Mapping, Sequence
import dataclasses
import importlib
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
if __name__ == '__main__':
  from revisiting_ssl import cli as _cli  # noqa: PLC0415
  _cli.start_tensorflow()  # Quietly, before the imports below load it.

from absl import flags, logging
import keras
import tensorflow as tf

from revisiting_ssl import (
  cli,
  datasets,
  entry_flags,
  models,
  preprocess,
  run_options,
  self_supervision,  # noqa: F401  (registers the tasks)
  utils,
)
from revisiting_ssl import options as options_lib
from revisiting_ssl import trainer as trainer_lib
from revisiting_ssl.data_sources import label_subsets
from revisiting_ssl.probes import linear_eval_cached
from revisiting_ssl.self_supervision import self_supervision_lib as tasks
from revisiting_ssl.training import distribution, input_streams, preemption


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


def flag_values(fv: flags.FlagValues) -> tuple[dict[str, Any], set[str]]:
  """(every option's value, the names set on the command line) of `fv`."""
  names = entry_flags.option_names()
  return ({name: fv[name].value for name in names},
          {name for name in names if fv[name].present})


def make_config(values: Mapping[str, Any], given: Iterable[str] = (), *,
                prefix: str = '--') -> Config:
  """Turns the options' values into the frozen configuration.

  Only what no owner checks is checked here: required options, the options
  whose values this module interprets, the batch sizes, and that every
  given option is read by a component this run uses.

  Args:
    values: every option's value (`flag_values`), None for unset.
    given: the options the user set.
    prefix: how options are named in errors ('--' on the command line).

  Raises:
    utils.UsageError: naming the option.
  """
  values = dict(values)
  values.pop('import', None)
  missing = [f'--{n}' for n in entry_flags.REQUIRED if values.get(n) is None]
  if missing:
    raise utils.UsageError(f'Missing required flag(s): {", ".join(missing)}.')
  _check_read(values, set(given) - {'import'}, prefix)
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
  if values['linear_eval_mode'] not in entry_flags.LINEAR_EVAL_MODES:
    raise utils.UsageError(
        f'Unknown --linear_eval_mode {values["linear_eval_mode"]!r}. Valid '
        f'choices: {", ".join(entry_flags.LINEAR_EVAL_MODES)}.')
  return Config(tuple(sorted(values.items())))


def _check_read(values: Mapping[str, Any], given: set[str],
                prefix: str) -> None:
  """Fails on a given option that no component of this run reads."""
  name = _task_name(values['task'], values['sup_preprocessing'])
  task_cls = tasks.get_task_class(name)
  components = run_options.chosen(
      task=name, architecture=values['architecture'],
      preprocessing=[values[n] for n in (
          'preprocessing', 'preprocessing_eval', 'sup_preprocessing',
          'sup_preprocessing_eval')])
  labelled = [n for n in tasks.task_names() if input_streams.LABELLED in
              tasks.get_task_class(n).input_streams]
  # Who reads the entry point's groups that not every run reads.
  readers = {'labelled subset': f'the tasks with labelled images '
                                f'({", ".join(labelled)})',
             'linear evaluation': 'task linear_eval'}
  reads = {'labelled subset': input_streams.LABELLED in task_cls.input_streams,
           'linear evaluation': name == 'linear_eval'}
  entry, unread = [], []
  for group, names in entry_flags.ENTRY_GROUPS.items():
    owner = options_lib.Component('', readers.get(group, group),
                                  dict.fromkeys(names))
    (entry if reads.get(group, True) else unread).append(owner)
  if run_options.takes_network(name) and values['architecture'] is None:
    raise utils.UsageError(
        f'--architecture is required for --task {name}. Valid choices: '
        f'{", ".join(models.net_names())}.')
  run_options.check(given, components, entry, unread, prefix=prefix)


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


def _task_name(task: str, sup_preprocessing: str | None) -> str:
  """The task `--task` names; S4L's form with a labelled stream's flags."""
  if sup_preprocessing is not None:
    return tasks.semi_supervised_task_name(task)
  return task


def task_class(config: Config) -> type[tasks.Task]:
  """The task `--task` names; S4L's form with a labelled stream's flags."""
  name = _task_name(config.task, config.sup_preprocessing)
  if name != config.task:
    logging.info('--task %s with --sup_preprocessing: %s.', config.task,
                 name)
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
    # use; that stream is not built at all.
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
  else:
    # The policy is process-wide: an earlier run in this process (the
    # Python API) may have left mixed precision on.
    keras.mixed_precision.set_global_policy('float32')

  task_kwargs = config.given(run_options.task_component(
      task_cls._registered_name).options)  # pylint: disable=protected-access
  entry_args = {'num_classes': data.num_classes}
  if config.architecture is not None:
    entry_args['network'] = models.Network(
        config.architecture, **config.given(models.net_options(
            config.architecture)))
  task_kwargs.update(utils.matching_kwargs(task_cls, entry_args))
  trainer = trainer_lib.Trainer(
      trainer_config(config, jit_compile=config.jit_compile,
                     loss_scaling=loss_scaling, **resolved),
      task_factory=lambda: task_cls(**task_kwargs),
      data_source=data, strategy=strategy, streams=streams)
  return trainer, subset


def _checked_trainer(config: Config) -> tuple[
    trainer_lib.Trainer, label_subsets.LabelSubset | None]:
  """Checks the working directory, the data and the task; builds them.

  A check that fails leaves no new working directory behind: one this run
  created for its write check is removed again while it is empty.
  """
  created = not config.dry_run and not tf.io.gfile.exists(config.workdir)
  try:
    if not config.dry_run:
      check_workdir(config.workdir)
    trainer, subset = build_trainer(config)
    trainer.build()
    trainer.check_serving_shape()
  except (utils.UsageError, utils.RunAbortedError):
    if created and tf.io.gfile.isdir(config.workdir) and not (
        tf.io.gfile.listdir(config.workdir)):
      tf.io.gfile.rmtree(config.workdir)
    raise
  _log_hardware(config, trainer)
  return trainer, subset


def _log_hardware(config: Config, trainer: trainer_lib.Trainer) -> None:
  """The run's first lines: strategy, devices, precision, XLA."""
  strategy = trainer.strategy
  try:
    devices = list(strategy.extended.worker_devices)
  except RuntimeError:  # The default strategy: TensorFlow's placement.
    gpus = tf.config.list_logical_devices('GPU')
    devices = [(gpus or tf.config.list_logical_devices('CPU'))[0].name]
  virtual = trainer.config.virtual_replicas
  logging.info(
      'Strategy %s: %d replica(s) on %s%s; %s precision; XLA %s.',
      type(strategy).__name__.lstrip('_'), trainer.num_replicas,
      ', '.join(devices),
      f', {virtual} virtual replicas each' if virtual > 1 else '',
      keras.mixed_precision.global_policy().name,
      'on' if config.jit_compile else 'off')


def run(config: Config) -> dict[str, Any]:
  """Runs the job the configuration describes; returns its results."""
  logging.info('Working directory: %s', config.workdir)
  trainer, subset = _checked_trainer(config)
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
    config = make_config(*flag_values(flags.FLAGS))
    run(config)
  except preemption.Preempted as e:
    # Not a failure: the same command continues the run.
    logging.flush()
    print(e, file=sys.stderr, flush=True)
    sys.exit(preemption.PREEMPTED_EXIT_CODE)
  except (utils.UsageError, utils.RunAbortedError) as e:
    # A mistake, a diverged run or a lost worker is not a bug: say what
    # happened and where, without a trace.
    logging.flush()
    sys.exit(f'Error: {e}')


def import_user_modules(names: Iterable[str]) -> None:
  """Imports the user's modules, which register their components.

  Raises:
    utils.UsageError: naming a module that cannot be imported.
  """
  for name in names:
    try:
      importlib.import_module(name)
    except ImportError as e:
      raise utils.UsageError(f'--import {name}: {e}') from None


def imports_in(argv: Sequence[str]) -> list[str]:
  """The module names of every `--import` in `argv` (before parsing)."""
  found = []
  for i, arg in enumerate(argv):
    if arg == '--import' and i + 1 < len(argv):
      value = argv[i + 1]
    elif arg.startswith('--import='):
      value = arg.split('=', 1)[1]
    else:
      continue
    found += [name.strip() for name in value.split(',') if name.strip()]
  return found


def run_cli() -> None:
  """The `revisiting-ssl` command: `python train_and_eval.py` installed."""
  try:
    import_user_modules(imports_in(sys.argv))
  except utils.UsageError as e:
    sys.exit(f'Error: {e}')
  entry_flags.define_flags(flags.FLAGS)
  cli.run(main, __name__,
          help_text=lambda: entry_flags.help_text(flags.FLAGS))


if __name__ == '__main__':
  run_cli()
