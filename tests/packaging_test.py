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

"""A plain (non-editable) install carries every module of the code base."""

import ast

from conftest import REPO


def setup_keyword(name):
  """The literal value of a `setuptools.setup` keyword in setup.py."""
  tree = ast.parse((REPO / 'setup.py').read_text())
  for node in ast.walk(tree):
    if isinstance(node, ast.keyword) and node.arg == name:
      return ast.literal_eval(node.value)
  raise AssertionError(f'setup.py passes no {name}=')


def test_every_top_level_module_is_installed():
  modules = {p.stem for p in REPO.glob('*.py')} - {'setup'}
  assert sorted(modules) == sorted(setup_keyword('py_modules'))


def test_every_package_is_installed():
  packages = {p.parent.name for p in REPO.glob('*/__init__.py')}
  assert sorted(packages - {'tests'}) == sorted(setup_keyword('packages'))
