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

r"""Converts class-per-folder image trees into slim-format TFRecord shards.

Input: one folder per class below `--train_directory` (and, optionally,
`--validation_directory`), e.g. `train/n01440764/*.JPEG`. Classes are the
sorted folder names of the training directory; labels are 1-based in that
order (0 stays unused, as in the slim ImageNet data). Output in
`--output_directory`: `train-XXXXX-of-NNNNN` and `validation-XXXXX-of-NNNNN`
shards of `tf.train.Example`s plus `dataset_info.json`, which
`--dataset tfrecord --dataset_dir <output_directory>` reads.

Images that are not 3-channel JPEGs (PNG or CMYK files named .JPEG, grey
JPEGs, other formats) are re-encoded as RGB JPEGs with Pillow.

Example:
  python tools/build_tfrecords.py --train_directory ~/data/train \
      --validation_directory ~/data/val --output_directory ~/data/tfrecords \
      --train_shards 64 --validation_shards 8
"""

import concurrent.futures
import io
import json
import os
import random
import sys

from absl import flags, logging
import tensorflow as tf

from revisiting_ssl import cli, datasets, utils


def define_flags() -> None:
  """Defines the tool's flags (the arguments of `convert`).

  They are defined when the tool runs, not when it is imported, as in the
  other tools: a test process imports tools beside the entry point.
  """
  flags.DEFINE_string('train_directory', None,
                      'Folder with one sub-folder of images per class.')
  flags.DEFINE_string(
      'validation_directory', None,
      'Optional folder with the validation images, one sub-folder per class '
      '(class folders must also exist in --train_directory).')
  flags.DEFINE_string('output_directory', None,
                      'Where the shards and dataset_info.json go.')
  flags.DEFINE_integer('train_shards', 1024, 'Number of training shards.')
  flags.DEFINE_integer('validation_shards', 128,
                       'Number of validation shards.')
  flags.DEFINE_integer('num_threads', 1, 'Shards written in parallel.')
  flags.DEFINE_integer(
      'seed', 0, 'Seed of the shuffle of the image order before sharding.')


JPEG_QUALITY = 95


def _import_pillow():
  try:
    from PIL import Image  # noqa: PLC0415  (only the converter needs it)
  except ImportError:
    raise utils.UsageError(
        'tools/build_tfrecords.py needs Pillow: pip install pillow') from None
  return Image


def list_images(directory: str, class_names: list[str] | None = None
                ) -> tuple[list[str], list[tuple[str, str]]]:
  """Lists `(path, class folder)` pairs of a class-per-folder tree.

  Args:
    directory: the root folder.
    class_names: the known classes (from the training directory); None
      takes the sorted sub-folders of `directory`.

  Returns:
    (class names, sorted list of (image path, class name)).

  Raises:
    UsageError: if the directory is missing or has no class folders, or has
      a class that `class_names` lacks.
  """
  if not tf.io.gfile.isdir(directory):
    raise utils.UsageError(f'Image directory {directory} does not exist.')
  folders = sorted(
      name.rstrip('/') for name in tf.io.gfile.listdir(directory)
      if not name.startswith('.') and
      tf.io.gfile.isdir(os.path.join(directory, name)))
  if not folders:
    raise utils.UsageError(
        f'{directory} has no class sub-folders (expected one folder of '
        'images per class).')
  if class_names is None:
    class_names = folders
  else:
    unknown = sorted(set(folders) - set(class_names))
    if unknown:
      raise utils.UsageError(
          f'{directory} has class folders that the training directory lacks: '
          f'{", ".join(unknown[:5])}.')
  images = []
  for name in folders:
    folder = os.path.join(directory, name)
    for filename in sorted(tf.io.gfile.listdir(folder)):
      path = os.path.join(folder, filename)
      if filename.startswith('.') or tf.io.gfile.isdir(path):
        continue
      images.append((path, name))
  return class_names, images


def load_as_rgb_jpeg(path: str) -> tuple[bytes, int, int]:
  """Returns (JPEG bytes, height, width) of an image file, as RGB JPEG.

  Baseline RGB JPEGs keep their bytes; everything else (PNG data in a .JPEG
  file, CMYK or grey JPEGs, other formats) is re-encoded, because the
  input pipeline decodes with `tf.io.decode_jpeg(channels=3)`, which cannot
  read PNG data and gets CMYK colours wrong.

  Raises:
    UsageError: naming the file if it is not a readable image.
  """
  image_lib = _import_pillow()
  with tf.io.gfile.GFile(path, 'rb') as f:
    data = f.read()
  try:
    with image_lib.open(io.BytesIO(data)) as image:
      if image.format == 'JPEG' and image.mode == 'RGB':
        width, height = image.size
        return data, height, width
      image = image.convert('RGB')
      out = io.BytesIO()
      image.save(out, format='JPEG', quality=JPEG_QUALITY)
      width, height = image.size
      logging.info('Re-encoded %s as RGB JPEG.', path)
      return out.getvalue(), height, width
  except (OSError, ValueError, SyntaxError) as e:
    raise utils.UsageError(f'Cannot read image {path}: {e}') from None


