#!/usr/bin/env bash
# The main job in one command (`make demo`): rotation pretraining on
# Fashion-MNIST, hub export, and linear evaluation of every end point next to
# the same network with random weights. Everything runs through the ordinary
# config scripts; change any flag by editing them or through the variables:
#   DEMO_WORKDIR   where everything goes (default: workdirs/demo)
#   DEMO_DATA_DIR  the Fashion-MNIST files (default: Debian's location)
#   PRETRAIN_ARGS  extra flags for config/rotation/fashion_mnist.sh
#   EVAL_ARGS      extra flags for config/evaluation/..._fashion_mnist.sh
set -euo pipefail
cd "$(dirname "$0")/.."

workdir="${DEMO_WORKDIR:-workdirs/demo}"
data_dir="${DEMO_DATA_DIR:-/usr/share/datasets/fashion-mnist}"
read -r -a pretrain_args <<< "${PRETRAIN_ARGS:-}"
read -r -a eval_args <<< "${EVAL_ARGS:-}"
common=(--nouse_tpu --dataset_dir "$data_dir" --random_seed 0)
# Fewer of TensorFlow's C++ start-up messages (the few printed before its
# logging starts remain); progress comes from the Python log. Set it to 0
# to see them all.
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
start=$(date +%s)

stage() { echo; echo "== [$(( $(date +%s) - start ))s] $*"; }

latest_module() {
  ls -d "$1"/export/hub/*/module 2>/dev/null | sort -V | tail -n 1
}

stage "1/4 Rotation pretraining (config/rotation/fashion_mnist.sh)"
./config/rotation/fashion_mnist.sh --workdir "$workdir/rotation" \
  "${common[@]}" "${pretrain_args[@]}"
./config/rotation/fashion_mnist.sh --workdir "$workdir/rotation" \
  "${common[@]}" "${pretrain_args[@]}" --export_only
rotation_module=$(latest_module "$workdir/rotation")

stage "2/4 The same network with random weights, exported for comparison"
./config/rotation/fashion_mnist.sh --workdir "$workdir/random_init" \
  "${common[@]}" "${pretrain_args[@]}" --export_only
random_module=$(latest_module "$workdir/random_init")

for name in rotation random_init; do
  if [ "$name" = rotation ]; then
    module=$rotation_module; n=3
  else
    module=$random_module; n=4
  fi
  stage "$n/4 Linear evaluation of every end point: $name" \
    "(config/evaluation/rotation_or_exemplar_fashion_mnist.sh, cached)"
  ./config/evaluation/rotation_or_exemplar_fashion_mnist.sh \
    --workdir "$workdir/linear_eval_$name" --hub_module "$module" \
    --linear_eval_mode cached "${common[@]}" "${eval_args[@]}"
done

stage "Done"
"${PYTHON:-.venv/bin/python}" tools/demo_report.py \
  --rotation "$workdir/linear_eval_rotation" \
  --random_init "$workdir/linear_eval_random_init"
cat <<MSG

Hub module (rotation):  $rotation_module
TensorBoard logs:       $workdir
Linear-eval results:    $workdir/linear_eval_rotation/linear_eval_results.csv
                        $workdir/linear_eval_random_init/linear_eval_results.csv
Open TensorBoard with:  .venv/bin/tensorboard --logdir $workdir --port 6006
MSG
