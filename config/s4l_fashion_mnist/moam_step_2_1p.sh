#!/bin/bash
# MOAM step 2 (S4L paper) on Fashion-MNIST with 1% of the training labels
# (50 per class of the 50,000 training images): pseudo_labels_1p.sh with MOAM
# step 1's weight decay (2e-4, moam_step_1_1p.sh; its width stays 1, as step
# 1's), trained on all 50,000 training images: the labelled ones with their
# labels, the others with the labels the step 1 model predicts
# (generate_pseudo_dataset.sh with its module and --representation_name
# classes). As config/moam_step_2.sh is to config/pseudo_labels.sh. The
# learning rate is the pseudo-label baseline's
# (benchmarks/s4l_fashion_mnist.py).
#   ./config/s4l_fashion_mnist/generate_pseudo_dataset.sh \
#     --hub_module <STEP_1_WORKDIR>/export/hub/<ts>/module \
#     --representation_name classes \
#     --labels_file <STEP_1_WORKDIR>/label_map_count_50_train_seed_0 \
#     --output_folder <PSEUDO_LABELLED>
#   ./config/s4l_fashion_mnist/moam_step_2_1p.sh --workdir W --nouse_tpu \
#     --dataset_dir <PSEUDO_LABELLED>
# then the same command with --run_eval (add --test_split test for the
# final number).
source "$(dirname "$0")/../common.sh"

"$(dirname "$0")/pseudo_labels_1p.sh" \
  --weight_decay 2e-4 \
  "$@"
