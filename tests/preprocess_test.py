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

"""Tests of the preprocessing ops and slim's Inception path."""

import numpy as np
import pytest
import tensorflow as tf

from revisiting_ssl import inception_preprocessing, preprocess, utils

# Small flag values for the generic op tests.
OP_ARGS = dict(resize_size=32, crop_size=24, smaller_size=40,
               grayscale_probability=1.0, splits_per_side=3, patch_jitter=4,
               num_of_inception_patches=2)


def _image(height=48, width=64, channels=3, seed=0):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (height, width, channels), dtype=np.uint8)


def _run(preprocessing, is_training, image, label=5, **op_args):
  fn = preprocess.get_preprocess_fn(preprocessing, is_training, **op_args)
  out = fn({'image': tf.constant(image), 'label': tf.constant(label)})
  return {k: v.numpy() for k, v in out.items()}


def _run_in_dataset(preprocessing, is_training, image, label=5, **op_args):
  fn = preprocess.get_preprocess_fn(preprocessing, is_training, **op_args)
  ds = tf.data.Dataset.from_tensors(
      {'image': tf.constant(image), 'label': tf.constant(label)}).map(fn)
  return {k: v.numpy() for k, v in next(iter(ds)).items()}


# Per op: (input (height, width), expected output shape or None for "any
# shape no larger than the input", dtype, (min, max) of the values).
_EXPECTED = {
    'plain_preprocess': ((48, 64), (48, 64, 3), np.uint8, (0, 255)),
    '0_to_1': ((48, 64), (48, 64, 3), np.float32, (0, 1)),
    '-1_to_1': ((48, 64), (48, 64, 3), np.float32, (-1, 1)),
    'resize': ((48, 64), (32, 32, 3), np.float32, (0, 255)),
    # round(64 * 40 / 48) = round(53.3) = 53.
    'resize_small': ((48, 64), (40, 53, 3), np.float32, (0, 255)),
    'crop': ((48, 64), (24, 24, 3), np.uint8, (0, 255)),
    'central_crop': ((48, 64), (24, 24, 3), np.uint8, (0, 255)),
    'inception_crop': ((48, 64), None, np.uint8, (0, 255)),
    'flip_lr': ((48, 64), (48, 64, 3), np.uint8, (0, 255)),
    'crop_inception_preprocess_patches': (
        (48, 64), (2, 32, 32, 3), np.float32, (-1, 1)),
    'to_gray': ((48, 64), (48, 64, 3), np.uint8, (0, 255)),
    # 66 // 3 = 22 per cell, minus the jitter of 4.
    'crop_patches': ((66, 66), (9, 18, 18, 3), np.uint8, (0, 255)),
    'standardization': ((48, 64), (48, 64, 3), np.float32, (-10, 10)),
    'rotate': ((40, 40), (4, 40, 40, 3), np.uint8, (0, 255)),
    'inception_preprocess': ((48, 64), (32, 32, 3), np.float32, (-1, 1)),
    # S4L's ops.
    'value_range': ((48, 64), (48, 64, 3), np.float32, (-2, 2)),
    'standardize': ((48, 64), (48, 64, 3), np.float32, (-10, 10)),
    # The multi-task model's input: 0..255 minus the RGB mean.
    'vgg_preprocess': ((48, 64), (48, 64, 3), np.float32, (-124, 152)),
    'copy_label': ((48, 64), (48, 64, 3), np.uint8, (0, 255)),
    'hsvnoise': ((48, 64), (48, 64, 3), np.float32, (0, 255)),
    'multi_crop': ((48, 64), (5, 24, 24, 3), np.uint8, (0, 255)),
    'crop_inception_patches': ((48, 64), (2, 32, 32, 3), np.float32,
                               (0, 255)),
    # SimCLR's (their statistics: contrastive_ops_test.py).
    'views': ((48, 64), (2, 48, 64, 3), np.uint8, (0, 255)),
    'random_resized_crop': ((48, 64), (32, 32, 3), np.float32, (0, 255)),
    'color_jitter': ((48, 64), (48, 64, 3), np.float32, (0, 1)),
    'random_grayscale': ((48, 64), (48, 64, 3), np.float32, (0, 1)),
    'gaussian_blur': ((48, 64), (48, 64, 3), np.float32, (0, 1)),
}
# How the generic test writes an op whose arguments only a call gives.
_CALLS = {'value_range': 'value_range(-2, 2)',
          # The colour ops take [0, 1].
          **{name: f'0_to_1|{name}' for name in (
              'color_jitter', 'random_grayscale', 'gaussian_blur')}}