def _bytes(value: bytes) -> tf.train.Feature:
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int64(value: int) -> tf.train.Feature:
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def make_example(path: str, synset: str, label: int) -> tf.train.Example:
  """The slim-format `tf.train.Example` of one image."""
  encoded, height, width = load_as_rgb_jpeg(path)
  return tf.train.Example(features=tf.train.Features(feature={
      'image/encoded': _bytes(encoded),
      'image/format': _bytes(b'JPEG'),
      'image/class/label': _int64(label),
      'image/class/synset': _bytes(synset.encode()),
      'image/filename': _bytes(os.path.basename(path).encode()),
      'image/height': _int64(height),
      'image/width': _int64(width),
      'image/colorspace': _bytes(b'RGB'),
      'image/channels': _int64(3),
  }))


def _write_split(prefix: str, images: list[tuple[str, str]],
                 labels: dict[str, int], output_dir: str, num_shards: int,
                 num_threads: int) -> list[tuple[str, int]]:
  """Writes `num_shards` shards; returns (file name, count) per shard."""
  bounds = [len(images) * i // num_shards for i in range(num_shards + 1)]

  def write_shard(index):
    name = datasets.shard_name(prefix, index, num_shards)
    chunk = images[bounds[index]:bounds[index + 1]]
    with tf.io.TFRecordWriter(os.path.join(output_dir, name)) as writer:
      for path, synset in chunk:
        example = make_example(path, synset, labels[synset])
        writer.write(example.SerializeToString())
    return name, len(chunk)

  with concurrent.futures.ThreadPoolExecutor(max(1, num_threads)) as pool:
    shards = list(pool.map(write_shard, range(num_shards)))
  logging.info('Wrote %d %s images in %d shards.', len(images), prefix,
               num_shards)
  return shards


def convert(train_dir: str, validation_dir: str | None, output_dir: str,
            train_shards: int = 1024, validation_shards: int = 128,
            seed: int = 0, num_threads: int = 1) -> dict:
  """Converts the image trees; returns the written dataset_info dict.

  Args:
    train_dir: folder with one sub-folder of images per class.
    validation_dir: the same for validation images, or None/'' to skip.
    output_dir: where shards and dataset_info.json go (created if needed).
    train_shards: number of training shards.
    validation_shards: number of validation shards.
    seed: seeds the shuffle of the image order (so shards mix classes).
    num_threads: shards written in parallel.

  Returns:
    The content of dataset_info.json.

  Raises:
    UsageError: for missing directories or unreadable images.
  """
  train_dir = os.path.expanduser(train_dir)
  output_dir = os.path.expanduser(output_dir)
  if train_shards < 1 or (validation_dir and validation_shards < 1):
    raise utils.UsageError(
        '--train_shards and --validation_shards must be positive.')
  if num_threads < 1:
    raise utils.UsageError('--num_threads must be positive.')
  _import_pillow()  # Fail before any work.
  class_names, train_images = list_images(train_dir)
  validation_images = []
  if validation_dir:
    _, validation_images = list_images(
        os.path.expanduser(validation_dir), class_names)
  labels = {name: i + 1 for i, name in enumerate(class_names)}
  rng = random.Random(seed)
  rng.shuffle(train_images)
  rng.shuffle(validation_images)
  tf.io.gfile.makedirs(output_dir)
  train = _write_split('train', train_images, labels, output_dir,
                       train_shards, num_threads)
  validation = []
  if validation_dir:
    validation = _write_split('validation', validation_images, labels,
                              output_dir, validation_shards, num_threads)
  info = datasets.make_dataset_info(
      class_names=class_names, train_shards=train,
      validation_shards=validation, label_offset=1)
  info_path = os.path.join(output_dir, datasets.DATASET_INFO_FILE)
  with tf.io.gfile.GFile(info_path, 'w') as f:
    json.dump(info, f, indent=2)
  logging.info('Wrote %s.', info_path)
  return info


def main(argv: list[str]) -> None:
  """Runs the conversion; user mistakes exit with one line and status 1."""
  if len(argv) > 1:
    sys.exit(f'build_tfrecords.py: error: unexpected arguments {argv[1:]}.')
  values = flags.FLAGS
  missing = [f'--{name}' for name in ('train_directory', 'output_directory')
             if not values[name].value]
  if missing:
    sys.exit(f'build_tfrecords.py: error: {" and ".join(missing)} must be '
             'set.')
  try:
    convert(values.train_directory, values.validation_directory,
            values.output_directory, train_shards=values.train_shards,
            validation_shards=values.validation_shards, seed=values.seed,
            num_threads=values.num_threads)
  except utils.UsageError as e:
    sys.exit(f'build_tfrecords.py: error: {e}')


def run_cli() -> None:
  """The `revisiting-ssl-build-tfrecords` command."""
  define_flags()
  cli.run(main, __name__)


if __name__ == '__main__':
  run_cli()
