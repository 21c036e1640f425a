#!/bin/bash
# MOAM step 1 (S4L-Rotation + VAT + EntMin) on Fashion-MNIST with 1% of the
# training labels (50 per class of the 50,000 training images, drawn with
# --label_subset_seed), sized for two CPU cores: ResNet-50 v2 at filters_factor
# 1 on 32x32 images, a labelled batch of 32 and 32 unlabelled ones. Loss
# weights as MOAM's: 0.4 rotation, 0.3 classification, 0.3 VAT (norm 4.6, the
# per-pixel size of S4L's 32 at 224x224) and 0.3 entropy; cross-replica batch
# norm and Polyak averaging. Unlike MOAM, the width stays 1 (MOAM's network is
# 4x as wide as S4L-Rotation's). S4L's schedule in proportion. The learning
# rate was chosen on the validation split (benchmarks/s4l_fashion_mnist.py,
# benchmarks/S4L_RESULTS.md).
#   ./config/s4l_fashion_mnist/moam_step_1_1p.sh --workdir W --nouse_tpu
# then the same command with --run_eval (add --test_split test for the
# final number).
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --nouse_tpu \
  --task rotation_vat \
  --dataset fashion_mnist \
  --train_split train \
  --val_split val \
  --batch_size 32 \
  --eval_batch_size 500 \
  --architecture resnet50v2 \
  --filters_factor 1 \
  --weight_decay 1e-3 \
  --labels_per_class 50 \
  --preprocessing 'resize(36)|crop(32)|flip_lr|-1_to_1|rotate' \
  --preprocessing_eval 'resize(36)|crop(32)|-1_to_1|rotate' \
  --sup_preprocessing 'copy_label|resize(36)|crop(32)|flip_lr|-1_to_1|rotate' \
  --sup_preprocessing_eval 'copy_label|resize(36)|crop(32)|-1_to_1|rotate' \
  --entmin_factor 0.3 \
  --vat_eps 4.6 \
  --sup_weight 0.3 \
  --vat_weight 0.3 \
  --polyak_averaging \
  --unsup_batch_mult 1 \
  --lr 0.03 \
  --lr_scale_batch_size 0 \
  --schedule '5,70,80,90,100' \
  --serving_input_shape None,32,32,3 \
  "$@"
