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

"""MOAM step 1: S4L-Rotation with VAT and EntMin.

As S4L-Rotation (both streams rotated, the labelled one with `copy_label`),
with the trunk on cross-replica batch norm (statistics of the global batch,
moving averages 0.99) and, on the rotated unlabelled images, VAT and
entropy minimisation (`vat.py`; the perturbed passes use the same batch
norm with frozen moving averages). With w_c = `--sup_weight` and w_v =
`--vat_weight`:

    loss = (1 - w_c - w_v) * L_rot + w_c * L_cls + w_v * L_vat
           + entmin_factor * L_ent

where L_rot = 0.5 * CE(rotations_unsup) + 0.5 * CE(rotations_sup), L_cls
classifies all four rotations of the labelled images and L_ent is the mean
entropy of the unlabelled images' class predictions. MOAM's config adds
Polyak averaging. Evaluation reports the rotation accuracy and the class
accuracy of the unrotated and of the rotation-averaged logits.
"""

from collections.abc import Mapping
from typing import Any

from absl import logging

from revisiting_ssl import models, utils
from revisiting_ssl.self_supervision import s4l_rotation, vat
from revisiting_ssl.self_supervision import self_supervision_lib as lib


@lib.register('rotation_vat')
class RotationVATTask(s4l_rotation.S4LRotationTask):
  """S4L-Rotation + VAT + EntMin on cross-replica batch norm."""

  def __init__(self, *, num_classes: int, sup_weight: float = 0.3,
               vat_weight: float = vat.DEFAULT_VAT_WEIGHT,
               entmin_factor: float = vat.DEFAULT_ENTMIN_FACTOR,
               vat_eps: float = vat.DEFAULT_VAT_EPS,
               vat_num_power_method_iters: int = vat.DEFAULT_VAT_ITERATIONS,
               apply_vat_to_labeled: bool = False,
               vat_xi: float = vat.XI,
               random_seed: int | None = None,
               network: models.Network | None = None):
    """Builds the trunk (cross-replica batch norm) and the heads.

    Args:
      num_classes: classes of the data set.
      sup_weight: w_c, the weight of classification.
      vat_weight: w_v, the weight of L_vat.
      entmin_factor: the weight of L_ent.
      vat_eps: the perturbation's L2 norm per example.
      vat_num_power_method_iters: power iterations for its direction.
      apply_vat_to_labeled: ignored with a warning, as S4L ignored it here
        (MOAM's config sets it).
      vat_xi: the power iteration's finite-difference step, the L2 norm
        per example of its probe (S4L's and the VAT paper's 1e-6). In
        float32, most pixels of [-1, 1] images plus a probe of 1e-6 round
        back to themselves; 1e-3 keeps the probe (a difference from S4L).
      random_seed: seeds the VAT noise (`--random_seed`).
      network: the trunk's architecture and options (`models.Network`);
        its batch norm is always cross-replica.

    Raises:
      utils.UsageError: for weights outside [0, 1], w_c + w_v > 1 (a
        negative rotation weight) or other values out of range.
    """
    vat.check_vat_flags(vat_eps, vat_num_power_method_iters, entmin_factor,
                        vat_weight, vat_xi)
    if not 0.0 <= sup_weight <= 1.0:
      raise utils.UsageError(
          f'--sup_weight must lie in [0, 1], got {sup_weight:g}.')
    if sup_weight + vat_weight > 1.0:
      raise utils.UsageError(
          f'--sup_weight {sup_weight:g} and --vat_weight {vat_weight:g} sum '
          f'to more than 1, which gives the rotation loss a negative weight.')
    if apply_vat_to_labeled:
      logging.warning('--apply_vat_to_labeled has no effect on --task '
                      'rotation_vat (VAT perturbs the unlabelled images).')
    super().__init__(
        num_classes=num_classes,
        network=network and network.with_options(sync_batch_norm=True))
    self.sup_weight = float(sup_weight)
    self.vat_weight = float(vat_weight)
    self.entmin_factor = float(entmin_factor)
    seed, self.random_state = vat.random_state(random_seed)
    self.vat = vat.VATLoss(vat_eps=float(vat_eps),
                           iterations=int(vat_num_power_method_iters),
                           seed=seed, draws=self.random_state.vat_draws,
                           xi=float(vat_xi))

  def checkpoint_items(self):
    """The trunk, the heads and the VAT noise's counter."""
    return dict(super().checkpoint_items(), random_state=self.random_state)

  def export_items(self):
    """The trunk and the heads."""
    return super().checkpoint_items()

  def classes(self, images):
    """The `classes` logits of images alone (the perturbed passes)."""
    return self.apply(images, None, training=True)['classes']

  def compute(self, batch: Mapping[str, Any],
              training: bool) -> lib.TaskOutput:
    """MOAM step 1's loss (training) and S4L-Rotation's metrics."""
    terms = self.rotation_terms(batch, training, use_unsup=True)
    loss_rot = 0.5 * terms['rotation_unsup'] + 0.5 * terms['rotation_sup']
    loss = ((1.0 - self.sup_weight - self.vat_weight) * loss_rot +
            self.sup_weight * terms['classes'])
    if training:
      loss_vat, loss_ent = self.vat(
          terms['unsup_images'], terms['end_points']['classes_unsup'],
          self.classes)
      loss += self.vat_weight * loss_vat + self.entmin_factor * loss_ent
    return lib.TaskOutput(loss=loss, metrics=terms['metrics'])
