#!/bin/bash
# Fully supervised ResNet-50 v2 on ImageNet: the paper's baseline, on an
# 8-core TPU. Extra arguments are appended and override these, e.g.
#   ./config/supervised/imagenet.sh --workdir W --nouse_tpu --master='' \
#     --dataset_dir D
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task supervised \
  --dataset imagenet \
  --train_split trainval \
  --val_split test \
  --batch_size 256 \
  --eval_batch_size 10 \
  \
  --architecture resnet50 \
  --filters_factor 4 \
  --weight_decay 1e-4 \
  \
  --preprocessing inception_preprocess \
  --resize_size 224 \
  \
  --lr 0.1 \
  --lr_scale_batch_size 256 \
  --decay_epochs 30,60,80 \
  --epochs 90 \
  --warmup_epochs 5 \
  "$@"
