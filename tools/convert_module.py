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

r"""Converts a published TF1 model into one of our TF2 hub modules.

Sources: a TF1 hub module (the paper's, S4L's, the VTAB collection's) or a
TF-slim `resnet_v2` checkpoint (the multi-task model). TensorFlow 2 runs a
TF1 module's graph but cannot retrain it, and cannot run a slim checkpoint
at all; the converted module is a Reusable SavedModel of our network
(`hub.KerasLayer(path, trainable=True)` fine-tunes it, `hub.load` gives the
`default` and `representation` signatures).

Steps: read the source's variables; name our network's variables as the
original code did (`models/original_names.py`; the naming convention,
`revisiting`, `s4l` or `slim`, is recognised from the names); fail with the
unmatched names unless the two sets of names and shapes agree one to one;
copy the values; run the source and the converted network on real images
and compare every end point; only then write the module.

The source's forward pass is its own `representation` and `default`
signatures for a hub module. A slim checkpoint has no graph, so its
reference is slim's `resnet_v2` written out with plain TensorFlow ops on the
checkpoint's tensors (`conversion_check.py`), independent of our network
and of the name mapping. A slim checkpoint trained only up to some block (the
multi-task model stops at block3) converts to a network that ends there.

  python tools/convert_module.py --source <hub module dir> --output <dir>
  python tools/convert_module.py --source <model.ckpt> --output <dir> \
    --check_images '<photos>/*.JPEG'

The check uses `--check_images` (default: Fashion-MNIST's test images in
its default directory), resized to the source's input size (else
`--check_size`), in [-1, 1] for hub modules and VGG-style for checkpoints.
"""

from collections.abc import Mapping
import os
import re

from absl import app, flags, logging
import numpy as np
import tensorflow as tf

from revisiting_ssl import cli, models, utils
from revisiting_ssl.models import original_names, resnet
from revisiting_ssl.probes import module_features
from revisiting_ssl.self_supervision import s4l_lib
from revisiting_ssl.tools import conversion_check
from revisiting_ssl.training import hub_export

# Variables a checkpoint holds besides the network's: the step counter and
# optimiser or averaging slots.
_NOT_NETWORK = re.compile(
    r'(^|/)global_step$|/(Momentum|RMSProp(_1)?|Adam(_1)?|'
    r'ExponentialMovingAverage)$')
_SLIM_UNIT = re.compile(r'^(.+)/block(\d+)/unit_(\d+)/bottleneck_v2/')
_S4L_UNIT = re.compile(r'^block(\d+)/unit(\d+)/')
_S4L_HEAD = re.compile(r'^(\w+)/kernel$')
# Width of the first convolution per unit of filters_factor.
_ROOT_WIDTH = {'resnet50': 16, 'revnet50': 64, 'vgg19': 8}

ServeFn = hub_export.ServeFn


ConversionError = conversion_check.ConversionError


def read_variables(source: str) -> tuple[dict[str, np.ndarray], str]:
  """The network variables of a TF1 hub module or a checkpoint.

  Returns:
    ({name: value}, kind), kind `hub` or `checkpoint`.

  Raises:
    utils.UsageError: if `source` is neither.
  """
  if tf.io.gfile.isdir(source) and module_features.is_tf1_hub_module(source):
    prefix, kind = os.path.join(source, 'variables', 'variables'), 'hub'
  else:
    prefix, kind = source, 'checkpoint'
  try:
    reader = tf.train.load_checkpoint(prefix)
  except (ValueError, tf.errors.OpError) as e:
    raise utils.UsageError(
        f'--source {source} is neither a TF1 hub module (a directory with '
        f'tfhub_module.pb) nor a checkpoint: {utils.error_summary(e)}'
    ) from None
  names = [n for n in reader.get_variable_to_shape_map()
           if not _NOT_NETWORK.search(n)]
  return {n: reader.get_tensor(n) for n in names}, kind


def detect_convention(names: list[str]) -> str:
  """`revisiting`, `s4l` or `slim`, from the variable names."""
  if any(n.startswith('root_block/') for n in names):
    return 's4l'
  if any(_SLIM_UNIT.match(n) for n in names):
    return 'slim'
  if 'conv2d/kernel' in names:
    return 'revisiting'
  raise ConversionError(
      'The source\'s variable names follow none of the conventions '
      f'{", ".join(original_names.CONVENTIONS)}; some of them: '
      f'{", ".join(sorted(names)[:8])}.')


