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

r"""Pseudo-labels a data set with a hub module (S4L).

Every image is seen as 5 crops (centre and corners of `resize_small`) x 4
rotations; the module's `--representation_name` output (`classes`) on the
centre crop, unrotated, gives the pseudo label, and its mean over all 20
views is written too. The records are rewritten with, in `--target_label
all` (the default):

  image/encoded, image/filename     as read
  image/class/label                 the pseudo label (+1, as ImageNet's)
  image/class/original_label        the label as read
  image/class/label_flag            1 if the file name is in --labels_file
  image/class/logits                the centre crop's logits
  logit_avg_croprot                 the logits averaged over the 20 views
  predicted_labels_avg_croprot      their argmax (+1)

`predicted_labels`, `original_labels` (-1 for the unlabelled images) and
`logits` write only that one field with the image and its name.

Training then reads the result with `--pseudo_label_key image/class/label
--original_label_key image/class/original_label` (config/pseudo_labels.sh):
the true label of the labelled images, the pseudo label of the others.

Inputs: `--input_glob` with `--output_folder` (output files keep their
names; a `dataset_info.json` beside the inputs is copied), or
`--input_file` with `--output_file`, in the slim/t2t layout or TFDS's
(`--data_format tfds`), or any data set of this project (`--dataset`,
`--dataset_dir`: its splits are written as TFRecords with a
`dataset_info.json`, which `--dataset tfrecord` reads). Unlike the
original, which matched no file name under Python 3 and needed a TPU, file
names are compared as text through a set, and the tool runs on the CPU,
one GPU or a TPU (`--tpu_name`).

  python tools/generate_pseudo_labels.py --hub_module M \
    --labels_file label_map_count_128000_index_0 \
    --input_glob '<IMAGENET>/train-*' --output_folder <OUT>
"""

import inspect
import json
import os
import sys

from absl import flags, logging
import numpy as np
import tensorflow as tf

from revisiting_ssl import cli, datasets, preprocess, utils
from revisiting_ssl.data_sources import dataset_info, label_subsets
from revisiting_ssl.probes import module_features
from revisiting_ssl.training import distribution

TARGETS = ('all', 'predicted_labels', 'original_labels', 'logits')
# Feature names of the two record layouts, and their label offsets.
FORMATS = {
    't2t': {'image': 'image/encoded', 'filename': 'image/filename',
            'label': 'image/class/label', 'offset': 1},
    'tfds': {'image': 'image', 'filename': 'file_name', 'label': 'label',
             'offset': 0},
}

def define_flags() -> None:
  """Defines the tool's flags (the arguments of `run`).

  They are defined when the tool runs, not when it is imported: the
  trainer's entry point has flags of the same names.
  """
  flags.DEFINE_string('hub_module', None, 'The module that labels the '
                      'images.')
  flags.DEFINE_string('input_glob', None, 'TFRecord files to label.')
  flags.DEFINE_string('output_folder', None, 'Where the labelled files go.')
  flags.DEFINE_string('input_file', None, 'One file to label.')
  flags.DEFINE_string('output_file', None, 'Its labelled copy (replaced).')
  flags.DEFINE_string('dataset', None, 'Or: a data set of this project to '
                      'label, all its splits.')
  flags.DEFINE_string('dataset_dir', None, 'The directory of --dataset.')
  flags.DEFINE_string('labels_file', None, 'The labelled images, a list '
                      'file of S4L\'s format (looked up as given, then in '
                      'data_sources/label_maps/).')
  flags.DEFINE_enum('target_label', 'all', TARGETS, 'What to write.')
  flags.DEFINE_enum('data_format', 't2t', sorted(FORMATS),
                    'The records\' layout.')
  flags.DEFINE_integer('batch_size', 64, 'Images per batch.')
  flags.DEFINE_integer('parallel_calls', 16, 'Records decoded in parallel.')
  flags.DEFINE_string('representation_name', 'classes', 'The output of the '
                      'module\'s representation signature to use.')
  flags.DEFINE_integer('smaller_size', 256, 'resize_small before the five '
                       'crops.')
  flags.DEFINE_integer('crop_size', 224, 'The crops\' side.')
  flags.DEFINE_string('tpu_name', None, 'Run on this TPU.')


