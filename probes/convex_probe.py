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

"""An exact linear probe: L2-regularised multinomial logistic regression.

The paper's probe (`linear_eval.py`) trains the linear head with
SGD for a fixed schedule, so a probe's number mixes the representation's
quality with how far that schedule got. This probe solves the convex
problem itself to convergence, on stored features
(`feature_store.StoredFeatures`), and picks its one hyperparameter, the L2
strength, on a validation set:

  minimise over W, b:  mean_i CE(softmax(W x_i + b), y_i) + l2 / 2 ||W||^2

with x standardised by the training features' mean and standard deviation
(per dimension, the same transform for every split), which makes the
problem well conditioned without changing which classifiers it can
express. The bias is not penalised.

The solver is scikit-learn's `LogisticRegression` (L-BFGS from SciPy): a
well-kept implementation of exactly this objective, with its convergence
criterion and iteration count exposed, which a hand-written L-BFGS would
have to re-earn in tests. Its `C` is 1 / (n * l2) for n training examples.
The L2 path runs from strong to weak regularisation, each fit starting
from the previous solution; with `patience`, it stops once that many
strengths weaker than the best have scored below it (the weak end, where
L-BFGS needs the most iterations, is then fitted only while it helps).
scikit-learn is an optional dependency (the
`probe` extra, also in `test`).
"""

from collections.abc import Sequence
import dataclasses
import math
import warnings

import numpy as np

from revisiting_ssl import utils
from revisiting_ssl.probes import feature_store

# Weight decays tried (the mean-loss form above), strong to weak. Few
# examples of many dimensions (a low-shot probe of an early block) want the
# strong end.
DEFAULT_L2_GRID = tuple(10.0**e for e in range(2, -7, -1))
# Gradient tolerance of L-BFGS (scikit-learn's `tol`) and its budget.
DEFAULT_TOL = 1e-6
DEFAULT_MAX_ITER = 2000


def _sklearn_logistic_regression():
  try:
    from sklearn import exceptions, linear_model  # noqa: PLC0415
  except ImportError as e:
    raise ImportError(
        'The convex probe needs scikit-learn: pip install -e ".[probe]".'
    ) from e
  return linear_model.LogisticRegression, exceptions.ConvergenceWarning


