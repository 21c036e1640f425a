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

"""VAT and VAT + EntMin: S4L's semi-supervised baselines.

Virtual adversarial training (Miyato et al., 2018) makes the class
prediction smooth around every unlabelled image: it finds the direction in
which a small input perturbation changes the prediction most (power
iteration on the Hessian of the KL divergence, from a Gaussian start) and
penalises the change for a perturbation of norm `--vat_eps` in that
direction. Entropy minimisation (`--entmin_factor`) makes the predictions
confident. With both streams through the trunk as in S4L:

    loss = CE(classes_sup) + vat_weight * L_vat + entmin_factor * L_ent

over X = the unlabelled images (and the labelled ones with
`--apply_vat_to_labeled`), Z their clean logits:

* d ~ N(0, I); `--vat_num_power_method_iters` times: d <- xi * n(d), xi =
  `--vat_xi` (1e-6, as S4L and the VAT paper), d <- the gradient of mean
  KL(p(X + d) || p(Z)) with respect to d, held constant; r = n(d) *
  vat_eps, n the per-example L2 normalisation over H, W, C (exact, see
  `normalize`);
* L_vat = mean KL(p(X + r) || p(Z)), Z held constant: the perturbed
  distribution first, as in the original (standard VAT has the clean one
  first), so gradients reach the weights only through f(X + r);
* L_ent = mean entropy of p(Z), with gradients.

The perturbed passes run the trunk in training mode on the perturbed batch
alone, with its batch statistics, leaving the moving statistics unchanged
(`models.layers.frozen_moving_statistics`). Evaluation reports
the classification loss and accuracy.

A difference on request: at xi = 1e-6 the probe x + d is mostly x itself in
float32. Per pixel, d is about xi / sqrt(H * W * C) (2e-8 at 32x32x3),
below half the spacing of float32 values near 1 (6e-8); most pixels of
images in [-1, 1] (a Fashion-MNIST background is -1) round back to
themselves, and the direction found is then mostly the Gaussian start's.
`--vat_xi 1e-3` keeps every pixel's step to within a percent.
"""

from collections.abc import Callable, Mapping
from typing import Any

import tensorflow as tf

from revisiting_ssl import models, utils
from revisiting_ssl.models import layers as net_layers
from revisiting_ssl.models import virtual_replicas
from revisiting_ssl.self_supervision import s4l_lib
from revisiting_ssl.self_supervision import self_supervision_lib as lib

# S4L's finite-difference step, and the VAT paper's.
XI = 1e-6
# Defaults of both VAT tasks (`vat`, `rotation_vat`). The VAT weight is
# S4L's flag default: its code's fallback 0.3 was never reached.
DEFAULT_VAT_EPS = 1.0
DEFAULT_VAT_ITERATIONS = 1
DEFAULT_VAT_WEIGHT = 0.0
DEFAULT_ENTMIN_FACTOR = 0.0


def kl_from_logits(logits: tf.Tensor, reference: tf.Tensor) -> tf.Tensor:
  """Per example KL(softmax(logits) || softmax(reference))."""
  log_p = tf.nn.log_softmax(tf.cast(logits, tf.float32))
  log_q = tf.nn.log_softmax(tf.cast(reference, tf.float32))
  return tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1)


def entropy_from_logits(logits: tf.Tensor) -> tf.Tensor:
  """Per example entropy of softmax(logits)."""
  log_p = tf.nn.log_softmax(tf.cast(logits, tf.float32))
  return -tf.reduce_sum(tf.exp(log_p) * log_p, axis=-1)


def normalize(d: tf.Tensor) -> tf.Tensor:
  """Every example of `d` divided by its L2 norm over all other axes.

  Each example is first scaled by its largest magnitude. The original
  normalised with an epsilon of 1e-12 on the squared norm, which shrinks
  any vector shorter than 1e-6, and the gradient of a batch-mean KL at a
  step of xi = 1e-6 usually is that short: its perturbations were then
  smaller than `--vat_eps`. Here they have exactly that norm.
  """
  axes = list(range(1, d.shape.rank))
  scale = tf.reduce_max(tf.abs(d), axis=axes, keepdims=True)
  return tf.math.l2_normalize(tf.math.divide_no_nan(d, scale), axis=axes,
                              epsilon=1e-12)


