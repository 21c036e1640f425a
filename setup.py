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

"""Installs the self-supervised representation learning code base.

The top-level modules are listed in `py_modules` so that a plain (non-editable)
install works too; the original only packaged the sub-directories.
"""

import setuptools

setuptools.setup(
    name='revisiting-self-supervised-tf2',
    version='0.1.0',
    description=('Self-supervised visual representation learning (rotation, '
                 'relative patch location, jigsaw, exemplar) in TensorFlow 2.'),
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=['data_sources', 'models', 'preprocess_ops', 'self_supervision'],
    # S4L's published ImageNet label lists (data_sources/label_maps/).
    package_data={'data_sources': ['label_maps/*']},
    py_modules=[
        'checkpointing',
        'datasets',
        'distribution',
        'evaluation',
        'hub_export',
        'inception_preprocessing',
        'input_streams',
        'linear_eval_cached',
        'optimization',
        'polyak',
        'preprocess',
        'train_and_eval',
        'trainer',
        'utils',
        'virtual_replicas',
    ],
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
        # self_supervision/convex_probe.py: L-BFGS logistic regression.
        'probe': ['scikit-learn>=1.3'],
        'test': [
            'scikit-learn>=1.3',
            # tests/comparison_benchmark_test.py draws the report's plots.
            'matplotlib',
            'pytest',
            'pytest-xdist',
            'tf-keras>=2.20,<2.22',
            'ruff',
        ],
    },
)
