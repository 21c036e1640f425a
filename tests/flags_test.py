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

"""Flags reach what they configure, by name, from the registries.

Constructor arguments are matched to flags by name (`train_and_eval.py`);
these tests walk every registry, so a new task, op or network option whose
argument no flag reaches fails here, and so does a help text or default
written a second time.
"""

import ast
import dataclasses
import importlib
import inspect

from absl import flags
from conftest import REPO
import pytest

from revisiting_ssl import (
  datasets,
  models,
  preprocess,
  preprocess_ops,
  train_and_eval,
)
from revisiting_ssl import trainer as trainer_lib
from revisiting_ssl.self_supervision import self_supervision_lib as lib

FLAGS = flags.FLAGS


def _keyword_names(fn):
  return [name for name, p in inspect.signature(fn).parameters.items()
          if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _own_flags():
  return set(train_and_eval._OWN_FLAGS)  # pylint: disable=protected-access


@pytest.mark.parametrize('task', lib.task_names())
def test_every_task_argument_is_a_flag(task):
  names = set(_keyword_names(lib.get_task_class(task)))
  missing = names - _own_flags() - set(train_and_eval.ENTRY_TASK_ARGS)
  assert not missing, f'--task {task} takes {missing}, which no flag reaches'


@pytest.mark.parametrize('op', preprocess.op_names())
def test_every_op_argument_is_a_flag(op):
  names = set(_keyword_names(preprocess.OPS.lookup(op))) - {'is_training'}
  # Arguments only a written call sets, as in value_range(-1, 1).
  names -= set(preprocess_ops.base.INLINE_ONLY.get(op, ()))
  missing = names - _own_flags()
  assert not missing, f'op {op} takes {missing}, which no flag reaches'


def test_every_network_option_is_a_flag_or_set_by_a_task():
  missing = (set(models.NET_KWARGS) - _own_flags() -
             set(train_and_eval.TASK_NET_ARGS))
  assert not missing


def test_every_trainer_setting_is_a_flag():
  fields = {f.name for f in dataclasses.fields(trainer_lib.TrainerConfig)}
  missing = fields - _own_flags() - set(train_and_eval.ENTRY_TRAINER_ARGS)
  assert not missing


def test_owned_flags_default_to_unset():
  # A flag that configures a task, an op, a network or the trainer is unset
  # unless given, so the owner's default applies.
  owned = set()
  for task in lib.task_names():
    owned.update(_keyword_names(lib.get_task_class(task)))
  for op in preprocess.op_names():
    owned.update(_keyword_names(preprocess.OPS.lookup(op)))
  owned.update(models.NET_KWARGS)
  owned.update(f.name for f in dataclasses.fields(trainer_lib.TrainerConfig)
               if f.default is not dataclasses.MISSING)
  with_default = sorted(n for n in owned & _own_flags()
                        if FLAGS[n].default is not None)
  assert not with_default, with_default


def test_help_texts_list_the_registries():
  for flag, names in (('task', lib.task_names()),
                      ('architecture', models.net_names()),
                      ('dataset', datasets.names()),
                      ('preprocessing', preprocess.op_names())):
    for name in names:
      assert name in FLAGS[flag].help, (flag, name)


def test_help_texts_quote_the_owners_defaults():
  linear_eval = lib.get_task_class('linear_eval')
  for flag in ('channels_hidden', 'knn_k', 'pool_mode'):
    default = inspect.signature(linear_eval).parameters[flag].default
    assert f'default {default!r}' in FLAGS[flag].help or (
        f'default {default}' in FLAGS[flag].help), flag
  assert 'default 500' in FLAGS['iterations_per_loop'].help
  assert '4; 8 for vgg19' in FLAGS['filters_factor'].help


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
