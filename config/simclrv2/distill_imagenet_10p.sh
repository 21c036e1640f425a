#!/bin/bash
# SimCLRv2's distillation on ImageNet: a student ResNet-50 (the teacher's
# size: self-distillation) trained on every training image to match the
# softened predictions (temperature 1) of the model fine-tuned on 10% of
# the labels. The public code has no distillation command; the optimiser is
# the pretraining's (LARS at 0.075 x sqrt(B), batch 4096, weight decay
# 1e-4, cosine decay) for 100 epochs over all images.
#   ./config/simclrv2/distill_imagenet_10p.sh --tpu_name <TPU> \
#     --dataset_dir <IMAGENET_TFRECORDS> --workdir gs://<WORKDIR> \
#     --hub_module <finetune_imagenet_10p.sh's export>/module
# The labelled stream (every image, with its label) is read for the
# evaluation's student and teacher accuracy; training uses no label
# (--distill_weight 1).
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task simclr_distill \
  --dataset imagenet \
  --train_split trainval \
  --val_split test \
  --batch_size 4096 \
  --eval_batch_size 1024 \
  \
  --architecture resnet50 \
  --mode v1 \
  --filters_factor 4 \
  --weight_decay 1e-4 \
  --sync_batch_norm \
  \
  --distill_temperature 1.0 \
  --distill_weight 1.0 \
  \
  --preprocessing '0_to_1|random_resized_crop(224)|flip_lr' \
  --preprocessing_eval '0_to_1|random_resized_crop(224)' \
  --sup_preprocessing '0_to_1|random_resized_crop(224)' \
  \
  --optimizer lars \
  --lr 0.075 \
  --lr_scaling sqrt \
  --lr_decay cosine \
  --warmup_epochs 5 \
  --epochs 100 \
  --save_checkpoints_steps 5000 \
  \
  --serving_input_shape None,224,224,3 \
  "$@"
