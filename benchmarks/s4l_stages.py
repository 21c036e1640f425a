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

"""The methods of benchmarks/s4l_fashion_mnist.py and their stages.

A stage is one training run with its evaluations, keyed in the ledger by
the method's key prefix, the fraction, the learning rate, any setting the
search changed from the config's own value and the seed. A method whose
config changes gets a new key prefix, so that the ledger never answers for
settings it did not measure; the old keys stay for the report's "before
the rescaling" section.
"""

import csv
import dataclasses
import os
import re

import comparison_network
import experiment
import fashion_mnist

# 0.3 was added after the first selection runs: S4L-Rotation's best rate was
# the grid's largest (0.1) at both fractions, so the optimum could lie beyond.
LRS = ('0.01', '0.03', '0.1', '0.3')
# MOAM step 3 fine-tunes a trained network: ImageNet's recipe runs at 1% of
# the supervised baseline's rate.
FINE_TUNING_LRS = ('0.0003', '0.001', '0.003', '0.01')
SEEDS = (0, 1, 2)
FRACTIONS = ('1p', '10p')


def beyond(lrs: tuple[str, ...]) -> tuple[str, ...]:
  """The two rates past a grid's largest, in its steps (1, 3, 10, ...).

  A search best at its largest rate tries them in turn (SimCLRv2's
  fine-tuning with LARS rose from 57% at 0.01 to 79% at 0.3 on 1%).
  """
  rates, last = [], float(lrs[-1])
  for _ in range(2):
    last *= 10 / 3 if f'{last:e}'.startswith('3') else 3
    rates.append(f'{last:.3g}')
  return tuple(rates)
CONFIG_DIR = os.path.join('config', 's4l_fashion_mnist')


@dataclasses.dataclass(frozen=True)
class Method:
  """How a method is trained and read.

  Attributes:
    config: its config's prefix, `CONFIG_DIR/<config>_<fraction>.sh`.
    metric: its class head's top-1 on unrotated, uncropped images.
    key: its stages' ledger prefix ('': `config`); a new one whenever the
      config's settings change.
    lrs: the rates its own search tries.
  """
  config: str
  metric: str
  key: str = ''
  lrs: tuple[str, ...] = LRS

  @property
  def key_prefix(self) -> str:
    return self.key or self.config


PSEUDO = 'Pseudo-labels'
STRONG_EXEMPLAR = 'S4L-Exemplar (exemplar crops on labels)'
MOAM_1, MOAM_2, MOAM_3 = 'MOAM step 1', 'MOAM step 2', 'MOAM step 3'
FINETUNE = 'SimCLRv2 fine-tune'
DISTIL = 'SimCLRv2 fine-tune + distil'
# In the seed README's order, each after what it needs.
METHODS = {
    'supervised': Method('supervised', 'top1_accuracy_logits'),
    'S4L-Rotation': Method('s4l_rotation', 'top1_accuracy_unrotated'),
    # The labelled images get the baseline's crops since the rescaling.
    'S4L-Exemplar': Method('s4l_exemplar', 'top1_accuracy_classes',
                           key='s4l_exemplar_baseline_crops'),
    # The settings S4L-Exemplar had before: its stages are those.
    STRONG_EXEMPLAR: Method('s4l_exemplar_strong_aug',
                            'top1_accuracy_classes', key='s4l_exemplar'),
    PSEUDO: Method('pseudo_labels', 'top1_accuracy_logits'),
    'VAT': Method('vat', 'top1_accuracy_classes'),
    'VAT + EntMin': Method('vat_entmin', 'top1_accuracy_classes'),
    MOAM_1: Method('moam_step_1', 'top1_accuracy_unrotated',
                   key='moam_step_1_rescaled'),
    MOAM_2: Method('moam_step_2', 'top1_accuracy_logits'),
    MOAM_3: Method('moam_step_3', 'top1_accuracy_logits',
                   lrs=FINE_TUNING_LRS),
    # SimCLRv2's recipe: fine-tuned from a SimCLR network pretrained on
    # every training image (one per seed, shared by the fractions), then
    # distilled into a student on every image.
    FINETUNE: Method('simclr_finetune', 'top1_accuracy_classes'),
    DISTIL: Method('simclr_distill', 'top1_accuracy_student'),
}
# The key prefixes of the stages before the configs took the original's
# ratios (MOAM step 1's learning rate, weight decay, schedule, batch and
# Polyak half-life; S4L-Exemplar's labelled crops), and of the methods'
# stages at their config's length, weight decay and perturbation norm
# (keys without settings): the report's "before" section.
BEFORE = {'supervised': 'supervised', 'S4L-Rotation': 's4l_rotation',
          'S4L-Exemplar': 's4l_exemplar', PSEUDO: 'pseudo_labels',
          'VAT': 'vat', 'VAT + EntMin': 'vat_entmin', MOAM_1: 'moam_step_1'}
