#!/bin/bash
# Linear evaluation of a rotation or exemplar module pretrained on
# Fashion-MNIST (config/rotation/fashion_mnist.sh), sized for two CPU cores.
# The images are resized to the 32x32 the module was trained on, with no
# random crop: 28x28 garments fill the frame, and a deterministic input makes
# the cached mode see exactly what the end-to-end probe sees.
#   ./config/evaluation/rotation_or_exemplar_fashion_mnist.sh --workdir W \
#     --nouse_tpu --hub_module <pretraining workdir>/export/hub/<ts>/module
# then the same command with --run_eval. Add --linear_eval_mode cached to
# encode the data once and train the heads on the stored features (about
# ten times faster, same metrics, plus kNN on pre_logits).
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task linear_eval \
  --dataset fashion_mnist \
  --train_split trainval \
  --val_split test \
  --batch_size 512 \
  --eval_batch_size 500 \
  \
  --preprocessing resize,-1_to_1 \
  --resize_size 32 \
  \
  --pool_mode max \
  \
  --lr 0.1 \
  --lr_scale_batch_size 256 \
  --decay_epochs 8,12 \
  --epochs 15 \
  --iterations_per_loop 117 \
  --save_checkpoints_steps 585 \
  "$@"
