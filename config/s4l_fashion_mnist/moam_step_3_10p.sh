#!/bin/bash
# MOAM step 3 (S4L paper) on Fashion-MNIST with 10% of the training labels
# (500 per class of the 50,000 training images, drawn with
# --label_subset_seed): the step 2 network (moam_step_2_10p.sh) fine-tuned on
# the labelled images alone, as config/moam_step_3.sh on ImageNet: every
# network variable taken from step 2 (the classifier included; the optimiser
# starts afresh), step 1's weight decay (2e-4), and that recipe's length in
# proportion: 30 of the supervised baseline's 200 epochs there, so 15% of
# supervised_10p.sh's 10 here (1.5 epochs of 156 steps), with no warm-up and
# decays at 2/3 and 5/6 of it. The learning rate is chosen on the validation
# split among small ones (benchmarks/s4l_fashion_mnist.py).
#   ./config/s4l_fashion_mnist/moam_step_3_10p.sh --workdir W --nouse_tpu \
#     --path_to_initial_ckpt <STEP_2_WORKDIR>
# then the same command with --run_eval (add --test_split test for the
# final number).
source "$(dirname "$0")/../common.sh"

"$(dirname "$0")/supervised_10p.sh" \
  --weight_decay 2e-4 \
  --lr 0.001 \
  --schedule '0,1,1.25,1.5' \
  --vars_to_restore 'net/' \
  "$@"
