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

"""Options read from their owners' signatures and docstrings.

A task, network or preprocessing op declares its options once, as keyword
arguments with defaults, documented in the Google-style `Args:` section of
its docstring. `owner_options` reads them; the command line
(`train_and_eval.py`) and the Python API turn them into flags and keyword
arguments, so an option's name, default and help are written in one place,
its owner. `Reader` records which component reads which option, so that an
option no chosen component reads is an error rather than silently ignored
(`check_read`).

Nothing here reads flags or imports TensorFlow.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
import dataclasses
import functools
import inspect
import re
import types
import typing
from typing import Any

from revisiting_ssl import utils

# Values of `Option.kind`: how a command line spells the value.
BOOL, INT, FLOAT, STRING, LIST = 'bool', 'int', 'float', 'string', 'list'


@dataclasses.dataclass(frozen=True)
class Option:
  """One option of one owner.

  Attributes:
    name: the keyword argument, and the flag's name.
    kind: `BOOL`, `INT`, `FLOAT`, `STRING` or `LIST` (comma-separated).
    default: the owner's default (what an unset option means).
    help: the owner's description of it.
  """
  name: str
  kind: str
  default: Any
  help: str


@dataclasses.dataclass(frozen=True)
class Component:
  """Something the user chooses that reads options: a task, a network, ...

  Attributes:
    group: what kind of thing it is, as `--help` groups it ("task").
    name: its registered name ("jigsaw").
    options: what it reads, by name.
  """
  group: str
  name: str
  options: Mapping[str, Option]

  @property
  def label(self) -> str:
    """How messages name it: "task jigsaw" (the name alone without group)."""
    return f'{self.group} {self.name}'.strip()


def shown(value: Any) -> str:
  """A default as help texts show it: '2,2,2', 'v2' quoted, None."""
  if isinstance(value, (tuple, list)):
    return ','.join('None' if v is None else str(v) for v in value)
  return repr(value) if isinstance(value, str) else str(value)


def docstring_args(fn: Callable[..., Any]) -> dict[str, str]:
  """The descriptions of the `Args:` section of `fn`'s docstring.

  For a class, the section of `__init__` and of the class docstring are
  both read (the former wins). Continuation lines are joined into one line.
  """
  fn = _unwrap(fn)
  if inspect.isclass(fn):
    texts = [inspect.getdoc(fn.__init__) or '', inspect.getdoc(fn) or '']
  else:
    texts = [inspect.getdoc(fn) or '']
  found: dict[str, str] = {}
  for text in texts:
    for name, description in _parse_args_section(text).items():
      found.setdefault(name, description)
  return found


def _parse_args_section(text: str) -> dict[str, str]:
  lines = text.splitlines()
  try:
    start = next(i for i, line in enumerate(lines)
                 if line.strip() in ('Args:', 'Arguments:'))
  except StopIteration:
    return {}
  found: dict[str, str] = {}
  name = None
  indent = None
  for line in lines[start + 1:]:
    if not line.strip():
      continue
    current = len(line) - len(line.lstrip())
    if indent is None:
      indent = current
    if current < indent:
      break
    match = re.match(r'^\**(\w+)(?: \([^)]*\))?:\s*(.*)$', line.strip())
    if current == indent and match:
      name = match.group(1)
      found[name] = match.group(2)
    elif name is not None:
      found[name] = f'{found[name]} {line.strip()}'.strip()
  return found


def _unwrap(fn: Callable[..., Any]) -> Callable[..., Any]:
  while isinstance(fn, functools.partial):
    fn = fn.func
  return fn


def kind_of(annotation: Any, default: Any) -> str:
  """The option kind of a parameter, from its annotation or default."""
  if annotation is inspect.Parameter.empty or isinstance(annotation, str):
    candidates = {type(default)}
  else:
    candidates = set(_flatten(annotation))
  candidates.discard(type(None))
  if str in candidates:
    # A string beside a number is how an op's inline argument arrives
    # (`crop_patches(3)`); the flag takes the number. Beside a sequence it
    # is the written form of the sequence ("2,2,1").
    if any(_is_sequence(c) for c in candidates):
      return STRING
    if float in candidates:
      return FLOAT
    if int in candidates:
      return INT
    return STRING
  if candidates & {bool}:
    return BOOL
  if candidates & {float}:
    return FLOAT
  if candidates & {int}:
    return INT
  if any(_is_sequence(c) for c in candidates):
    return LIST
  return STRING


def _flatten(annotation: Any) -> list[Any]:
  origin = typing.get_origin(annotation)
  if origin in (typing.Union, types.UnionType):
    return [t for arg in typing.get_args(annotation) for t in _flatten(arg)]
  return [origin or annotation]


def _is_sequence(cls: Any) -> bool:
  return inspect.isclass(cls) and cls is not str and issubclass(
      cls, (Sequence, tuple, list))


def owner_options(fn: Callable[..., Any],
                  skip: Iterable[str] = ()) -> dict[str, Option]:
  """The options `fn` (a class or function) declares.

  Every keyword argument with a default is an option, except `skip` and
  those a `functools.partial` already fixed.

  Args:
    fn: the owner.
    skip: arguments that are not options (what the caller passes itself).

  Returns:
    Option name -> `Option`.
  """
  fixed = set()
  wrapped = fn
  while isinstance(wrapped, functools.partial):
    fixed |= set(wrapped.keywords)
    wrapped = wrapped.func
  descriptions = docstring_args(fn)
  signature = inspect.signature(fn)
  try:
    hints = typing.get_type_hints(
        wrapped.__init__ if inspect.isclass(wrapped) else wrapped)
  except (NameError, TypeError):
    hints = {}
  found = {}
  for name, param in signature.parameters.items():
    if (name in fixed or name in set(skip) or
        param.default is inspect.Parameter.empty or
        param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL)):
      continue
    found[name] = Option(
        name=name,
        kind=kind_of(hints.get(name, param.annotation), param.default),
        default=param.default,
        help=descriptions.get(name, ''))
  return found


def readers(components: Iterable[Component]) -> dict[str, list[Component]]:
  """Option name -> the components that read it."""
  found: dict[str, list[Component]] = {}
  for component in components:
    for name in component.options:
      found.setdefault(name, []).append(component)
  return found


def describe(components: Iterable[Component]) -> str:
  """"task exemplar; network resnet50, vgg19": names grouped by kind."""
  by_group: dict[str, list[str]] = {}
  for component in components:
    by_group.setdefault(component.group, []).append(component.name)
  return '; '.join(f'{group} {", ".join(names)}'.strip()
                   for group, names in by_group.items())


def check_read(given: Iterable[str], chosen: Sequence[Component],
               everyone: Sequence[Component], *, prefix: str = '--'
               ) -> None:
  """Raises unless every given option is read by a chosen component.

  Args:
    given: the option names the user set.
    chosen: the components this run uses (group '' for the entry point's
      own options, which the message does not list).
    everyone: every component, to say who reads an option.
    prefix: how options are spelled in the message ('--' for flags, '' for
      keyword arguments).

  Raises:
    utils.UsageError: naming every unread option, the components that do
      read it and the ones chosen.
  """
  read = set(readers(chosen))
  unread = sorted(set(given) - read)
  if not unread:
    return
  by_name = readers(everyone)
  lines = []
  for name in unread:
    owners = by_name.get(name)
    who = (f'read only by {describe(owners)}' if owners
           else 'read by no component')
    lines.append(f'{prefix}{name} ({who})')
  raise utils.UsageError(
      f'Option(s) that this run would ignore: {"; ".join(lines)}. The run '
      f'uses {describe(c for c in chosen if c.group)}.')