# The trained model each method starts from, of the same seed (and the
# method whose chosen rate and settings that model used).
STARTS_FROM = {PSEUDO: 'supervised', MOAM_2: MOAM_1, MOAM_3: MOAM_2,
               DISTIL: FINETUNE}
# The output of a module that gives the class logits.
CLASS_OUTPUT = {'supervised': 'logits', MOAM_1: 'classes'}
(SIMCLR_ROW,) = [r for r in fashion_mnist.ROWS if r.name == 'simclr']


def config_path(method: str, fraction: str) -> str:
  return os.path.join(CONFIG_DIR,
                      f'{METHODS[method].config}_{fraction}.sh')


def config_value(method: str, fraction: str, flag: str) -> str:
  """The value a method's config gives `--flag` (quotes removed)."""
  with open(os.path.join(experiment.REPO, config_path(method, fraction))
            ) as f:
    found = re.findall(rf'--{flag} (\S+)', f.read())
  if not found:
    raise ValueError(f'{config_path(method, fraction)} sets no --{flag}.')
  return found[-1].strip('\'"')


def _schedule(method: str, fraction: str) -> str | None:
  try:
    return config_value(method, fraction, 'schedule')
  except ValueError:
    return None  # A config of --epochs and a decay shape (cosine).


def config_epochs(method: str, fraction: str) -> float:
  """The training length of a method's config (its schedule's last epoch)."""
  schedule = _schedule(method, fraction)
  if schedule is None:
    return float(config_value(method, fraction, 'epochs'))
  return float(schedule.split(',')[-1])


def stretched_schedule(method: str, fraction: str, epochs: str) -> str:
  """The config's `--schedule` (warm-up, decays, end) scaled to `epochs`."""
  factor = float(epochs) / config_epochs(method, fraction)
  return ','.join(f'{float(b) * factor:g}' for b in config_value(
      method, fraction, 'schedule').split(','))


def length_flag(method: str, fraction: str, epochs: str) -> list[str]:
  """The flag that trains a method's config for `epochs` in its shape."""
  if _schedule(method, fraction) is None:
    return ['--epochs', epochs]
  return ['--schedule', stretched_schedule(method, fraction, epochs)]


def settings_text(settings) -> str:
  """'_vat_eps2_epochs40': the settings as written in ledger keys."""
  return ''.join(f'_{flag}{value}' for flag, value in settings)


def read_results(workdir: str) -> dict[str, dict[str, str]]:
  """Split name -> the last row of `eval_results.csv` for it."""
  rows = {}
  path = os.path.join(workdir, 'eval_results.csv')
  if os.path.exists(path):
    with open(path) as f:
      for row in csv.DictReader(f):
        rows[row['split']] = row
  return rows


