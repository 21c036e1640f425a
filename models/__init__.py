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
Networks know nothing about tasks: a task that needs another root stride or
other stage strides (the patch tasks) passes them as keyword arguments.
Weight decay shows up in `net.losses`.
"""

import functools
import inspect
from typing import Any

import keras

from revisiting_ssl import utils
from revisiting_ssl.models import resnet, revnet, vggnet

# The keyword arguments every network accepts (some ignore a few; see the
# network classes, where their defaults are written). A value of None means
# "the network's default".
NET_KWARGS = ('filters_factor', 'mode', 'last_relu', 'root_conv_stride',
              'strides', 'weight_decay', 'sync_batch_norm')

_NETS = utils.Registry('architecture', flag='--architecture')
_NETS.register('resnet50')(functools.partial(
    resnet.ResNet, (3, 4, 6, 3), name='resnet50'))
_NETS.register('resnet101')(functools.partial(
    resnet.ResNet, (3, 4, 23, 3), name='resnet101'))
_NETS.register('resnet152')(functools.partial(
    resnet.ResNet, (3, 8, 36, 3), name='resnet152'))
# TF-slim's `resnet_v2_<depth>` layout (stride in each stage's last unit,
# biased root convolution), e.g. for the multi-task model's checkpoint.
for _depth, _units in ((50, (3, 4, 6, 3)), (101, (3, 4, 23, 3)),
                       (152, (3, 8, 36, 3))):
  _NETS.register(f'resnet{_depth}_slim')(functools.partial(
      resnet.ResNet, _units, layout='slim', name=f'resnet{_depth}_slim'))
_NETS.register('revnet50')(functools.partial(revnet.RevNet, name='revnet50'))
# S4L's configs name the v2 networks so (`--architecture resnet50v2`).
V2_ALIASES = {f'resnet{depth}v2': f'resnet{depth}' for depth in (50, 101, 152)}
_NETS.register('vgg19')(vggnet.VGG19)


def net_names() -> list[str]:
  """The valid architecture names, sorted."""
  return sorted(_NETS.names() + list(V2_ALIASES))


def option_defaults(architecture: str) -> dict[str, Any]:
  """The default of every option of `NET_KWARGS` for one network.

  Read from the network class's signature, where the defaults live.
  """
  params = inspect.signature(
      _NETS.lookup(V2_ALIASES.get(architecture, architecture))).parameters
  defaults = {name: params[name].default for name in NET_KWARGS}
  if architecture in V2_ALIASES:
    defaults['mode'] = 'v2'
  return defaults


def get_net(architecture: str, num_classes: int | None = None,
            **kwargs: Any) -> keras.Model:
  """Builds a backbone network (its variables appear on the first call).

  Args:
    architecture: one of `net_names()` (`resnet50v2` and its kin are
      `resnet50` with `mode` v2, as S4L names them).
    num_classes: width of the logits layer; None or 0 for no logits (the
      output is then the pre-logits).
    **kwargs: any of `NET_KWARGS`: filters_factor (width multiplier), mode
      (`v1`/`v2`; ResNet only), last_relu, root_conv_stride, strides
      (stages 2-4; a sequence or "2,2,1"), weight_decay, sync_batch_norm.
      None values mean the network's default (`option_defaults`).

  Returns:
    The network, a `keras.Model`.

  Raises:
    UsageError: for an unknown architecture or keyword, or invalid values.
  """
  if architecture in V2_ALIASES:
    if kwargs.get('mode') not in (None, 'v2'):
      raise utils.UsageError(
          f'--architecture {architecture} is a v2 network; --mode '
          f'{kwargs["mode"]} contradicts it.')
    kwargs = dict(kwargs, mode='v2')
    architecture = V2_ALIASES[architecture]
  builder = _NETS.lookup(architecture)
  unknown = sorted(set(kwargs) - set(NET_KWARGS))
  if unknown:
    raise utils.UsageError(
        f'Unknown network option(s) {", ".join(unknown)} for architecture '
        f'{architecture!r}. Valid options: {", ".join(NET_KWARGS)}.')
  if num_classes is not None and (
      isinstance(num_classes, bool) or not isinstance(num_classes, int)
      or num_classes < 0):
    raise utils.UsageError(
        f'num_classes must be a non-negative integer, got {num_classes!r}.')
  kwargs = {k: v for k, v in kwargs.items() if v is not None}
  return builder(num_classes or None, **kwargs)