def _units(names, pattern: re.Pattern, group: int = 0) -> tuple[int, ...]:
  """Units per stage, counted from names matched by `pattern`."""
  found: dict[int, int] = {}
  for name in names:
    match = pattern.match(name)
    if match:
      block, unit = (int(g) for g in match.groups()[group:group + 2])
      found[block] = max(found.get(block, 0), unit)
  return tuple(found[b] for b in sorted(found))


def _filters_factor(kernel: np.ndarray, per_unit: int) -> int:
  width = kernel.shape[-1]
  if width % per_unit:
    raise ConversionError(f'A first convolution of {width} channels is no '
                          f'multiple of {per_unit}.')
  return width // per_unit


def build_network(values: Mapping[str, np.ndarray], convention: str, *,
                  architecture: str = 'resnet50', scope: str | None = None,
                  input_size: int = 224, **net_kwargs):
  """Our network (and S4L heads) of the source's shape, built.

  Args:
    values: the source's variables.
    convention: its naming convention.
    architecture: the network of a `revisiting` source (its names do not
      tell), one of `resnet50`, `revnet50`, `vgg19`.
    scope: the slim network's scope (default: found in the names).
    input_size: the input size VGG19 is built for.
    **net_kwargs: further network options (mode, root_conv_stride,
      strides, weight_decay); None values take the network's default.

  Returns:
    (network, S4L heads or None, variable map {original name: variable}).
  """
  net_kwargs = {k: v for k, v in net_kwargs.items() if v is not None}
  names = sorted(values)
  heads = None
  if convention != 'revisiting' and net_kwargs.pop('mode', 'v2') != 'v2':
    raise utils.UsageError(f'{convention} networks are ResNet v2.')
  if convention == 'revisiting':
    if architecture not in _ROOT_WIDTH:
      raise utils.UsageError(
          f'--architecture {architecture} is not one the paper published; '
          f'valid: {", ".join(sorted(_ROOT_WIDTH))}.')
    ff = _filters_factor(values['conv2d/kernel'], _ROOT_WIDTH[architecture])
    biased = [n for n in names if re.fullmatch(r'conv2d(_\d+)?/bias', n)]
    num_classes = values[biased[-1]].shape[-1] if biased else None
    if architecture == 'resnet50' and 'mode' not in net_kwargs:
      # A v1 network has one batch norm per convolution, v2 fewer.
      convs = sum(n.endswith('/kernel') for n in names) - len(biased)
      norms = sum(n.endswith('/gamma') for n in names)
      net_kwargs['mode'] = 'v1' if convs == norms else 'v2'
    net = models.get_net(architecture, num_classes, filters_factor=ff,
                         **net_kwargs)
  elif convention == 's4l':
    units = _units(names, _S4L_UNIT)
    ff = _filters_factor(values['root_block/conv2d/kernel'], 16)
    name = original_names.SLIM_SCOPES.get(units, 'resnet').replace(
        '_v2_', '')
    net = resnet.ResNet(units, None, filters_factor=ff, mode='v2', name=name,
                        **net_kwargs)
    head_sizes = {m.group(1): values[n].shape[-1] for n in names
                  if (m := _S4L_HEAD.match(n))}
    if s4l_lib.CLASSES in head_sizes:
      head_sizes = {s4l_lib.CLASSES: head_sizes.pop(s4l_lib.CLASSES),
                    **head_sizes}
    heads = s4l_lib.LinearHeads(head_sizes, net.get_config()['weight_decay'])
  else:
    scope = scope or _SLIM_UNIT.match(next(
        n for n in names if _SLIM_UNIT.match(n))).group(1)
    units = _units(names, _SLIM_UNIT, group=1)
    logits = values.get(f'{scope}/logits/biases')
    ff = _filters_factor(values[f'{scope}/conv1/weights'], 16)
    net = resnet.ResNet(units, None if logits is None else logits.shape[-1],
                        filters_factor=ff, layout='slim', name=scope,
                        **net_kwargs)
  net.build((None, input_size, input_size, 3))
  mapping = original_names.variable_map(net, convention, scope=scope)
  if heads is not None:
    heads.build((None, net.width))
    for head in heads.names:
      layer = getattr(heads, f'head_{head}')
      mapping.update({f'{head}/kernel': layer.kernel,
                      f'{head}/bias': layer.bias})
  return net, heads, mapping


