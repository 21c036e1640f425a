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

"""Tests of the data sets and their input pipelines (tiny files in tmp)."""

import gzip
import json
import os
import struct

import numpy as np
import pytest
import tensorflow as tf

from revisiting_ssl import datasets, utils
from revisiting_ssl.data_sources import fashion_mnist, slim_tfrecord
from revisiting_ssl.preprocess_ops.base import SEED_KEY

FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist'


def _jpeg(value: int, height: int = 6, width: int = 5) -> bytes:
  image = tf.fill([height, width, 3], tf.constant(value, tf.uint8))
  return tf.io.encode_jpeg(image).numpy()


def _example(encoded: bytes, label: int, filename: str | None = None
             ) -> bytes:
  feature = {
      'image/encoded': tf.train.Feature(
          bytes_list=tf.train.BytesList(value=[encoded])),
      'image/class/label': tf.train.Feature(
          int64_list=tf.train.Int64List(value=[label])),
  }
  if filename is not None:
    feature['image/filename'] = tf.train.Feature(
        bytes_list=tf.train.BytesList(value=[filename.encode()]))
  return tf.train.Example(features=tf.train.Features(
      feature=feature)).SerializeToString()


def _write(path, records):
  with tf.io.TFRecordWriter(str(path)) as writer:
    for record in records:
      writer.write(record)


def _resize(example):
  # Stand-in for the preprocessing: any image size -> 4x4 float.
  return {'image': tf.image.resize(example['image'], [4, 4]),
          'label': example['label']}


def _make_tfrecord_dir(tmp_path, train_counts, validation_counts,
                       num_classes=None):
  """Shards with consecutive 1-based labels; returns the directory."""
  label = 1
  shards = {}
  for prefix, counts in (('train', train_counts),
                         ('validation', validation_counts)):
    shards[prefix] = []
    for i, count in enumerate(counts):
      name = datasets.shard_name(prefix, i, len(counts))
      records = []
      for _ in range(count):
        records.append(_example(_jpeg(label % 250), label))
        label += 1
      _write(tmp_path / name, records)
      shards[prefix].append((name, count))
  num_classes = num_classes or label - 1
  info = datasets.make_dataset_info(
      class_names=[f'c{i}' for i in range(num_classes)],
      train_shards=shards['train'], validation_shards=shards['validation'])
  with open(tmp_path / datasets.DATASET_INFO_FILE, 'w') as f:
    json.dump(info, f)
  return str(tmp_path)


def _eval_labels(source, split, batch_size, num_pipelines=1):
  """Runs every eval pipeline; returns (real labels, #padding, batches)."""
  real, padding, batches = [], 0, []
  for pipeline_id in range(num_pipelines):
    context = None
    if num_pipelines > 1:
      context = tf.distribute.InputContext(num_pipelines, pipeline_id, 1)
    ds = source.make(split, preprocess_fn=_resize, batch_size=batch_size,
                     training=False, input_context=context)
    assert ds.element_spec['image'].shape.as_list() == [batch_size, 4, 4, 3]
    count = 0
    for batch in ds:
      count += 1
      mask = batch['mask'].numpy()
      real.extend(batch['label'].numpy()[mask == 1].tolist())
      padding += int((mask == 0).sum())
    batches.append(count)
  return real, padding, batches


# The `tfrecord` source (own data with dataset_info.json).


def test_tfrecord_splits_counts_and_labels(tmp_path):
  directory = _make_tfrecord_dir(tmp_path, [3, 2, 3, 2, 3], [4, 3])
  source = datasets.get_dataset('tfrecord', directory)
  # 5 training shards: the last one is `val` (ImageNet: 40 of 1024).
  assert [source.num_examples(s) for s in datasets.SPLITS] == [10, 3, 13, 7]
  assert source.num_classes == 20
  assert source.class_names[:2] == ['c0', 'c1']
  assert [os.path.basename(f) for f in source.files('val')] == [
      'train-00004-of-00005']
  assert source.eval_steps('test', 4) == 2