# Random in evaluation too, as in S4L.
_RANDOM_IN_EVAL = ('hsvnoise', 'crop_inception_patches')


def test_every_registered_op_is_covered():
  assert sorted(_EXPECTED) == preprocess.op_names()


@pytest.mark.parametrize('is_training', [True, False],
                         ids=['train', 'eval'])
@pytest.mark.parametrize('name', preprocess.op_names())
def test_op_eager_and_in_dataset(name, is_training):
  (height, width), shape, dtype, (low, high) = _EXPECTED[name]
  image = _image(height, width)
  call = _CALLS.get(name, name)
  eager = _run(call, is_training, image, **OP_ARGS)
  in_ds = _run_in_dataset(call, is_training, image, **OP_ARGS)
  for out in (eager, in_ds):
    result = out['image']
    assert result.dtype == dtype
    if shape is None:
      assert result.ndim == 3 and result.shape[2] == 3
      assert result.shape[0] <= height and result.shape[1] <= width
    else:
      assert result.shape == shape
    assert result.min() >= low - 1e-5 and result.max() <= high + 1e-5
    if name == 'rotate':
      np.testing.assert_array_equal(out['label'], [0, 1, 2, 3])
      assert out['label'].dtype == np.int32
    else:
      assert out['label'] == 5
    if name == 'copy_label':
      assert out['copy_label'] == 5
  if not is_training and name not in _RANDOM_IN_EVAL:
    # The other ops are deterministic in evaluation (to_gray has p = 1
    # here), so graph (tf.data) and eager execution must agree.
    np.testing.assert_allclose(eager['image'], in_ds['image'], rtol=1e-5,
                               atol=1e-5)
  if name == 'inception_crop' and not is_training:
    np.testing.assert_array_equal(eager['image'], image)


def test_pipeline_string_whitespace_and_empty_names():
  out = _run(' central_crop , ,-1_to_1,', False, _image(), crop_size='24')
  assert out['image'].shape == (24, 24, 3)
  assert out['image'].dtype == np.float32
  assert _run('', True, _image())['image'].dtype == np.uint8


def test_value_range_ops_are_exact():
  image = np.array([[[0, 51, 255]]], np.uint8)
  np.testing.assert_allclose(_run('0_to_1', True, image)['image'],
                             [[[0, 0.2, 1]]], atol=1e-7)
  np.testing.assert_allclose(_run('-1_to_1', True, image)['image'],
                             [[[-1, -0.6, 1]]], atol=1e-6)


# -- rotate --------------------------------------------------------------------


def test_rotate_order_matches_numpy_rot90():
  image = _image(5, 5, 2)
  for out in (_run('rotate', True, image), _run_in_dataset('rotate', False,
                                                           image)):
    assert out['image'].shape == (4, 5, 5, 2)
    for k in range(4):
      np.testing.assert_array_equal(out['image'][k], np.rot90(image, k=k))
    np.testing.assert_array_equal(out['label'], [0, 1, 2, 3])


def test_rotate_batched_equals_per_example():
  images = np.stack([_image(8, 8, seed=i) for i in range(3)])
  batched = _run('rotate', True, images, label=np.arange(3))
  assert batched['image'].shape == (3, 4, 8, 8, 3)
  np.testing.assert_array_equal(batched['label'], np.tile(np.arange(4),
                                                          (3, 1)))
  for i in range(3):
    single = _run('rotate', True, images[i])
    np.testing.assert_array_equal(batched['image'][i], single['image'])


