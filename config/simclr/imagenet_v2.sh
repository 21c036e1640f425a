#!/bin/bash
# SimCLRv2's pretraining (Chen et al., 2020b) on ImageNet, as the public
# code's README runs it: ResNet-50 (v1, width 1x) with global batch norm, a
# 3-layer projection head to 128 dimensions, temperature 0.1, batch 4096,
# LARS at 0.075 x sqrt(B) = 4.8 with 10 warm-up epochs and a cosine decay,
# weight decay 1e-4, 100 epochs (the paper's models train for 800).
#   ./config/simclr/imagenet_v2.sh --tpu_name <TPU> \
#     --dataset_dir <IMAGENET_TFRECORDS> --workdir gs://<WORKDIR>
# Then config/simclrv2/finetune_imagenet_1p.sh (or _10p) from its
# checkpoint and config/simclrv2/distill_imagenet_1p.sh.
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task simclr \
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
  \
  --temperature 0.1 \
  --proj_head_layers 3 \
  --proj_out_dim 128 \
  \
  --preprocessing '0_to_1|views(2)|random_resized_crop(224)|flip_lr|color_jitter(1.0)|random_grayscale(0.2)|gaussian_blur(0.5)' \
  --preprocessing_eval '0_to_1|views(2)|random_resized_crop(224)' \
  \
  --optimizer lars \
  --lr 0.075 \
  --lr_scaling sqrt \
  --lr_decay cosine \
  --warmup_epochs 10 \
  --epochs 100 \
  --save_checkpoints_steps 5000 \
  \
  --serving_input_shape None,224,224,3 \
  "$@"
