#!/bin/bash
# MOAM step 3 (S4L paper), a recipe: S4L's repository has no code or config
# for it. The paper fine-tunes the step 2 network on the 10% labelled images
# alone:
#   ./config/moam_step_3.sh --tpu_name <TPU> \
#     --dataset_dir <IMAGENET_TFRECORDS> --workdir gs://<WORKDIR> \
#     --path_to_initial_ckpt <STEP_2_WORKDIR>
# Warm start from step 2 (every network variable, the classifier included;
# the optimiser starts afresh), a short schedule at a small learning rate;
# these values are ours, the paper's are not published.
source "$(dirname "$0")/common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task supervised \
  --dataset imagenet \
  --train_split trainval \
  --val_split test \
  --batch_size 256 \
  --eval_batch_size 80 \
  --filename_list_template 'label_map_count_{}_index_0' \
  --num_supervised_examples 128000 \
  --architecture resnet50v2 \
  --filters_factor 16 \
  --weight_decay 0.0002 \
  --lr 0.001 \
  --lr_scale_batch_size 256 \
  --save_checkpoints_steps 5000 \
  --eval_timeout_mins 60 \
  --schedule '0,20,25,30' \
  --sup_preprocessing 'inception_crop|resize(224)|flip_lr|-1_to_1' \
  --sup_preprocessing_eval 'resize_small(256)|crop(224)|-1_to_1' \
  --preprocessing 'resize(224)|-1_to_1' \
  --vars_to_restore 'net/' \
  "$@"
