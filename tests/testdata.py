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

"""Small data sets written by tests, in the formats the readers take."""

import gzip
import importlib.util
import json
import os
import shutil
import socket
import struct
import subprocess
import sys

from conftest import REPO, SHARED_DATA
import numpy as np
import tensorflow as tf

from revisiting_ssl import models, preprocess
from revisiting_ssl.training import input_streams

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049

# The tiny Fashion-MNIST look-alike of the `data_dir` fixture (conftest.py).
NUM_TRAIN, NUM_TEST = 96, 40


def write_idx_images(path: str, images: np.ndarray) -> None:
  """Writes uint8 images `[N, H, W]` as a gzipped IDX3 file."""
  n, h, w = images.shape
  with gzip.open(path, 'wb') as f:
    f.write(struct.pack('>IIII', IMAGE_MAGIC, n, h, w))
    f.write(images.astype(np.uint8).tobytes())


def write_idx_labels(path: str, labels: np.ndarray) -> None:
  """Writes uint8 labels `[N]` as a gzipped IDX1 file."""
  with gzip.open(path, 'wb') as f:
    f.write(struct.pack('>II', LABEL_MAGIC, len(labels)))
    f.write(labels.astype(np.uint8).tobytes())


def write_fashion_mnist(directory: str, num_train: int = 96,
                        num_test: int = 40, seed: int = 0) -> str:
  """A tiny learnable Fashion-MNIST look-alike: class = bright row band."""
  rng = np.random.default_rng(seed)
  os.makedirs(directory, exist_ok=True)
  for prefix, n in (('train', num_train), ('t10k', num_test)):
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(n, 28, 28))
    for i, label in enumerate(labels):
      images[i, 2 * label + 4:2 * label + 7, 3:25] = 250
    write_idx_images(
        os.path.join(directory, f'{prefix}-images-idx3-ubyte.gz'), images)
    write_idx_labels(
        os.path.join(directory, f'{prefix}-labels-idx1-ubyte.gz'), labels)
  return directory


def run_main(args, env=None, timeout=600, check=True):
  """Runs `train_and_eval.py` with `args` in a subprocess.

  Returns:
    The completed process (stdout and stderr as text).
  """
  full_env = dict(os.environ)
  full_env.pop('TPU_NAME', None)
  full_env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  full_env.update(env or {})
  proc = subprocess.run(
      [sys.executable, str(REPO / 'train_and_eval.py'), *args],
      capture_output=True, text=True, env=full_env, timeout=timeout,
      cwd=str(REPO))
  if check and proc.returncode != 0:
    raise AssertionError(
        f'train_and_eval.py failed ({proc.returncode}):\n'
        f'{proc.stderr[-5000:]}')
  return proc


def listed_checkpoints(workdir: str) -> list[str]:
  """The checkpoints a workdir's `checkpoint` file lists, oldest first."""
  state = tf.train.get_checkpoint_state(workdir)
  return list(state.all_model_checkpoint_paths) if state else []


def checkpoint_steps(workdir: str) -> list[int]:
  """The steps of the listed checkpoints."""
  return [int(p.rsplit('-', 1)[1]) for p in listed_checkpoints(workdir)]


def free_port() -> int:
  """A TCP port on localhost that is free right now."""
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def mirrored_strategy(devices: list[str]) -> tf.distribute.MirroredStrategy:
  """A MirroredStrategy whose collectives cannot meet an earlier one's.

  Every MirroredStrategy starts its collective group and instance keys at
  the same numbers, and TensorFlow caches each instance's parameters by key
  for the life of the process; a second strategy in one test process could
  then meet a "Shape mismatch" against the first one's cached collective.
  Real jobs build one strategy per process; tests build several.
  """
  # pylint: disable-next=protected-access
  tf.distribute.MirroredStrategy._collective_key_base += 100_000
  return tf.distribute.MirroredStrategy(devices)


def tiny_supervised_args(data_dir: str, workdir: str, *extra: str,
                         architecture: str = 'vgg19',
                         save_checkpoints_steps: int = 4) -> list[str]:
  """`train_and_eval.py` flags of a tiny supervised run on `data_dir`.

  Batches of 16 of the 96 training images: 6 steps per epoch. VGG-19 at
  filters_factor 1 traces about three times faster than ResNet-50. `extra`
  comes last and so overrides the flags before it.
  """
  return [
      '--task', 'supervised', '--dataset', 'fashion_mnist',
      '--dataset_dir', data_dir, '--train_split', 'trainval',
      '--val_split', 'test', '--architecture', architecture,
      '--filters_factor', '1', '--preprocessing', 'resize,-1_to_1',
      '--resize_size', '32', '--batch_size', '16', '--lr', '0.05',
      '--lr_scale_batch_size', '256', '--nouse_tpu',
      '--iterations_per_loop', '2',
      '--save_checkpoints_steps', str(save_checkpoints_steps),
      '--serving_input_shape', 'None,32,32,3', '--workdir', workdir, *extra]


# The ImageNet photos of `../shared/data` (CI has them; a user's clone does
# not, and the project may not ship them).
IMAGENET_SAMPLE = SHARED_DATA / 'imagenet-sample'


