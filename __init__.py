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

"""Self-supervised visual representation learning in TensorFlow 2.

Rotation, relative patch location, jigsaw and exemplar pretext tasks
("Revisiting self-supervised visual representation learning", Kolesnikov,
Zhai and Beyer, CVPR 2019), S4L's semi-supervised tasks (Zhai et al., ICCV
2019), TF-Hub export and linear evaluation. The repository directory is this
package: `train_and_eval.py` is the entry point, `trainer.py` the one
trainer with its neighbours in `training/`, `self_supervision/` the tasks,
`models/` the networks, `probes/` what measures a frozen representation.

From Python, `revisiting_ssl.train(task='rotation', ...)` (and `evaluate`,
`export`, `linear_eval`, `run`) runs a job with keyword arguments named as
the flags; see `api.py`. Importing the package is cheap: TensorFlow loads
with the first module that needs it.
"""

__version__ = '0.2.0'

_API = ('run', 'train', 'evaluate', 'export', 'linear_eval')


def __getattr__(name: str):
  """`revisiting_ssl.train(...)` and the rest of `api`, imported on use."""
  if name in _API:
    from revisiting_ssl import api  # noqa: PLC0415  (TensorFlow on use)
    return getattr(api, name)
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
