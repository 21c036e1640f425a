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

"""benchmarks/trainer_input.py at a tiny size, so that it cannot rot.

A few generated photos stand in for the sample; every pipeline of both
configs and the autotuning comparison is built and timed for one batch.
"""

import math
import sys

import numpy as np
from PIL import Image
import testdata

sys.path.insert(0, str(testdata.REPO / 'benchmarks'))

import trainer_input  # noqa: E402


def test_trainer_path_beside_the_plain_pipeline(tmp_path, capsys):
  photos = tmp_path / 'photos'
  photos.mkdir()
  rng = np.random.default_rng(0)
  for i in range(8):
    pixels = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(photos / f'n0000{i % 2}_photo{i}.JPEG')
  summary = trainer_input.main([
      '--data_dir', str(photos), '--repeat', '2', '--shards', '2',
      '--batch_size', '2', '--num_batches', '1', '--warmup_batches', '0',
      '--rounds', '1'])
  out = capsys.readouterr().out
  assert 'host: ' in out and 'flags: ' in out
  for name in trainer_input.CONFIGS:
    rates = summary[name]
    for pipeline in ('trainer', 'plain', 'decode only',
                     'trainer, first epoch'):
      wall, cpu = rates[pipeline]
      assert wall > 0 and cpu > 0, (name, pipeline)
    assert math.isfinite(rates['overhead'])
  assert out.count('reader overhead (CPU time): ') == 2
  # The configs' own preprocessing: rotation's `rotate` is not on the host.
  assert '--preprocessing inception_preprocess,rotate (its last ops on' in out
  tuning = summary['tuning']
  assert len(tuning) == 3 and 'autotuned' in tuning
  assert 'pinned, 1 thread' in tuning