def assign(mapping: Mapping[str, tf.Variable],
           values: Mapping[str, np.ndarray], ignore_prefix: str = '') -> None:
  """Copies `values` into the mapped variables, one to one.

  Args:
    mapping: {original name: our variable}.
    values: {original name: value}; a 1x1 convolution's `[1, 1, C, K]`
      kernel fills a dense `[C, K]` one.
    ignore_prefix: source names outside it are not the network's (a slim
      checkpoint also holds its tasks' heads); '' keeps all.

  Raises:
    ConversionError: listing the names that have no counterpart, and the
      shapes that differ.
  """
  source = {n for n in values if n.startswith(ignore_prefix)}
  ours_only = sorted(set(mapping) - source)
  theirs_only = sorted(source - set(mapping))
  shapes = []
  for name in sorted(set(mapping) & source):
    have, want = values[name].shape, tuple(mapping[name].shape)
    if have != want and not (have[:2] == (1, 1) and have[2:] == want):
      shapes.append(f'{name}: {have} vs ours {want}')
  if ours_only or theirs_only or shapes:
    parts = []
    if theirs_only:
      parts.append(f'source variables without a counterpart: '
                   f'{", ".join(theirs_only)}')
    if ours_only:
      parts.append(f'names our network expects but the source lacks: '
                   f'{", ".join(ours_only)}')
    if shapes:
      parts.append(f'shapes that differ: {"; ".join(shapes)}')
    raise ConversionError('The source does not map one to one onto our '
                          'network; ' + '. '.join(parts) + '.')
  for name, variable in mapping.items():
    variable.assign(np.reshape(values[name], variable.shape))


def make_serve_fn(net, heads, default_end_point: str | None = None
                  ) -> ServeFn:
  """The module's forward pass: (default output, end points).

  With S4L heads it is S4L's module: `default` is the `classes` logits and
  every end point also appears with the suffix `_unsup`, `pre_logits` as
  `[N, 1, 1, C]`. `default_end_point` makes that end
  point the default output instead (what `hub.KerasLayer(path,
  trainable=True)` returns): fine-tuning wants `pre_logits`, not the
  pretext task's logits.
  """
  def plain(images, training=False):
    return net(images, training=training)

  def s4l(images, training=False):
    _, end_points = net(images, training=training)
    end_points = dict(end_points)
    pre_logits = end_points['pre_logits']
    end_points['pre_logits'] = pre_logits[:, tf.newaxis, tf.newaxis, :]
    end_points.update(heads(pre_logits))
    end_points.update({f'{k}_unsup': v for k, v in list(end_points.items())})
    first = s4l_lib.CLASSES if s4l_lib.CLASSES in heads.names else (
        heads.names[0])
    return end_points[first], end_points

  serve = plain if heads is None else s4l
  if default_end_point is None:
    return serve

  def chosen(images, training=False):
    _, end_points = serve(images, training=training)
    if default_end_point not in end_points:
      raise utils.UsageError(
          f'--default_end_point {default_end_point} is not an end point; '
          f'valid: {", ".join(sorted(end_points))}.')
    return end_points[default_end_point], end_points

  return chosen


def convert(source: str, output: str, *, check_images: str | None = None,
            check_count: int = 8, check_size: int = 224,
            tolerance: float = 1e-4, architecture: str = 'resnet50',
            scope: str | None = None,
            serving_input_shape: list[int | None] | None = None,
            default_end_point: str | None = None,
            **net_kwargs) -> dict[str, float]:
  """Converts `source` into our hub module at `output`.

  Args:
    source: a TF1 hub module directory or a slim checkpoint.
    output: the module directory to write.
    check_images: glob of the check's images (see
      `conversion_check.load_images`).
    check_count: how many images the check uses.
    check_size: their size when the source does not fix it.
    tolerance: the largest relative difference of an end point.
    architecture: the network of a `revisiting` source.
    scope: a slim checkpoint's network scope (default: from the names).
    serving_input_shape: the module's input shape (default: the source's,
      else `[None, None, None, 3]`).
    default_end_point: the end point the module's `default` output and
      `__call__` return (default: the source's default output).
    **net_kwargs: network options (`build_network`).

  Returns:
    {end point: relative difference} of the check.

  Raises:
    utils.UsageError: for an unusable source; ConversionError when the
      mapping is not one to one or the outputs differ. Nothing is written
      then.
  """
  values, kind = read_variables(source)
  convention = detect_convention(list(values))
  spec_shape = [None, None, None, 3]
  input_key = hub_export.DEFAULT_INPUT_KEY
  if kind == 'hub':
    loaded, representation = module_features.load_module(
        source, 'representation')
    ((input_key, spec),) = representation.structured_input_signature[
        1].items()
    spec_shape = spec.shape.as_list()
  size = spec_shape[1] or check_size
  net, heads, mapping = build_network(
      values, convention, architecture=architecture, scope=scope,
      input_size=size, **net_kwargs)
  prefix = ''
  if convention == 'slim':
    prefix = net.name + '/'
  assign(mapping, values, ignore_prefix=prefix)
  serve_fn = make_serve_fn(net, heads, default_end_point)

  images = conversion_check.load_images(check_images, check_count, size,
                                        vgg=kind == 'checkpoint')
  if kind == 'hub':
    reference = dict(representation(**{input_key: images}))
    if default_end_point is None:
      reference.update(loaded.signatures['default'](**{input_key: images}))
  else:
    reference = conversion_check.slim_reference(values, net.name, images)
  default, end_points = serve_fn(images, training=False)
  report = conversion_check.compare(
      reference, {'default': default, **end_points}, tolerance)
  logging.info('Converted %s (%s names): largest relative differences %s',
               source, convention, report)

  trackables = {'net': net} if heads is None else {'net': net,
                                                   'heads': heads}
  # The source's input key, so that its users' calls keep working.
  hub_export.export_hub_module(serve_fn, trackables, output,
                               serving_input_shape or spec_shape,
                               input_key=input_key)
  return report


