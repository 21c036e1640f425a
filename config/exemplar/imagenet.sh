#!/bin/bash
# Exemplar (8 Inception crops per image, semi-hard triplet loss) with
# ResNet-50 v1 (filters factor 12) on ImageNet, on an 8-core TPU.
# Extra arguments are appended and override these, e.g.
#   ./config/exemplar/imagenet.sh --workdir W --dataset_dir D
# then the same command with --run_eval for pretext metrics and hub exports.
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task exemplar \
  --dataset imagenet \
  --train_split train \
  --val_split val \
  --batch_size 64 \
  --eval_batch_size 16 \
  \
  --architecture resnet50 \
  --filters_factor 12 \
  --last_relu \
  --mode v1 \
  \
  --preprocessing to_gray,crop_inception_preprocess_patches,standardization \
  --resize_size 224,224 \
  --grayscale_probability 0.66 \
  --num_of_inception_patches 8 \
  \
  --embed_dim 1000 \
  --margin 0.5 \
  \
  --lr 0.1 \
  --lr_scale_batch_size 256 \
  --decay_epochs 15,25 \
  --epochs 35 \
  --warmup_epochs 5 \
  \
  --serving_input_shape None,224,224,3 \
  "$@"