class Stage:
  """One training run and its evaluations, done once, timed, resumable.

  What it measured (the rows of `eval_results.csv`, the seconds of each
  step) goes to the ledger as soon as it is known; a stage the ledger
  knows is not run again, even when its workdir is gone.
  """

  def __init__(self, args, method, fraction, lr, seed, settings=(), *,
               key=None, python_path=None):
    """A stage of `method`.

    Args:
      args: the driver's arguments (`workdir`, `ledger`, `chosen`, ...).
      method: a name of METHODS.
      fraction: '1p' or '10p'.
      lr: the learning rate, as written in keys.
      seed: the run's seed (and its labelled subset's).
      settings: (flag, value) pairs given beyond the config's; each is in
        the key too. ('epochs', N) trains N epochs (`length_flag`).
      key: the ledger key instead (a control's, whose settings are many).
      python_path: PYTHONPATH of its commands, relative to the repository
        (where an `--import` of the settings finds its module).
    """
    spec = METHODS[method]
    self.metric = spec.metric
    self.config = config_path(method, fraction)
    start = STARTS_FROM.get(method)
    # A model started from (or labelled by) another's carries that model's
    # settings in its key, so that the ledger never answers for a start it
    # did not measure.
    self.chain = settings_text(settings)
    origin = ''
    if start:
      origin = chosen_stage(args, start, fraction, seed).chain
      self.chain += origin
    self.key = key or (f'{spec.key_prefix}_{fraction}/lr{lr}' +
                       settings_text(settings) +
                       (f'_from{origin}' if origin else '') + f'_seed{seed}')
    self.workdir = os.path.join(args.workdir, self.key)
    self.ledger = args.ledger
    self.read_only = getattr(args, 'read_only', False)
    dataset_dir = args.dataset_dir
    self.before = None
    if method in (PSEUDO, MOAM_2):
      # Labelled by the model of the same seed it starts from.
      self.before = PseudoLabels(args, fraction, seed, start, origin)
      dataset_dir = self.before.output
    elif method == MOAM_3:
      self.before = InitialCheckpoint(args, fraction, seed, start)
    elif method == FINETUNE:
      self.before = SimCLRPretraining(args, seed)
    elif method == DISTIL:
      self.before = Teacher(args, fraction, seed, start)
    self.flags = ['--nouse_tpu', '--dataset_dir', dataset_dir,
                  '--workdir', self.workdir, '--lr', lr,
                  '--random_seed', str(seed)]
    if method not in (PSEUDO, MOAM_2, DISTIL):
      # Those take their subset from their teacher.
      self.flags += ['--label_subset_seed', str(seed)]
    for flag, value in settings:
      self.flags += (length_flag(method, fraction, value) if flag == 'epochs'
                     else [f'--{flag}', value])
    self.env = ['env', f'PYTHONPATH={python_path}'] if python_path else []
    self.log = os.path.join(args.workdir, 'log.txt')
    self.times = experiment.StageTimes(self.workdir)

  @property
  def commands(self):
    extra = self.before.flags() if self.before is not None else []
    train = [*self.env, 'bash', self.config, *self.flags, *extra]
    return train, train + ['--run_eval', '--eval_timeout_secs', '1']

  def rows(self):
    """Split -> results: the ledger's, else this workdir's."""
    return {**read_results(self.workdir),
            **self.ledger.get(self.key).get('rows', {})}

  def seconds(self):
    """Step -> wall seconds: the ledger's, updated by this workdir's."""
    return self.ledger.seconds(self.key, self.times)

  def minutes(self):
    return sum(self.seconds().values()) / 60

  def _save(self, **fields):
    self.ledger.put(self.key, rows=self.rows(), times=self.seconds(),
                    **fields)

  def _need(self, what):
    """Raises NotDoneError for a missing `what` when only reading."""
    if self.read_only:
      raise comparison_network.NotDoneError(f'{self.key}: {what}')

  def _train(self):
    if os.path.exists(os.path.join(self.workdir, 'TRAINING_IS_DONE')):
      return False
    self._need('training')
    # Trained before, on a machine that is gone: that run still counts.
    earlier = self.ledger.get(self.key).get('times', {})
    self.times.keep_lost(earlier, 'train')
    if self.before is not None:
      seconds = self.before.make()
      if seconds:
        self.times.keep_lost(earlier, self.before.name)
        self.times.record(self.before.name, seconds)
    self.times.run('train', self.commands[0], self.log)
    return True

  def validation(self, raw_weights=False):
    """Trains (once) and returns the metric on the validation split.

    Args:
      raw_weights: the trained weights of a Polyak-averaged run instead of
        the averages (`--eval_raw_weights`, rows `val_raw`).
    """
    split = 'val_raw' if raw_weights else 'val'
    if split not in self.rows():
      self._need(split)
      self._train()
      extra = ['--eval_raw_weights'] if raw_weights else []
      self.times.run(split, self.commands[1] + extra, self.log)
      self._save()
    return 100 * float(self.rows()[split][self.metric])

  def test(self):
    """(top-1, top-5) on the test split, read once."""
    self.validation()
    if 'test' not in self.rows():
      self._need('test')
      # When the workdir went with its machine between the validation and
      # the test read, the model is trained again (same seed, same labelled
      # subset) and the ledger says so.
      retrained = self._train()
      self.times.run('test', self.commands[1] + ['--test_split', 'test'],
                     self.log)
      self._save(**({'retrained': True} if retrained else {}))
    test = self.rows()['test']
    top5 = self.metric.replace('top1', 'top5')
    return 100 * float(test[self.metric]), 100 * float(test[top5])

  def trained(self):
    """The workdir, with its final checkpoint (trained again if it went)."""
    if self._train():
      self._save(retrained=True)
    return self.workdir

  def module(self):
    """The exported hub module (trained and exported again if it went).

    A Polyak-averaged run's `module` holds the averages.
    """
    exports = os.path.join(self.workdir, 'export', 'hub')
    if not os.path.isdir(exports):
      self._need('export')
      retrained = self._train()
      experiment.run(self.commands[1], self.log)  # --run_eval exports.
      if retrained:
        self._save(retrained=True)
    return os.path.join(exports, max(os.listdir(exports), key=int), 'module')