def test_rotate_batched_in_compiled_function():
  # The rotation task runs `rotate` inside its (possibly XLA) train step.
  fn = preprocess.get_preprocess_fn('rotate', True)
  images = tf.constant(np.stack([_image(6, 6, seed=i) for i in range(2)]))
  compiled = tf.function(fn, jit_compile=True)
  out = compiled({'image': images, 'label': tf.zeros([2], tf.int32)})
  np.testing.assert_array_equal(out['image'].numpy(),
                                fn({'image': images})['image'].numpy())


def test_rotate_rejects_non_square_images():
  with pytest.raises(utils.UsageError, match='square'):
    _run('rotate', True, _image(4, 6))


def _resize_rotate_gap(legacy_resize):
  """Max |rotate(resize(x)) - resize(rotate(x))| over the 4 rotations."""
  image = _image(64, 64, seed=3).astype(np.float32) / 255.0
  resized_then_rotated = _run('resize,rotate', True, image, resize_size=40,
                              legacy_resize=legacy_resize)['image']
  rotations = _run('rotate', True, image)['image']
  gap = 0.0
  for k in range(4):
    rotated_then_resized = _run('resize', True, rotations[k],
                                resize_size=40,
                                legacy_resize=legacy_resize)['image']
    gap = max(gap, np.abs(resized_then_rotated[k] -
                          rotated_then_resized).max())
  return gap


def test_default_resize_commutes_with_rotation():
  assert _resize_rotate_gap(legacy_resize=False) < 1e-4


def test_legacy_resize_does_not_commute_with_rotation():
  # TF1 sampling leaves a trace of the rotation in the pixels: the shortcut
  # that the TF2 default avoids.
  assert _resize_rotate_gap(legacy_resize=True) > 0.05


def test_resize_sampling_conventions():
  # TF1 and TF2 bilinear sampling differ: a 4x4 ramp 0..15 resized to 3x3.
  ramp = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
  tf2 = _run('resize', False, ramp, resize_size=3)['image'][0, :, 0]
  tf1 = _run('resize', False, ramp, resize_size=3,
             legacy_resize=True)['image'][0, :, 0]
  np.testing.assert_allclose(tf2, [0.8333, 2.1667, 3.5], atol=1e-3)
  np.testing.assert_allclose(tf1, [0.0, 1.3333, 2.6667], atol=1e-3)


def test_randomized_resize_method():
  image = _image(20, 20)
  for legacy in (False, True):
    outs = [_run('resize', True, image, resize_size='12,10',
                 randomize_resize_method=True,
                 legacy_resize=legacy)['image'] for _ in range(12)]
    assert all(o.shape == (12, 10, 3) and o.dtype == np.float32
               for o in outs)
    # Nearest neighbour keeps integers, bilinear does not: both occur.
    integral = [np.all(o == np.round(o)) for o in outs]
    assert any(integral) and not all(integral)


# -- crop_patches --------------------------------------------------------------


def _coordinate_image(height, width):
  """Channel 0 holds the row index, channel 1 the column index."""
  rows, cols = np.meshgrid(np.arange(height), np.arange(width),
                           indexing='ij')
  return np.stack([rows, cols, np.zeros_like(rows)], -1).astype(np.int32)


def test_crop_patches_grid_is_row_major():
  n, cell = 3, 10
  image = np.zeros((n * cell + 2, n * cell + 2, 1), np.int32)
  for i in range(n):
    for k in range(n):
      image[i * cell:(i + 1) * cell, k * cell:(k + 1) * cell] = i * n + k
  patches = _run('crop_patches', False, image, splits_per_side=n)['image']
  assert patches.shape == (9, cell, cell, 1)
  for index in range(9):
    assert np.all(patches[index] == index)


@pytest.mark.parametrize('is_training', [True, False],
                         ids=['train', 'eval'])
