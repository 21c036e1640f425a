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

"""The package installs as one name and works beside packages it could hide.

The end-to-end test builds a wheel, installs it into a fresh virtual
environment that already holds stand-in packages named `datasets`, `utils`,
`trainer` and `models` (names our modules carry, and that PyPI packages
use), and works from a directory outside the clone: a short training, an
export, a linear evaluation through a shipped config script, and every
console command's `--help`. Then the same environment takes an editable
install of this clone and runs the clone's config scripts. TensorFlow and
the other dependencies come from the test's own environment through a path
file, so nothing is downloaded.
"""

import ast
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

from conftest import REPO
import pytest
import testdata

import revisiting_ssl
from revisiting_ssl import cli

PACKAGE = 'revisiting_ssl'
STAND_INS = ('datasets', 'utils', 'trainer', 'models')


def setup_constant(name):
  """The literal value of a module-level constant of setup.py."""
  tree = ast.parse((REPO / 'setup.py').read_text())
  for node in tree.body:
    if isinstance(node, ast.Assign) and node.targets[0].id == name:
      return ast.literal_eval(node.value)
  raise AssertionError(f'setup.py defines no {name}')


def test_every_package_directory_is_installed():
  packages = {p.parent.name for p in REPO.glob('*/__init__.py')}
  assert sorted(packages - {'tests'}) == sorted(
      setup_constant('SUBPACKAGES'))


def test_every_tool_is_a_console_command():
  tools = {p.stem for p in (REPO / 'tools').glob('*.py')
           if 'def run_cli' in p.read_text()}
  assert tools == set(setup_constant('TOOLS'))
  # The commands' entry functions (cli.py) are the same list.
  assert cli.TOOLS == setup_constant('TOOLS')
  # The helpers of the tools are no commands.
  assert {'conversion_check', 'demo_report'}.isdisjoint(tools)


def _run(args, cwd, env=None, timeout=600):
  full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  full_env.pop('TPU_NAME', None)
  full_env.pop('PYTHONPATH', None)
  full_env.update(env or {})
  proc = subprocess.run([str(a) for a in args], capture_output=True,
                        text=True, cwd=str(cwd), env=full_env,
                        timeout=timeout)
  assert proc.returncode == 0, (
      f'{" ".join(map(str, args))} failed ({proc.returncode}):\n'
      f'{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}')
  return proc


def _fresh_environment(path: pathlib.Path) -> pathlib.Path:
  """A new virtual environment with the stand-ins; returns its python.

  TensorFlow and the rest come from this environment's site-packages,
  listed by a path file after the new environment's own, so the stand-ins
  come first on the path, as packages a user installed would.
  """
  subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(path)],
                 check=True)
  python = path / 'bin' / 'python'
  site = pathlib.Path(subprocess.run(
      [python, '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'],
      capture_output=True, text=True, check=True).stdout.strip())
  outer = [p for p in sys.path if p.endswith('site-packages')]
  (site / 'outer.pth').write_text('\n'.join(outer) + '\n')
  for name in STAND_INS:
    (site / name).mkdir()
    (site / name / '__init__.py').write_text(
        f'"""Stand-in for an unrelated package named {name}."""\n'
        'STAND_IN = True\n')
  return python


def _pip(python, *args, cwd):
  # The outer environment's pip, installing into the new one.
  return _run([sys.executable, '-m', 'pip', '--python', python, 'install',
               '--quiet', '--no-deps', '--no-index', '--no-build-isolation',
               *args], cwd=cwd)


