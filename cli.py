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
a console command is a wrapper that defines none), and that exits with 0.
"""

from collections.abc import Callable
import sys

from absl import app, flags

HELP_ARGS = frozenset(['-h', '--help', '-help', '--helpshort', '--helpfull'])


def wants_help(argv: list[str]) -> bool:
  """Whether the command line asks for help."""
  return any(arg in HELP_ARGS for arg in argv[1:])


def run(main: Callable[[list[str]], object], module: str) -> None:
  """Runs `main` as absl's `app.run` does, after the help if asked.

  Args:
    main: the program's main function, given the remaining arguments.
    module: the name of the module that defines the program's flags; its
      docstring is the usage text.
  """
  if wants_help(sys.argv):
    doc = sys.modules[module].__doc__ or ''
    print(doc.strip() + '\n')
    # absl files the flags of a file run as a script under its path.
    print(flags.FLAGS.module_help(
        sys.argv[0] if module == '__main__' else module))
    sys.exit(0)
  app.run(main)
