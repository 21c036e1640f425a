#!/bin/bash
# S4L-Exemplar on ImageNet with the 10% labelled subset: eight augmented
# crops per image, a batch-hard triplet loss on both streams and
# classification of every crop of the labelled images; ResNet-50 v2 at
# width 4 (S4L's config; its published result used a 32-core TPU).
#   ./config/s4l_exemplar.sh --tpu_name <TPU> \
#     --dataset_dir <IMAGENET_TFRECORDS> --workdir gs://<WORKDIR>
# and the same command with --run_eval. `--task exemplar` with a labelled
# stream is S4L-Exemplar (s4l_exemplar); --triplet_labels original
# reproduces the original's grouping of the crops (docs/differences.md).
source "$(dirname "$0")/common.sh"

"$PYTHON" "$TRAIN_AND_EVAL" \
  --task exemplar \
  --triplet_embed_dim 1000 \
  --dataset imagenet \
  --train_split trainval \
  --val_split test \
  --batch_size 512 \
  --eval_batch_size 40 \
  --architecture resnet50v2 \
  --filters_factor 4 \
  --weight_decay 1e-3 \
  --preprocessing 'crop_inception_patches(8,224)|hsvnoise|flip_lr|-1_to_1' \
  --preprocessing_eval 'resize_small(256)|crop(224)|-1_to_1' \
  --sup_preprocessing 'crop_inception_patches(8,224)|hsvnoise|flip_lr|-1_to_1' \
  --sup_preprocessing_eval 'resize_small(256)|crop(224)|-1_to_1' \
  --lr 0.1 \
  --lr_scale_batch_size 0 \
  --schedule '10,140,160,180,200' \
  --serving_input_shape 'None,224,224,3' \
  --enable_sup_data 1 \
  --filename_list_template 'label_map_count_{}_index_0' \
  --num_supervised_examples 128000 \
  --unsup_batch_mult 1 \
  --triplet_loss_weight 1.0 \
  --triplet_loss_sup 1 \
  --triplet_loss_unsup 1 \
  --save_checkpoints_steps 5000 \
  --eval_timeout_mins 600 \
  "$@"