def _photo_like(rng: np.random.Generator, height: int, width: int,
                channels: int) -> np.ndarray:
  """Smooth colour fields, edges and sensor noise: a photo's statistics."""
  y, x = np.mgrid[0:height, 0:width] / max(height, width)
  image = np.zeros((height, width, channels))
  for c in range(channels):
    for _ in range(4):
      fx, fy, phase = rng.uniform(0.5, 6), rng.uniform(0.5, 6), rng.uniform(
          0, 2 * np.pi)
      image[..., c] += rng.uniform(20, 50) * np.sin(
          2 * np.pi * (fx * x + fy * y) + phase)
  for _ in range(6):  # Objects: filled ellipses with sharp edges.
    cy, cx = rng.uniform(0, 1, 2)
    ry, rx = rng.uniform(0.05, 0.3, 2)
    inside = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 < 1
    image[inside] += rng.uniform(-80, 80, channels)
  image += 128 + rng.normal(0, 6, image.shape)
  return np.clip(image, 0, 255).astype(np.uint8)


def write_photos(directory: str, seed: int = 0) -> list[str]:
  """Twelve JPEG photos of the kinds a real image folder holds.

  Four are greyscale JPEGs; the RGB ones have differing sizes and aspect
  ratios, baseline and progressive encodings and chroma subsamplings.

  Returns:
    The written paths, sorted.
  """
  from PIL import Image  # noqa: PLC0415  (only the tests that need it)
  rng = np.random.default_rng(seed)
  os.makedirs(directory, exist_ok=True)
  kinds = [('L', {}), ('RGB', {}), ('RGB', {'progressive': True}),
           ('RGB', {'subsampling': 0})]
  paths = []
  for i in range(12):
    mode, options = kinds[i % len(kinds)]
    height, width = [(375, 500), (500, 333), (240, 320), (300, 300),
                     (180, 640), (427, 640)][i % 6]
    pixels = _photo_like(rng, height, width, 1 if mode == 'L' else 3)
    image = Image.fromarray(pixels[..., 0] if mode == 'L' else pixels, mode)
    path = os.path.join(directory, f'synthetic_{i:02d}_{mode}.JPEG')
    image.save(path, format='JPEG', quality=int(rng.integers(75, 96)),
               **options)
    paths.append(path)
  return sorted(paths)


def photo_dir(directory: str) -> str:
  """A folder of photos: the ImageNet sample where present, and ours.

  The real photos sort first, so tests that take the first few use them
  when they are there (in CI); a clone without `../shared` uses the
  generated ones (`write_photos`), which have the same variety.
  """
  write_photos(directory)
  if IMAGENET_SAMPLE.is_dir():
    for path in sorted(IMAGENET_SAMPLE.iterdir())[:24]:
      shutil.copy(path, os.path.join(directory, path.name))
  return directory


class StandInNetwork:
  """A `models.Network` whose trunk is `make(num_classes, **options)`.

  What a task receives through its constructor, so tests hand a task a
  small or instrumented trunk without touching the registry. Every build is
  recorded in `calls`. Unset options read ResNet-50's defaults, so a task
  that reads them (S4L's heads' weight decay) sees real values.
  """

  def __init__(self, make, calls=None, architecture='stand_in', **options):
    self.make = make
    self.calls = [] if calls is None else calls
    self.architecture = architecture
    self.options = options

  def __call__(self, num_classes=None, **overrides):
    options = {**self.options, **overrides}
    self.calls.append({'architecture': self.architecture,
                       'num_classes': num_classes, **options})
    return self.make(num_classes, **options)

  def option(self, name):
    return self.options.get(name, models.net_options('resnet50')[name].default)

  def with_options(self, **options):
    return StandInNetwork(self.make, self.calls, self.architecture,
                          **{**self.options, **options})

  def supports(self, *names):
    return True


def sup_stream(preprocessing, **op_args):
  """The labelled stream of a supervised or linear-evaluation task."""
  return {'sup': input_streams.InputStream(
      preprocess.build_pipeline(preprocessing, **op_args))}


def load_script(relative_path: str, name: str):
  """A script of the repository (not a package module) imported as `name`."""
  spec = importlib.util.spec_from_file_location(name, REPO / relative_path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


class StandInRun:
  """Stands in for `benchmarks/experiment.run` in the drivers' tests.

  Records every command; a subclass's `stage` writes what the command
  would have written and returns the seconds it "took".
  """

  def __init__(self):
    self.commands = []

  def __call__(self, cmd, log_path, progress=None):
    del log_path, progress
    self.commands.append(cmd)
    return self.stage(cmd)

  def stage(self, cmd) -> float:
    raise NotImplementedError

  def install(self, monkeypatch, experiment) -> None:
    """Replaces the drivers' `run` and their (TensorFlow-importing) versions."""
    monkeypatch.setattr(experiment, 'run', self)
    monkeypatch.setattr(experiment, 'versions', lambda: 'versions line')

  def main(self, monkeypatch, driver, argv: list[str]) -> list:
    """Runs `driver.main()` with `argv`; returns the commands it ran."""
    monkeypatch.setattr(sys, 'argv', argv)
    self.commands.clear()
    driver.main()
    return list(self.commands)


def forget_in_ledger(path: str, key: str, *fields: str) -> None:
  """Deletes `entries[key][fields[0]][fields[1]]...` from a ledger file.

  A stage whose number the ledger lacks, as if it had not run.
  """
  with open(path) as f:
    entries = json.load(f)
  parent = entries[key]
  for field in fields[:-1]:
    parent = parent[field]
  del parent[fields[-1]]
  with open(path, 'w') as f:
    json.dump(entries, f)