@pytest.mark.parametrize('num_pipelines', [1, 2])
def test_eval_visits_every_example_once_and_pads(tmp_path, num_pipelines):
  directory = _make_tfrecord_dir(tmp_path, [3, 2, 3, 2, 3], [4, 3])
  source = datasets.get_dataset('tfrecord', directory)
  steps = source.eval_steps('trainval', 4, num_pipelines)
  assert steps == (4 if num_pipelines == 1 else 2)
  real, padding, batches = _eval_labels(source, 'trainval', 4, num_pipelines)
  assert sorted(real) == list(range(13))
  assert padding == steps * 4 * num_pipelines - 13
  assert batches == [steps] * num_pipelines


def test_eval_count_mismatch_is_an_error(tmp_path):
  directory = _make_tfrecord_dir(tmp_path, [3, 2], [4])
  info_path = tmp_path / datasets.DATASET_INFO_FILE
  info = json.loads(info_path.read_text())
  info['splits']['test']['num_examples'] = 6
  info_path.write_text(json.dumps(info))
  source = datasets.get_dataset('tfrecord', directory)
  with pytest.raises(tf.errors.InvalidArgumentError, match='expected 6'):
    list(source.make('test', preprocess_fn=_resize, batch_size=4,
                     training=False))


def test_training_is_static_shuffled_repeated_and_seeded(tmp_path):
  directory = _make_tfrecord_dir(tmp_path, [3, 2, 3, 2, 3], [4, 3])
  source = datasets.get_dataset('tfrecord', directory)

  def first_labels(seed, context=None, batches=10):
    ds = source.make('train', preprocess_fn=_resize, batch_size=4,
                     training=True, seed=seed, input_context=context)
    assert ds.element_spec['image'].shape.as_list() == [4, 4, 4, 3]
    assert ds.element_spec['mask'].shape.as_list() == [4]
    out = []
    for batch in ds.take(batches):
      assert np.all(batch['mask'].numpy() == 1.0)
      out.extend(batch['label'].numpy().tolist())
    return out

  labels = first_labels(seed=3)
  # 40 examples from a 10-example split: it repeats, within `train` only.
  assert set(labels) == set(range(10))
  assert labels == first_labels(seed=3)
  assert labels != first_labels(seed=4)
  assert labels[:10] != sorted(labels[:10])
  # Two input pipelines over 4 files: each reads its own files.
  per_pipeline = [
      set(first_labels(3, tf.distribute.InputContext(2, i, 1), batches=5))
      for i in range(2)
  ]
  assert not per_pipeline[0] & per_pipeline[1]
  assert per_pipeline[0] | per_pipeline[1] == set(range(10))


def test_training_with_more_pipelines_than_files_shards_examples(tmp_path):
  directory = _make_tfrecord_dir(tmp_path, [6, 2], [])
  source = datasets.get_dataset('tfrecord', directory)
  assert source.num_examples('train') == 6
  seen = []
  for i in range(2):
    ds = source.make('train', preprocess_fn=_resize, batch_size=3,
                     training=True, seed=1,
                     input_context=tf.distribute.InputContext(2, i, 1))
    seen.append({int(x) for b in ds.take(4) for x in b['label']})
  assert not seen[0] & seen[1]
  assert seen[0] | seen[1] == set(range(6))


def test_missing_dataset_info_names_the_file(tmp_path):
  with pytest.raises(utils.UsageError, match='dataset_info.json'):
    datasets.get_dataset('tfrecord', str(tmp_path))


def test_corrupt_jpeg_error_names_the_file(tmp_path):
  directory = _make_tfrecord_dir(tmp_path, [3, 2], [4])
  bad_file = tmp_path / 'validation-00000-of-00001'
  good = [_example(_jpeg(9), 1)] * 2
  _write(bad_file, good + [_example(b'\xff\xd8 not really a JPEG', 2)] +
         good[:1])
  source = datasets.get_dataset('tfrecord', directory)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='Corrupt record.*validation-00000-of-00001'):
    list(source.make('test', preprocess_fn=_resize, batch_size=2,
                     training=False))
  # skip_corrupt_examples drops it (and still pads to whole batches).
  real, padding, _ = [], 0, None
  for batch in source.make('test', preprocess_fn=_resize, batch_size=2,
                           training=False, skip_corrupt_examples=True):
    mask = batch['mask'].numpy()
    real.extend(batch['label'].numpy()[mask == 1].tolist())
    padding += int((mask == 0).sum())
  assert real == [0, 0, 0] and padding == 1