def test_crop_patches_jitter_stays_in_cell(is_training):
  n, jitter, size = 3, 4, 32     # cells 10x10 (2 pixels dropped), patches 6x6
  cell, patch = size // n, size // n - jitter
  image = _coordinate_image(size, size)
  offsets = set()
  for _ in range(10 if is_training else 1):
    patches = _run('crop_patches', is_training, image, splits_per_side=n,
                   patch_jitter=jitter)['image']
    assert patches.shape == (9, patch, patch, 3)
    for index in range(9):
      i, k = divmod(index, n)
      top, left = patches[index, 0, 0, 0], patches[index, 0, 0, 1]
      # Contiguous pixels of the original image...
      np.testing.assert_array_equal(patches[index, :, :, 0],
                                    top + np.arange(patch)[:, None] + 0 *
                                    np.arange(patch)[None])
      np.testing.assert_array_equal(patches[index, :, :, 1],
                                    left + np.arange(patch)[None] + 0 *
                                    np.arange(patch)[:, None])
      # ...inside cell (i, k).
      dy, dx = top - i * cell, left - k * cell
      assert 0 <= dy <= jitter and 0 <= dx <= jitter
      offsets.update([dy, dx])
  if is_training:
    assert offsets == set(range(jitter + 1))
  else:
    assert offsets == {jitter // 2}


def test_crop_patches_batched_equals_per_example():
  images = np.stack([_image(30, 30, seed=i) for i in range(2)])
  batched = _run('crop_patches', False, images, splits_per_side=3,
                 patch_jitter=3)['image']
  assert batched.shape == (2, 9, 7, 7, 3)
  for i in range(2):
    np.testing.assert_array_equal(
        batched[i], _run('crop_patches', False, images[i], splits_per_side=3,
                         patch_jitter=3)['image'])


def test_crop_patches_needs_static_size():
  fn = preprocess.get_preprocess_fn('crop_patches', True, splits_per_side=3)
  traced = tf.function(fn, autograph=False, input_signature=[
      {'image': tf.TensorSpec([None, None, 3], tf.uint8)}])
  with pytest.raises(utils.UsageError, match='statically known'):
    traced.get_concrete_function()
  # tf.data wraps the error but keeps the message.
  ds = tf.data.Dataset.from_tensors({'image': _image()}).map(
      lambda d: {'image': tf.image.decode_png(tf.image.encode_png(
          d['image']), channels=3)})
  with pytest.raises(Exception, match='statically known'):
    ds.map(fn)


def test_jigsaw_pipeline_shapes():
  image = _image(120, 150)
  for is_training in (True, False):
    out = _run('resize,to_gray,crop,crop_patches,standardization',
               is_training, image, resize_size=292,
               grayscale_probability=0.66, crop_size=255, splits_per_side=3,
               patch_jitter=21)
    assert out['image'].shape == (9, 64, 64, 3)


# -- crop, flip, to_gray, standardization -------------------------------------


def test_central_crop_offsets():
  image = _coordinate_image(7, 9)
  for name, is_training in (('crop', False), ('central_crop', True)):
    out = _run(name, is_training, image, crop_size='4')['image']
    assert out.shape == (4, 4, 3)
    assert (out[0, 0, 0], out[0, 0, 1]) == (1, 2)   # floor(3/2), floor(5/2)


def test_random_crop_is_a_window_of_the_image():
  image = _coordinate_image(10, 12)
  corners = set()
  for _ in range(20):
    out = _run('crop', True, image, crop_size='6,8')['image']
    top, left = out[0, 0, 0], out[0, 0, 1]
    np.testing.assert_array_equal(out, image[top:top + 6, left:left + 8])
    corners.add((top, left))
  assert len(corners) > 1


def test_crop_too_small_image_fails():
  with pytest.raises(tf.errors.InvalidArgumentError):
    _run('crop', False, _image(10, 10), crop_size=12)


def test_flip_lr_batched_is_per_example():
  images = np.stack([_image(4, 5, seed=i) for i in range(32)])
  out = _run('flip_lr', True, images)['image']
  flipped = [np.array_equal(o, im[:, ::-1]) for o, im in zip(out, images)]
  kept = [np.array_equal(o, im) for o, im in zip(out, images)]
  assert all(f or k for f, k in zip(flipped, kept))
  assert any(flipped) and any(kept)
  np.testing.assert_array_equal(_run('flip_lr', False, images)['image'],
                                images)


def test_to_gray_probabilities_and_rounding():
  image = _image(6, 7)
  same = _run('to_gray', True, image, grayscale_probability=0.0)['image']
  np.testing.assert_array_equal(same, image)
  gray = _run('to_gray', False, image, grayscale_probability=1.0)['image']
  assert gray.dtype == np.uint8
  np.testing.assert_array_equal(gray[..., 0], gray[..., 1])
  np.testing.assert_array_equal(gray[..., 0], gray[..., 2])
  # uint8: floor of the mean (the integer mean); float: exact mean.
  np.testing.assert_array_equal(
      gray[..., 0], image.astype(np.int32).sum(-1) // 3)
  pixel = np.array([[[1, 1, 2]]], np.uint8)
  assert _run('to_gray', True, pixel)['image'].tolist() == [[[1, 1, 1]]]
  floats = _run('to_gray', True, pixel.astype(np.float32))['image']
  np.testing.assert_allclose(floats, np.full((1, 1, 3), 4 / 3), rtol=1e-6)


def test_to_gray_batched_is_per_example():
  images = np.stack([_image(4, 4, seed=i) for i in range(32)])
  out = _run('to_gray', True, images, grayscale_probability=0.5)['image']
  gray = [np.all(o == o[..., :1]) for o in out]
  kept = [np.array_equal(o, im) for o, im in zip(out, images)]
  assert all(g or k for g, k in zip(gray, kept))
  assert any(gray) and any(kept)


def test_to_gray_rejects_bad_probability():
  with pytest.raises(utils.UsageError, match='grayscale_probability'):
    preprocess.get_preprocess_fn('to_gray', True, grayscale_probability=1.5)


def test_standardization_per_image_and_per_patch():
  image = _image(8, 8).astype(np.float32) * 3 + 7
  out = _run('standardization', True, image)['image']
  assert out.dtype == np.float32
  assert abs(out.mean()) < 1e-5 and abs(out.std() - 1) < 1e-4
  stack = np.stack([_image(5, 5, seed=i) * (i + 1.0) for i in range(4)])
  out = _run('standardization', True, stack.astype(np.float32))['image']
  np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-5)
  np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 1, atol=1e-4)
  # A constant image: the std is bounded below by 1/sqrt(#values).
  flat = _run('standardization', True, np.full((2, 2, 3), 9, np.uint8))
  np.testing.assert_allclose(flat['image'], 0)


