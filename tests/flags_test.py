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

"""Flags come from their owners, and no flag is silently ignored.

The entry point defines its own flags and derives the rest from the
registries (`entry_flags.define_flags`): every task, network and op
option is a flag with its owner's help and default. These tests walk every
registry, so a new task, op or network option that no flag reaches fails
here, and so does a help text or default written a second time; and for
every task, network and op they set an option that only other components
read and expect the error that names it.
"""

import ast
import dataclasses
import importlib

from absl import flags
from conftest import REPO
import pytest

from revisiting_ssl import (
  datasets,
  entry_flags,
  models,
  preprocess,
  run_options,
  train_and_eval,
  utils,
)
from revisiting_ssl import trainer as trainer_lib
from revisiting_ssl.self_supervision import self_supervision_lib as lib


@pytest.fixture(scope='module')
def fv():
  """The entry point's flags, on a private set (never absl's global one)."""
  values = flags.FlagValues()
  entry_flags.define_flags(values)
  values.mark_as_parsed()
  return values


def _defined(fv):
  return set(fv)


@pytest.mark.parametrize('task', lib.task_names())
def test_every_task_option_is_a_flag(fv, task):
  names = set(run_options.task_component(task).options)
  assert not names - _defined(fv)


@pytest.mark.parametrize('op', preprocess.op_names())
def test_every_op_option_is_a_flag(fv, op):
  assert not set(run_options.op_component(op).options) - _defined(fv)


@pytest.mark.parametrize('net', models.net_names())
def test_every_network_option_is_a_flag(fv, net):
  assert not set(models.net_options(net)) - _defined(fv)


def test_every_trainer_setting_is_a_flag(fv):
  fields = {f.name for f in dataclasses.fields(trainer_lib.TrainerConfig)}
  missing = fields - _defined(fv) - set(entry_flags.ENTRY_TRAINER_ARGS)
  assert not missing


def test_every_flag_has_an_owner(fv):
  """The groups of `--help` and the unread-option check know every flag."""
  assert entry_flags.option_names() == _defined(fv)


def test_owned_flags_default_to_unset(fv):
  # A flag that configures a task, an op, a network or the trainer is unset
  # unless given, so the owner's default applies.
  owned = set(run_options.merged(run_options.registered()))
  owned.update(f.name for f in dataclasses.fields(trainer_lib.TrainerConfig)
               if f.default is not dataclasses.MISSING)
  owned -= {'train_split', 'val_split'}  # The original's flag defaults.
  owned -= set(entry_flags.ENTRY_TRAINER_ARGS)
  with_default = sorted(n for n in owned if fv[n].default is not None)
  assert not with_default, with_default


def test_help_texts_list_the_registries(fv):
  for flag, names in (('task', lib.task_names()),
                      ('architecture', models.net_names()),
                      ('dataset', datasets.names()),
                      ('preprocessing', preprocess.op_names())):
    for name in names:
      assert name in fv[flag].help, (flag, name)


def test_help_texts_are_the_owners(fv):
  assert fv['channels_hidden'].help.startswith('Hidden width of `mlp`')
  assert "default 'adaptive_max' for task linear_eval" in fv['pool_mode'].help
  assert 'default 500' in fv['iterations_per_loop'].help
  assert 'default 4; 8 for network vgg19' in fv['filters_factor'].help


# -- No flag is silently ignored ----------------------------------------------

_BASE = {'workdir': '/nonexistent', 'dataset': 'fashion_mnist',
         'batch_size': 8, 'lr': 0.1, 'epochs': 1.0,
         'preprocessing': 'resize,-1_to_1', 'resize_size': '32'}


_ENTRY = {name for names in entry_flags.ENTRY_GROUPS.values()
          for name in names}


def _values(fv, **given):
  values = {name: fv[name].default for name in entry_flags.option_names()}
  values.update(_BASE, **given)
  return values, set(given) | set(_BASE)


def _config(fv, **given):
  values, names = _values(fv, **given)
  return train_and_eval.make_config(values, names)


def _trunk(task):
  return {'architecture': 'resnet50'} if run_options.takes_network(
      task) else {'hub_module': '/m'}


