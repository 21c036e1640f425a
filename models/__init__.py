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

"""Backbone networks, looked up by name.

`get_net(architecture, num_classes, **kwargs)` returns a `keras.Model` `net`
with `net(images, training=bool) -> (output, end_points)`: `images` is
`[N, H, W, 3]`, `output` the logits `[N, num_classes]` if `num_classes`,
else the pre-logits. The end-point names are fixed, as in the original's
TF-Hub modules, so results stay comparable:

* ResNets and RevNet: `after_root`, `block1`..`block4`, `pre_logits`
  `[N, C]`, and `logits` if `num_classes` (the `resnet<depth>_slim`
  networks are TF-slim's `resnet_v2_<depth>` layout, see `resnet.py`);
* VGG19: `block1`..`block5`, `fc6`, `pre_logits` `[N, 1, 1, C]`, and
  `logits` if `num_classes`.

Under a mixed-precision policy the logits (and the ResNet/RevNet
pre-logits) stay float32; the other end points have the compute dtype.
Networks know nothing about tasks. Each network declares the options it
reads as keyword arguments of its builder (`net_options`); a task receives
a `Network` (the architecture with the user's options) and builds its trunk
with it, adding what the task itself needs (the patch tasks' strides),
which the network must declare too. Weight decay shows up in `net.losses`.

A network of your own: register a builder, a callable
`builder(num_classes, *, option=default, ...) -> keras.Model` returning
`(output, end_points)` as above, with `@models.register('name')`; its
keyword options become flags.
"""

from collections.abc import Callable
import dataclasses
import functools
from typing import Any

import keras

from revisiting_ssl import options as options_lib
from revisiting_ssl import utils
from revisiting_ssl.models import resnet, revnet, vggnet

_NETS = utils.Registry('architecture', flag='--architecture')


def register(name: str) -> Callable[[Any], Any]:
  """Decorator: registers a network builder under `name` (`--architecture`).

  The builder takes `num_classes` first; every keyword argument with a
  default after it is an option of the network, documented in the
  builder's `Args:` section.
  """
  return _NETS.register(name)


_RESNET_UNITS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
for _depth, _units in _RESNET_UNITS.items():
  register(f'resnet{_depth}')(functools.partial(
      resnet.ResNet, _units, layout='revisiting', name=f'resnet{_depth}'))
  register(f'resnet{_depth}_slim')(functools.partial(
      resnet.ResNet, _units, layout='slim', name=f'resnet{_depth}_slim'))
register('revnet50')(functools.partial(
    revnet.RevNet, units=(3, 4, 6, 3), name='revnet50'))
register('vgg19')(functools.partial(vggnet.VGG19, name='vgg19'))
# S4L's names of the v2 ResNets: the same networks with `mode` v2.
V2_ALIASES = {f'resnet{depth}v2': f'resnet{depth}' for depth in _RESNET_UNITS}


def net_names() -> list[str]:
  """The valid architecture names, sorted."""
  return sorted(_NETS.names() + list(V2_ALIASES))


def net_options(architecture: str) -> dict[str, options_lib.Option]:
  """The options network `architecture` reads, with its defaults.

  Raises:
    UsageError: for an unknown architecture.
  """
  found = options_lib.owner_options(
      _NETS.lookup(V2_ALIASES.get(architecture, architecture)),
      skip=('num_classes',))
  if architecture in V2_ALIASES:
    found['mode'] = dataclasses.replace(found['mode'], default='v2')
  return found


class Network:
  """An architecture with the user's options: what a task builds trunks with.

  Attributes:
    architecture: the registered name (`--architecture`).
    options: the options set (unset ones take the network's defaults).
  """

  def __init__(self, architecture: str, **options: Any):
    """Checks the architecture and the options' names (not yet their values).

    Args:
      architecture: one of `net_names()`.
      **options: options of that network (`net_options`); None values mean
        the network's default.

    Raises:
      UsageError: for an unknown architecture or option, or a `mode` that
        contradicts a v2 alias.
    """
    known = net_options(architecture)
    options = {k: v for k, v in options.items() if v is not None}
    _check_names(architecture, options, known, 'Unknown network option(s)')
    if architecture in V2_ALIASES and options.get('mode', 'v2') != 'v2':
      raise utils.UsageError(
          f'--architecture {architecture} is a v2 network; --mode '
          f'{options["mode"]} contradicts it.')
    self.architecture = architecture
    self.options = options
    self._known = known

  def option(self, name: str) -> Any:
    """The value of option `name`: the user's, else the network's default."""
    return self.options.get(name, self._known[name].default)

  def with_options(self, **options: Any) -> 'Network':
    """The same architecture with `options` set over the user's."""
    return Network(self.architecture, **{**self.options, **options})

  def supports(self, *names: str) -> bool:
    """Whether the network has every option of `names`."""
    return all(name in self._known for name in names)

  def __call__(self, num_classes: int | None = None,
               **overrides: Any) -> keras.Model:
    """Builds the network (its variables appear on the first call).

    Args:
      num_classes: width of the logits layer; None or 0 for no logits (the
        output is then the pre-logits).
      **overrides: options the task sets itself, over the user's (the patch
        tasks' strides).

    Returns:
      The network, a `keras.Model`.

    Raises:
      UsageError: for an option the network does not have, or invalid
        values.
    """
    _check_names(self.architecture, overrides, self._known,
                 'This task needs network option(s)')
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int)
        or num_classes < 0):
      raise utils.UsageError(
          f'num_classes must be a non-negative integer, got {num_classes!r}.')
    clashes = sorted(name for name, value in overrides.items()
                     if self.options.get(name, value) != value)
    if clashes:
      raise utils.UsageError(
          f'This task sets {", ".join(clashes)} of its network itself; '
          f'drop --{" and --".join(clashes)}.')
    kwargs = dict(self.options, **overrides)
    if self.architecture in V2_ALIASES:
      kwargs['mode'] = 'v2'
    builder = _NETS.lookup(V2_ALIASES.get(self.architecture,
                                          self.architecture))
    return builder(num_classes or None, **kwargs)


def _check_names(architecture: str, given: dict[str, Any],
                 known: dict[str, options_lib.Option], what: str) -> None:
  unknown = sorted(set(given) - set(known))
  if unknown:
    others = [name for name in net_names()
              if set(unknown) <= set(net_options(name))]
    hint = (f' Networks that have them: {", ".join(others)}.' if others
            else '')
    raise utils.UsageError(
        f'{what} {", ".join(unknown)}, which --architecture {architecture} '
        f'does not have. Its options: {", ".join(sorted(known))}.{hint}')


def get_net(architecture: str, num_classes: int | None = None,
            **options: Any) -> keras.Model:
  """Builds a network: `Network(architecture, **options)(num_classes)`.

  Raises:
    UsageError: for an unknown architecture or option, or invalid values.
  """
  return Network(architecture, **options)(num_classes)