# -- Inception preprocessing ---------------------------------------------------


def _photos(directory, count=3):
  files = sorted(directory.glob('*.JPEG'))[:count]
  assert len(files) == count, f'too few photos in {directory}'
  return [tf.io.decode_jpeg(f.read_bytes(), channels=3) for f in files]


def test_inception_on_photos(photos):
  for photo in _photos(photos):
    for is_training in (True, False):
      out = _run('inception_preprocess', is_training, photo.numpy(),
                 resize_size=224)['image']
      assert out.shape == (224, 224, 3) and out.dtype == np.float32
      assert out.min() >= -1 and out.max() <= 1
      # Real content, not a constant.
      assert out.std() > 0.05
    patches = _run('crop_inception_preprocess_patches', True, photo.numpy(),
                   resize_size=64, num_of_inception_patches=3)['image']
    assert patches.shape == (3, 64, 64, 3)
    assert not np.allclose(patches[0], patches[1])
    eval_patches = _run('crop_inception_preprocess_patches', False,
                        photo.numpy(), resize_size=64,
                        num_of_inception_patches=3)['image']
    np.testing.assert_array_equal(eval_patches[0], eval_patches[2])


def _slim_order_train(image, height, width):
  """Slim's fast-mode training path in slim's order, for comparison."""
  image = tf.image.convert_image_dtype(image, tf.float32)
  seed = tf.random.uniform([2], 0, 2**31 - 1, dtype=tf.int32)
  begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
      tf.shape(image), tf.constant([[[0.0, 0.0, 1.0, 1.0]]]), seed=seed,
      min_object_covered=0.1, aspect_ratio_range=(0.75, 1.33),
      area_range=(0.05, 1.0), max_attempts=100,
      use_image_if_no_bounding_boxes=True)
  image = tf.slice(image, begin, size)
  image = tf.image.resize(image, [height, width])
  image = tf.image.random_flip_left_right(image)
  image = tf.image.random_brightness(image, 32.0 / 255.0)
  image = tf.image.random_saturation(image, 0.5, 1.5)
  image = tf.clip_by_value(image, 0.0, 1.0)
  return (image - 0.5) * 2.0