def test_truncated_tfrecord_error_names_the_file(tmp_path):
  directory = _make_tfrecord_dir(tmp_path, [3, 2], [4])
  path = tmp_path / 'validation-00000-of-00001'
  data = path.read_bytes()
  path.write_bytes(data[:-20])
  source = datasets.get_dataset('tfrecord', directory)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='Truncated.*validation-00000-of-00001'):
    list(source.make('test', preprocess_fn=_resize, batch_size=2,
                     training=False))
  real = []
  for batch in source.make('test', preprocess_fn=_resize, batch_size=2,
                           training=False, skip_corrupt_examples=True):
    real.extend(batch['label'].numpy()[batch['mask'].numpy() == 1])
  assert len(real) == 3


@pytest.mark.parametrize('cache', [False, True])
def test_training_checks_each_record_on_its_first_read(tmp_path, capfd,
                                                       cache):
  """A bad record is reported once and skipped in every later epoch.

  The reader isolates a record's decoding only on its first read (later
  epochs decode directly, where the bad record fails again and is dropped
  silently); a cached labelled stream replays its first pass the same way.
  """
  # The split `train` is the first file (the second is `val`).
  directory = _make_tfrecord_dir(tmp_path, [4, 2], [1])
  ids = [f'img{label}' for label in range(1, 5)]
  records = [_example(_jpeg(9), label, ids[label - 1])
             for label in range(1, 5)]
  records[2] = _example(b'\xff\xd8 not really a JPEG', 3, ids[2])
  bad_file = tmp_path / 'train-00000-of-00002'
  _write(bad_file, records)
  source = datasets.get_dataset('tfrecord', directory)
  extra = {'keep_ids': ids, 'cache': True} if cache else {}

  def labels(skip, count):
    ds = source.make('train', preprocess_fn=_resize, batch_size=1,
                     training=True, seed=0, skip_corrupt_examples=skip,
                     **extra)
    return [int(b['label'][0]) for b in ds.take(count)]

  capfd.readouterr()
  # Ten epochs of the three good records.
  seen = labels(True, 30)
  assert sorted(set(seen)) == [0, 1, 3]
  warnings = [line for line in capfd.readouterr().err.splitlines()
              if 'Skipping corrupt image record' in line]
  assert len(warnings) == 1 and str(bad_file) in warnings[0], warnings
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=f'Corrupt record.*{bad_file.name}'):
    labels(False, 30)


def test_training_stream_starts_at_a_position(tmp_path):
  """A resumed pipeline's examples and seeds are those of an unbroken one."""
  directory = _make_tfrecord_dir(tmp_path, [5, 4, 3], [1])
  source = datasets.get_dataset('tfrecord', directory)

  def stream(start, count):
    ds = source.make('train', preprocess_fn=lambda x: {
        'image': tf.image.resize(x['image'], [4, 4]), 'label': x['label'],
        'seed': x[SEED_KEY]}, batch_size=1, training=True, seed=3,
                     start=start)
    return [(int(b['label'][0]), tuple(b['seed'][0].numpy()))
            for b in ds.take(count)]

  whole = stream(0, 30)
  # Within the first epoch and several epochs on (9 examples an epoch).
  assert stream(4, 26) == whole[4:]
  assert stream(21, 9) == whole[21:]


def test_locate_bad_record_names_its_file(tmp_path):
  directory = _make_tfrecord_dir(tmp_path, [3, 2], [2])
  source = datasets.get_dataset('tfrecord', directory)
  assert source.locate_bad_record('train') is None
  bad_file = tmp_path / 'validation-00000-of-00001'
  _write(bad_file, [_example(_jpeg(9), 1),
                    _example(b'\xff\xd8 not really a JPEG', 2)])
  error = source.locate_bad_record('test')
  assert isinstance(error, utils.UsageError)
  assert 'Corrupt record' in str(error) and bad_file.name in str(error)


