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

"""The Python API: the command line's jobs as functions.

    from revisiting_ssl import api
    api.train(task='rotation', dataset='fashion_mnist', workdir='/tmp/rot',
              architecture='resnet50', filters_factor=1, batch_size=32,
              lr=0.1, epochs=0.1, preprocessing='resize,flip_lr,-1_to_1,rotate',
              resize_size=32, use_tpu=False)
    module = api.export(...same options...)['module']
    api.linear_eval(hub_module=module, ...)

Keyword arguments are named as the flags and mean the same (`--nouse_tpu`
is `use_tpu=False`); every call parses them on a fresh set of flags, so
nothing is left behind in absl's global flags and two calls with different
settings give what two command lines would. Each returns the job's results
as a dict. A task, network or op of your own is used by name once the
module that registers it is imported.
"""

import difflib
from typing import Any

from absl import flags
import keras

from revisiting_ssl import entry_flags, train_and_eval, utils


def run(**options: Any) -> dict[str, Any]:
  """Runs the job the options describe, as `train_and_eval.py` would.

  Args:
    **options: flag names and values; strings are parsed as on the command
      line ("30,50" for a list), other values are taken as they are.

  Returns:
    The job's results: the final metrics of a training or evaluation, the
    exported module's path of an export, the configuration of a dry run.

  Raises:
    utils.UsageError: for an unknown option (with the closest names), an
      option no chosen component reads, or any value the command line
      would refuse.
  """
  # A fresh process starts Keras' layer names afresh; checkpoints of
  # networks whose layers are named automatically rely on it.
  keras.backend.clear_session()
  fv = flags.FlagValues()
  entry_flags.define_flags(fv)
  fv.mark_as_parsed()
  names = entry_flags.option_names()
  for name, value in options.items():
    if name not in names:
      close = _close_names(name, names)
      hint = f' Did you mean {", ".join(close)}?' if close else ''
      raise utils.UsageError(f'Unknown option {name!r}.{hint}')
    if isinstance(value, str):
      try:
        fv[name].parse(value)
      except flags.IllegalFlagValueError as e:
        raise utils.UsageError(f'{name}: {e}') from None
    else:
      fv[name].value = value
  values, _ = train_and_eval.flag_values(fv)
  config = train_and_eval.make_config(values, given=set(options), prefix='')
  return train_and_eval.run(config)


def _close_names(name: str, names: set[str]) -> list[str]:
  """Names `name` may have meant: a part of it, or a similar spelling."""
  parts = [n for n in sorted(names)
           if name.startswith(f'{n}_') or name.endswith(f'_{n}')]
  similar = difflib.get_close_matches(name, sorted(names), n=3)
  return list(dict.fromkeys(parts + similar))[:3]


def train(**options: Any) -> dict[str, Any]:
  """Trains (`--run_eval` false); returns the last metrics."""
  return run(**options)


def evaluate(**options: Any) -> dict[str, Any]:
  """Evaluates and exports the checkpoints of `workdir` (`--run_eval`)."""
  return run(**options, run_eval=True)


def export(**options: Any) -> dict[str, Any]:
  """Exports the latest checkpoint as a hub module (`--export_only`).

  Returns:
    {'module': the module's path}.
  """
  return run(**options, export_only=True)


def linear_eval(**options: Any) -> dict[str, Any]:
  """Probes a hub module (`hub_module=`) with `--task linear_eval`."""
  return run(**{'task': 'linear_eval', **options})
