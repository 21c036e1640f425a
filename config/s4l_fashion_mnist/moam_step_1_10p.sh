#!/bin/bash
# MOAM step 1 (S4L-Rotation + VAT + EntMin) on Fashion-MNIST with 10% of the
# training labels (500 per class of the 50,000 training images, drawn with
# --label_subset_seed), sized for two CPU cores: ResNet-50 v2 at filters_factor
# 1 on 32x32 images (MOAM's network is 4x as wide as S4L-Rotation's; ours stays
# 1). Loss weights as MOAM's: 0.4 rotation, 0.3 classification, 0.3 VAT (norm
# 4.6, the per-pixel size of S4L's 32 at 224x224) and 0.3 entropy; cross-replica
# batch norm and Polyak averaging. The rest keeps the original's ratios to
# S4L-Rotation's config (s4l_rotation_10p.sh here, S4L's s4l_rotation there):
# - learning rate: 10/3 of S4L-Rotation's (MOAM's 0.2 at batch 256 is 0.1 at
#   its batch 128, against S4L-Rotation's 0.03), which also undoes the 0.3
#   weight of classification: 0.333 = 10/3 x 0.1, the rate chosen for
#   S4L-Rotation on the validation split (benchmarks/s4l_fashion_mnist.py);
# - weight decay: a fifth of S4L-Rotation's (2e-4 against 1e-3 in both);
# - batch: half S4L-Rotation's (128 against 256): 16 labelled and 16
#   unlabelled images, 312 steps per epoch of the labelled subset;
# - schedule: MOAM's shape (warm-up 5%, decays at 50, 75 and 95% of its 200
#   epochs) over S4L-Rotation's length here (10 epochs, 3,120 steps);
# - Polyak half-life: 0.5% of the training steps (MOAM's one epoch of 200),
#   not one epoch (312 steps, 10% of training here).
#   ./config/s4l_fashion_mnist/moam_step_1_10p.sh --workdir W --nouse_tpu
# then the same command with --run_eval (add --test_split test for the
# final number).
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --nouse_tpu \
  --task rotation_vat \
  --dataset fashion_mnist \
  --train_split train \
  --val_split val \
  --batch_size 16 \
  --eval_batch_size 500 \
  --architecture resnet50v2 \
  --filters_factor 1 \
  --weight_decay 2e-4 \
  --labels_per_class 500 \
  --preprocessing 'resize(36)|crop(32)|flip_lr|-1_to_1|rotate' \
  --preprocessing_eval 'resize(36)|crop(32)|-1_to_1|rotate' \
  --sup_preprocessing 'copy_label|resize(36)|crop(32)|flip_lr|-1_to_1|rotate' \
  --sup_preprocessing_eval 'copy_label|resize(36)|crop(32)|-1_to_1|rotate' \
  --entmin_factor 0.3 \
  --vat_eps 4.6 \
  --sup_weight 0.3 \
  --vat_weight 0.3 \
  --polyak_averaging \
  --polyak_half_life 0.005 \
  --unsup_batch_mult 1 \
  --lr 0.333 \
  --lr_scale_batch_size 0 \
  --schedule '0.5,5,7.5,9.5,10' \
  --serving_input_shape None,32,32,3 \
  "$@"
