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


"""Virtual replicas: one device computes what eight replicas compute.

Each check runs the same computation twice from the same weights and data:
on 8 logical CPU replicas (a TPU v3-8's per-core batches), and on one
device inside `virtual_replicas.scope(8)`. Losses, outputs and batch-norm
moving statistics must agree to float32 rounding.
"""

import inspect

import keras
import numpy as np
import pytest
import tasks_test
from tasks_test import tiny_module  # noqa: F401  (a fixture)
import tensorflow as tf
import testdata
from testdata import mirrored_strategy

from revisiting_ssl import run_options  # noqa: F401  (every task registered)
from revisiting_ssl.models import layers as net_layers
from revisiting_ssl.models import virtual_replicas
from revisiting_ssl.self_supervision import exemplar, jigsaw, s4l_exemplar
from revisiting_ssl.self_supervision import self_supervision_lib as lib

REPLICAS = 8


class BatchNormNet(keras.Model):
  """A small trunk whose batch norms are the trunks' (`FusedBatchNorm`)."""

  def __init__(self, num_classes=None, **kwargs):
    super().__init__()
    del kwargs
    self.conv = net_layers.Conv(6, 3, 2, weight_decay=0.0, name='conv')
    self.bn = net_layers.batch_norm('bn', synchronized=False)
    self.head = keras.layers.Dense(num_classes) if num_classes else None
    self.conv.build((None, None, None, 3))
    self.bn.build((None, None, None, 6))
    if self.head is not None:
      self.head.build((None, 6))

  def call(self, images, training=False):
    x = keras.ops.relu(self.bn(self.conv(images), training=training))
    x = tf.reduce_mean(x, axis=[1, 2])
    end_points = {'pre_logits': x}
    if self.head is not None:
      x = self.head(x)
      end_points['logits'] = x
    return x, end_points


@pytest.fixture
def small_nets():
  """The network the tasks below build their trunks with."""
  return testdata.StandInNetwork(
      lambda num_classes, **options: BatchNormNet(num_classes))


def variables(obj):
  """A layer's variables, or a task's (those of its checkpoint items)."""
  if isinstance(obj, lib.Task):
    return [v for item in obj.checkpoint_items().values()
            for v in item.variables]
  return obj.variables


def moving_statistics(obj):
  named = {getattr(v, 'path', v.name): v for v in variables(obj)}
  return {name: v.numpy() for name, v in named.items() if 'moving' in name}


def on_replicas(make, fn, *tensors, reference, replicas=REPLICAS):
  """`fn(obj, *slices)` on real replicas; (their values, their `obj`)."""
  strategy = mirrored_strategy([f'/cpu:{i}' for i in range(replicas)])
  with strategy.scope():
    obj = make()
  for ours, theirs in zip(variables(obj), variables(reference)):
    ours.assign(theirs)

  def slices(context):
    r = context.replica_id_in_sync_group
    return [tf.nest.map_structure(lambda x: tf.split(x, replicas)[r], t)
            for t in tensors]

  values = strategy.experimental_distribute_values_from_function(slices)

  @tf.function
  def step(values):
    out = strategy.run(lambda v: fn(obj, *v), args=(values,))
    return strategy.experimental_local_results(out)

  return step(values), obj


def on_one_device(make, fn, *tensors, replicas=REPLICAS):
  """`fn(obj, *tensors)` on one device with virtual replicas."""
  obj = make()
  initial = [v.numpy() for v in variables(obj)]

  @tf.function
  def step():
    with virtual_replicas.scope(replicas):
      return fn(obj, *tensors)

  return step(), obj, initial


def assert_same_statistics(one, many):
  ours, theirs = moving_statistics(one), moving_statistics(many)
  assert ours and sorted(ours) == sorted(theirs)
  for name, value in ours.items():
    np.testing.assert_allclose(value, theirs[name], rtol=1e-5, atol=1e-6,
                               err_msg=name)


