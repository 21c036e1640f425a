#!/bin/bash
# Pseudo-labels ImageNet's TFRecords with a hub module (S4L's tool): the
# 10% labelled images keep their labels (label_flag 1), the others get the
# module's prediction on their centre crop. For the pseudo-label baseline
# the module is S4L's supervised 10% model (gs://s4l-models); for MOAM step 2
# the module of step 1.
#   ./config/generate_pseudo_dataset.sh --hub_module <MODULE> \
#     --input_glob '<IMAGENET_TFRECORDS>/train-*' --output_folder <OUT>
# (add --tpu_name <TPU> to run on a TPU; the CPU or a GPU otherwise).
source "$(dirname "$0")/common.sh"

"$PYTHON" "$REPO/tools/generate_pseudo_labels.py" \
  --alsologtostderr \
  --labels_file=label_map_count_128000_index_0 \
  --target_label=all \
  --data_format=t2t \
  --batch_size=64 \
  --parallel_calls=100 \
  --representation_name=classes \
  "$@"
