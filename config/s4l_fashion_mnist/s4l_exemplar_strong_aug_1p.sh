#!/bin/bash
# S4L-Exemplar with its strong augmentation on the labelled images too, on
# Fashion-MNIST with 1% of the training labels (50 per class of the 50,000
# training images, drawn with --label_subset_seed): s4l_exemplar_1p.sh but the
# classifier trains on the exemplar crops (4 Inception crops of 5-100% of the
# image with hsvnoise) instead of the supervised baseline's, a variant kept
# beside S4L-Exemplar's row (benchmarks/s4l_fashion_mnist.py). ResNet-50 v2 at
# filters_factor 1 on 32x32 images, a labelled batch of 32. Epochs are passes
# over the labelled subset (15 steps each); the schedule is S4L's in
# proportion (warm-up 5%, decays at 70, 80 and 90%). The learning rate was
# chosen on the validation split.
#   ./config/s4l_fashion_mnist/s4l_exemplar_strong_aug_1p.sh --workdir W \
#     --nouse_tpu
# then the same command with --run_eval (add --test_split test for the
# final number).
source "$(dirname "$0")/../common.sh"

"$(dirname "$0")/s4l_exemplar_1p.sh" \
  --sup_preprocessing 'crop_inception_patches(4,32)|hsvnoise|flip_lr|-1_to_1' \
  "$@"
