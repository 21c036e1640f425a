#!/bin/bash
# VAT (S4L's baseline) on Fashion-MNIST with 1% of the training labels (50 per
# class of the 50,000 training images, drawn with --label_subset_seed), sized
# for two CPU cores: ResNet-50 v2 at filters_factor 1 on 32x32 images, a
# labelled batch of 32 and 32 unlabelled ones. Perturbations of norm 5.7 on
# [-1, 1] images: the per-pixel size of S4L's 40 at 224x224 (40 / sqrt(224 *
# 224 * 3) * sqrt(32 * 32 * 3)). S4L's schedule in proportion (warm-up 5%,
# decays at 70, 80 and 90%). The learning rate was chosen on the validation
# split (benchmarks/s4l_fashion_mnist.py, benchmarks/S4L_RESULTS.md).
#   ./config/s4l_fashion_mnist/vat_1p.sh --workdir W --nouse_tpu
# then the same command with --run_eval (add --test_split test for the
# final number).
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --nouse_tpu \
  --task vat \
  --dataset fashion_mnist \
  --train_split train \
  --val_split val \
  --batch_size 32 \
  --eval_batch_size 500 \
  --architecture resnet50v2 \
  --filters_factor 1 \
  --weight_decay 1e-3 \
  --labels_per_class 50 \
  --preprocessing 'resize(36)|crop(32)|flip_lr|-1_to_1' \
  --preprocessing_eval 'resize(36)|crop(32)|-1_to_1' \
  --sup_preprocessing 'resize(36)|crop(32)|flip_lr|-1_to_1' \
  --sup_preprocessing_eval 'resize(36)|crop(32)|-1_to_1' \
  --apply_vat_to_labeled \
  --entmin_factor 0.0 \
  --vat_eps 5.7 \
  --vat_weight 0.5 \
  --unsup_batch_mult 1 \
  --lr 0.03 \
  --lr_scale_batch_size 0 \
  --schedule '5,70,80,90,100' \
  --serving_input_shape None,32,32,3 \
  "$@"
