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

"""The tasks: pretext tasks, semi-supervised tasks and the supervised baseline.

Importing the package imports every module in it, and each task module
registers its task in `self_supervision_lib.TASKS`; `get_task_class(name)`
looks it up. A new task is a new module here and nothing else (its test is
a case in `tests/tasks_test.py`). The linear-evaluation task, which probes
an exported module, lives with the other probes in `probes/`.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
  importlib.import_module(f'{__name__}.{_module.name}')