def _float_list(values):
  return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def _int64(value):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def _bytes(value):
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


class Labeller:
  """Runs the module over batches of images: logits of the 20 views."""

  def __init__(self, module_path: str, output: str, smaller_size: int,
               crop_size: int, strategy: tf.distribute.Strategy):
    self.strategy = strategy
    with strategy.scope():
      self.module = module_features.FrozenModule(module_path,
                                                 'representation')
    self.output = output
    self.views = preprocess.get_preprocess_fn(
        f'resize_small({smaller_size})|multi_crop({crop_size})|rotate|'
        '-1_to_1', is_training=False)
    replicas = strategy.num_replicas_in_sync

    @tf.function
    def run(views):
      # [B, 5, 4, h, w, 3]: whole images per replica, padded to divide.
      batch = tf.shape(views)[0]
      per_replica = -(-batch // replicas)
      flat = tf.reshape(views, tf.concat([[-1], tf.shape(views)[3:]], 0))
      padded = tf.pad(flat, [[0, per_replica * replicas * 20 -
                              tf.shape(flat)[0]], [0, 0], [0, 0], [0, 0]])
      parts = tf.split(padded, replicas)
      values = strategy.experimental_distribute_values_from_function(
          lambda context: parts[context.replica_id_in_sync_group])
      out = strategy.run(lambda x: self.module(x)[self.output],
                         args=(values,))
      logits = tf.concat(strategy.experimental_local_results(out), axis=0)
      return tf.reshape(logits[:batch * 20], [batch, 5, 4, -1])

    self._run = run

  def add_views(self, record: dict) -> dict:
    """The record with its 20 views `[5, 4, h, w, 3]` instead of its image."""
    record = dict(record)
    record['views'] = self.views({'image': record.pop('image')})['image']
    return record

  def __call__(self, views: tf.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(centre unrotated logits, mean over the 20 views), `[B, C]` each."""
    logits = self._run(views).numpy()
    return logits[:, 0, 0], logits.mean(axis=(1, 2))


def _decoder(data_format: str):
  keys = FORMATS[data_format]

  def decode(record):
    features = tf.io.parse_single_example(record, {
        keys['image']: tf.io.FixedLenFeature([], tf.string),
        keys['filename']: tf.io.FixedLenFeature([], tf.string, ''),
        keys['label']: tf.io.FixedLenFeature([], tf.int64, -1),
    })
    image = tf.io.decode_jpeg(features[keys['image']], channels=3)
    return {'image': image, 'encoded': features[keys['image']],
            'filename': features[keys['filename']],
            'label': features[keys['label']]}

  return decode


def labelled_example(record: dict, logits: np.ndarray, average: np.ndarray,
                     labelled: set[str], target: str,
                     data_format: str) -> tf.train.Example:
  """The record rewritten with the module's labels (see the module doc)."""
  keys = FORMATS[data_format]
  offset = keys['offset']
  filename = record['filename']
  is_labelled = filename.decode() in labelled
  feature = {keys['image']: _bytes(record['encoded']),
             keys['filename']: _bytes(filename)}
  pseudo = int(np.argmax(logits)) + offset
  if target == 'all':
    feature[keys['label']] = _int64(pseudo)
    feature['image/class/original_label'] = _int64(record['label'])
    feature['image/class/label_flag'] = _int64(is_labelled)
    feature['image/class/logits'] = _float_list(logits)
    feature['logit_avg_croprot'] = _float_list(average)
    feature['predicted_labels_avg_croprot'] = _int64(
        int(np.argmax(average)) + offset)
  elif target == 'predicted_labels':
    feature[keys['label']] = _int64(pseudo)
  elif target == 'original_labels':
    feature[keys['label']] = _int64(record['label'] if is_labelled else -1)
  else:
    feature['image/class/logits'] = _float_list(logits)
  return tf.train.Example(features=tf.train.Features(feature=feature))


def label_records(records: tf.data.Dataset, writer, labeller: Labeller,
                  labelled: set[str], target: str, data_format: str,
                  batch_size: int) -> int:
  """Labels a stream of decoded records into `writer`; returns the count."""
  count = 0
  views = records.map(labeller.add_views,
                      num_parallel_calls=tf.data.AUTOTUNE)
  progress = utils.Progress('Pseudo-labelling', None, unit='images')
  for batch in views.batch(batch_size).prefetch(2):
    logits, average = labeller(batch['views'])
    progress.update(len(logits))
    for i in range(len(logits)):
      record = {k: batch[k][i].numpy() for k in ('encoded', 'filename',
                                                 'label')}
      writer.write(labelled_example(record, logits[i], average[i], labelled,
                                    target, data_format).SerializeToString())
      count += 1
  return count


def label_files(pairs, labeller, labelled, *, target, data_format,
                batch_size, parallel_calls) -> None:
  """Labels every (input file, output file)."""
  for source, target_path in pairs:
    if tf.io.gfile.exists(target_path):
      tf.io.gfile.remove(target_path)
    records = tf.data.TFRecordDataset(source).map(
        _decoder(data_format), num_parallel_calls=parallel_calls)
    with tf.io.TFRecordWriter(target_path) as writer:
      count = label_records(records, writer, labeller, labelled, target,
                            data_format, batch_size)
    logging.info('Labelled %d records of %s into %s.', count, source,
                 target_path)


def label_dataset(data, output_folder, labeller, labelled, *, target,
                  batch_size) -> dict:
  """Writes every split of a data source, labelled, and its info file."""
  tf.io.gfile.makedirs(output_folder)
  split_shards = {}
  for split in ('train', 'val', 'test'):
    try:
      data.check(split)
      if not data.num_examples(split):
        continue
    except utils.UsageError:
      continue
    name = f'{split}-00000-of-00001'
    ds = data.make(split, preprocess_fn=None, batch_size=1, training=False)
    ids, _ = data.example_ids(split)

    def records(ds=ds, ids=ids):
      for i, batch in enumerate(ds.unbatch()):
        if not batch['mask']:
          continue
        image = batch['image']
        yield {'image': image, 'encoded': tf.io.encode_png(image),
               'filename': ids[i].encode(),
               'label': int(batch['label']) + 1}

    stream = tf.data.Dataset.from_generator(records, output_signature={
        'image': tf.TensorSpec([None, None, 3], tf.uint8),
        'encoded': tf.TensorSpec([], tf.string),
        'filename': tf.TensorSpec([], tf.string),
        'label': tf.TensorSpec([], tf.int64)})
    with tf.io.TFRecordWriter(os.path.join(output_folder, name)) as writer:
      count = label_records(stream, writer, labeller, labelled, target, 't2t',
                            batch_size)
    split_shards[split] = [(name, count)]
    logging.info('Labelled %d examples of %s.', count, split)
  if 'train' in split_shards and 'val' in split_shards:
    split_shards['trainval'] = split_shards['train'] + split_shards['val']
  info = dataset_info.make_from_splits(
      class_names=data.class_names or [str(i) for i in range(
          data.num_classes)], split_shards=split_shards, label_offset=1)
  with tf.io.gfile.GFile(os.path.join(output_folder, dataset_info.FILE_NAME),
                         'w') as f:
    json.dump(info, f, indent=2)
  return info


def _labelled_names(path: str | None) -> set[str]:
  if not path:
    return set()
  for candidate in (path, os.path.join(label_subsets.LABEL_MAPS_DIR, path)):
    if tf.io.gfile.exists(candidate):
      return set(label_subsets.read(candidate, '--labels_file'))
  raise utils.UsageError(f'--labels_file {path} does not exist (looked here '
                         f'and in {label_subsets.LABEL_MAPS_DIR}).')


def run(*, hub_module: str | None, input_glob: str | None = None,
        output_folder: str | None = None, input_file: str | None = None,
        output_file: str | None = None, dataset: str | None = None,
        dataset_dir: str | None = None, labels_file: str | None = None,
        target_label: str = 'all', data_format: str = 't2t',
        batch_size: int = 64, parallel_calls: int = 16,
        representation_name: str = 'classes', smaller_size: int = 256,
        crop_size: int = 224, tpu_name: str | None = None) -> None:
  """Checks the arguments (the flags of the same names), then labels.

  Raises:
    utils.UsageError: naming the flag.
  """
  if sum(map(bool, (input_glob, input_file, dataset))) != 1:
    raise utils.UsageError('Give one of --input_glob (with --output_folder), '
                           '--input_file (with --output_file) or --dataset '
                           '(with --output_folder).')
  if (input_glob or dataset) and not output_folder:
    raise utils.UsageError('--output_folder is required.')
  if input_file and not output_file:
    raise utils.UsageError('--input_file needs --output_file.')
  if not hub_module:
    raise utils.UsageError('--hub_module is required.')
  if target_label not in TARGETS:
    raise utils.UsageError(f'Unknown --target_label {target_label!r}. Valid '
                           f'choices: {", ".join(TARGETS)}.')
  labelled = _labelled_names(labels_file)
  pairs = []
  if input_glob:
    sources = sorted(tf.io.gfile.glob(input_glob))
    if not sources:
      raise utils.UsageError(f'--input_glob {input_glob} matches no file.')
    pairs = [(s, os.path.join(output_folder, os.path.basename(s)))
             for s in sources]
  elif input_file:
    if not tf.io.gfile.exists(input_file):
      raise utils.UsageError(f'--input_file {input_file} does not exist.')
    pairs = [(input_file, output_file)]
  data = datasets.get_dataset(dataset, dataset_dir) if dataset else None
  strategy = distribution.make_strategy(
      use_tpu=bool(tpu_name), tpu_name=tpu_name, master=None, num_gpus=1,
      tf_config=None)
  labeller = Labeller(hub_module, representation_name, smaller_size,
                      crop_size, strategy)
  # The info file says a folder is complete (readers, and the S4L benchmark,
  # wait for it), so an earlier run's goes before any shard is rewritten and
  # this run's comes after the last.
  info = (os.path.join(output_folder, dataset_info.FILE_NAME)
          if output_folder else None)
  if info and tf.io.gfile.exists(info):
    tf.io.gfile.remove(info)
  if data is not None:
    label_dataset(data, output_folder, labeller, labelled,
                  target=target_label, batch_size=batch_size)
    return
  if output_folder:
    tf.io.gfile.makedirs(output_folder)
  label_files(pairs, labeller, labelled, target=target_label,
              data_format=data_format, batch_size=batch_size,
              parallel_calls=parallel_calls)
  source_info = os.path.join(os.path.dirname(pairs[0][0]),
                             dataset_info.FILE_NAME)
  if info and tf.io.gfile.exists(source_info):
    tf.io.gfile.copy(source_info, info, overwrite=True)


def main(argv):
  """Labels; a user's mistake ends it with one line."""
  if len(argv) > 1:
    sys.exit(f'Error: unexpected arguments: {" ".join(argv[1:])}')
  values = flags.FLAGS.flag_values_dict()
  names = inspect.signature(run).parameters
  try:
    run(**{k: v for k, v in values.items() if k in names})
  except utils.UsageError as e:
    sys.exit(f'Error: {e}')


def run_cli() -> None:
  """The `revisiting-ssl-generate-pseudo-labels` command."""
  define_flags()
  cli.run(main, __name__)


if __name__ == '__main__':
  run_cli()
