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

"""Tests of tools/build_tfrecords.py on real ImageNet sample images."""

import collections
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from revisiting_ssl import datasets, utils
from revisiting_ssl.tools import build_tfrecords

Image = pytest.importorskip('PIL.Image')

REPO = pathlib.Path(__file__).resolve().parents[1]
CLASSES = ['fish', 'bird', 'misc']  # Sorted: bird=1, fish=2, misc=3.


def _sample_files(photos):
  """12 photos: up to 8 that are not RGB JPEGs, then RGB ones."""
  odd, plain = [], []
  for path in sorted(photos.iterdir()):
    with Image.open(path) as image:
      is_plain = image.format == 'JPEG' and image.mode == 'RGB'
    (plain if is_plain else odd).append(path)
  return odd[:8] + plain[:12 - len(odd[:8])], odd[:8]


@pytest.fixture(scope='module')
def image_tree(tmp_path_factory, photos):
  """train/<class>/ and val/<class>/ folders from the photos.

  The photos have grey JPEGs but no PNG or CMYK files, so one PNG and one
  CMYK JPEG, both named .JPEG, are made from a photo.
  """
  files, odd = _sample_files(photos)
  root = tmp_path_factory.mktemp('images')
  expected = {}  # file name -> (class, original RGB pixels or None)
  for i, path in enumerate(files):
    split = 'val' if i % 4 == 3 else 'train'
    cls = CLASSES[i % 3]
    folder = root / split / cls
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, folder / path.name)
    expected[path.name] = (cls, None)
  with Image.open(files[-1]) as image:
    rgb = image.convert('RGB').resize((64, 48))
  rgb.save(root / 'train' / 'bird' / 'disguised_png.JPEG', format='PNG')
  rgb.convert('CMYK').save(root / 'train' / 'fish' / 'cmyk.JPEG',
                           format='JPEG', quality=95)
  pixels = np.asarray(rgb)
  expected['disguised_png.JPEG'] = ('bird', pixels)
  expected['cmyk.JPEG'] = ('fish', pixels)
  (root / 'train' / 'misc' / '.DS_Store').write_bytes(b'junk')
  return root, expected, [p.name for p in odd], photos


def _read_shards(files):
  examples = []
  for record in tf.data.TFRecordDataset(files):
    example = tf.train.Example.FromString(record.numpy())
    examples.append({
        key: (value.bytes_list.value[0] if value.bytes_list.value else
              value.int64_list.value[0])
        for key, value in example.features.feature.items()
    })
  return examples


