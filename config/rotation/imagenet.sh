#!/bin/bash
# Rotation prediction with RevNet-50 (filters factor 16) on ImageNet, on an
# 8-core TPU. Extra arguments are appended and override these, e.g.
#   ./config/rotation/imagenet.sh --workdir W --dataset_dir D
# then the same command with --run_eval for pretext metrics and hub exports.
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task rotation \
  --dataset imagenet \
  --train_split train \
  --val_split val \
  --batch_size 64 \
  --eval_batch_size 16 \
  \
  --architecture revnet50 \
  --filters_factor 16 \
  --last_relu \
  \
  --preprocessing inception_preprocess,rotate \
  --resize_size 224,224 \
  \
  --lr 0.1 \
  --lr_scale_batch_size 256 \
  --decay_epochs 15,25 \
  --epochs 35 \
  --warmup_epochs 5 \
  \
  --serving_input_shape None,224,224,3 \
  "$@"
