#!/bin/bash
# VAT, S4L's virtual-adversarial-training baseline, on ImageNet with the 10%
# labelled subset: ResNet-50 v2 at width 4, perturbations of norm 40 on
# [-1, 1] images, the labelled images perturbed too (S4L's config; its
# published result used a 32-core TPU).
#   ./config/vat.sh --tpu_name <TPU> --dataset_dir <IMAGENET_TFRECORDS> \
#     --workdir gs://<WORKDIR>
# and the same command with --run_eval.
source "$(dirname "$0")/common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task vat \
  --dataset imagenet \
  --train_split trainval \
  --val_split test \
  --batch_size 256 \
  --eval_batch_size 80 \
  --filename_list_template 'label_map_count_{}_index_0' \
  --num_supervised_examples 128000 \
  --architecture resnet50v2 \
  --filters_factor 4 \
  --weight_decay 1e-3 \
  --lr 0.03 \
  --lr_scale_batch_size 0 \
  --save_checkpoints_steps 5000 \
  --eval_timeout_mins 60 \
  --schedule '5,140,160,180,200' \
  --sup_preprocessing 'inception_crop|resize(224)|flip_lr|-1_to_1' \
  --sup_preprocessing_eval 'resize_small(256)|crop(224)|-1_to_1' \
  --preprocessing 'inception_crop|resize(224)|flip_lr|-1_to_1' \
  --preprocessing_eval 'resize_small(256)|crop(224)|-1_to_1' \
  --apply_vat_to_labeled \
  --entmin_factor 0.0 \
  --vat_eps 40.0 \
  --unsup_batch_mult 1 \
  --enable_sup_data 1 \
  --vat_weight 0.5 \
  "$@"
