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

"""The example notebooks run, at a tiny size, cell after cell.

Their code cells are run in order in one fresh Python process, as a kernel
would (Jupyter itself is not needed), on the tiny Fashion-MNIST stand-in.
"""

import json
import os
import subprocess
import sys

from conftest import REPO
import pytest

NOTEBOOKS = sorted((REPO / 'examples').glob('*.ipynb'))


def code_of(notebook):
  cells = json.loads(notebook.read_text())['cells']
  return '\n\n'.join(''.join(cell['source']) for cell in cells
                     if cell['cell_type'] == 'code')


def test_there_is_an_example():
  assert [p.name for p in NOTEBOOKS] == ['pretrain_and_probe.ipynb']


@pytest.mark.slow
@pytest.mark.parametrize('notebook', NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(notebook, data_dir, tmp_path):
  env = dict(os.environ, EXAMPLE_DATA_DIR=data_dir,
             EXAMPLE_WORKDIR=str(tmp_path), MPLBACKEND='Agg',
             TF_CPP_MIN_LOG_LEVEL='2')
  proc = subprocess.run([sys.executable, '-c', code_of(notebook)],
                        capture_output=True, text=True, env=env,
                        timeout=900, cwd=str(tmp_path))
  assert proc.returncode == 0, proc.stderr[-4000:]
  assert (tmp_path / 'top1_by_layer.png').stat().st_size > 1000
  assert "'block1':" in proc.stdout
