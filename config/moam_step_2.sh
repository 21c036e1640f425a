#!/bin/bash
# MOAM step 2 (S4L paper), a recipe: S4L's repository has no code or config
# for it. The paper pseudo-labels the unlabelled images with the MOAM step 1
# model and trains a new network on labelled + pseudo-labelled images:
#   ./config/generate_pseudo_dataset.sh --hub_module <STEP_1_MODULE> \
#     --input_glob '<IMAGENET_TFRECORDS>/train-*' --output_folder <OUT>
#   ./config/moam_step_2.sh --tpu_name <TPU> --dataset_dir <OUT> \
#     --workdir gs://<WORKDIR>
# This is config/pseudo_labels.sh with step 1's network (ResNet-50 v2 at
# width 16, its weight decay); the paper's own settings are not published.
source "$(dirname "$0")/common.sh"

"$(dirname "$0")/pseudo_labels.sh" \
  --filters_factor 16 \
  --weight_decay 0.0002 \
  "$@"