@pytest.mark.parametrize('skip', [False, True])
def test_label_out_of_range_names_the_file(tmp_path, skip):
  # Two classes; a record labelled 3 (2 after the offset), in training and
  # evaluation, with or without skipping corrupt records (a label is not).
  directory = _make_tfrecord_dir(tmp_path, [2, 1], [1], num_classes=2)
  bad_file = tmp_path / 'train-00000-of-00002'
  _write(bad_file, [_example(_jpeg(9), 1), _example(_jpeg(9), 3)])
  source = datasets.get_dataset('tfrecord', directory)
  for training in (True, False):
    ds = source.make('train', preprocess_fn=_resize, batch_size=1,
                     training=training, seed=0, skip_corrupt_examples=skip)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=f'Label out of range.*{bad_file.name}'):
      list(ds.take(4))


def test_missing_file_names_it(tmp_path):
  directory = _make_tfrecord_dir(tmp_path, [3, 2], [4])
  os.remove(tmp_path / 'validation-00000-of-00001')
  source = datasets.get_dataset('tfrecord', directory)
  with pytest.raises(utils.UsageError, match='validation-00000-of-00001'):
    source.make('test', preprocess_fn=None, batch_size=2, training=False)


def test_unknown_names():
  with pytest.raises(utils.UsageError) as error:
    datasets.get_dataset('cifar', '/tmp')
  for name in ('imagenet', 'tfrecord', 'fashion_mnist', 'tfds:<name>'):
    assert name in str(error.value)
  source = datasets.get_dataset('imagenet', '/nonexistent')
  with pytest.raises(utils.UsageError, match='train, val, trainval, test'):
    source.num_examples('validation')


# ImageNet in the slim layout.


@pytest.fixture(scope='module')
def imagenet_dir(tmp_path_factory):
  """1024 + 128 shards, nearly all empty; a few records in three of them."""
  directory = tmp_path_factory.mktemp('imagenet')
  for i in range(1024):
    open(directory / datasets.shard_name('train', i, 1024), 'wb').close()
  for i in range(128):
    open(directory / datasets.shard_name('validation', i, 128), 'wb').close()
  _write(directory / 'train-00000-of-01024', [_example(_jpeg(10), 9)])
  _write(directory / 'train-00984-of-01024',
         [_example(_jpeg(30), 5), _example(_jpeg(40), 6),
          _example(_jpeg(50), 7)])
  _write(directory / 'train-01023-of-01024',
         [_example(_jpeg(10), 1), _example(_jpeg(20), 1000)])
  _write(directory / 'validation-00127-of-00128',
         [_example(_jpeg(60), 3)])
  return directory


def test_imagenet_split_definition(imagenet_dir):
  source = datasets.get_dataset('imagenet', str(imagenet_dir))
  assert source.num_classes == 1000
  assert [source.num_examples(s) for s in datasets.SPLITS] == [
      1_231_121, 50_046, 1_281_167, 50_000]
  names = {s: [os.path.basename(f) for f in source.files(s)]
           for s in datasets.SPLITS}
  assert len(names['train']) == 984 and len(names['val']) == 40
  assert names['train'][-1] == 'train-00983-of-01024'
  assert names['val'][0] == 'train-00984-of-01024'
  assert names['trainval'] == names['train'] + names['val']
  assert names['test'][0] == 'validation-00000-of-00128'
  assert len(names['test']) == 128
  for split in datasets.SPLITS:
    source.check(split)


def test_imagenet_pipeline_labels_are_zero_based(imagenet_dir, monkeypatch):
  monkeypatch.setattr(slim_tfrecord, 'IMAGENET_SPLIT_SIZES',
                      {'train': 1, 'val': 5, 'trainval': 6, 'test': 1})
  source = datasets.get_dataset('imagenet', str(imagenet_dir))
  real, padding, batches = _eval_labels(source, 'val', batch_size=2,
                                        num_pipelines=2)
  # Stored labels 1..1000 come out as 0..999.
  assert sorted(real) == [0, 4, 5, 6, 999]
  assert padding == 3 and batches == [2, 2]
  ds = source.make('val', preprocess_fn=_resize, batch_size=5,
                   training=True, seed=0)
  labels = [int(x) for batch in ds.take(4) for x in batch['label']]
  assert len(labels) == 20 and set(labels) == {0, 4, 5, 6, 999}


