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

"""What the command-line programs share: the entry point and the tools.

`run` is absl's `app.run` with a `--help` that works the same whether the
program runs as `python FILE.py` or as an installed console command (absl
lists only the flags defined in the file named by `sys.argv[0]`, which for
a console command is a wrapper that defines none), and that exits with 0;
`--version` prints the package's version (see CHANGELOG.md).
"""

from collections.abc import Callable
import contextlib
import importlib
import os
import sys
import textwrap

from absl import app, flags

import revisiting_ssl

HELP_ARGS = frozenset(['-h', '--help', '-help', '--helpshort', '--helpfull'])
# The tools installed as commands, `revisiting-ssl-<name with dashes>`.
TOOLS = ('build_tfrecords', 'convert_module', 'convex_probe',
         'generate_pseudo_labels', 'make_permutations')


@contextlib.contextmanager
def quiet_native_logs():
  """Within: TensorFlow's C++ start-up lines are not printed.

  TensorFlow 2.21 writes its start-up lines (oneDNN, CUDA stubs, "All log
  messages before absl::InitializeLog()", twice) from C++ while it loads,
  whatever `TF_CPP_MIN_LOG_LEVEL` says, so only silencing the process's
  standard error meanwhile keeps them out.
  Setting `TF_CPP_MIN_LOG_LEVEL` to 0 or 1 brings them back. Python
  exceptions are unaffected: they print after the block.
  """
  if os.environ.get('TF_CPP_MIN_LOG_LEVEL', '2') in ('0', '1'):
    yield
    return
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  sys.stderr.flush()
  saved = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  try:
    os.dup2(devnull, 2)
    yield
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)


def start_tensorflow() -> None:
  """Imports TensorFlow and looks for its physical devices, quietly.

  Looking for the devices is what prints CUDA's complaint on a machine
  without a GPU. The runtime is not started: a multi-worker strategy must
  configure it first.
  """
  with quiet_native_logs():
    import tensorflow as tf  # noqa: PLC0415  (after the redirection)
    tf.config.list_physical_devices()


def command(module: str) -> Callable[[], None]:
  """The console command that runs `module.run_cli()`, quietly started."""

  def main() -> None:
    start_tensorflow()
    importlib.import_module(module).run_cli()

  main.__name__ = module.rsplit('.', 1)[-1]
  return main


train_and_eval = command('revisiting_ssl.train_and_eval')
build_tfrecords, convert_module, convex_probe, generate_pseudo_labels, \
    make_permutations = (command(f'revisiting_ssl.tools.{name}')
                         for name in TOOLS)


def wants_help(argv: list[str]) -> bool:
  """Whether the command line asks for help."""
  return any(arg in HELP_ARGS for arg in argv[1:])


def run(main: Callable[[list[str]], object], module: str,
        help_text: Callable[[], str] | None = None) -> None:
  """Runs `main` as absl's `app.run` does, after the help if asked.

  Args:
    main: the program's main function, given the remaining arguments.
    module: the name of the module that defines the program's flags; its
      docstring is the usage text.
    help_text: the whole help, where the program writes its own (by
      default the module's docstring and its flags).
  """
  if '--version' in sys.argv[1:]:
    print(f'revisiting_ssl {revisiting_ssl.__version__}')
    sys.exit(0)
  if wants_help(sys.argv):
    if help_text is not None:
      print(help_text())
    else:
      doc = sys.modules[module].__doc__ or ''
      print(doc.strip() + '\n')
      # absl files the flags of a file run as a script under its path.
      print(flags.FLAGS.module_help(
          sys.argv[0] if module == '__main__' else module))
    sys.exit(0)
  app.run(main)


def describe(flag: flags.Flag, required: bool = False, indent: int = 2,
             width: int = 80) -> str:
  """One flag as `--help` lists it: name, default, help, wrapped."""
  default = (flag.default_as_str.strip("'") if flag.default is not None
             else None)
  head = f'--{flag.name}' + (' (required)' if required else '') + (
      f' [default {default}]' if default not in (None, '') else '')
  return textwrap.fill(f'{head}: {flag.help}', width=width,
                       initial_indent=' ' * indent,
                       subsequent_indent=' ' * (indent + 4))
