#!/bin/bash
# S4L-Rotation on ImageNet with the 10% labelled subset: rotation prediction
# on all images and on the labelled ones, plus classification of all four
# rotations of each labelled image; ResNet-50 v2 at width 4 (S4L's config;
# its published result used a 32-core TPU).
#   ./config/s4l_rotation.sh --tpu_name <TPU> \
#     --dataset_dir <IMAGENET_TFRECORDS> --workdir gs://<WORKDIR>
# and the same command with --run_eval. `--task rotation` with a labelled
# stream (--sup_preprocessing) is S4L-Rotation (s4l_rotation).
source "$(dirname "$0")/common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task rotation \
  --dataset imagenet \
  --train_split trainval \
  --val_split test \
  --batch_size 256 \
  --eval_batch_size 16 \
  --architecture resnet50v2 \
  --filters_factor 4 \
  --weight_decay 1e-3 \
  --preprocessing 'inception_crop|resize(224)|flip_lr|-1_to_1|rotate' \
  --preprocessing_eval 'resize_small(256)|crop(224)|-1_to_1|rotate' \
  --sup_preprocessing 'copy_label|inception_crop|resize(224)|flip_lr|-1_to_1|rotate' \
  --sup_preprocessing_eval 'copy_label|resize_small(256)|crop(224)|-1_to_1|rotate' \
  --lr 0.03 \
  --lr_scale_batch_size 0 \
  --schedule '5,140,160,180,200' \
  --serving_input_shape 'None,224,224,3' \
  --enable_sup_data 1 \
  --filename_list_template 'label_map_count_{}_index_0' \
  --num_supervised_examples 128000 \
  --unsup_batch_mult 1 \
  --rot_loss_weight 1.0 \
  --rot_loss_sup 1 \
  --rot_loss_unsup 1 \
  --save_checkpoints_steps 5000 \
  --eval_timeout_mins 600 \
  "$@"
