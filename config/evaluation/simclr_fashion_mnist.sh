#!/bin/bash
# Linear evaluation of a SimCLR module pretrained on Fashion-MNIST
# (config/simclr/fashion_mnist.sh): config/evaluation/
# rotation_or_exemplar_fashion_mnist.sh with SimCLR's input range, [0, 1]
# (the pretraining's 0_to_1). Its end points include the projection head's
# layers: proj_head_0 (the pre-logits) to proj_head_2.
#   ./config/evaluation/simclr_fashion_mnist.sh --workdir W \
#     --hub_module <pretraining workdir>/export/hub/<ts>/module
# then the same command with --run_eval.
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --nouse_tpu \
  --task linear_eval \
  --dataset fashion_mnist \
  --train_split trainval \
  --val_split test \
  --batch_size 512 \
  --eval_batch_size 500 \
  \
  --preprocessing resize,0_to_1 \
  --resize_size 32 \
  \
  --pool_mode max \
  \
  --lr 0.001 \
  --lr_scale_batch_size 256 \
  --decay_epochs 30,50 \
  --epochs 70 \
  --iterations_per_loop 117 \
  --save_checkpoints_steps 1170 \
  "$@"
