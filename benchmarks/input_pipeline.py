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

"""Host input-pipeline throughput of the shipped training preprocessings.

Reads a folder of JPEGs once into memory, then measures images/s of
decode -> preprocess -> batch (parallel map) for decode alone and for the
training `--preprocessing` of every shipped config, and prints each rate and
its ratio to decode alone. Measurements of the configs are interleaved over
several rounds and the median is reported, so that load from other processes
affects all of them alike.

The rotation config is measured four times: with `rotate` on the host;
with the host part only (`rotate` moved to the accelerator by
`preprocess.split_device_ops`, as the trainer does), emitting float32 as in
float32 runs; the same emitting bfloat16 (`Pipeline.host_fn`, as under
`--mixed_precision` on CPUs and TPUs); and the same keeping one pixel of its
output, which does all the work but copies no image into the batches, so
that it shows what the float32 output's memory traffic costs.

A breakdown follows: CPU milliseconds per image of the rotation host
part's stages, cumulatively (decode; + the sampled crop; + the 224x224
bilinear resize; + the flip; + the colour distortion; + the map to
[-1, 1]), and of decoding only the sampled crop
(`tf.image.decode_and_crop_jpeg`), with the ratios to decode alone that
they bound.

Run by hand from the repository root:

  python benchmarks/input_pipeline.py [--data_dir DIR] [--num_batches 8]
"""

import argparse
import os
import pathlib
import statistics
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow as tf  # noqa: E402

from revisiting_ssl import (  # noqa: E402
  inception_preprocessing,
  preprocess,
  utils,
)

REPO = pathlib.Path(__file__).resolve().parents[1]

# What a pipeline emits: its images as preprocessed (None), cast to
# bfloat16, or only one pixel of them (no image copied into the batches).
PIXEL = 'one pixel'

# (label, --preprocessing, op arguments[, output]): the shipped training
# configs.
_ROTATION = 'inception_preprocess,rotate'
_ROTATION_HOST = preprocess.split_device_ops(_ROTATION, ['rotate'])[0]
CONFIGS = [
    ('decode only', '', {}, PIXEL),
    ('supervised', 'inception_preprocess', {'resize_size': 224}),
    ('rotation, all on host', _ROTATION, {'resize_size': 224}),
    ('rotation, host part', _ROTATION_HOST, {'resize_size': 224}),
    ('rotation, host part, bfloat16', _ROTATION_HOST, {'resize_size': 224},
     'bfloat16'),
    ('rotation, host part, 1 pixel', _ROTATION_HOST, {'resize_size': 224},
     PIXEL),
    ('exemplar', 'to_gray,crop_inception_preprocess_patches,standardization',
     {'resize_size': 224, 'grayscale_probability': 0.66,
      'num_of_inception_patches': 8}),
    ('jigsaw / rel. patch location',
     'resize,to_gray,crop,crop_patches,standardization',
     {'resize_size': 292, 'grayscale_probability': 0.66, 'crop_size': 255,
      'splits_per_side': 3, 'patch_jitter': 21}),
    ('linear eval (rotation/exemplar)', 'resize_small,crop,-1_to_1',
     {'smaller_size': 256, 'crop_size': 224}),
]


def make_dataset(jpegs: list[bytes], preprocessing: str, op_args: dict,
                 batch_size: int, output: str | None = None
                 ) -> tf.data.Dataset:
  """Endless batches of decoded and preprocessed training examples.

  Args:
    jpegs: the encoded images.
    preprocessing: the host's `--preprocessing`.
    op_args: the ops' flag values.
    batch_size: examples per batch.
    output: None (the images as preprocessed), a dtype to cast float32
      images to (`Pipeline.host_fn`), or `PIXEL`: keep one pixel, which
      still needs all the work but copies no image. Decoded images differ
      in size and cannot be batched whole, so decode alone keeps one pixel.
  """
  pipeline = preprocess.build_pipeline(preprocessing, **op_args)
  preprocess_fn = pipeline.host_fn(True, None if output == PIXEL else output)

  def parse(jpeg, index):
    image = tf.io.decode_jpeg(jpeg, channels=3)
    data = preprocess_fn({'image': image, 'label': index})
    if output == PIXEL:
      data['image'] = data['image'][..., :1, :1, :]
    return data

  ds = tf.data.Dataset.from_tensor_slices(
      (jpegs, tf.range(len(jpegs), dtype=tf.int32)))
  ds = ds.repeat().shuffle(len(jpegs))
  ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
  return ds.batch(batch_size, drop_remainder=True)


# The rotation host part's stages, cumulatively (see the docstring).
STAGES = ('decode', '+ crop', '+ resize', '+ flip', '+ colour distortion',
          '+ map to [-1, 1]')
WHOLE_IMAGE = [[[0.0, 0.0, 1.0, 1.0]]]


def stage_fn(num_stages: int, fused_decode: bool = False):
  """`(jpeg, index) -> one pixel` doing the first `num_stages` stages.

  With `fused_decode`, the sampled crop is decoded alone (the same box,
  from the JPEG's header), instead of cropping the decoded image.
  """
  ip = inception_preprocessing

  def fn(jpeg, index):
    seed = tf.stack([index, tf.constant(0, tf.int64)])
    if fused_decode:
      begin, size, _ = ip.sample_crop_box(
          tf.image.extract_jpeg_shape(jpeg), tf.constant(WHOLE_IMAGE),
          seed=seed)
      image = tf.image.decode_and_crop_jpeg(
          jpeg, tf.stack([begin[0], begin[1], size[0], size[1]]),
          channels=3)
    else:
      image = tf.io.decode_jpeg(jpeg, channels=3)
      if num_stages > 1:
        image, _ = ip.distorted_bounding_box_crop(
            image, tf.constant(WHOLE_IMAGE), seed=seed)
    if num_stages > 2:
      image = ip.resize_bilinear(image, [224, 224])
    if num_stages > 3:
      image = tf.image.stateless_random_flip_left_right(image, seed)
    if num_stages > 4:
      image = ip.distort_color(image, 255.0, seed=seed)
    if num_stages > 5:
      image = image * (2.0 / 255.0) - 1.0
    return tf.cast(image[:1, :1], tf.float32)

  return fn


