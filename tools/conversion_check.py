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

"""The check of `convert_module.py`: a converted network against its source.

`compare` matches every output of the source's forward pass with ours on
real images (`load_images`). A slim checkpoint has no forward pass of its
own; `slim_reference` is TF-slim's `resnet_v2` in inference mode written
with plain TensorFlow ops straight on the checkpoint's tensors, so it
shares nothing with our network or with the name mapping.
"""

from collections.abc import Mapping
import re

import numpy as np
import tensorflow as tf

from revisiting_ssl import utils
from revisiting_ssl.data_sources import fashion_mnist
from revisiting_ssl.preprocess_ops import values as pp_values


class ConversionError(utils.UsageError):
  """The source does not map one to one onto our network, or differs."""


def _slim_units(values: Mapping[str, np.ndarray], scope: str
                ) -> tuple[int, ...]:
  """Units per block of a slim checkpoint (`block<i>/unit_<j>` names)."""
  pattern = re.compile(re.escape(scope) + r'/block(\d+)/unit_(\d+)/')
  found: dict[int, int] = {}
  for name in values:
    match = pattern.match(name)
    if match:
      block, unit = int(match.group(1)), int(match.group(2))
      found[block] = max(found.get(block, 0), unit)
  return tuple(found[b] for b in sorted(found))


def slim_reference(values: Mapping[str, np.ndarray], scope: str,
                   images: tf.Tensor) -> dict[str, tf.Tensor]:
  """Slim's `resnet_v2` in inference mode, on a checkpoint's tensors.

  Stage strides 2, 2, 2, 1 on each block's last unit; end points
  `after_root`, `block<i>` and, when the checkpoint has them, `pre_logits`
  (after `postnorm`) and `logits`.
  """
  epsilon = 1.001e-5  # Slim's fused batch norm raised 1e-5 to this.

  def conv(x, prefix, stride=1):
    kernel = values[f'{prefix}/weights']
    size = kernel.shape[0]
    if stride > 1 and size > 1:
      pad = [(size - 1) // 2, size // 2]
      x = tf.pad(x, [[0, 0], pad, pad, [0, 0]])
      y = tf.nn.conv2d(x, kernel, stride, 'VALID')
    else:
      y = tf.nn.conv2d(x, kernel, stride, 'SAME')
    biases = values.get(f'{prefix}/biases')
    return y if biases is None else y + biases

  def norm(x, prefix):
    get = lambda v: values[f'{prefix}/{v}']  # noqa: E731
    return tf.nn.relu(tf.nn.batch_normalization(
        x, get('moving_mean'), get('moving_variance'), get('beta'),
        get('gamma'), epsilon))

  units = _slim_units(values, scope)
  x = conv(images, f'{scope}/conv1', 2)
  x = tf.nn.max_pool2d(x, 3, 2, 'SAME')
  end_points = {'after_root': x}
  for i, count in enumerate(units):
    for j in range(count):
      prefix = f'{scope}/block{i + 1}/unit_{j + 1}/bottleneck_v2'
      stride = 2 if j == count - 1 and i < 3 else 1
      preact = norm(x, f'{prefix}/preact')
      if f'{prefix}/shortcut/weights' in values:
        shortcut = conv(preact, f'{prefix}/shortcut', stride)
      else:
        shortcut = x[:, ::stride, ::stride, :]
      r = norm(conv(preact, f'{prefix}/conv1'), f'{prefix}/conv1/BatchNorm')
      r = norm(conv(r, f'{prefix}/conv2', stride),
               f'{prefix}/conv2/BatchNorm')
      x = shortcut + conv(r, f'{prefix}/conv3')
    end_points[f'block{i + 1}'] = x
  if f'{scope}/postnorm/gamma' in values:
    x = tf.reduce_mean(norm(x, f'{scope}/postnorm'), axis=[1, 2])
  else:
    x = tf.reduce_mean(x, axis=[1, 2])
  end_points['pre_logits'] = x
  if f'{scope}/logits/weights' in values:
    end_points['logits'] = conv(x[:, None, None, :], f'{scope}/logits')[
        :, 0, 0, :]
  return end_points


def compare(reference: Mapping[str, tf.Tensor],
            converted: Mapping[str, tf.Tensor],
            tolerance: float) -> dict[str, float]:
  """Every reference output against ours: the largest relative difference.

  Differences are relative to the largest magnitude of the reference
  output (at least 1).

  Raises:
    ConversionError: for a missing output, another shape, or a difference
      above `tolerance`.
  """
  errors, report = [], {}
  for key, want in sorted(reference.items()):
    if key not in converted:
      errors.append(f'{key}: missing in the converted network')
      continue
    want, have = np.asarray(want), np.asarray(converted[key])
    if want.shape != have.shape:
      errors.append(f'{key}: shape {have.shape}, the source {want.shape}')
      continue
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    report[key] = float(np.max(np.abs(want - have), initial=0.0)) / scale
    if report[key] > tolerance:
      errors.append(f'{key}: relative difference {report[key]:.3g}')
  if errors:
    raise ConversionError(
        'The converted network does not reproduce the source (tolerance '
        f'{tolerance}): ' + '; '.join(errors) + '. A patch network '
        '(jigsaw, relative patch location) needs --root_conv_stride 1 '
        '--strides 2,2,1.')
  return report


def load_images(pattern: str | None, count: int, size: int,
                      vgg: bool) -> tf.Tensor:
  """`count` real images, `[count, size, size, 3]`, preprocessed.

  From the files matching `pattern`, else Fashion-MNIST's test images; in
  [-1, 1], or VGG-style (0..255 minus the RGB mean) if `vgg`.

  Raises:
    utils.UsageError: when no image is found.
  """
  if pattern:
    paths = sorted(tf.io.gfile.glob(pattern))[:count]
    images = [tf.image.resize(tf.image.grayscale_to_rgb(img) if img.shape[
        -1] == 1 else img[..., :3], [size, size]) for img in (
            tf.io.decode_image(tf.io.read_file(p), expand_animations=False)
            for p in paths)]
  else:
    images = []
    if tf.io.gfile.isdir(fashion_mnist.DEFAULT_DIR):
      arrays = fashion_mnist.load_arrays(fashion_mnist.DEFAULT_DIR)
      images = [tf.image.resize(np.repeat(x[..., None], 3, -1), [size, size])
                for x in arrays['test_images'][:count]]
  if not images:
    raise utils.UsageError(
        'No images to check the conversion on: pass --check_images '
        '(a glob of JPEG or PNG files).')
  images = tf.cast(tf.stack(images), tf.float32)
  if vgg:
    return images - tf.constant(pp_values.VGG_RGB_MEAN)
  return images * (2.0 / 255.0) - 1.0
