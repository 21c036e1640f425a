#!/bin/bash
# SimCLRv2's distillation on Fashion-MNIST: a student of the teacher's
# network (ResNet-50 v1 at filters_factor 1) trained on all 50,000 training
# images to match the softened predictions (temperature 1) of the model
# that simclr_finetune_1p.sh fine-tuned on 1% of the labels, on the
# same crops, for one epoch over all images; LARS with the fine-tuning's
# settings. No label is trained on (--distill_weight 1); evaluation
# reports the student's and the teacher's accuracy. One epoch is the
# config's length; benchmarks/s4l_fashion_mnist.py chose 8 on the
# validation split (add --epochs 8).
#   ./config/s4l_fashion_mnist/simclr_distill_1p.sh --workdir W \
#     --hub_module <simclr_finetune_1p.sh's workdir>/export/hub/<ts>/module
# then the same command with --run_eval (add --test_split test).
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --nouse_tpu \
  --task simclr_distill \
  --dataset fashion_mnist \
  --train_split train \
  --val_split val \
  --batch_size 32 \
  --eval_batch_size 500 \
  --architecture resnet50 \
  --mode v1 \
  --filters_factor 1 \
  --weight_decay 1e-4 \
  --distill_temperature 1.0 \
  --preprocessing '0_to_1|random_resized_crop(32)|flip_lr' \
  --preprocessing_eval '0_to_1|random_resized_crop(32)' \
  --sup_preprocessing '0_to_1|random_resized_crop(32)' \
  --optimizer lars \
  --lr 0.1 \
  --lr_scale_batch_size 0 \
  --lr_decay cosine \
  --epochs 1 \
  --iterations_per_loop 50 \
  --save_checkpoints_steps 500 \
  --serving_input_shape None,32,32,3 \
  "$@"
