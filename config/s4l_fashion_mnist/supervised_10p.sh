#!/bin/bash
# The supervised baseline (S4L) on Fashion-MNIST with 10% of the training
# labels (500 per class of the 50,000 training images, drawn with
# --label_subset_seed), sized for two CPU cores: ResNet-50 v2 at filters_factor
# 1 on 32x32 images, a labelled batch of 32. Epochs are passes over the
# labelled subset (156 steps each); the schedule is S4L's in proportion
# (warm-up 5%, decays at 70, 80 and 90%). The learning rate was chosen on the
# validation split (benchmarks/s4l_fashion_mnist.py,
# benchmarks/S4L_RESULTS.md).
#   ./config/s4l_fashion_mnist/supervised_10p.sh --workdir W --nouse_tpu
# then the same command with --run_eval (add --test_split test for the
# final number).
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --nouse_tpu \
  --task supervised \
  --dataset fashion_mnist \
  --train_split train \
  --val_split val \
  --batch_size 32 \
  --eval_batch_size 500 \
  --architecture resnet50v2 \
  --filters_factor 1 \
  --weight_decay 1e-3 \
  --labels_per_class 500 \
  --preprocessing 'resize(36)|crop(32)|flip_lr|-1_to_1' \
  --preprocessing_eval 'resize(36)|crop(32)|-1_to_1' \
  --lr 0.03 \
  --lr_scale_batch_size 0 \
  --schedule '0.5,7,8,9,10' \
  --serving_input_shape None,32,32,3 \
  "$@"
