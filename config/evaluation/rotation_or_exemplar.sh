#!/bin/bash
# Linear evaluation of a rotation or exemplar hub module on ImageNet, on an
# 8-core TPU. The paper's numbers used a 4x4 TPU with batch 2048,
# decay at epochs 480 and 500, and 520 epochs. Pass the module to evaluate;
# later arguments override these:
#   ./config/evaluation/rotation_or_exemplar.sh --workdir W --dataset_dir D \
#     --hub_module <pretraining workdir>/export/hub/<timestamp>/module
# then the same command with --run_eval (evaluates and exports the heads).
# --linear_eval_mode cached trains the heads on stored features instead.
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task linear_eval \
  --dataset imagenet \
  --train_split trainval \
  --val_split test \
  --batch_size 512 \
  --eval_batch_size 32 \
  \
  --preprocessing resize_small,crop,-1_to_1 \
  --smaller_size 256 \
  --crop_size 224,224 \
  \
  --pool_mode max \
  \
  --lr 0.1 \
  --lr_scale_batch_size 256 \
  --decay_epochs 30,50 \
  --epochs 70 \
  \
  --hub_module ~/Downloads/module \
  "$@"
