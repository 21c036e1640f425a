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

"""How benchmarks/s4l_fashion_mnist.py chooses each method's settings.

Every choice is made on the validation split with seed 0, one setting
after another at the best so far: the learning rate (going on up while
the largest tried is the best), then what the original tuned beside it
(VAT's perturbation norm), then the training length, then, for the
supervised baseline, its weight decay. A method that cannot afford a
search of its own takes another's choice (LR_FROM, FRACTION_FROM) and
those of its settings that TAKES names.
"""

import s4l_stages
from s4l_stages import (
  DISTIL,
  FINETUNE,
  METHODS,
  MOAM_1,
  MOAM_2,
  PSEUDO,
  STRONG_EXEMPLAR,
  Stage,
  config_epochs,
  config_value,
)

# Methods that take the learning rate another method chose on the
# validation split, instead of a search of their own (two CPU cores cannot
# afford one for each): (that method, the factor on its rate). MOAM step 1
# keeps the original's ratio to S4L-Rotation's rate: 0.1 at its batch of
# 128 against 0.03 (their configs' effective rates).
LR_FROM = {PSEUDO: ('supervised', 1.0), 'VAT + EntMin': ('VAT', 1.0),
           MOAM_1: ('S4L-Rotation', 0.1 / 0.03), MOAM_2: (PSEUDO, 1.0),
           DISTIL: (FINETUNE, 1.0)}
# Which of its source's chosen settings a method of LR_FROM takes beside
# the rate. VAT + EntMin is VAT with one more loss; MOAM step 1 trains as
# long as S4L-Rotation (its weight decay keeps the original's fifth);
# Pseudo-labels trains as the baseline, but on all 50,000 images, for its
# config's length; MOAM step 2 keeps MOAM's weight decay; the student
# trains as its config says.
TAKES = {'VAT + EntMin': ('vat_eps', 'epochs'), MOAM_1: ('epochs',),
         PSEUDO: ('weight_decay',), MOAM_2: (), DISTIL: ()}
# SimCLRv2 fine-tunes both fractions at one rate (LARS, 0.16 at batch 1024):
# ours is searched on 1% and taken for 10%.
FRACTION_FROM = {FINETUNE: '1p'}
# What the original tuned per method beside the rate, searched on the
# validation split (seed 0) at the chosen rate: VAT's perturbation norm
# (40 for VAT, 32 for MOAM on ImageNet). A value equal to the config's own
# adds no flag, so that the stage is the rate search's.
GRIDS = {'VAT': ('vat_eps', ('1', '2', '4', '5.7'))}
# The training length: the config's times these factors, then twice the
# longest while it is the best, up to MAX_LENGTH times (what two cores can
# afford: 80 epochs of the 10% subset, 35 minutes a run). S4L's baseline was
# "substantially better than previously reported" for its tuning, and a
# method's gain over an under-trained baseline is not the method's. Not
# searched: SimCLRv2's fine-tuning (its paper's lengths) and the variant
# row (S4L-Exemplar's settings before the rescaling, kept as they were).
LENGTHS = (1, 2, 4)
MAX_LENGTH = 8
FIXED_LENGTH = (FINETUNE, STRONG_EXEMPLAR)
# Methods that take another's rate but search their own length: SimCLRv2's
# student distils for 100 epochs of ImageNet (8 times its fine-tuning's
# steps); its config's one epoch of the 50,000 images is fewer steps than
# our fine-tuning's.
OWN_LENGTH = (DISTIL,)
# The baseline's weight decay, searched last (its config's 1e-3 is S4L's
# ImageNet value).
WEIGHT_DECAYS = {'supervised': ('1e-4', '3e-4', '1e-3', '3e-3')}


def rate_source(method, fraction):
  """The (method, fraction) whose choice this one takes; None: its own."""
  if method in LR_FROM:
    return LR_FROM[method][0], fraction
  source = FRACTION_FROM.get(method, fraction)
  return (method, source) if source != fraction else None


def _scores(args, method, fraction, candidates, stages):
  """(lr, settings) -> the validation top-1 of seed 0.

  Each score is kept in `args.searched` too, so that a search cut short (a
  stage not run yet) still says where it stands.
  """
  scores = {}
  searched = args.searched.setdefault((method, fraction), {})
  for lr, settings in candidates:
    stage = Stage(args, method, fraction, lr, 0, settings)
    scores[lr, settings] = searched[lr, settings] = stage.validation()
    stages[stage.key] = stage
  return scores