def breakdown(jpegs: list[bytes], batch_size: int, num_batches: int,
              rounds: int) -> None:
  """Prints CPU ms per image of each cumulative stage (median of rounds)."""
  configs = [(name, stage_fn(i + 1)) for i, name in enumerate(STAGES)]
  configs.append(('decode only the crop', stage_fn(2, fused_decode=True)))
  configs.append(('decode only the crop, all stages',
                  stage_fn(len(STAGES), fused_decode=True)))
  datasets = [
      tf.data.Dataset.from_tensor_slices(
          (jpegs, tf.range(len(jpegs), dtype=tf.int64))).repeat()
      .map(fn, num_parallel_calls=tf.data.AUTOTUNE)
      .batch(batch_size, drop_remainder=True) for _, fn in configs]
  per_image = [[] for _ in configs]
  for _ in range(rounds):
    for i, ds in enumerate(datasets):
      _, cpu_rate = images_per_second(ds, batch_size, 1, num_batches)
      per_image[i].append(1000 / cpu_rate)
  ms = [statistics.median(m) for m in per_image]
  print('\nrotation host part by stage (CPU ms per image, cumulative; '
        'decode alone / this = the best ratio to decode alone):')
  for (name, _), value in zip(configs, ms):
    print(f'  {name:36s} {value:6.2f} ms  {ms[0] / value:5.2f}')


def images_per_second(ds: tf.data.Dataset, batch_size: int,
                      warmup_batches: int,
                      num_batches: int) -> tuple[float, float]:
  """Times `num_batches` batches after `warmup_batches` on a new iterator.

  Returns:
    (images per wall-clock second, images per CPU second of this process).
    The second is less sensitive to other processes on a shared machine.
  """
  iterator = iter(ds)
  for _ in range(warmup_batches):
    next(iterator)
  wall, cpu = time.perf_counter(), time.process_time()
  for _ in range(num_batches):
    next(iterator)
  wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
  del iterator
  images = num_batches * batch_size
  return images / wall, images / cpu


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument(
      '--data_dir', default=str(REPO / '..' / 'shared' / 'data' /
                                'imagenet-sample'),
      help='folder of JPEG files (default: ../shared/data/imagenet-sample '
           'relative to the repository)')
  parser.add_argument('--batch_size', type=int, default=64)
  parser.add_argument('--num_batches', type=int, default=8,
                      help='timed batches per measurement')
  parser.add_argument('--warmup_batches', type=int, default=2,
                      help='untimed batches before each measurement')
  parser.add_argument('--rounds', type=int, default=3,
                      help='interleaved measurements per config (median)')
  args = parser.parse_args(argv)

  files = sorted(tf.io.gfile.glob(os.path.join(args.data_dir, '*.JPEG')) +
                 tf.io.gfile.glob(os.path.join(args.data_dir, '*.jpg')))
  if not files:
    sys.exit(f'No *.JPEG / *.jpg files in {args.data_dir}')
  jpegs = [tf.io.gfile.GFile(f, 'rb').read() for f in files]
  print(f'{len(jpegs)} JPEGs from {args.data_dir}; batch {args.batch_size}, '
        f'{args.num_batches} timed batches x {args.rounds} rounds')
  print(f'host: {utils.cpu_description()}')

  datasets = [make_dataset(jpegs, pp, op_args, args.batch_size, *output)
              for _, pp, op_args, *output in CONFIGS]
  # One untimed pass over every pipeline traces its functions.
  for ds in datasets:
    images_per_second(ds, args.batch_size, 1, 1)

  rates = [[] for _ in CONFIGS]
  cpu_rates = [[] for _ in CONFIGS]
  for round_index in range(args.rounds):
    for i, ds in enumerate(datasets):
      rate, cpu_rate = images_per_second(ds, args.batch_size,
                                         args.warmup_batches,
                                         args.num_batches)
      rates[i].append(rate)
      cpu_rates[i].append(cpu_rate)
    print(f'  round {round_index + 1}/{args.rounds} done', flush=True)

  medians = [statistics.median(r) for r in rates]
  cpu_medians = [statistics.median(r) for r in cpu_rates]
  print(f'\n{"config":32s} {"img/s":>7s} {"vs decode":>9s} '
        f'{"img/CPU-s":>9s} {"vs decode":>9s}  img/s per round')
  for (label, pp, *_), rate, cpu_rate, runs in zip(CONFIGS, medians,
                                                   cpu_medians, rates):
    spread = ', '.join(f'{r:.0f}' for r in runs)
    print(f'{label:32s} {rate:7.1f} {rate / medians[0]:9.2f} '
          f'{cpu_rate:9.1f} {cpu_rate / cpu_medians[0]:9.2f}  ({spread})')
    print(f'    --preprocessing={pp or "(none)"}')
  labels = [config[0] for config in CONFIGS]
  host = labels.index('rotation, host part')
  for other in ('rotation, host part, bfloat16',
                'rotation, host part, 1 pixel'):
    i = labels.index(other)
    print(f'{other} / float32 output: {medians[i] / medians[host]:.2f} '
          f'(CPU time: {cpu_medians[i] / cpu_medians[host]:.2f})')
  breakdown(jpegs, args.batch_size, args.num_batches, args.rounds)


if __name__ == '__main__':
  main()
