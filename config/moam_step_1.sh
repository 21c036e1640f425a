#!/bin/bash
# MOAM step 1 (S4L's "mix of all models"): S4L-Rotation with VAT and
# entropy minimisation on ImageNet with the 10% labelled subset, ResNet-50 v2
# at width 16 on cross-replica batch norm, Polyak averaging (S4L's config;
# its published result used a 128-core TPU). Loss weights: 0.4 rotation, 0.3
# classification, 0.3 VAT, plus 0.3 entropy minimisation.
#   ./config/moam_step_1.sh --tpu_name <TPU> \
#     --dataset_dir <IMAGENET_TFRECORDS> --workdir gs://<WORKDIR>
# and the same command with --run_eval. --apply_vat_to_labeled is written
# as S4L's config has it; rotation_vat ignores it (with a warning), as S4L
# did. Steps 2 and 3: config/generate_pseudo_dataset.sh with the module of
# this step, then config/moam_step_2.sh and config/moam_step_3.sh.
source "$(dirname "$0")/common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task rotation_vat \
  --dataset imagenet \
  --train_split trainval \
  --val_split test \
  --batch_size 128 \
  --eval_batch_size 80 \
  --filename_list_template 'label_map_count_{}_index_0' \
  --num_supervised_examples 128000 \
  --architecture resnet50v2 \
  --filters_factor 16 \
  --weight_decay 0.0002 \
  --lr 0.2 \
  --lr_scale_batch_size 256 \
  --save_checkpoints_steps 10000 \
  --eval_timeout_mins 240 \
  --schedule '10,100,150,190,200' \
  --sup_preprocessing 'copy_label|inception_crop|resize(224)|flip_lr|-1_to_1|rotate' \
  --sup_preprocessing_eval 'copy_label|resize_small(256)|crop(224)|-1_to_1|rotate' \
  --preprocessing 'inception_crop|resize(224)|flip_lr|-1_to_1|rotate' \
  --preprocessing_eval 'resize_small(256)|crop(224)|-1_to_1|rotate' \
  --apply_vat_to_labeled \
  --entmin_factor 0.3 \
  --vat_eps 32.0 \
  --sup_weight 0.3 \
  --polyak_averaging \
  --unsup_batch_mult 1 \
  --enable_sup_data 1 \
  --vat_weight 0.3 \
  "$@"
