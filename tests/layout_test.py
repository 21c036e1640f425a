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

"""The layout shows the architecture, and the imports keep to it.

Imports run one way: networks know nothing of tasks or training, tasks
nothing of the trainer or the probes, the trainer's neighbours nothing of
tasks or probes. Every first-party import names the package, and every file
a docstring or page names in backticks exists.
"""

import ast
import pathlib
import re

from conftest import REPO
import pytest

PACKAGE = 'revisiting_ssl'
# Our own modules and packages, which must never be imported by a bare name
# (several are names of PyPI packages).
OWN = frozenset(
    [p.stem for p in REPO.glob('*.py') if p.stem not in ('setup', '__init__')]
    + [p.parent.name for p in REPO.glob('*/__init__.py')])

# Part of the package -> parts it must not import.
_TRAINING_AND_UP = ('trainer', 'train_and_eval', 'training', 'probes',
                    'tools')
FORBIDDEN = {
    'models': _TRAINING_AND_UP + ('self_supervision', 'datasets',
                                  'data_sources', 'preprocess',
                                  'preprocess_ops'),
    'self_supervision': _TRAINING_AND_UP,
    'training': ('trainer', 'train_and_eval', 'self_supervision', 'probes',
                 'tools'),
    'probes': ('train_and_eval', 'tools'),
    'data_sources': _TRAINING_AND_UP + ('self_supervision', 'models'),
    'preprocess_ops': _TRAINING_AND_UP + ('self_supervision', 'models'),
    'datasets': _TRAINING_AND_UP + ('self_supervision', 'models'),
    'preprocess': _TRAINING_AND_UP + ('self_supervision', 'models'),
    'utils': _TRAINING_AND_UP + ('self_supervision', 'models'),
    'trainer': ('train_and_eval', 'probes', 'tools'),
}


def _python_files(*, package_only: bool) -> list[pathlib.Path]:
  skip = {'.venv', 'build'} | ({'tests', 'benchmarks'} if package_only
                               else set())
  return sorted(p for p in REPO.rglob('*.py')
                if not (set(p.relative_to(REPO).parts) & skip) and
                not any(part.startswith('.')
                        for part in p.relative_to(REPO).parts))


def _imports(path: pathlib.Path) -> list[tuple[int, str]]:
  """(line, dotted name) of every absolute import in `path`."""
  found = []
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      found += [(node.lineno, a.name) for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0:
      found += [(node.lineno, f'{node.module}.{a.name}')
                for a in node.names]
  return found


def _part(name: str) -> str | None:
  """The part of the package a dotted import reaches (None: not ours)."""
  parts = name.split('.')
  return parts[1] if parts[0] == PACKAGE and len(parts) > 1 else None


def test_no_first_party_module_is_imported_by_a_bare_name():
  offenders = [f'{p.relative_to(REPO)}:{line}: {name}'
               for p in _python_files(package_only=False)
               for line, name in _imports(p)
               if name.split('.')[0] in OWN]
  assert not offenders, offenders


@pytest.mark.parametrize('part', sorted(FORBIDDEN))
def test_imports_run_one_way(part):
  paths = ([REPO / f'{part}.py'] if (REPO / f'{part}.py').exists()
           else sorted((REPO / part).rglob('*.py')))
  assert paths and all(p.exists() for p in paths)
  offenders = [f'{p.relative_to(REPO)}:{line}: {name}'
               for p in paths for line, name in _imports(p)
               if _part(name) in FORBIDDEN[part]]
  assert not offenders, offenders


def test_the_checker_sees_the_imports_it_forbids():
  """A forbidden import in the package's spelling is caught."""
  source = REPO / 'models' / 'layers.py'
  names = [name for _, name in _imports(source)]
  assert f'{PACKAGE}.models.virtual_replicas' in names
  assert _part(f'{PACKAGE}.training.hub_export') == 'training'
  assert _part('tensorflow.keras') is None


def test_self_supervision_holds_tasks_alone():
  """Every module there is a task, a task's helpers, or the registry."""
  helpers = {'__init__', 'self_supervision_lib', 'patch_utils', 's4l_lib'}
  for path in (REPO / 'self_supervision').glob('*.py'):
    if path.stem not in helpers:
      assert '@lib.register(' in path.read_text(), path.name


_REFERENCE = re.compile(r'`((?:[\w-]+/)*[\w-]+\.py)`')
# Files of other projects that our docstrings name on purpose.
_FOREIGN = {'research/slim/nets/resnet_v2.py', 'resnet_utils.py'}


def test_backticked_files_exist():
  """A file a docstring or page names is where it says.

  In code, a path is read from the repository root or from the naming
  file's directory. A page may also name a file by its base name alone (a
  table row per directory), which must then exist somewhere in the
  repository.
  """
  everywhere = {p.name for p in _python_files(package_only=False)}
  documents = _python_files(package_only=False) + sorted(
      p for p in REPO.rglob('*.md') if '.venv' not in p.parts)
  stale = []
  for path in documents:
    for number, line in enumerate(path.read_text().splitlines(), 1):
      for ref in _REFERENCE.findall(line):
        if ref in _FOREIGN:
          continue
        found = (REPO / ref).exists() or (path.parent / ref).exists() or (
            path.suffix == '.md' and '/' not in ref and ref in everywhere)
        if not found:
          stale.append(f'{path.relative_to(REPO)}:{number}: {ref}')
  assert not stale, stale
