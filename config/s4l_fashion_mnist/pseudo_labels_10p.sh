#!/bin/bash
# The pseudo-label baseline (S4L) on Fashion-MNIST with 10% of the training
# labels (500 per class of the 50,000 training images, drawn with
# --label_subset_seed), sized for two CPU cores: ResNet-50 v2 at filters_factor
# 1 on 32x32 images, batches of 32. It trains on all 50,000 training images:
# the labelled ones with their labels, the others with the labels that
# generate_pseudo_dataset.sh wrote (from the supervised_10p.sh model). Epochs
# are passes over all 50,000 images here: 5 (S4L's schedule in proportion). The
# learning rate was chosen on the validation split
# (benchmarks/s4l_fashion_mnist.py, benchmarks/S4L_RESULTS.md).
#   ./config/s4l_fashion_mnist/pseudo_labels_10p.sh --workdir W --nouse_tpu \
#     --dataset_dir <PSEUDO_LABELLED>
# then the same command with --run_eval (add --test_split test for the
# final number).
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --nouse_tpu \
  --task supervised \
  --dataset tfrecord \
  --train_split train \
  --val_split val \
  --batch_size 32 \
  --eval_batch_size 500 \
  --architecture resnet50v2 \
  --filters_factor 1 \
  --weight_decay 1e-3 \
  --preprocessing 'resize(36)|crop(32)|flip_lr|-1_to_1' \
  --preprocessing_eval 'resize(36)|crop(32)|-1_to_1' \
  --pseudo_label_key 'image/class/label' \
  --original_label_key 'image/class/original_label' \
  --lr 0.03 \
  --lr_scale_batch_size 0 \
  --schedule '0.25,3.5,4,4.5,5' \
  --serving_input_shape None,32,32,3 \
  "$@"
