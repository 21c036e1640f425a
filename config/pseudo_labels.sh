#!/bin/bash
# The pseudo-label baseline on ImageNet (S4L's config): the supervised
# network trained on every image of trainval, with the true label of the
# 10% labelled images and the pseudo label of the others, as written by
# config/generate_pseudo_dataset.sh. 5,004 steps per epoch of the 1.28M
# images, 100 epochs.
#   ./config/pseudo_labels.sh --tpu_name <TPU> \
#     --dataset_dir <PSEUDO_LABELLED_TFRECORDS> --workdir gs://<WORKDIR>
# and the same command with --run_eval. The test split comes from the
# same directory: label the validation shards too, or copy them there.
source "$(dirname "$0")/common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task supervised \
  --dataset imagenet \
  --train_split trainval \
  --val_split test \
  --batch_size 256 \
  --eval_batch_size 80 \
  --architecture resnet50v2 \
  --filters_factor 4 \
  --weight_decay 1e-4 \
  --lr 0.1 \
  --lr_scale_batch_size 256 \
  --save_checkpoints_steps 25000 \
  --eval_timeout_mins 60 \
  --schedule '5,30,60,90,100' \
  --sup_preprocessing 'inception_crop|resize(224)|flip_lr|-1_to_1' \
  --sup_preprocessing_eval 'resize_small(256)|crop(224)|-1_to_1' \
  --unsup_batch_mult 0.03125 \
  --preprocessing 'resize(224)|-1_to_1' \
  --preprocessing_eval 'resize(224)|-1_to_1' \
  --pseudo_label_key 'image/class/label' \
  --original_label_key 'image/class/original_label' \
  "$@"
