#!/bin/bash
# Linear evaluation of a jigsaw or relative-patch-location module pretrained
# on Fashion-MNIST (config/jigsaw/fashion_mnist.sh or
# config/relative_patch_location/fashion_mnist.sh, whose modules embed 16x16
# patches), sized for two CPU cores. As in the ImageNet protocol, the image
# is resized (here to 56 on the smaller side), cropped to 48x48 (random in
# training, central in evaluation) and cut into 3x3 patches of 16x16 without
# jitter; every end point is pooled per patch and averaged over the patches.
#   ./config/evaluation/jigsaw_or_relative_patch_location_fashion_mnist.sh \
#     --workdir W --nouse_tpu \
#     --hub_module <pretraining workdir>/export/hub/<timestamp>/module
# then the same command with --run_eval. With --linear_eval_mode cached the
# training split is encoded with central crops; add --cached_augment_passes N
# for N more passes with random crops.
#
# Schedule: the original protocol's (batch 512, 70 epochs, decay by 10 at 30
# and 50) with lr 0.001 (x 512/256) rather than 0.1, which diverges on the
# raw, unnormalised early end points of these modules (see
# rotation_or_exemplar_fashion_mnist.sh). End to end this is slow on two
# cores (every image is nine patches); the cached mode is the practical one.
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
  --preprocessing resize_small,crop,crop_patches,standardization \
  --smaller_size 56 \
  --crop_size 48 \
  --splits_per_side 3 \
  --patch_jitter 0 \
  \
  --pool_mode max \
  --combine_patches avg_pool \
  \
  --lr 0.001 \
  --lr_scale_batch_size 256 \
  --decay_epochs 30,50 \
  --epochs 70 \
  --iterations_per_loop 117 \
  --save_checkpoints_steps 1170 \
  "$@"