def adversarial_direction(x: tf.Tensor, logits: tf.Tensor,
                          net: Callable[[tf.Tensor], tf.Tensor], *,
                          noise: tf.Tensor, iterations: int,
                          xi: float = XI) -> tf.Tensor:
  """The unit direction (per example) in which `net` changes the most.

  Args:
    x: the inputs `[N, ...]`.
    logits: `net`'s logits at `x` (held constant).
    net: inputs -> logits.
    noise: the Gaussian start, shaped like `x`.
    iterations: power iterations.
    xi: the finite-difference step.

  Returns:
    `[N, ...]`, unit L2 norm per example, without gradient.
  """
  logits = tf.stop_gradient(logits)
  d = noise
  for _ in range(iterations):
    d = xi * normalize(d)
    with tf.GradientTape() as tape:
      tape.watch(d)
      divergence = tf.reduce_mean(kl_from_logits(net(x + d), logits))
    d = tf.stop_gradient(tape.gradient(divergence, d))
  return normalize(d)


class VATLoss:
  """L_vat and L_ent of one batch, with the task's net and noise."""

  def __init__(self, *, vat_eps: float, iterations: int, seed: int,
               draws: tf.Variable, xi: float = XI):
    """Keeps the settings.

    Args:
      vat_eps: the perturbation's L2 norm per example.
      iterations: power iterations.
      seed: seeds the Gaussian starts.
      draws: a checkpointed counter of the starts drawn, so that a resumed
        run draws what an uninterrupted one would have.
      xi: the power iteration's finite-difference step.
    """
    self.vat_eps = vat_eps
    self.xi = xi
    self.iterations = iterations
    self.seed = seed
    self.draws = draws

  def noise(self, shape: tf.Tensor) -> tf.Tensor:
    """A new Gaussian start, different on every (virtual) replica and step.

    Each virtual replica draws its own part of the batch, as a replica of
    its number would, so that virtual replicas draw what real ones do.
    """
    ids, _ = virtual_replicas.ids()
    groups = virtual_replicas.count()
    part = tf.concat([[shape[0] // groups], shape[1:]], axis=0)
    draws = tf.identity(self.draws) * 1024
    starts = [tf.random.stateless_normal(part, tf.stack([
        tf.constant(self.seed, tf.int64),
        draws + tf.cast(ids[g], tf.int64)])) for g in range(groups)]
    self.draws.assign_add(1)
    return tf.concat(starts, axis=0) if groups > 1 else starts[0]

  def __call__(self, x: tf.Tensor, logits: tf.Tensor,
               net: Callable[[tf.Tensor], tf.Tensor]
               ) -> tuple[tf.Tensor, tf.Tensor]:
    """(L_vat, L_ent) at inputs `x` with clean logits `logits`."""
    with net_layers.frozen_moving_statistics():
      r = self.vat_eps * adversarial_direction(
          x, logits, net, noise=self.noise(tf.shape(x)),
          iterations=self.iterations, xi=self.xi)
      perturbed = net(x + r)
    loss_vat = tf.reduce_mean(kl_from_logits(perturbed,
                                             tf.stop_gradient(logits)))
    loss_ent = tf.reduce_mean(entropy_from_logits(logits))
    return loss_vat, loss_ent


def check_vat_flags(vat_eps: float, vat_num_power_method_iters: int,
                    entmin_factor: float, vat_weight: float,
                    vat_xi: float = XI) -> None:
  """Raises a UsageError for values no VAT run can use."""
  for flag, value in (('vat_eps', vat_eps), ('vat_xi', vat_xi)):
    if not value > 0:
      raise utils.UsageError(f'--{flag} must be positive, got {value:g}.')
  if vat_num_power_method_iters < 1:
    raise utils.UsageError(f'--vat_num_power_method_iters must be at least '
                           f'1, got {vat_num_power_method_iters}.')
  for flag, value in (('entmin_factor', entmin_factor),
                      ('vat_weight', vat_weight)):
    if not 0.0 <= value <= 1.0:
      raise utils.UsageError(f'--{flag} must lie in [0, 1], got {value:g}.')


def random_state(random_seed: int | None) -> tuple[int, tf.Module]:
  """A task's seed of the VAT noise, and the checkpointed draw counter."""
  state = tf.Module(name='random_state')
  state.vat_draws = tf.Variable(
      0, dtype=tf.int64, trainable=False, name='vat_draws',
      aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
  seed = 0 if random_seed is None else int(random_seed)
  return seed, state


@lib.register('vat')
class VATTask(s4l_lib.S4LTask):
  """Classification of the labelled stream plus VAT and EntMin."""

  def __init__(self, *, num_classes: int,
               vat_eps: float = DEFAULT_VAT_EPS,
               vat_num_power_method_iters: int = DEFAULT_VAT_ITERATIONS,
               vat_weight: float = DEFAULT_VAT_WEIGHT,
               entmin_factor: float = DEFAULT_ENTMIN_FACTOR,
               apply_vat_to_labeled: bool = False,
               vat_xi: float = XI,
               sup_weight: float | None = None,
               random_seed: int | None = None,
               network: models.Network | None = None):
    """Builds the trunk and the `classes` head.

    Args:
      num_classes: classes of the data set.
      vat_eps: the perturbation's L2 norm per example (`--vat_eps`).
      vat_num_power_method_iters: power iterations for its direction.
      vat_weight: weight of L_vat.
      entmin_factor: weight of L_ent.
      apply_vat_to_labeled: perturb the labelled images too.
      vat_xi: the power iteration's finite-difference step, the L2 norm
        per example of its probe (S4L's and the VAT paper's 1e-6). In
        float32, most pixels of [-1, 1] images plus a probe of 1e-6 round
        back to themselves; 1e-3 keeps the probe (a difference from S4L).
      sup_weight: not used by VAT; given, it is an error (S4L ignored it
        silently).
      random_seed: seeds the VAT noise (`--random_seed`).
      network: the trunk's architecture and options (`models.Network`).

    Raises:
      utils.UsageError: for values outside their ranges or `sup_weight`.
    """
    if sup_weight is not None:
      raise utils.UsageError(
          '--sup_weight weighs classification against rotation in --task '
          'rotation_vat; --task vat always weighs classification 1.')
    check_vat_flags(vat_eps, vat_num_power_method_iters, entmin_factor,
                    vat_weight, vat_xi)
    super().__init__(num_classes=num_classes, heads={},
                     network=network)
    self.vat_weight = float(vat_weight)
    self.entmin_factor = float(entmin_factor)
    self.apply_vat_to_labeled = bool(apply_vat_to_labeled)
    seed, self.random_state = random_state(random_seed)
    self.vat = VATLoss(vat_eps=float(vat_eps),
                       iterations=int(vat_num_power_method_iters), seed=seed,
                       draws=self.random_state.vat_draws, xi=float(vat_xi))

  def checkpoint_items(self) -> dict[str, tf.Module]:
    """The trunk, the heads and the VAT noise's counter."""
    return dict(super().checkpoint_items(), random_state=self.random_state)

  def export_items(self) -> dict[str, tf.Module]:
    """The trunk and the heads."""
    return super().checkpoint_items()

  def classes(self, images: tf.Tensor) -> tf.Tensor:
    """The `classes` logits of images alone (the perturbed passes)."""
    return self.apply(images, None, training=True)[s4l_lib.CLASSES]

  def compute(self, batch: Mapping[str, Any],
              training: bool) -> lib.TaskOutput:
    """The VAT (+ EntMin) loss in training, classification in evaluation."""
    unsup, sup = batch[s4l_lib.UNSUP], batch[s4l_lib.SUP]
    end_points = self.apply(unsup['image'] if training else None,
                            sup['image'], training)
    labels = tf.cast(sup['label'], tf.int32)
    mask = tf.cast(sup['mask'], tf.float32)
    logits = end_points['classes_sup']
    loss = s4l_lib.masked_cross_entropy(logits, labels, mask)
    metrics = lib.classification_metrics(logits, labels, mask, 'classes')
    if not training:
      return lib.TaskOutput(loss=loss, metrics=metrics)
    x, z = unsup['image'], end_points['classes_unsup']
    if self.apply_vat_to_labeled:
      x = virtual_replicas.interleave([sup['image'], x])
      z = virtual_replicas.interleave([logits, z])
    loss_vat, loss_ent = self.vat(x, z, self.classes)
    return lib.TaskOutput(
        loss=loss + self.vat_weight * loss_vat +
        self.entmin_factor * loss_ent, metrics=metrics)
