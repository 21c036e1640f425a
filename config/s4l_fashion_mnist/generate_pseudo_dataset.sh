#!/bin/bash
# Pseudo-labels Fashion-MNIST for config/s4l_fashion_mnist/pseudo_labels_*.sh
# with the module of a supervised_*.sh run: its labelled subset (the list in
# its working directory) keeps the true labels, the other training images get
# the module's prediction (5 crops of the 36x36 image x 4 rotations; the centre
# crop's decides). Every split is written as TFRecords with a
# dataset_info.json, which --dataset tfrecord reads.
#   ./config/s4l_fashion_mnist/generate_pseudo_dataset.sh \
#     --hub_module <SUPERVISED_WORKDIR>/export/hub/<ts>/module \
#     --labels_file <SUPERVISED_WORKDIR>/label_map_count_500_train_seed_0 \
#     --output_folder <PSEUDO_LABELLED>
source "$(dirname "$0")/../common.sh"

"$PYTHON" "$REPO/tools/generate_pseudo_labels.py" \
  --dataset fashion_mnist \
  --target_label all \
  --batch_size 64 \
  --representation_name logits \
  --smaller_size 36 \
  --crop_size 32 \
  "$@"