def test_inception_train_equals_slim_order_of_operations(photos):
  # Our path crops uint8 and distorts colours in [0, 255]; with the same
  # random draws it must match slim's order up to float rounding.
  for seed, photo in enumerate(_photos(photos)):
    tf.random.set_seed(seed)
    ours = inception_preprocessing.preprocess_for_train(photo, 96, 80)
    tf.random.set_seed(seed)
    reference = _slim_order_train(photo, 96, 80)
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), atol=2e-5)


def test_inception_train_is_repeatable_under_global_seed(photos):
  photo = _photos(photos, 1)[0]
  fn = preprocess.get_preprocess_fn('inception_preprocess', True,
                                    resize_size=64)
  outs = []
  for _ in range(2):
    tf.random.set_seed(11)
    outs.append(fn({'image': photo})['image'].numpy())
  np.testing.assert_array_equal(outs[0], outs[1])
  assert not np.array_equal(outs[0], fn({'image': photo})['image'].numpy())


def test_inception_eval_central_crop():
  image = _image(300, 400)
  expected = image[18:282, 25:375].astype(np.float32) * (2 / 255) - 1
  static = inception_preprocessing.preprocess_for_eval(
      tf.constant(image), None, None)
  dynamic = tf.function(
      lambda x: inception_preprocessing.preprocess_for_eval(x, None, None),
      input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])(image)
  for out in (static, dynamic):
    assert out.shape == (264, 350, 3)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-6)


def test_inception_eval_resizes_the_central_crop():
  image = _image(300, 400)
  out = _run('inception_preprocess', False, image, resize_size=224)['image']
  crop = image[18:282, 25:375].astype(np.float32)
  expected = tf.image.resize(crop, [224, 224]).numpy() * (2 / 255) - 1
  np.testing.assert_allclose(out, expected, atol=1e-5)
  legacy = _run('inception_preprocess', False, image, resize_size=224,
                legacy_resize=True)['image']
  expected = tf.compat.v1.image.resize_bilinear(
      crop[None], [224, 224]).numpy()[0] * (2 / 255) - 1
  np.testing.assert_allclose(legacy, expected, atol=1e-5)


# -- API: errors and device ops ------------------------------------------------


def test_unknown_op_lists_valid_ops():
  with pytest.raises(utils.UsageError) as error:
    preprocess.get_preprocess_fn('resize,rotat', True, resize_size=32)
  message = str(error.value)
  assert "'rotat'" in message and '--preprocessing' in message
  assert 'rotate' in message and 'inception_preprocess' in message


@pytest.mark.parametrize('name,flag', [
    ('crop', 'crop_size'),
    ('central_crop', 'crop_size'),
    ('resize', 'resize_size'),
    ('inception_preprocess', 'resize_size'),
    ('resize_small', 'smaller_size'),
    ('crop_patches', 'splits_per_side'),
    ('crop_inception_preprocess_patches', 'num_of_inception_patches'),
])
def test_missing_flag_is_named(name, flag):
  with pytest.raises(utils.UsageError) as error:
    preprocess.get_preprocess_fn(name, True, resize_size=None if
                                 flag == 'resize_size' else 32)
  assert str(error.value) == (
      f'--{flag} is required by the preprocessing op {name!r}.')


def test_malformed_flag_values():
  with pytest.raises(utils.UsageError, match='--crop_size'):
    preprocess.get_preprocess_fn('crop', True, crop_size='224,x')
  with pytest.raises(utils.UsageError, match='--resize_size'):
    preprocess.get_preprocess_fn('resize', True, resize_size='1,2,3')
  with pytest.raises(utils.UsageError, match='--splits_per_side'):
    preprocess.get_preprocess_fn('crop_patches', True, splits_per_side='2.5')


def test_unknown_argument_is_a_type_error():
  with pytest.raises(TypeError):
    preprocess.get_preprocess_fn('crop', True, crop_size=3, crop_sise=4)


