#!/bin/bash
# Linear evaluation of the multi-task self-supervised model (the fourth seed:
# a TF-slim ResNet-v2-101 trained on relative position, colourisation,
# exemplar and motion segmentation; its representation is block3) on
# Fashion-MNIST, sized for two CPU cores. Convert its checkpoint first (the
# module then ends at block3, with pre_logits the mean of block3):
#   python tools/convert_module.py --source <download>/model.ckpt \
#     --output ~/multitask_module
#   ./config/evaluation/multitask_fashion_mnist.sh --workdir W --nouse_tpu \
#     --hub_module ~/multitask_module
# then the same command with --run_eval. Add --linear_eval_mode cached to
# encode the data once (ResNet-101 to block3 on every image is the cost).
#
# The model takes VGG-style images (0..255 minus the ImageNet RGB mean), so
# the garments are resized to 112x112 (block3 is then 4x4x1024, max-pooled
# to 2x2x1024) and `vgg_preprocess`ed, with no random crop. The schedule is
# that of rotation_or_exemplar_fashion_mnist.sh: the original protocol's
# (batch 512, 70 epochs, decay by 10 at epochs 30 and 50) with lr 0.001,
# since the heads see raw, unnormalised end points.
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
  --preprocessing resize,vgg_preprocess \
  --resize_size 112 \
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