@pytest.mark.parametrize('shape', [(32, 5, 5, 3), (32, 7)])
def test_batch_norm_statistics_per_virtual_replica(shape):
  rng = np.random.default_rng(0)
  # Groups with different means and spreads, so pooled statistics differ.
  x = rng.normal(size=shape) * np.repeat(np.arange(1, 9), 4).reshape(
      (-1,) + (1,) * (len(shape) - 1)) + np.repeat(np.arange(8), 4).reshape(
          (-1,) + (1,) * (len(shape) - 1))
  x = tf.constant(x, tf.float32)

  def make():
    layer = net_layers.batch_norm('bn', synchronized=False)
    layer.build((None,) + shape[1:])
    return layer

  def normalise(layer, x):
    return layer(x, training=True)

  y_one, one, initial = on_one_device(make, normalise, x)
  reference = make()
  for v, value in zip(variables(reference), initial):
    v.assign(value)
  y_many, many = on_replicas(make, normalise, x, reference=reference)
  np.testing.assert_allclose(y_one, tf.concat(y_many, 0), atol=1e-5)
  assert_same_statistics(one, many)
  # Not the statistics of the whole batch: the groups count.
  pooled = make()
  pooled(x, training=True)
  assert not np.allclose(pooled.moving_variance.numpy(),
                         one.moving_variance.numpy(), rtol=1e-3)


def one_stream_loss(task, images):
  """The training loss on `images`; without a task, the batch."""
  mask = tf.ones([tf.shape(images)[0]])
  batch = {'image': images, 'label': tf.zeros_like(mask), 'mask': mask}
  return batch if task is None else task.compute(batch, training=True).loss


def check_task(make_task, loss_fn, *tensors, replicas=REPLICAS,
               first=lambda t: t[:2]):
  """Asserts equal losses and statistics; (grouped, one-group) losses."""

  def make():
    task = make_task()
    # Every variable (the patch head's too) before the weights are copied,
    # as the trainer creates them.
    task.initialize(loss_fn(None, *[first(t) for t in tensors]))
    return task

  loss_one, one, initial = on_one_device(make, loss_fn, *tensors,
                                         replicas=replicas)
  reference = make()
  for v, value in zip(variables(reference), initial):
    v.assign(value)
  losses, many = on_replicas(make, loss_fn, *tensors, reference=reference,
                             replicas=replicas)
  np.testing.assert_allclose(float(loss_one), np.mean(losses), rtol=1e-5)
  assert_same_statistics(one, many)
  # One group of everything is a different computation.
  loss_pooled = loss_fn(reference, *tensors)
  return float(loss_one), float(loss_pooled)


def test_exemplar_loss_per_virtual_replica(small_nets):
  rng = np.random.default_rng(1)
  images = tf.constant(rng.normal(size=(16, 3, 8, 8, 3)), tf.float32)

  def make():
    return exemplar.ExemplarTask(margin=0.5, network=small_nets,
                                 embed_dim=5)

  grouped, pooled = check_task(make, one_stream_loss, images)
  assert abs(grouped - pooled) > 1e-3


def test_jigsaw_loss_and_subsets_per_virtual_replica(small_nets):
  rng = np.random.default_rng(2)
  images = tf.constant(rng.normal(size=(16, 9, 8, 8, 3)), tf.float32)

  def make():
    task = jigsaw.JigsawTask(perm_subset_size=4, network=small_nets,
                             embed_dim=5, random_seed=3)
    # Dropout draws differ between one device and eight: compare without.
    task.head.dropout.rate = 0.0
    return task

  grouped, pooled = check_task(make, one_stream_loss, images)
  assert abs(grouped - pooled) > 1e-4

  # Eight virtual replicas draw the eight subsets of eight replicas, each
  # a different one.
  task = make()

  @tf.function
  def draw():
    with virtual_replicas.scope(REPLICAS):
      return task.sample_permutation_ids()

  subsets = draw().numpy()
  assert subsets.shape == (REPLICAS, 4)
  assert len({tuple(s) for s in subsets}) == REPLICAS


