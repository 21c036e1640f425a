#!/bin/bash
# Linear evaluation of a jigsaw or relative-patch-location hub module on
# ImageNet, on an 8-core TPU: the module sees 3x3 patches of 64x64
# from a 192x192 crop; every end point is pooled per patch and averaged over
# the patches. The paper's numbers used a 4x4 TPU with batch 2048, decay at
# epochs 480 and 500, and 520 epochs. Usage as rotation_or_exemplar.sh:
#   ./config/evaluation/jigsaw_or_relative_patch_location.sh --workdir W \
#     --dataset_dir D --hub_module <workdir>/export/hub/<timestamp>/module
# then the same command with --run_eval. The original's config also set
# --resize_size 256,256, which none of these ops reads; a flag that nothing
# reads is an error here, so it is left out (the run is the same).
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task linear_eval \
  --dataset imagenet \
  --train_split trainval \
  --val_split test \
  --batch_size 512 \
  --eval_batch_size 32 \
  \
  --preprocessing resize_small,crop,crop_patches,standardization \
  --smaller_size 224 \
  --crop_size 192,192 \
  --splits_per_side 3 \
  --patch_jitter 0 \
  \
  --pool_mode max \
  --combine_patches avg_pool \
  \
  --lr 0.1 \
  --lr_scale_batch_size 256 \
  --decay_epochs 30,50 \
  --epochs 70 \
  \
  --hub_module ~/Downloads/module \
  "$@"
