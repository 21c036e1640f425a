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

"""The components a run can choose, and the options each reads.

The tasks, networks and preprocessing ops declare their options in their
own signatures (`options.owner_options`); this module lists them from the
registries, so a task or network registered by the user's own module
(`--import`) brings its options along. `chosen` names the components one
run uses, and `check` fails, before any work, on an option that none of
them reads. The entry point's own options (the job, data, optimisation and
export flags, with their help) are defined in `train_and_eval.py`, which
passes their names here by group.
"""

from collections.abc import Iterable, Mapping, Sequence
import inspect

from revisiting_ssl import (
  models,
  preprocess,
  self_supervision,  # noqa: F401  (registers the tasks)
)
from revisiting_ssl import options as options_lib
from revisiting_ssl.preprocess_ops import base as ops_base

# Linear evaluation registers its task too.
from revisiting_ssl.probes import linear_eval  # noqa: F401
from revisiting_ssl.self_supervision import self_supervision_lib as tasks

# What the entry point hands a task itself, rather than an option.
TASK_ARGS = ('num_classes', 'network')

# Groups of components, in the order `--help` shows them.
TASK, NETWORK, OP = 'task', 'network', 'preprocessing op'


def task_component(name: str) -> options_lib.Component:
  """The options task `name` reads."""
  return options_lib.Component(TASK, name, options_lib.owner_options(
      tasks.get_task_class(name), skip=TASK_ARGS))


def network_component(name: str) -> options_lib.Component:
  """The options network `name` reads."""
  return options_lib.Component(NETWORK, name, models.net_options(name))


def op_component(name: str) -> options_lib.Component:
  """The options preprocessing op `name` reads from flags."""
  inline_only = set(ops_base.INLINE_ONLY.get(name, ()))
  return options_lib.Component(OP, name, options_lib.owner_options(
      preprocess.OPS.lookup(name), skip={'is_training'} | inline_only))


def registered() -> list[options_lib.Component]:
  """Every task, network and op registered now."""
  return ([task_component(n) for n in tasks.task_names()] +
          [network_component(n) for n in models.net_names()] +
          [op_component(n) for n in preprocess.op_names()])


def takes_network(task_name: str) -> bool:
  """Whether task `task_name` builds a trunk (its constructor takes one)."""
  return 'network' in inspect.signature(
      tasks.get_task_class(task_name)).parameters


def chosen(*, task: str, architecture: str | None,
           preprocessing: Sequence[str | None]
           ) -> list[options_lib.Component]:
  """The task, network and ops one run uses.

  Args:
    task: the registered task name (after S4L's renaming).
    architecture: `--architecture`; read only by a task with a trunk.
    preprocessing: every preprocessing string of the run.

  Raises:
    utils.UsageError: for an unknown task, network or op.
  """
  found = [task_component(task)]
  if architecture is not None and takes_network(task):
    found.append(network_component(architecture))
  ops = []
  for text in preprocessing:
    calls, _ = preprocess.parse_ops(text)
    ops += [call.name for call in calls]
  for name in dict.fromkeys(ops):
    found.append(op_component(name))
  return found


def merged(components: Sequence[options_lib.Component]
           ) -> dict[str, tuple[options_lib.Option, str]]:
  """Option name -> (its first owner's `Option`, the owners' defaults).

  The defaults read "4; 8 for network vgg19": the commonest first, then
  each component whose default differs.

  Raises:
    TypeError: for an option that is a number for one component and
      another kind for the next: one flag cannot be both.
  """
  found: dict[str, tuple[options_lib.Option, dict[str, str]]] = {}
  for component in components:
    for name, option in component.options.items():
      first, defaults = found.setdefault(name, (option, {}))
      if first.kind != option.kind:
        raise TypeError(
            f'Option {name} is a {first.kind} for one component and a '
            f'{option.kind} for {component.label}: one flag cannot be both.')
      defaults[component.label] = options_lib.shown(option.default)
  return {name: (option, _defaults_text(defaults))
          for name, (option, defaults) in found.items()}


def _defaults_text(defaults: Mapping[str, str]) -> str:
  values = list(defaults.values())
  common = max(values, key=values.count)
  if len(defaults) == 1:
    (label,) = defaults
    return f'{common} for {label}'
  others = [f'{value} for {label}' for label, value in defaults.items()
            if value != common]
  return '; '.join([common] + others)


def check(given: Iterable[str],
          components: Sequence[options_lib.Component],
          entry: Sequence[options_lib.Component],
          unread_entry: Sequence[options_lib.Component], *,
          prefix: str = '--') -> None:
  """Fails on a given option that no chosen component reads.

  Args:
    given: the options the user set.
    components: the chosen task, network and ops (`chosen`).
    entry: the entry point's own options that this run reads, as
      components of group '' (the job, the data, ...).
    unread_entry: those of its options that this run does not read, named
      by who would read them ("tasks with labelled images: ...").
    prefix: how options are spelled in the message.

  Raises:
    utils.UsageError: naming each unread option and who reads it.
  """
  options_lib.check_read(given, [*entry, *components],
                         [*registered(), *unread_entry], prefix=prefix)
