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

"""The names the original code bases gave our networks' variables.

Published models name their variables as the TF1 code that trained them
did; `variable_map(net, convention)` returns, for one of our built networks,
`{original name: our variable}` under one of three conventions:

* `revisiting` (the paper's hub modules): `tf.layers` without scopes, so a
  layer's name is its kind numbered in creation order: `conv2d`,
  `conv2d_1`, ... and `batch_normalization`, `batch_normalization_1`, ...,
  with variables `kernel`, `bias`, `gamma`, `beta`, `moving_mean`,
  `moving_variance`. A v2 unit creates its pre-activation batch norm, its
  projection (if any), then conv a, norm b, conv b, norm c, conv c; a v1
  unit the projection and its norm, then conv-norm three times. The logits
  are a biased 1x1 `conv2d` (`[1, 1, C, K]`, our `[C, K]`).
* `s4l` (the S4L modules, ResNet v2): scopes `root_block/conv2d`,
  `block<i>/unit<j>/{batch_normalization, proj/conv2d, a/conv2d,
  b/batch_normalization, b/conv2d, c/batch_normalization, c/conv2d}`, the
  final `batch_normalization`, the trunk's logits in `head/conv2d`.
* `slim` (TF-slim `resnet_v2`, the multi-task checkpoint): under the
  network's scope (`resnet_v2_101`), `conv1/{weights,biases}`,
  `block<i>/unit_<j>/bottleneck_v2/{preact, shortcut, conv1, conv1/BatchNorm,
  conv2, conv2/BatchNorm, conv3}`, `postnorm`, `logits`. Slim's batch norm
  after conv1 is the pre-activation of our conv b, the one after conv2 that
  of our conv c.

Learned from the original code (google/revisiting-self-supervised
`models/resnet.py`, `models/vggnet.py`; google-research/s4l
`models/resnet.py`; tensorflow/models `research/slim/nets/resnet_v2.py`,
`resnet_utils.py`); the mapping is ours.
"""

from collections.abc import Callable

import keras
import tensorflow as tf

from revisiting_ssl import utils
from revisiting_ssl.models import layers, resnet, vggnet

CONVENTIONS = ('revisiting', 's4l', 'slim')
_BN_VARIABLES = ('gamma', 'beta', 'moving_mean', 'moving_variance')
# Slim's scope of each depth's network, keyed by the units per stage.
SLIM_SCOPES = {(3, 4, 6, 3): 'resnet_v2_50', (3, 4, 23, 3): 'resnet_v2_101',
               (3, 8, 36, 3): 'resnet_v2_152'}

VariableMap = dict[str, tf.Variable]


def _weights(layer: keras.layers.Layer, prefix: str,
             slim: bool = False) -> VariableMap:
  """A convolution's or dense layer's kernel and bias (if any)."""
  kernel, bias = ('weights', 'biases') if slim else ('kernel', 'bias')
  found = {f'{prefix}/{kernel}': layer.kernel}
  if getattr(layer, 'bias', None) is not None:
    found[f'{prefix}/{bias}'] = layer.bias
  return found


def _norm(layer: keras.layers.Layer, prefix: str) -> VariableMap:
  """A batch norm's four variables (the same names in TF1 and slim)."""
  return {f'{prefix}/{v}': getattr(layer, v) for v in _BN_VARIABLES}


class _Numbered:
  """`tf.layers`' automatic names: `conv2d`, `conv2d_1`, ... per kind."""

  def __init__(self):
    self.found: VariableMap = {}
    self._counts: dict[str, int] = {}

  def _name(self, kind: str) -> str:
    count = self._counts.get(kind, 0)
    self._counts[kind] = count + 1
    return kind if count == 0 else f'{kind}_{count}'

  def conv(self, layer):
    self.found.update(_weights(layer, self._name('conv2d')))

  def norm(self, layer):
    self.found.update(_norm(layer, self._name('batch_normalization')))


def _revisiting(net: layers.Backbone) -> VariableMap:
  names = _Numbered()
  conv, norm = names.conv, names.norm
  if isinstance(net, vggnet.VGG19):
    for block in net.blocks:
      for unit in block.units:
        conv(unit.conv)
        norm(unit.bn)
    conv(net.fc6)
    norm(net.fc6_bn)
    conv(net.fc7.conv)
    norm(net.fc7.bn)
  elif isinstance(net, resnet.ResNet) and net.mode == 'v1':
    conv(net.root_conv)
    norm(net.root_bn)
    for block in net.blocks:
      for unit in block.units:
        if unit.project:
          conv(unit.shortcut)
          norm(unit.bn_shortcut)
        for c, n in ((unit.conv_a, unit.bn_a), (unit.conv_b, unit.bn_b),
                     (unit.conv_c, unit.bn_c)):
          conv(c)
          norm(n)
  else:  # ResNet v2 and RevNet: pre-activation units.
    conv(net.root_conv)
    for block in net.blocks:
      for unit in block.units:
        norm(unit.bn_a)
        if getattr(unit, 'project', False):
          conv(unit.shortcut)
        conv(unit.conv_a)
        norm(unit.bn_b)
        conv(unit.conv_b)
        norm(unit.bn_c)
        conv(unit.conv_c)
    if getattr(net, 'final_bn', None) is not None:
      norm(net.final_bn)
  if net.num_classes:
    conv(net.logits)
  return names.found


