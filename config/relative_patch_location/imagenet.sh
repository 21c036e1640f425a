#!/bin/bash
# Relative patch location (8 neighbours of the centre patch)
# with ResNet-50 v1 (filters factor 8, patch strides) on 3x3 grids of 64x64
# patches of ImageNet images, on an 8-core TPU, with the paper's settings.
# Extra arguments are appended and override these, e.g.
#   ./config/relative_patch_location/imagenet.sh --workdir W --dataset_dir D
# then the same command with --run_eval for pretext metrics and hub exports
# (the module embeds single 64x64 patches).
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task relative_patch_location \
  --dataset imagenet \
  --train_split train \
  --val_split val \
  --batch_size 128 \
  --eval_batch_size 8 \
  \
  --architecture resnet50 \
  --filters_factor 8 \
  --last_relu \
  --mode v1 \
  \
  --preprocessing resize,to_gray,crop,crop_patches,standardization \
  --resize_size 292,292 \
  --crop_size 255 \
  --grayscale_probability 0.66 \
  --splits_per_side 3 \
  --patch_jitter 21 \
  \
  --embed_dim 1000 \
  \
  --lr 0.1 \
  --lr_scale_batch_size 256 \
  --decay_epochs 15,25 \
  --epochs 35 \
  --warmup_epochs 5 \
  \
  --serving_input_shape None,64,64,3 \
  "$@"
