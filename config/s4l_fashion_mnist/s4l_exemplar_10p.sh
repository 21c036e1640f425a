#!/bin/bash
# S4L-Exemplar on Fashion-MNIST with 10% of the training labels (500 per class
# of the 50,000 training images, drawn with --label_subset_seed), sized for two
# CPU cores: ResNet-50 v2 at filters_factor 1 on 32x32 images, a labelled batch
# of 32. The unlabelled images get the exemplar crops (4 Inception crops of
# 5-100% of the image, hsvnoise, flip); the labelled ones get 4 crops of the
# supervised baseline's augmentation (supervised_10p.sh), so that the classifier
# trains on the baseline's crops, as S4L's did (its supervised and exemplar
# configs both cropped with Inception's sampler); s4l_exemplar_strong_aug_10p.sh
# keeps the exemplar crops for the labelled images too. Epochs are passes over
# the labelled subset (156 steps each); the schedule is S4L's in proportion
# (warm-up 5%, decays at 70, 80 and 90%). The learning rate was chosen on the
# validation split (benchmarks/s4l_fashion_mnist.py,
# benchmarks/S4L_RESULTS.md).
#   ./config/s4l_fashion_mnist/s4l_exemplar_10p.sh --workdir W --nouse_tpu
# then the same command with --run_eval (add --test_split test for the
# final number).
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --nouse_tpu \
  --task exemplar \
  --dataset fashion_mnist \
  --train_split train \
  --val_split val \
  --batch_size 32 \
  --eval_batch_size 500 \
  --architecture resnet50v2 \
  --filters_factor 1 \
  --weight_decay 1e-3 \
  --labels_per_class 500 \
  --preprocessing 'crop_inception_patches(4,32)|hsvnoise|flip_lr|-1_to_1' \
  --preprocessing_eval 'resize(36)|crop(32)|-1_to_1' \
  --sup_preprocessing 'views(4)|resize(36)|crop(32)|flip_lr|-1_to_1' \
  --sup_preprocessing_eval 'resize(36)|crop(32)|-1_to_1' \
  --unsup_batch_mult 1 \
  --triplet_embed_dim 128 \
  --triplet_loss_weight 1.0 \
  --lr 0.03 \
  --lr_scale_batch_size 0 \
  --schedule '0.5,7,8,9,10' \
  --serving_input_shape None,32,32,3 \
  "$@"