def chosen_stage(args, method, fraction, seed):
  """The stage of `method` at its chosen rate and settings."""
  if (method, fraction) not in args.chosen:
    raise comparison_network.NotDoneError(
        f'{method} at {fraction}: not chosen yet')
  lr, settings = args.chosen[method, fraction]
  return Stage(args, method, fraction, lr, seed, settings)


class PseudoLabels:
  """Fashion-MNIST labelled by a final model of another method."""

  name = 'pseudo_labels'

  def __init__(self, args, fraction, seed, teacher, chain):
    """`chain`: the teacher's settings beyond its config's (`Stage.chain`)."""
    self.args = args
    self.fraction = fraction
    self.seed = seed
    self.teacher = teacher
    # The supervised model's data sets keep their first folder; a teacher
    # trained with settings beyond its config's names them.
    folder = ('pseudo_dataset' if teacher == 'supervised' else
              f'pseudo_dataset_{METHODS[teacher].key_prefix}')
    self.output = os.path.join(args.workdir, f'{folder}_{fraction}{chain}',
                               f'seed{seed}')

  def make(self):
    """Writes the data set once; returns the seconds it took (0: done)."""
    if os.path.exists(os.path.join(self.output, 'dataset_info.json')):
      return 0.0
    model = chosen_stage(self.args, self.teacher, self.fraction, self.seed)
    module = model.module()
    (label_list,) = [f for f in os.listdir(model.workdir)
                     if f.startswith('label_map_count_')]
    return experiment.run(
        ['bash', os.path.join(CONFIG_DIR, 'generate_pseudo_dataset.sh'),
         '--dataset_dir', self.args.dataset_dir, '--hub_module', module,
         '--representation_name', CLASS_OUTPUT[self.teacher],
         '--labels_file', os.path.join(model.workdir, label_list),
         '--output_folder', self.output],
        os.path.join(self.args.workdir, 'log.txt'))

  def flags(self):
    """Nothing: the data set is the stage's --dataset_dir."""
    return []


class _SameSeedModel:
  """Another method's final model of the same seed and fraction."""

  def __init__(self, args, fraction, seed, method):
    self.args = args
    self.fraction = fraction
    self.seed = seed
    self.method = method

  def _stage(self):
    return chosen_stage(self.args, self.method, self.fraction, self.seed)


class InitialCheckpoint(_SameSeedModel):
  """The final checkpoint of another method's model of the same seed."""

  name = 'initial_checkpoint'

  def make(self):
    """Trains that model again if it went; its time is its own stage's."""
    self._stage().trained()
    return 0.0

  def flags(self):
    return ['--path_to_initial_ckpt', self._stage().workdir]


class SimCLRPretraining:
  """The comparison's SimCLR network of a seed, shared by both fractions.

  benchmarks/fashion_mnist.py's `simclr` row chooses SimCLR's pretraining
  length on the validation split and trains seeds 0, 1 and 2 on the same
  50,000 training images; SimCLRv2's rows fine-tune those networks (trained
  here, in the comparison's workdir, when they are missing), so the linear
  probe and the fine-tuning read one pretraining.
  """

  name = 'simclr_pretraining'

  def __init__(self, args, seed):
    self.model = comparison_network.Model(
        args.comparison, SIMCLR_ROW, args.simclr_setting, seed)

  def make(self):
    """Trains once (or waits for the comparison's driver training it).

    Returns 0: the time is the comparison's, in its ledger, and the report
    gives it apart.
    """
    self.model.pretrained()
    return 0.0

  def flags(self):
    return ['--path_to_initial_ckpt', self.model.pretrain_dir]


class Teacher(_SameSeedModel):
  """The fine-tuned model of a seed (its chosen rate), exported."""

  name = 'teacher'

  def make(self):
    """Exports the teacher if needed; its time is the fine-tuning's."""
    self._stage().module()
    return 0.0

  def flags(self):
    """The teacher's module (its path to be, for a command's listing)."""
    exports = os.path.join(self._stage().workdir, 'export', 'hub')
    if os.path.isdir(exports):
      return ['--hub_module', self._stage().module()]
    return ['--hub_module', os.path.join(exports, 'LATEST', 'module')]
