#!/bin/bash
# Jigsaw puzzles on Fashion-MNIST at a size that trains in minutes on
# two CPU cores: images resized to 64x64, a 60x60 crop cut into a 3x3 grid of
# 20x20 cells and 16x16 patches (jitter 4), ResNet-50 v1 at filters_factor 1
# with the patch strides, 128-d patch embeddings. 32 of the 100 permutations
# per step (not 8): on one replica and over few steps, 8 per step lets the
# head chase each step's subset and the loss rises at first.
#   ./config/jigsaw/fashion_mnist.sh --workdir W --nouse_tpu
# The module embeds single 16x16 patches.
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --nouse_tpu \
  --task jigsaw \
  --dataset fashion_mnist \
  --train_split train \
  --val_split test \
  --batch_size 16 \
  --eval_batch_size 100 \
  \
  --architecture resnet50 \
  --filters_factor 1 \
  --mode v1 \
  \
  --preprocessing resize,crop,crop_patches,standardization \
  --resize_size 64 \
  --crop_size 60 \
  --splits_per_side 3 \
  --patch_jitter 4 \
  \
  --embed_dim 128 \
  --perm_subset_size 32 \
  \
  --lr 0.1 \
  --lr_scale_batch_size 256 \
  --decay_epochs 0.08 \
  --epochs 0.1 \
  --warmup_epochs 0.01 \
  --iterations_per_loop 50 \
  --save_checkpoints_steps 250 \
  \
  --serving_input_shape None,16,16,3 \
  "$@"