def _best(scores):
  return max(scores, key=scores.get)


def _rates(args, method, fraction, stages):
  """Every rate of its `lrs`, then on up while the largest is the best."""
  lrs = METHODS[method].lrs
  scores = _scores(args, method, fraction, [(lr, ()) for lr in lrs], stages)
  for lr in s4l_stages.beyond(lrs):
    if _best(scores)[0] != max((r for r, _ in scores), key=float):
      break
    scores.update(_scores(args, method, fraction, [(lr, ())], stages))
  return scores


def _setting(args, method, fraction, stages, scores, flag, values,
             own=None):
  """`flag`'s values at the best (rate, settings) so far.

  The config's own value (`own`, else read from the config) adds no flag:
  its stage is the one already run.
  """
  lr, settings = _best(scores)
  if own is None:
    own = config_value(method, fraction, flag)
  scores.update(_scores(args, method, fraction, [
      (lr, settings + (() if value == own else ((flag, value),)))
      for value in values], stages))


def _length(args, method, fraction, stages, scores):
  """The lengths of LENGTHS, then on up while the longest is the best."""
  own = config_epochs(method, fraction)
  factors = list(LENGTHS)
  _setting(args, method, fraction, stages, scores, 'epochs',
           [f'{own * f:g}' for f in factors], own=f'{own:g}')
  while factors[-1] < MAX_LENGTH:
    epochs = dict(_best(scores)[1]).get('epochs', f'{own:g}')
    if float(epochs) != own * factors[-1]:
      break
    factors.append(2 * factors[-1])
    lr, settings = _best(scores)
    settings = tuple(s for s in settings if s[0] != 'epochs')
    scores.update(_scores(args, method, fraction, [
        (lr, settings + (('epochs', f'{own * factors[-1]:g}'),))], stages))


def choose(args, method, fraction, stages):
  """The (learning rate, settings) of `method` at `fraction`, chosen once.

  Its own search (the rate, GRIDS, the length, WEIGHT_DECAYS, one after
  another at the best so far; seed 0, validation split), or its source's
  choice (`rate_source`: the rate times LR_FROM's factor, and the
  settings TAKES names), searched first if it has not been;
  `args.selection` keeps the validation scores for the report.
  """
  if (method, fraction) not in args.chosen:
    source = rate_source(method, fraction)
    if source:
      lr, settings = choose(args, *source, stages)
      factor = LR_FROM.get(method, (None, 1.0))[1]
      if factor != 1.0:
        lr = f'{float(lr) * factor:.3g}'
      if method in TAKES:
        settings = tuple(s for s in settings if s[0] in TAKES[method])
      scores = _scores(args, method, fraction, [(lr, settings)], stages)
      if method in OWN_LENGTH:
        _length(args, method, fraction, stages, scores)
    else:
      scores = _rates(args, method, fraction, stages)
      if method in GRIDS:
        _setting(args, method, fraction, stages, scores, *GRIDS[method])
      if method not in FIXED_LENGTH:
        _length(args, method, fraction, stages, scores)
      if method in WEIGHT_DECAYS:
        _setting(args, method, fraction, stages, scores, 'weight_decay',
                 WEIGHT_DECAYS[method])
    args.selection[method, fraction] = (scores, _best(scores))
    args.chosen[method, fraction] = _best(scores)
  return args.chosen[method, fraction]


def rate(args, method, fraction, stages) -> str:
  """The rate `method`'s own search chose at its config's settings.

  The first step of `choose`, for a check that need not wait for the
  length and weight decay searches.
  """
  return _best(_rates(args, method, fraction, stages))[0]


def at_longest(method, fraction, choice) -> bool:
  """Whether a choice is MAX_LENGTH times the config's: it may improve on."""
  epochs = dict(choice[1]).get('epochs')
  return epochs is not None and float(epochs) == (
      MAX_LENGTH * s4l_stages.config_epochs(method, fraction))


def needed(wanted):
  """`wanted` and every method whose choice or model they use."""
  found, todo = set(), list(wanted)
  while todo:
    method = todo.pop()
    if method not in found:
      found.add(method)
      todo += [m for m in (LR_FROM.get(method, (None,))[0],
                           s4l_stages.STARTS_FROM.get(method)) if m]
  return found