@dataclasses.dataclass(frozen=True)
class ProbeFit:
  """The probe with the chosen L2 strength, and how it was chosen.

  Attributes:
    l2: the chosen weight decay.
    val_top1: weight decay -> top-1 accuracy on the validation set.
    iterations: weight decay -> L-BFGS iterations of that fit.
    converged: weight decay -> whether L-BFGS met its tolerance.
    weights: `[d, k]` weights on standardised features.
    bias: `[k]`.
    mean: `[d]` the training features' mean.
    scale: `[d]` their standard deviation (1 where it is 0).
  """
  l2: float
  val_top1: dict[float, float]
  iterations: dict[float, int]
  converged: dict[float, bool]
  weights: np.ndarray
  bias: np.ndarray
  mean: np.ndarray
  scale: np.ndarray

  def logits(self, features: np.ndarray) -> np.ndarray:
    """`[n, k]` class scores of `[n, d]` raw features."""
    return ((features - self.mean) / self.scale) @ self.weights + self.bias

  def top1(self, features: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy on `[n, d]` raw features and `[n]` labels."""
    return float(np.mean(np.argmax(self.logits(features), 1) == labels))


def _check(name: str, features: np.ndarray, labels: np.ndarray) -> None:
  if features.ndim != 2 or labels.shape != (features.shape[0],):
    raise ValueError(f'The {name} features must be [n, d] with [n] labels; '
                     f'got {features.shape} and {labels.shape}.')
  if not len(labels):
    raise ValueError(f'The {name} set is empty.')


def fit(train: tuple[np.ndarray, np.ndarray],
        val: tuple[np.ndarray, np.ndarray],
        l2_grid: Sequence[float] = DEFAULT_L2_GRID,
        tol: float = DEFAULT_TOL,
        max_iter: int = DEFAULT_MAX_ITER,
        patience: int | None = None) -> ProbeFit:
  """Fits the probe for each L2 strength; keeps the best on `val`.

  Args:
    train: (`[n, d]` features, `[n]` integer labels) to fit on.
    val: the same for choosing the L2 strength (ties: the stronger).
    l2_grid: the weight decays to try, each > 0.
    tol: L-BFGS's gradient tolerance.
    max_iter: L-BFGS's iteration budget per fit.
    patience: stop the path once this many strengths weaker than the best
      so far have scored below it on `val` (ties do not count); None: the
      whole grid.

  Returns:
    The chosen fit; `converged` says whether each fit met `tol` (a fit that
    did not is still a valid, less regularised-looking classifier, but its
    number is the solver's as much as the features').

  Raises:
    ValueError: for malformed sets or grid values.
  """
  (train_x, train_y), (val_x, val_y) = train, val
  _check('training', train_x, train_y)
  _check('validation', val_x, val_y)
  if val_x.shape[1] != train_x.shape[1]:
    raise ValueError(f'Validation features have {val_x.shape[1]} dimensions,'
                     f' training features {train_x.shape[1]}.')
  if not l2_grid or not all(
      math.isfinite(v) and v > 0 for v in l2_grid):
    raise ValueError(f'The L2 grid needs values > 0; got {list(l2_grid)}.')
  if patience is not None and patience < 1:
    raise ValueError(f'patience must be at least 1; got {patience}.')
  logistic_regression, convergence_warning = _sklearn_logistic_regression()
  train_x = np.asarray(train_x, np.float64)
  mean = train_x.mean(0)
  scale = train_x.std(0)
  scale[scale == 0] = 1.0
  standardised = (train_x - mean) / scale
  model = logistic_regression(solver='lbfgs', tol=tol, max_iter=max_iter,
                              warm_start=True)
  val_top1, iterations, converged, solutions = {}, {}, {}, {}
  # Each strength is one L-BFGS fit (seconds to minutes): a line each.
  progress = utils.Progress('Convex probe', len(l2_grid),
                            unit='L2 strengths', every=0.0)
  for l2 in sorted(l2_grid, reverse=True):
    model.set_params(C=1.0 / (len(train_y) * l2))
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter('always', convergence_warning)
      model.fit(standardised, train_y)
    converged[l2] = not any(issubclass(w.category, convergence_warning)
                            for w in caught)
    iterations[l2] = int(np.max(model.n_iter_))
    weights, bias = _full_classes(model, int(train_y.max()) + 1)
    solutions[l2] = weights, bias
    candidate = ProbeFit(l2, {}, {}, {}, weights, bias, mean, scale)
    val_top1[l2] = candidate.top1(np.asarray(val_x, np.float64), val_y)
    progress.update()
    best = max(sorted(val_top1, reverse=True), key=val_top1.get)
    # Weaker strengths fitted after the best that scored below it (a tie
    # is no sign of decline: the strong end often ties at chance).
    below = sum(1 for v in val_top1
                if v < best and val_top1[v] < val_top1[best])
    if patience is not None and below >= patience:
      break
  return ProbeFit(best, val_top1, iterations, converged, *solutions[best],
                  mean, scale)


def _full_classes(model, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
  """`[d, k]` weights and `[k]` bias over classes 0..k-1.

  scikit-learn keeps a column per class seen in training (and one for two
  classes); classes never seen get a bias of -inf.
  """
  coef, intercept = model.coef_, model.intercept_
  if len(model.classes_) == 2:  # One logit: p(class 1) = sigmoid(w x + b).
    coef = np.concatenate([-coef / 2, coef / 2])
    intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
  weights = np.zeros((coef.shape[1], num_classes))
  bias = np.full(num_classes, -np.inf)
  weights[:, model.classes_] = coef.T
  bias[model.classes_] = intercept
  return weights, bias


def read(stored: feature_store.StoredFeatures, end_point: str,
         batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
  """(`[n, d]` float32 features of `end_point`, `[n]` labels) of a set.

  The probe needs a split's features in memory: n * d * 4 bytes (50,000
  examples of 2,048 dimensions: 410 MB).
  """
  if end_point not in stored.end_points:
    raise ValueError(f'No end point {end_point!r} in {stored.directory}; '
                     f'stored: {", ".join(stored.end_points)}.')
  features, labels = [], []
  for batch, batch_labels in feature_store.evaluation_stream(
      stored, batch_size, [end_point]):
    features.append(batch[end_point].numpy())
    labels.append(batch_labels.numpy())
  return np.concatenate(features), np.concatenate(labels)