def test_convert_and_read_back(image_tree, tmp_path):
  root, expected, odd, photos = image_tree
  assert odd, 'the photos should contain non-RGB JPEGs'
  info = build_tfrecords.convert(
      str(root / 'train'), str(root / 'val'), str(tmp_path), train_shards=3,
      validation_shards=2, seed=1)
  on_disk = json.loads((tmp_path / datasets.DATASET_INFO_FILE).read_text())
  assert on_disk == info
  assert info['class_names'] == ['bird', 'fish', 'misc']
  assert info['num_classes'] == 3 and info['label_offset'] == 1
  assert sorted(os.listdir(tmp_path)) == [
      'dataset_info.json', 'train-00000-of-00003', 'train-00001-of-00003',
      'train-00002-of-00003', 'validation-00000-of-00002',
      'validation-00001-of-00002']
  num_train = sum(1 for _ in (root / 'train').glob('*/*.JPEG'))
  num_val = sum(1 for _ in (root / 'val').glob('*/*.JPEG'))
  splits = info['splits']
  assert splits['val']['files'] == ['train-00002-of-00003']
  assert splits['trainval']['num_examples'] == num_train == 11
  assert (splits['train']['num_examples'] + splits['val']['num_examples'] ==
          num_train)
  assert splits['test']['num_examples'] == num_val == 3

  source = datasets.get_dataset('tfrecord', str(tmp_path))
  names = sorted(tf.io.gfile.glob(str(tmp_path / '*-of-*')))
  examples = _read_shards(names)
  assert len(examples) == num_train + num_val
  seen = set()
  for example in examples:
    filename = example['image/filename'].decode()
    cls, pixels = expected[filename]
    seen.add(filename)
    assert example['image/class/synset'].decode() == cls
    # Labels are 1-based in sorted class-folder order.
    assert example['image/class/label'] == ['bird', 'fish', 'misc'].index(
        cls) + 1
    assert example['image/format'] == b'JPEG'
    assert example['image/colorspace'] == b'RGB'
    assert example['image/channels'] == 3
    encoded = example['image/encoded']
    image = tf.io.decode_jpeg(encoded, channels=0).numpy()
    assert image.shape == (example['image/height'], example['image/width'],
                           3), filename
    with Image.open(io.BytesIO(encoded)) as stored:
      assert (stored.format, stored.mode) == ('JPEG', 'RGB'), filename
    if pixels is not None:
      # PNG and CMYK files keep their colours (CMYK is not inverted).
      error = np.abs(image.astype(float) - pixels.astype(float)).mean()
      assert error < 8, (filename, error)
    elif filename not in odd:
      # Plain RGB JPEGs are stored byte for byte.
      source_path = photos / filename
      assert encoded == source_path.read_bytes()
  assert seen == set(expected)

  # The `tfrecord` data set reads it: every image decodes, labels 0-based.
  labels = collections.Counter()
  for split in ('trainval', 'test'):
    for batch in source.make(split, preprocess_fn=None, batch_size=1,
                             training=False):
      assert batch['image'].dtype == tf.uint8
      assert batch['image'].shape[-1] == 3
      labels[int(batch['label'][0])] += 1
  by_class = collections.Counter(
      ['bird', 'fish', 'misc'].index(cls) for cls, _ in expected.values())
  assert labels == by_class


def test_without_validation_directory(image_tree, tmp_path):
  root, _, _, _ = image_tree
  info = build_tfrecords.convert(str(root / 'train'), None, str(tmp_path),
                                 train_shards=1)
  assert sorted(info['splits']) == ['trainval']
  assert info['splits']['trainval']['num_examples'] == 11
  source = datasets.get_dataset('tfrecord', str(tmp_path))
  assert source.num_examples('trainval') == 11
  with pytest.raises(utils.UsageError, match="no 'test' split"):
    source.check('test')


def test_bad_inputs(tmp_path):
  with pytest.raises(utils.UsageError, match='nope does not exist'):
    build_tfrecords.convert(str(tmp_path / 'nope'), None, str(tmp_path))
  (tmp_path / 'train' / 'a').mkdir(parents=True)
  (tmp_path / 'train' / 'a' / 'x.JPEG').write_bytes(b'not an image')
  with pytest.raises(utils.UsageError, match='Cannot read image.*x.JPEG'):
    build_tfrecords.convert(str(tmp_path / 'train'), None,
                            str(tmp_path / 'out'), train_shards=1)
  (tmp_path / 'val' / 'b').mkdir(parents=True)
  with pytest.raises(utils.UsageError, match='training directory lacks: b'):
    build_tfrecords.convert(str(tmp_path / 'train'), str(tmp_path / 'val'),
                            str(tmp_path / 'out'), train_shards=1)


@pytest.mark.slow
def test_command_line_error_is_one_line(tmp_path):
  result = subprocess.run(
      [sys.executable, str(REPO / 'tools' / 'build_tfrecords.py'),
       f'--train_directory={tmp_path / "missing"}',
       f'--output_directory={tmp_path / "out"}'],
      capture_output=True, text=True, check=False, timeout=120,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
  assert result.returncode != 0
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('build_tfrecords.py: error: Image directory')
  assert 'missing does not exist' in last
  assert 'Traceback' not in result.stderr
