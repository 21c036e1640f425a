#!/bin/bash
# Supervised baseline on Fashion-MNIST at a size that trains in minutes on two
# CPU cores: ResNet-50 v2 at filters_factor 1 on 32x32 inputs. Random 32x32
# crops of the image resized to 36x36 (the central crop at evaluation) keep a
# long schedule from overfitting the 50,000 images; benchmarks/fashion_mnist.py
# chooses the length (--epochs, --decay_epochs) on the validation split.
#   ./config/supervised/fashion_mnist.sh --workdir W --nouse_tpu
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --nouse_tpu \
  --task supervised \
  --dataset fashion_mnist \
  --train_split train \
  --val_split test \
  --batch_size 64 \
  --eval_batch_size 250 \
  \
  --architecture resnet50 \
  --filters_factor 1 \
  --weight_decay 1e-4 \
  \
  --preprocessing resize,crop,flip_lr,-1_to_1 \
  --resize_size 36 \
  --crop_size 32 \
  \
  --lr 0.1 \
  --lr_scale_batch_size 256 \
  --decay_epochs 1 \
  --epochs 1.5 \
  --warmup_epochs 0.1 \
  --iterations_per_loop 50 \
  --save_checkpoints_steps 500 \
  \
  --serving_input_shape None,32,32,3 \
  "$@"