@pytest.mark.parametrize('task', lib.task_names())
def test_an_option_only_other_tasks_read_is_an_error(fv, task):
  own = set(run_options.task_component(task).options)
  others = sorted(set(run_options.merged(
      [run_options.task_component(t) for t in lib.task_names()])) - own -
                  _ENTRY - set(models.net_options('resnet50')))
  assert others
  name = others[0]
  value = fv[name].value if fv[name].value is not None else {
      'bool': True, 'int': 1, 'float': 0.5, 'string': 'x', 'list': ['x']}[
          run_options.merged(run_options.registered())[name][0].kind]
  config_values = {**_trunk(task), name: value}
  with pytest.raises(utils.UsageError, match=rf'--{name} \(read only by'):
    _config(fv, task=task, **config_values)
  # Without it the same options pass the check.
  _config(fv, task=task, **_trunk(task))


@pytest.mark.parametrize('option', ['mode', 'last_relu', 'strides'])
def test_a_network_option_vgg19_lacks_is_an_error(fv, option):
  value = {'mode': 'v1', 'last_relu': False, 'strides': '2,2,1'}[option]
  with pytest.raises(utils.UsageError,
                     match=rf'--{option} \(read only by network resnet101, '):
    _config(fv, task='rotation', architecture='vgg19', **{option: value})
  _config(fv, task='rotation', architecture='resnet50', **{option: value})


def test_an_option_of_an_op_not_in_the_pipeline_is_an_error(fv):
  with pytest.raises(utils.UsageError, match=r'--crop_size \(read only by '
                     r'preprocessing op central_crop, crop, multi_crop\)'):
    _config(fv, task='supervised', architecture='resnet50', crop_size='24')
  _config(fv, task='supervised', architecture='resnet50', crop_size='24',
          preprocessing='resize,crop,-1_to_1')


def test_a_network_option_without_a_trunk_is_an_error(fv):
  with pytest.raises(utils.UsageError, match='--filters_factor'):
    _config(fv, task='linear_eval', hub_module='/m', filters_factor=2)
  # linear_eval's own weight decay is its heads'.
  _config(fv, task='linear_eval', hub_module='/m', weight_decay=1e-3)


def test_labelled_subset_options_need_a_labelled_stream(fv):
  with pytest.raises(utils.UsageError, match='--labels_per_class'):
    _config(fv, task='rotation', architecture='resnet50',
            labels_per_class=10)
  _config(fv, task='supervised', architecture='resnet50',
          labels_per_class=10)


def test_the_patch_tasks_strides_need_a_network_that_has_them():
  jigsaw = lib.get_task_class('jigsaw')
  with pytest.raises(utils.UsageError,
                     match='root_conv_stride, strides.*vgg19.*resnet50'):
    jigsaw(network=models.Network('vgg19', filters_factor=1), embed_dim=8)
  with pytest.raises(utils.UsageError, match='sets strides .*itself'):
    jigsaw(network=models.Network('resnet50', filters_factor=1,
                                  strides='2,2,2'), embed_dim=8)


def test_the_trainer_does_not_import_preprocess():
  source = (REPO / 'trainer.py').read_text()
  imported = {a.name for node in ast.walk(ast.parse(source))
              if isinstance(node, ast.ImportFrom) for a in node.names}
  assert 'preprocess' not in imported


@pytest.mark.parametrize('tool', sorted(
    p.stem for p in (REPO / 'tools').glob('*.py') if p.stem != '__init__'))
def test_tools_define_no_flags_when_imported(tool):
  """A tool imported beside the entry point (as tests do) adds no flag.

  The tools have flags named as the entry point's (`--architecture`,
  `--dataset`); defined at import, they would clash in one process.
  """
  before = set(flags.FLAGS)
  importlib.import_module(f'revisiting_ssl.tools.{tool}')
  assert set(flags.FLAGS) == before


def test_the_flag_reference_is_current(fv):
  """docs/flags.md is what `python -m revisiting_ssl.entry_flags` prints."""
  page = (REPO / 'docs' / 'flags.md').read_text()
  assert page == entry_flags.markdown(fv), (
      'docs/flags.md is stale: python -m revisiting_ssl.entry_flags > '
      'docs/flags.md')
