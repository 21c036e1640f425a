#!/bin/bash
# SimCLR (Chen et al., 2020) on ImageNet with the paper's settings, as the
# public code (google-research/simclr) gives them: ResNet-50 (v1, width 1x)
# with global batch norm, a 2-layer projection head to 128 dimensions,
# temperature 0.1, batch 4096 (32 TPU v3 cores or more), LARS at
# 0.3 x B / 256 = 4.8 with 10 warm-up epochs and a cosine decay, weight
# decay 1e-6, 100 epochs (the paper's longest run is 1000); colour
# strength 1.0 and Gaussian blur.
#   ./config/simclr/imagenet.sh --tpu_name <TPU> \
#     --dataset_dir <IMAGENET_TFRECORDS> --workdir gs://<WORKDIR>
# The module's representation includes the head's layers (proj_head_0 is
# the pre-logits) for config/evaluation/rotation_or_exemplar.sh.
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
  --weight_decay 1e-6 \
  \
  --temperature 0.1 \
  --proj_head_layers 2 \
  --proj_out_dim 128 \
  \
  --preprocessing '0_to_1|views(2)|random_resized_crop(224)|flip_lr|color_jitter(1.0)|random_grayscale(0.2)|gaussian_blur(0.5)' \
  --preprocessing_eval '0_to_1|views(2)|random_resized_crop(224)' \
  \
  --optimizer lars \
  --lr 0.3 \
  --lr_scale_batch_size 256 \
  --lr_scaling linear \
  --lr_decay cosine \
  --warmup_epochs 10 \
  --epochs 100 \
  --save_checkpoints_steps 5000 \
  \
  --serving_input_shape None,224,224,3 \
  "$@"