def _s4l(net: resnet.ResNet) -> VariableMap:
  found = _weights(net.root_conv, 'root_block/conv2d')
  for i, block in enumerate(net.blocks):
    for j, unit in enumerate(block.units):
      prefix = f'block{i + 1}/unit{j + 1}'
      found.update(_norm(unit.bn_a, f'{prefix}/batch_normalization'))
      if unit.project:
        found.update(_weights(unit.shortcut, f'{prefix}/proj/conv2d'))
      found.update(_weights(unit.conv_a, f'{prefix}/a/conv2d'))
      for part, (bn, conv) in (('b', (unit.bn_b, unit.conv_b)),
                               ('c', (unit.bn_c, unit.conv_c))):
        found.update(_norm(bn, f'{prefix}/{part}/batch_normalization'))
        found.update(_weights(conv, f'{prefix}/{part}/conv2d'))
  if net.final_norm:
    found.update(_norm(net.final_bn, 'batch_normalization'))
  if net.num_classes:
    found.update(_weights(net.logits, 'head/conv2d'))
  return found


def _slim(net: resnet.ResNet, scope: str) -> VariableMap:
  found = _weights(net.root_conv, f'{scope}/conv1', slim=True)
  for i, block in enumerate(net.blocks):
    for j, unit in enumerate(block.units):
      prefix = f'{scope}/block{i + 1}/unit_{j + 1}/bottleneck_v2'
      found.update(_norm(unit.bn_a, f'{prefix}/preact'))
      if unit.project:
        found.update(_weights(unit.shortcut, f'{prefix}/shortcut', True))
      found.update(_weights(unit.conv_a, f'{prefix}/conv1', True))
      found.update(_norm(unit.bn_b, f'{prefix}/conv1/BatchNorm'))
      found.update(_weights(unit.conv_b, f'{prefix}/conv2', True))
      found.update(_norm(unit.bn_c, f'{prefix}/conv2/BatchNorm'))
      found.update(_weights(unit.conv_c, f'{prefix}/conv3', True))
  if net.final_norm:
    found.update(_norm(net.final_bn, f'{scope}/postnorm'))
  if net.num_classes:
    found.update(_weights(net.logits, f'{scope}/logits', True))
  return found


def slim_scope(net: resnet.ResNet) -> str:
  """Slim's default scope for `net`'s depth (`resnet_v2_101`).

  Raises:
    utils.UsageError: for a depth slim has no network of.
  """
  units = tuple(len(block.units) for block in net.blocks)
  if units not in SLIM_SCOPES:
    raise utils.UsageError(
        f'TF-slim has no resnet_v2 with units {units}; pass its scope.')
  return SLIM_SCOPES[units]


def variable_map(net: keras.Model, convention: str,
                 scope: str | None = None) -> VariableMap:
  """`{original name: variable}` for every variable of a built network.

  Args:
    net: one of our networks, built (its variables exist).
    convention: one of `CONVENTIONS`.
    scope: the slim convention's outer scope (default: slim's name for
      the network's depth, e.g. `resnet_v2_101`).

  Returns:
    Every variable of `net` under its original name, names without the
    `:0` suffix.

  Raises:
    utils.UsageError: for an unknown convention, or a network the
      convention never named (S4L and slim name ResNet v2 only).
  """
  builders: dict[str, Callable[[], VariableMap]] = {
      'revisiting': lambda: _revisiting(net),
      's4l': lambda: _s4l(net),
      'slim': lambda: _slim(net, scope or slim_scope(net)),
  }
  if convention not in builders:
    raise utils.UsageError(
        f'Unknown naming convention {convention!r}. Valid choices: '
        f'{", ".join(CONVENTIONS)}.')
  if convention != 'revisiting' and not (
      isinstance(net, resnet.ResNet) and net.mode == 'v2'):
    raise utils.UsageError(
        f'The {convention} convention names ResNet v2 networks only, not '
        f'{net.name}.')
  if convention == 'slim' and net.layout != 'slim':
    raise utils.UsageError(
        'Slim checkpoints need the slim layout (`resnet<depth>_slim`).')
  mapping = builders[convention]()
  mapped = {id(v) for v in mapping.values()}
  missed = [v.path for v in net.weights if id(v) not in mapped]
  if missed:
    raise AssertionError(f'Variables without an original name: {missed}')
  return mapping
