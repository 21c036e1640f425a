#!/bin/bash
# Exemplar on Fashion-MNIST at a size that trains in minutes on two CPU
# cores: ResNet-50 v1 at filters_factor 1, 8 Inception crops of 32x32 per
# image, 128-d embeddings, semi-hard triplet loss with margin 0.5. As on one
# TPU core of the original, 8 images x 8 crops form one loss; the triplet loss
# learns slowly, hence the higher learning rate (0.2 at batch 8).
#   ./config/exemplar/fashion_mnist.sh --workdir W --nouse_tpu
# The module (32x32 inputs) suits config/evaluation/
# rotation_or_exemplar_fashion_mnist.sh.
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --nouse_tpu \
  --task exemplar \
  --dataset fashion_mnist \
  --train_split train \
  --val_split test \
  --batch_size 8 \
  --eval_batch_size 16 \
  \
  --architecture resnet50 \
  --filters_factor 1 \
  --mode v1 \
  \
  --preprocessing crop_inception_preprocess_patches,standardization \
  --resize_size 32 \
  --num_of_inception_patches 8 \
  \
  --embed_dim 128 \
  --margin 0.5 \
  \
  --lr 0.2 \
  --lr_scale_batch_size 8 \
  --decay_epochs 0.04 \
  --epochs 0.05 \
  --warmup_epochs 0.005 \
  --iterations_per_loop 50 \
  --save_checkpoints_steps 250 \
  \
  --serving_input_shape None,32,32,3 \
  "$@"