def test_unused_flags_are_accepted_and_none_means_default():
  fn = preprocess.get_preprocess_fn(
      'to_gray', True, resize_size=None, crop_size='7', smaller_size=None,
      grayscale_probability=None, randomize_resize_method=None,
      splits_per_side=None, patch_jitter=None, num_of_inception_patches=None,
      legacy_resize=None)
  out = fn({'image': tf.constant(_image(3, 3))})['image'].numpy()
  assert np.all(out == out[..., :1])   # Default probability 1.0.


@pytest.mark.parametrize('preprocessing,host,device', [
    ('inception_preprocess,rotate', 'inception_preprocess', 'rotate'),
    (' inception_preprocess , rotate ,', 'inception_preprocess', 'rotate'),
    ('rotate', '', 'rotate'),
    ('inception_preprocess', 'inception_preprocess', ''),
    ('rotate,standardization', '', 'rotate,standardization'),
    ('standardization,crop,rotate', 'standardization,crop', 'rotate'),
    ('crop,rotate,standardization', 'crop', 'rotate,standardization'),
    ('rotate,crop', 'rotate,crop', ''),
    ('', '', ''),
])
def test_split_device_ops(preprocessing, host, device):
  assert preprocess.split_device_ops(
      preprocessing, ['rotate', 'standardization']) == (host, device)


def test_split_pipeline_equals_whole_pipeline():
  # Host part per example, then the device part on the batch.
  images = [_image(40, 50, seed=i) for i in range(2)]
  preprocessing = 'central_crop,-1_to_1,rotate'
  host, device = preprocess.split_device_ops(preprocessing, ['rotate'])
  host_fn = preprocess.get_preprocess_fn(host, True, crop_size=32)
  device_fn = preprocess.get_preprocess_fn(device, True)
  batch = tf.stack([host_fn({'image': im})['image'] for im in images])
  split = device_fn({'image': batch})
  for i, image in enumerate(images):
    whole = _run(preprocessing, True, image, crop_size=32)
    np.testing.assert_array_equal(split['image'][i].numpy(), whole['image'])
    np.testing.assert_array_equal(split['label'][i].numpy(), whole['label'])


# -- S4L's syntax and ops -----------------------------------------------------


def test_parse_both_syntaxes():
  calls, separator = preprocess.parse_ops(' resize , flip_lr,-1_to_1 ')
  assert separator == ',' and [c.name for c in calls] == [
      'resize', 'flip_lr', '-1_to_1']
  calls, separator = preprocess.parse_ops(
      'copy_label(y)|crop_inception_patches(8, 224)| value_range(a=-1,b=1)')
  assert separator == '|'
  assert [(c.name, c.args, c.kwargs) for c in calls] == [
      ('copy_label', ('y',), ()), ('crop_inception_patches', ('8', '224'), ()),
      ('value_range', (), (('a', '-1'), ('b', '1')))]
  # A single call with a comma inside is one op.
  (call,), _ = preprocess.parse_ops('crop_inception_patches(8,224)')
  assert call.args == ('8', '224')


def test_written_arguments_override_flags():
  image = _image(48, 64)
  out = _run('resize(16)|-1_to_1', False, image, resize_size=32)
  assert out['image'].shape == (16, 16, 3)
  out = _run('resize(20,12)', False, image)
  assert out['image'].shape == (20, 12, 3)
  out = _run('resize_small(24)|crop(16)', False, image)
  assert out['image'].shape == (16, 16, 3)
  out = _run('copy_label(class_id)|rotate', False, _image(8, 8), label=7)
  assert out['class_id'] == 7 and list(out['label']) == [0, 1, 2, 3]


def test_randomize_method_anywhere_in_resize():
  fn = preprocess.get_preprocess_fn('resize(randomize_method, 16)', True)
  outs = {fn({'image': tf.constant(_image(40, 40, seed=1)),
              '_seed': tf.constant([i, 0])})['image'].numpy().tobytes()
          for i in range(12)}
  assert len(outs) > 1  # Several interpolation methods were drawn.


