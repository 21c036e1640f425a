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

"""Which `tf.distribute` strategy a run uses, and each process's role in it.

The trainer and the cached linear evaluation take a strategy from here; they
never build one themselves (DESIGN.md: TPUStrategy for `--use_tpu`, the
default strategy for one GPU or the CPU, MirroredStrategy for `--num_gpus`,
MultiWorkerMirroredStrategy from `TF_CONFIG`).
"""

import json

import tensorflow as tf

from revisiting_ssl import utils


def make_strategy(*, use_tpu: bool, tpu_name: str | None, master: str | None,
                  num_gpus: int, tf_config: str | None
                  ) -> tf.distribute.Strategy:
  """Picks the distribution strategy.

  Args:
    use_tpu: use `TPUStrategy` on the TPU named by `tpu_name`.
    tpu_name: the TPU's name or address (`local` on a TPU VM); falls back to
      `master` when that is a `grpc://` address.
    master: accepted for the original README's command line.
    num_gpus: `MirroredStrategy` over this many GPUs when > 1.
    tf_config: the `TF_CONFIG` environment value; several workers select
      `MultiWorkerMirroredStrategy`.

  Returns:
    The strategy.

  Raises:
    utils.UsageError: on `--use_tpu` without a TPU name (we never let the
      resolver discover one: that queries cloud metadata servers), when
      fewer GPUs are visible than asked for, or for a malformed TF_CONFIG.
  """
  if use_tpu:
    name = tpu_name or (master if master and master.startswith('grpc://')
                        else None)
    if not name:
      raise utils.UsageError(
          '--use_tpu (the default) needs a TPU: set --tpu_name or the '
          'TPU_NAME environment variable (use "local" on a TPU VM), or pass '
          '--nouse_tpu to run on the CPU or one GPU.')
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=name)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  if tf_config and num_workers(tf_config) > 1:
    return tf.distribute.MultiWorkerMirroredStrategy()
  if num_gpus > 1:
    gpus = tf.config.list_logical_devices('GPU')
    if len(gpus) < num_gpus:
      raise utils.UsageError(
          f'--num_gpus {num_gpus} asks for more GPUs than the {len(gpus)} '
          f'visible ones.')
    return tf.distribute.MirroredStrategy([g.name for g in gpus[:num_gpus]])
  return tf.distribute.get_strategy()


def local_replicas(strategy: tf.distribute.Strategy) -> int:
  """Replicas fed by one input pipeline (the devices of this worker)."""
  try:
    return len(strategy.extended.worker_devices)
  except RuntimeError:  # The default strategy has one device.
    return 1


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """Whether this process writes checkpoints, summaries and exports."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or not isinstance(
      strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  return task_type in (None, 'chief') or (
      task_type == 'worker' and task_id == 0 and
      'chief' not in resolver.cluster_spec().as_dict())


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
  """Whether other processes take part in every step (collectives)."""
  return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def num_workers(tf_config: str) -> int:
  """Workers (chief included) of the cluster a TF_CONFIG value describes.

  Raises:
    utils.UsageError: if the value is not valid JSON.
  """
  try:
    cluster = json.loads(tf_config).get('cluster', {})
  except ValueError as e:
    raise utils.UsageError(f'TF_CONFIG is not valid JSON: {e}') from None
  return len(cluster.get('worker', [])) + len(cluster.get('chief', []))
