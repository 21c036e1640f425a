#!/bin/bash
# Exemplar on Fashion-MNIST at a size that trains in minutes on two CPU
# cores: ResNet-50 v1 at filters_factor 1, 4 Inception crops of 32x32 per
# image, 128-d embeddings, semi-hard triplet loss with margin 0.5.
#   ./config/exemplar/fashion_mnist.sh --workdir W --nouse_tpu
# The module (32x32 inputs) suits config/evaluation/
# rotation_or_exemplar_fashion_mnist.sh.
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task exemplar \
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
  --preprocessing crop_inception_preprocess_patches,standardization \
  --resize_size 32 \
  --num_of_inception_patches 4 \
  \
  --embed_dim 128 \
  --margin 0.5 \
  \
  --lr 0.1 \
  --lr_scale_batch_size 256 \
  --decay_epochs 0.08 \
  --epochs 0.1 \
  --warmup_epochs 0.01 \
  --iterations_per_loop 50 \
  --save_checkpoints_steps 250 \
  \
  --serving_input_shape None,32,32,3 \
  "$@"