def test_value_range_and_standardize():
  image = np.array([[[0, 255, 51]]], np.uint8)
  out = _run('value_range(-2,2)', False, image)['image']
  np.testing.assert_allclose(out, [[[-2, 2, -1.2]]], rtol=1e-6)
  stack = np.stack([_image(8, 8, seed=0), 3 * _image(8, 8, seed=1) // 4])
  s4l = _run('standardize', False, stack)['image']
  np.testing.assert_allclose(
      s4l, _run('standardization', False, stack)['image'], atol=1e-6)
  for image in s4l:
    assert abs(image.mean()) < 1e-4 and abs(image.std() - 1) < 1e-3


def test_multi_crop_windows():
  image = np.arange(6 * 8 * 3, dtype=np.int32).reshape(6, 8, 3)
  crops = _run('multi_crop(4)', False, image.astype(np.uint8))['image']
  image = image.astype(np.uint8)
  expected = [image[1:5, 2:6], image[:4, :4], image[:4, 4:], image[2:, :4],
              image[2:, 4:]]
  for crop, window in zip(crops, expected):
    np.testing.assert_array_equal(crop, window)


def test_hsvnoise_is_per_image_seeded_and_in_range():
  image = _image(16, 16)
  fn = preprocess.get_preprocess_fn('hsvnoise', True)
  a = fn({'image': tf.constant(image), '_seed': tf.constant([1, 2])})
  b = fn({'image': tf.constant(image), '_seed': tf.constant([1, 2])})
  c = fn({'image': tf.constant(image), '_seed': tf.constant([1, 3])})
  np.testing.assert_array_equal(a['image'], b['image'])
  assert not np.allclose(a['image'], c['image'])
  stack = fn({'image': tf.constant(np.stack([image, image])),
              '_seed': tf.constant([1, 2])})['image'].numpy()
  assert not np.allclose(stack[0], stack[1])  # Each image its own noise.
  assert stack.min() >= 0 and stack.max() <= 255 + 1e-3


def test_crop_inception_patches_are_independent_crops():
  out = _run('crop_inception_patches(3,20)', True, _image(48, 64))['image']
  assert out.shape == (3, 20, 20, 3)
  assert not np.allclose(out[0], out[1])


def test_device_split_keeps_the_pipe_syntax():
  assert preprocess.split_device_ops(
      'copy_label|resize(32)|-1_to_1|rotate', ['rotate']) == (
          'copy_label|resize(32)|-1_to_1', 'rotate')


@pytest.mark.parametrize('preprocessing,message', [
    ('resize(32', 'unbalanced parentheses'),
    ('resize(32)|flip_lr(1)', "'flip_lr' takes no arguments"),
    ('resize(size=32)', "'resize' has no argument size"),
    ('resize(3x)', r'--resize_size must be'),
    ('value_range(-1)', "needs its range written"),
    ('resize 32', 'Cannot read'),
])
def test_syntax_errors(preprocessing, message):
  with pytest.raises(utils.UsageError, match=message):
    preprocess.get_preprocess_fn(preprocessing, True)


@pytest.mark.parametrize('image_dtype', [None, 'float32', 'bfloat16'])
def test_host_fn_casts_only_float_images(image_dtype):
  pipeline = preprocess.build_pipeline(
      'resize,-1_to_1,rotate', device_ops=('rotate',), resize_size=32)
  data = {'image': tf.constant(_image()), 'label': tf.constant(5)}
  for training in (True, False):
    plain = pipeline.host[training](dict(data, _seed=tf.constant([1, 2])))
    out = pipeline.host_fn(training, image_dtype)(
        dict(data, _seed=tf.constant([1, 2])))
    want = tf.bfloat16 if image_dtype == 'bfloat16' else tf.float32
    assert out['image'].dtype == want
    # The values the network's first layer would have cast to.
    np.testing.assert_array_equal(
        tf.cast(out['image'], tf.float32),
        tf.cast(tf.cast(plain['image'], want), tf.float32))
    assert out['label'].dtype == tf.int32 and int(out['label']) == 5
  # A uint8 image (no float output) passes unchanged.
  raw = preprocess.build_pipeline('')
  out = raw.host_fn(True, 'bfloat16')(data)
  assert out['image'].dtype == tf.uint8