@pytest.mark.slow
def test_wheel_and_editable_install_beside_colliding_packages(
    tmp_path, data_dir):
  # The wheel, built from a copy of the tracked files (never touching the
  # clone's build/ while other tests run).
  source = tmp_path / 'source'
  tracked = subprocess.run(
      ['git', 'ls-files', '--cached', '--others', '--exclude-standard'],
      cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
  for name in tracked:
    if (REPO / name).is_file():
      (source / name).parent.mkdir(parents=True, exist_ok=True)
      shutil.copy2(REPO / name, source / name)
  wheels = tmp_path / 'wheels'
  _run([sys.executable, '-m', 'pip', 'wheel', '--quiet', '--no-deps',
        '--no-build-isolation', '--wheel-dir', wheels, source], cwd=tmp_path)
  (wheel,) = wheels.glob('*.whl')
  with zipfile.ZipFile(wheel) as archive:
    names = archive.namelist()
  tops = {n.split('/')[0] for n in names if '.dist-info/' not in n}
  assert tops == {PACKAGE}, tops
  assert f'{PACKAGE}/setup.py' not in names
  for shipped in ('permutations_100_max.bin', 'config/common.sh',
                  'config/rotation/fashion_mnist.sh',
                  'config/evaluation/rotation_or_exemplar_fashion_mnist.sh',
                  'data_sources/label_maps/label_map_count_128000_index_0'):
    assert f'{PACKAGE}/{shipped}' in names, shipped

  python = _fresh_environment(tmp_path / 'env')
  _pip(python, wheel, cwd=tmp_path)
  bin_dir = python.parent
  outside = tmp_path / 'elsewhere'
  outside.mkdir()
  # Our modules under one name; the stand-ins untouched and still first.
  check = _run([python, '-c', (
      'import datasets, models, trainer, utils, os\n'
      'assert all(m.STAND_IN for m in (datasets, models, trainer, utils))\n'
      'from revisiting_ssl import train_and_eval\n'
      'from revisiting_ssl.self_supervision import patch_utils\n'
      'path = patch_utils.default_permutations_path()\n'
      'assert "site-packages" in path and os.path.isfile(path), path\n'
      'print(train_and_eval.__file__)')], cwd=outside)
  assert 'site-packages' in check.stdout

  for command in sorted(bin_dir.glob('revisiting-ssl*')):
    proc = _run([command, '--help'], cwd=outside)
    # The command's own flags are listed, not absl's alone.
    assert proc.stdout.count('\n  --') >= 2, (command, proc.stdout[-2000:])
  assert len(list(bin_dir.glob('revisiting-ssl*'))) == 1 + len(
      setup_constant('TOOLS'))
  version = _run([bin_dir / 'revisiting-ssl', '--version'], cwd=outside)
  assert version.stdout.split() == ['revisiting_ssl',
                                    revisiting_ssl.__version__]

  # A short training and an export with the installed command...
  workdir = tmp_path / 'run'
  _run([bin_dir / 'revisiting-ssl',
        *testdata.tiny_supervised_args(data_dir, str(workdir)),
        '--epochs', '1'], cwd=outside)
  _run([bin_dir / 'revisiting-ssl',
        *testdata.tiny_supervised_args(data_dir, str(workdir)),
        '--epochs', '1', '--export_only'], cwd=outside)
  (module,) = (workdir / 'export' / 'hub').glob('*/module')
  # ... and a linear evaluation of it with the config script the wheel
  # ships, which runs the installed entry point.
  site = pathlib.Path(check.stdout.strip()).parent
  _run(['bash', site / 'config' / 'evaluation' /
        'rotation_or_exemplar_fashion_mnist.sh', '--workdir',
        tmp_path / 'eval', '--hub_module', module, '--dataset_dir', data_dir,
        '--nouse_tpu', '--batch_size', '32', '--epochs', '1',
        '--decay_epochs', '', '--iterations_per_loop', '3',
        '--save_checkpoints_steps', '3', '--linear_eval_mode', 'cached'],
       cwd=outside, env={'PYTHON': str(python)})
  assert (tmp_path / 'eval' / 'linear_eval_results.csv').is_file()

  # The same environment with an editable install of this clone: the
  # clone's config scripts and tools run against it.
  _run([sys.executable, '-m', 'pip', '--python', python, 'uninstall',
        '--quiet', '--yes', 'revisiting-ssl'], cwd=tmp_path)
  _pip(python, '--editable', source, cwd=tmp_path)
  check = _run([python, '-c', (
      'import datasets, utils\n'
      'assert datasets.STAND_IN and utils.STAND_IN\n'
      'import revisiting_ssl\n'
      'print(revisiting_ssl.__file__)')], cwd=outside)
  assert check.stdout.strip() == str(source / '__init__.py')
  proc = _run(['bash', source / 'config' / 'rotation' / 'fashion_mnist.sh',
               '--workdir', tmp_path / 'dry', '--dataset_dir', data_dir,
               '--nouse_tpu', '--dry_run'],
              cwd=outside, env={'PYTHON': str(python)})
  assert '"total_steps"' in proc.stdout
  _run([python, source / 'tools' / 'convex_probe.py', '--help'], cwd=outside)