def test_imagenet_missing_shards(tmp_path):
  for i in range(1024):
    if i not in (7, 1000):
      open(tmp_path / datasets.shard_name('train', i, 1024), 'wb').close()
  source = datasets.get_dataset('imagenet', str(tmp_path))
  with pytest.raises(utils.UsageError,
                     match=r'train-00007-of-01024 is missing \(2 of the 1024'):
    source.check('trainval')
  with pytest.raises(utils.UsageError, match='128 of the 128'):
    source.make('test', preprocess_fn=None, batch_size=2, training=False)
  with pytest.raises(utils.UsageError, match='does not exist'):
    datasets.get_dataset('imagenet', str(tmp_path / 'nope')).check('train')


# Fashion-MNIST from IDX files.


def _write_idx(path, magic, array, truncate=0):
  header = struct.pack('>I', magic) + b''.join(
      struct.pack('>I', d) for d in array.shape)
  data = header + array.astype(np.uint8).tobytes()
  with gzip.open(path, 'wb') as f:
    f.write(data[:len(data) - truncate])


def _fashion_dir(tmp_path, num_train=12, num_test=5):
  rng = np.random.default_rng(0)
  arrays = {
      'train-images-idx3-ubyte.gz':
          (2051, rng.integers(0, 256, (num_train, 28, 28))),
      'train-labels-idx1-ubyte.gz': (2049, np.arange(num_train) % 10),
      't10k-images-idx3-ubyte.gz':
          (2051, rng.integers(0, 256, (num_test, 28, 28))),
      't10k-labels-idx1-ubyte.gz': (2049, (np.arange(num_test) + 3) % 10),
  }
  for name, (magic, array) in arrays.items():
    _write_idx(tmp_path / name, magic, array)
  return arrays


def test_fashion_mnist_from_idx_files(tmp_path, monkeypatch):
  arrays = _fashion_dir(tmp_path)
  monkeypatch.setattr(fashion_mnist, 'TRAIN_SIZE', 8)
  source = datasets.get_dataset('fashion_mnist', str(tmp_path))
  assert source.num_classes == 10 and source.class_names[9] == 'Ankle boot'
  assert [source.num_examples(s) for s in datasets.SPLITS] == [8, 4, 12, 5]
  ds = source.make('test', preprocess_fn=None, batch_size=2, training=False)
  batches = list(ds)
  assert len(batches) == 3
  image = batches[0]['image'].numpy()
  assert image.shape == (2, 28, 28, 3) and image.dtype == np.uint8
  expected = arrays['t10k-images-idx3-ubyte.gz'][1][0]
  for channel in range(3):
    np.testing.assert_array_equal(image[0, :, :, channel], expected)
  assert [float(m) for m in batches[-1]['mask']] == [1.0, 0.0]
  real, _, _ = _eval_labels(source, 'val', batch_size=3, num_pipelines=2)
  assert sorted(real) == [0, 1, 8, 9]
  ds = source.make('train', preprocess_fn=_resize, batch_size=5,
                   training=True, seed=0)
  labels = [int(x) for b in ds.take(4) for x in b['label']]
  assert set(labels) == set(range(8))


def test_fashion_mnist_bad_files_are_named(tmp_path):
  _fashion_dir(tmp_path)
  _write_idx(tmp_path / 't10k-labels-idx1-ubyte.gz', 2051, np.zeros(5))
  with pytest.raises(utils.UsageError,
                     match='t10k-labels-idx1-ubyte.gz has IDX magic'):
    datasets.get_dataset('fashion_mnist', str(tmp_path)).num_examples('test')
  _write_idx(tmp_path / 't10k-labels-idx1-ubyte.gz', 2049, np.zeros(5),
             truncate=2)
  with pytest.raises(utils.UsageError,
                     match='t10k-labels-idx1-ubyte.gz has 3 data bytes'):
    datasets.get_dataset('fashion_mnist', str(tmp_path)).check('test')
  os.remove(tmp_path / 'train-images-idx3-ubyte.gz')
  with pytest.raises(utils.UsageError,
                     match='train-images-idx3-ubyte.gz does not exist'):
    datasets.get_dataset('fashion_mnist', str(tmp_path)).check('train')


