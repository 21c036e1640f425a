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

"""Probes: measuring a frozen representation.

`linear_eval` is the linear-evaluation task (a linear or MLP head on an
exported module, end to end as the original); `linear_eval_cached` runs the
same heads on features computed once (`module_features` computes them,
`feature_store` holds them), with weighted k-nearest neighbours
(`streamed_knn`) beside them; `convex_probe` is the converged
logistic-regression probe. The tasks in `self_supervision/` import nothing
from here.
"""