# -- Command line -------------------------------------------------------

def define_flags() -> None:
  """Defines the tool's flags (the arguments of `convert`).

  They are defined when the tool runs, not when it is imported: the
  trainer's entry point has flags of the same names (`--architecture`).
  """
  flags.DEFINE_string('source', None, 'A TF1 hub module directory or a TF-slim '
                      'resnet_v2 checkpoint.')
  flags.DEFINE_string('output', None, 'The converted module directory.')
  flags.DEFINE_string('check_images', None, 'Glob of the images the check '
                      'runs on (default: Fashion-MNIST test images).')
  flags.DEFINE_integer('check_count', 8, 'Images the check uses.')
  flags.DEFINE_integer('check_size', 224, 'Their size where the source does '
                       'not fix it.')
  flags.DEFINE_float('tolerance', 1e-4, 'Largest relative difference of an '
                     'end point.')
  flags.DEFINE_string('architecture', 'resnet50', 'Network of a module of the '
                      'paper: resnet50, revnet50 or vgg19.')
  flags.DEFINE_enum('mode', None, ['v1', 'v2'], 'ResNet version (default: '
                    'found from the variables).')
  flags.DEFINE_integer('root_conv_stride', None, 'Root stride (1 for the patch '
                       'networks; default: the network\'s).')
  flags.DEFINE_string('strides', None, 'Strides of stages 2-4 ("2,2,1" for the '
                      'patch networks; default: the network\'s).')
  flags.DEFINE_float('weight_decay', None, 'L2 of the converted module\'s '
                     'regularisation losses (default: the network\'s).')
  flags.DEFINE_string('scope', None, 'A slim checkpoint\'s network scope '
                      '(default: found from the names).')
  flags.DEFINE_string('serving_input_shape', None, 'The module\'s input shape '
                      '(default: the source\'s).')
  flags.DEFINE_string('default_end_point', None, 'The end point the module\'s '
                      'default output returns, e.g. pre_logits for fine-tuning '
                      '(default: the source\'s default output).')


def main(argv):
  """Converts --source into --output."""
  del argv
  flag_values = flags.FLAGS
  if not flag_values.source or not flag_values.output:
    raise app.UsageError('--source and --output are required.')
  shape = utils.str2intlist(flag_values.serving_input_shape,
                            name='serving_input_shape')
  report = convert(
      flag_values.source, flag_values.output,
      check_images=flag_values.check_images,
      check_count=flag_values.check_count,
      check_size=flag_values.check_size, tolerance=flag_values.tolerance,
      architecture=flag_values.architecture, scope=flag_values.scope,
      serving_input_shape=shape,
      default_end_point=flag_values.default_end_point, mode=flag_values.mode,
      root_conv_stride=flag_values.root_conv_stride,
      strides=flag_values.strides, weight_decay=flag_values.weight_decay)
  logging.info('Wrote %s (check: %s)', flag_values.output, report)


def run_cli() -> None:
  """The `revisiting-ssl-convert-module` command."""
  define_flags()
  cli.run(main, __name__)


if __name__ == '__main__':
  run_cli()
