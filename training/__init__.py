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

"""The trainer's neighbours: what `trainer.py` composes into one run.

`distribution` picks the `tf.distribute` strategy, `input_streams` feeds it,
`optimization` and `polyak` hold the optimiser, its schedule and the moving
average of the weights, `checkpointing` saves and resumes, `evaluation`
follows the checkpoints of a working directory, `hub_export` writes each
evaluated checkpoint as a TF-Hub module and `step_errors` turns a failed
step's error into one a user can act on. None of them imports the trainer,
the tasks or the probes.
"""