def test_default_dirs_and_home_expansion(monkeypatch, tmp_path):
  assert datasets.default_dataset_dir('fashion_mnist') == FASHION_MNIST_DIR
  assert datasets.default_dataset_dir('imagenet') is None
  assert datasets.get_dataset('fashion_mnist',
                              None).dataset_dir == FASHION_MNIST_DIR
  monkeypatch.setenv('HOME', str(tmp_path))
  source = datasets.get_dataset('imagenet', '~/imagenet')
  assert source.dataset_dir == str(tmp_path / 'imagenet')
  with pytest.raises(utils.UsageError, match='--dataset_dir is required'):
    datasets.get_dataset('imagenet', None)


def test_real_fashion_mnist():
  if not os.path.isdir(FASHION_MNIST_DIR):
    pytest.skip(f'{FASHION_MNIST_DIR} is absent (Debian package '
                'dataset-fashion-mnist; see tools/get_fashion_mnist.sh).')
  source = datasets.get_dataset('fashion_mnist', None)
  assert [source.num_examples(s) for s in datasets.SPLITS] == [
      50_000, 10_000, 60_000, 10_000]
  arrays = fashion_mnist.load_arrays(FASHION_MNIST_DIR)
  for part in ('train', 'test'):
    labels = arrays[f'{part}_labels']
    assert labels.min() == 0 and labels.max() == 9
    assert np.all(np.bincount(labels) == len(labels) // 10)
  batch = next(iter(source.make('test', preprocess_fn=None, batch_size=8,
                                training=False)))
  assert batch['image'].shape == (8, 28, 28, 3)
  assert source.eval_steps('test', 32) == 313


# TFDS data sets prepared in a data directory.


@pytest.fixture(scope='module')
def tfds_dir(tmp_path_factory):
  tfds = pytest.importorskip('tensorflow_datasets')
  directory = tmp_path_factory.mktemp('tfds')
  rng = np.random.default_rng(0)

  def split(n):
    return tf.data.Dataset.from_tensor_slices({
        'image': rng.integers(0, 256, (n, 8, 8, 1)).astype(np.uint8),
        'label': np.arange(n) % 3,
    })

  builder = tfds.dataset_builders.TfDataBuilder(
      name='tiny_grey', version='1.0.0', data_dir=str(directory),
      split_datasets={'train': split(20), 'test': split(7)},
      features=tfds.features.FeaturesDict({
          'image': tfds.features.Image(shape=(8, 8, 1)),
          'label': tfds.features.ClassLabel(names=['a', 'b', 'c']),
      }))
  builder.download_and_prepare()
  return str(directory)


def test_tfds_splits_and_pipeline(tfds_dir):
  source = datasets.get_dataset('tfds:tiny_grey', tfds_dir)
  assert source.num_classes == 3 and source.class_names == ['a', 'b', 'c']
  assert [source.num_examples(s) for s in datasets.SPLITS] == [18, 2, 20, 7]
  assert source.tfds_split('val') == 'train[90%:]'
  real, padding, batches = _eval_labels(source, 'test', batch_size=2,
                                        num_pipelines=2)
  assert sorted(real) == sorted(np.arange(7) % 3) and padding == 1
  assert batches == [2, 2]
  ds = source.make('trainval', preprocess_fn=None, batch_size=6,
                   training=True, seed=0,
                   input_context=tf.distribute.InputContext(2, 1, 1))
  batch = next(iter(ds))
  assert batch['image'].shape == (6, 8, 8, 3)
  assert batch['image'].dtype == tf.uint8
  image = batch['image'].numpy()
  assert np.all(image[..., 0] == image[..., 2])
  assert set(batch['label'].numpy()) <= {0, 1, 2}


def test_tfds_not_prepared(tfds_dir):
  with pytest.raises(utils.UsageError, match='tfds:mnist'):
    datasets.get_dataset('tfds:mnist', tfds_dir)
  with pytest.raises(utils.UsageError, match='tfds:no_such_thing'):
    datasets.get_dataset('tfds:no_such_thing', tfds_dir)
