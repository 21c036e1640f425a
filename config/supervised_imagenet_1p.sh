#!/bin/bash
# S4L's supervised baseline on the 1% labelled subset of ImageNet (13 images
# per class, data_sources/label_maps/), ResNet-50 v2 at width 4, on an
# 8-core TPU (S4L's config). As S4L's README runs it:
#   ./config/supervised_imagenet_1p.sh --tpu_name <TPU> \
#     --dataset_dir <IMAGENET_TFRECORDS> --workdir gs://<WORKDIR>
# and the same command with --run_eval. Epochs are passes over the 13,000
# labelled images: 50 steps each, 50,000 in all. The unlabelled stream's
# flags are accepted as written; the supervised task does not read it.
source "$(dirname "$0")/common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task supervised \
  --dataset imagenet \
  --cache_dataset \
  --train_split trainval \
  --val_split test \
  --batch_size 256 \
  --eval_batch_size 80 \
  --filename_list_template 'label_map_count_{}_index_0' \
  --num_supervised_examples 13000 \
  --architecture resnet50v2 \
  --filters_factor 4 \
  --weight_decay 0.01 \
  --lr 0.01 \
  --lr_scale_batch_size 256 \
  --save_checkpoints_steps 5000 \
  --eval_timeout_mins 60 \
  --schedule '5,700,800,900,1000' \
  --sup_preprocessing 'inception_crop|resize(224)|flip_lr|hsvnoise|-1_to_1' \
  --sup_preprocessing_eval 'resize_small(256)|crop(224)|-1_to_1' \
  --unsup_batch_mult 0.03125 \
  --preprocessing 'resize(224)|-1_to_1' \
  --preprocessing_eval 'resize(224)|-1_to_1' \
  "$@"