def test_s4l_exemplar_loss_per_virtual_replica(small_nets):
  # Two streams: each replica's batch norm saw its share of both.
  rng = np.random.default_rng(3)
  unsup = tf.constant(rng.normal(size=(16, 2, 8, 8, 3)), tf.float32)
  sup = tf.constant(rng.normal(size=(16, 2, 8, 8, 3)), tf.float32)
  labels = tf.constant(rng.integers(0, 3, 16), tf.int32)

  def two_stream_loss(task, unsup, sup, labels):
    mask = tf.ones([tf.shape(labels)[0]])
    batch = {'unsup': {'image': unsup, 'mask': mask},
             'sup': {'image': sup, 'label': labels, 'mask': mask}}
    return batch if task is None else task.compute(batch, True).loss

  def make():
    return s4l_exemplar.S4LExemplarTask(num_classes=3, network=small_nets,
                                        triplet_embed_dim=5)

  grouped, pooled = check_task(make, two_stream_loss, unsup, sup, labels)
  assert abs(grouped - pooled) > 1e-4


def _without_dropout(task):
  """Dropout draws differ between devices: the contract is without them."""
  for item in task.checkpoint_items().values():
    for layer in getattr(item, '_flatten_layers', lambda: [])():
      if isinstance(layer, keras.layers.Dropout):
        layer.rate = 0.0
  return task


def _two_groups(batch):
  """The case's batch and a brighter, shifted copy: two different groups."""
  def grow(x):
    if x.dtype.is_floating and x.shape.rank > 1:
      return tf.concat([x, 1.5 * x + 0.3], axis=0)
    return tf.concat([x, x], axis=0)
  return tf.nest.map_structure(grow, batch)


@pytest.mark.parametrize('task', lib.task_names())
def test_every_task_computes_per_virtual_replica(task, small_nets, request):
  """The task contract, for every registered task.

  Two virtual replicas on one device compute what two replicas do: the
  same loss and, where the task has a trunk, the same batch-norm
  statistics.
  """
  task_cls = lib.get_task_class(task)
  parameters = inspect.signature(task_cls).parameters
  case = tasks_test.task_cases(request.getfixturevalue('tiny_module'))[task]
  kwargs = dict(case.kwargs)
  if 'network' in parameters:
    kwargs['network'] = small_nets
  if 'random_seed' in parameters:
    kwargs['random_seed'] = 3

  def loss_fn(obj, batch):
    return batch if obj is None else obj.compute(batch, training=True).loss

  def make():
    made = task_cls(**kwargs)
    made.initialize(tf.nest.map_structure(lambda x: x[:1], case.batch))
    return _without_dropout(made)

  batch = _two_groups(case.batch)
  loss_one, one, initial = on_one_device(make, loss_fn, batch, replicas=2)
  reference = make()
  for v, value in zip(variables(reference), initial):
    v.assign(value)
  losses, many = on_replicas(make, loss_fn, batch, reference=reference,
                             replicas=2)
  # VAT's power iteration steps 1e-6 from the images, where float32
  # rounding decides much of the direction: summation orders that differ
  # between one device and two move its loss in the fifth digit.
  rtol = 1e-3 if 'vat_num_power_method_iters' in parameters else 1e-5
  np.testing.assert_allclose(float(loss_one), np.mean(losses), rtol=rtol)
  if 'network' in parameters:
    assert_same_statistics(one, many)


def test_interleave_gives_each_group_its_share_of_each_part():
  a = tf.range(8)[:, None]
  b = 100 + tf.range(4)[:, None]
  with virtual_replicas.scope(2):
    mixed = virtual_replicas.interleave([a, b])
    assert mixed[:, 0].numpy().tolist() == [0, 1, 2, 3, 100, 101,
                                            4, 5, 6, 7, 102, 103]
    back = virtual_replicas.deinterleave(mixed, [8, 4])
  np.testing.assert_array_equal(back[0], a)
  np.testing.assert_array_equal(back[1], b)
  with virtual_replicas.scope(3), pytest.raises(ValueError, match='3'):
    virtual_replicas.split(a)
