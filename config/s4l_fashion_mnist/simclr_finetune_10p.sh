#!/bin/bash
# SimCLRv2's fine-tuning on Fashion-MNIST with 10% of the training labels
# (500 per class, drawn with --label_subset_seed), sized for two CPU cores:
# the network of config/simclr/fashion_mnist.sh (ResNet-50 v1 at
# filters_factor 1, 32x32 crops, a 3-layer head) from the head's first
# layer, LARS without weight decay, 30 passes over the labelled images
# (the paper's length for 10%), random crops and flips only.
#   ./config/s4l_fashion_mnist/simclr_finetune_10p.sh --workdir W \
#     --path_to_initial_ckpt <config/simclr/fashion_mnist.sh's workdir>
# then the same command with --run_eval (add --test_split test for the
# final number); its module is the teacher of simclr_distill_10p.sh.
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --nouse_tpu \
  --task simclr_finetune \
  --dataset fashion_mnist \
  --train_split train \
  --val_split val \
  --batch_size 32 \
  --eval_batch_size 500 \
  --labels_per_class 500 \
  --architecture resnet50 \
  --mode v1 \
  --filters_factor 1 \
  --weight_decay 0 \
  --proj_head_layers 3 \
  --proj_out_dim 64 \
  --ft_proj_selector 1 \
  --preprocessing '0_to_1|random_resized_crop(32)|flip_lr' \
  --preprocessing_eval '0_to_1|random_resized_crop(32)' \
  --optimizer lars \
  --lr 0.1 \
  --lr_scale_batch_size 0 \
  --lr_decay cosine \
  --epochs 30 \
  --iterations_per_loop 50 \
  --save_checkpoints_steps 500 \
  --serving_input_shape None,32,32,3 \
  "$@"
