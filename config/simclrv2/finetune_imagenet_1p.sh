#!/bin/bash
# SimCLRv2's fine-tuning on the 1% labelled subset of ImageNet (S4L's
# list, data_sources/label_maps/), from the first layer of a 3-layer
# projection head, as the public code's README runs it: LARS at
# 0.005 x sqrt(1024) = 0.16, batch 1024, no weight decay, no warm-up, global
# batch norm, random crops and flips only, 60 epochs (passes over the
# labelled images; the paper's length for 1%).
#   ./config/simclrv2/finetune_imagenet_1p.sh --tpu_name <TPU> \
#     --dataset_dir <IMAGENET_TFRECORDS> --workdir gs://<WORKDIR> \
#     --path_to_initial_ckpt <config/simclr/imagenet_v2.sh's workdir>
# then the same command with --run_eval: its module is the teacher of
# config/simclrv2/distill_imagenet_1p.sh.
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task simclr_finetune \
  --dataset imagenet \
  --train_split trainval \
  --val_split test \
  --batch_size 1024 \
  --eval_batch_size 1024 \
  --filename_list_template 'label_map_count_{}_index_0' \
  --num_supervised_examples 13000 \
  \
  --architecture resnet50 \
  --mode v1 \
  --filters_factor 4 \
  --weight_decay 0 \
  \
  --proj_head_layers 3 \
  --proj_out_dim 128 \
  --ft_proj_selector 1 \
  \
  --preprocessing '0_to_1|random_resized_crop(224)|flip_lr' \
  \
  --optimizer lars \
  --lr 0.005 \
  --lr_scaling sqrt \
  --lr_decay cosine \
  --epochs 60 \
  --save_checkpoints_steps 500 \
  \
  --serving_input_shape None,224,224,3 \
  "$@"
