#!/bin/bash
# Rotation prediction on Fashion-MNIST at a size that trains in minutes on
# two CPU cores: ResNet-50 v2 at filters_factor 1 on 32x32 inputs, four
# rotations per image (rotate runs inside the training step). Learning
# rate 0.05 for 0.3 epochs: the best of four settings tried
# (benchmarks/RESULTS.md).
#   ./config/rotation/fashion_mnist.sh --workdir W --nouse_tpu
# The module (32x32 inputs) suits config/evaluation/
# rotation_or_exemplar_fashion_mnist.sh.
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --nouse_tpu \
  --task rotation \
  --dataset fashion_mnist \
  --train_split train \
  --val_split test \
  --batch_size 32 \
  --eval_batch_size 250 \
  \
  --architecture resnet50 \
  --filters_factor 1 \
  \
  --preprocessing resize,flip_lr,-1_to_1,rotate \
  --resize_size 32 \
  \
  --lr 0.1 \
  --lr_scale_batch_size 64 \
  --decay_epochs 0.25 \
  --epochs 0.3 \
  --warmup_epochs 0.01 \
  --iterations_per_loop 50 \
  --save_checkpoints_steps 250 \
  \
  --serving_input_shape None,32,32,3 \
  "$@"
