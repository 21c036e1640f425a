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
import sys
import textwrap

from absl import app, flags

import revisiting_ssl

HELP_ARGS = frozenset(['-h', '--help', '-help', '--helpshort', '--helpfull'])


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
