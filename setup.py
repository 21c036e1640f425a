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

"""Installs the code base as one package, `revisiting_ssl`.

The repository directory is itself the package (as google-research's
projects are): `package_dir` maps `revisiting_ssl` onto this directory, so
the layout stays the original's (`train_and_eval.py`, `models/`, ... at the
top) while nothing but `revisiting_ssl` lands in site-packages. Its modules
import one another by that name, editable installs included.
"""

import os

import setuptools
from setuptools.command import build_py

PACKAGE = 'revisiting_ssl'
# The sub-packages, as directories of this one; tests/ and benchmarks/ are
# not installed.
SUBPACKAGES = ('data_sources', 'models', 'preprocess_ops', 'probes',
               'self_supervision', 'tools', 'training')
TOOLS = ('build_tfrecords', 'convert_module', 'convex_probe',
         'generate_pseudo_labels', 'make_permutations')


def _version() -> str:
  """`__version__` of `__init__.py`, read without importing the package."""
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      '__init__.py')
  with open(path) as f:
    for line in f:
      if line.startswith('__version__'):
        return line.split('=')[1].strip().strip("'")
  raise RuntimeError('__init__.py sets no __version__.')


class _BuildPy(build_py.build_py):
  """Leaves this file out of the package its directory is."""

  def find_package_modules(self, package, package_dir):
    return [entry for entry in super().find_package_modules(
        package, package_dir) if entry[:2] != (PACKAGE, 'setup')]


setuptools.setup(
    name='revisiting-ssl',
    version=_version(),
    description=('Self-supervised visual representation learning (rotation, '
                 'relative patch location, jigsaw, exemplar) and S4L in '
                 'TensorFlow 2.'),
    license='Apache-2.0',
    python_requires='>=3.10',
    package_dir={PACKAGE: '.'},
    cmdclass={'build_py': _BuildPy},
    packages=[PACKAGE] + [f'{PACKAGE}.{p}' for p in SUBPACKAGES],
    package_data={
        # The published jigsaw permutations and the configs the README
        # documents (they run the installed entry point).
        PACKAGE: ['permutations_100_max.bin', 'config/*.sh', 'config/*/*.sh',
                  'config/README.md'],
        # S4L's published ImageNet label lists.
        f'{PACKAGE}.data_sources': ['label_maps/*'],
    },
    # Each command starts TensorFlow quietly, then runs the module's
    # `run_cli` (`cli.py`).
    entry_points={'console_scripts': [
        f'revisiting-ssl = {PACKAGE}.cli:train_and_eval',
    ] + [f'revisiting-ssl-{tool.replace("_", "-")} = {PACKAGE}.cli:{tool}'
         for tool in TOOLS]},
    install_requires=[
        # The `tensorflow` wheel runs on the CPU when no CUDA libraries are
        # installed; tf-keras (needed by hub.KerasLayer) depends on this name,
        # so asking for `tensorflow-cpu` would install TensorFlow twice.
        'tensorflow>=2.20,<2.22',
        'tensorflow-hub>=0.16',
        'absl-py',
        'numpy',
        # TensorFlow 2.21 no longer pulls TensorBoard in.
        'tensorboard',
        # tools/build_tfrecords.py re-encodes what TensorFlow cannot decode.
        'pillow',
    ],
    extras_require={
        # TensorFlow's own extra: the CUDA and cuDNN libraries as wheels, so
        # that the `tensorflow` wheel finds a GPU (Linux x86-64).
        'gpu': ['tensorflow[and-cuda]>=2.20,<2.22'],
        'tpu': ['cloud-tpu-client'],
        'tfds': ['tensorflow-datasets>=4.9', 'importlib_resources'],
        # benchmarks/fashion_mnist.py draws its plots with matplotlib.
        'bench': ['matplotlib'],
        # probes/convex_probe.py: L-BFGS logistic regression.
        'probe': ['scikit-learn>=1.3'],
        'test': [
            'scikit-learn>=1.3',
            # tests/comparison_benchmark_test.py draws the report's plots.
            'matplotlib',
            'pytest',
            'pytest-xdist',
            'tf-keras>=2.20,<2.22',
            'ruff',
            # tests/packaging_test.py builds a wheel without build isolation.
            'setuptools',
            'wheel',
        ],
    },
)
