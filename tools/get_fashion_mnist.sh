#!/usr/bin/env bash
# Makes sure the four Fashion-MNIST IDX files exist in the directory given as
# the first argument (default: where Debian's dataset-fashion-mnist puts them).
set -euo pipefail
dir="${1:-/usr/share/datasets/fashion-mnist}"
files="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"

have_all() {
  for f in $files; do [ -s "$dir/$f" ] || return 1; done
}

if have_all; then
  exit 0
fi
if [ "$dir" = /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's dataset-fashion-mnist (needs root)..."
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq || true
  $sudo_cmd apt-get install -y -qq dataset-fashion-mnist && have_all && exit 0
fi
cat >&2 <<MSG
Fashion-MNIST is missing from $dir.
Get the four files
  train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
  t10k-images-idx3-ubyte.gz  t10k-labels-idx1-ubyte.gz
from the Fashion-MNIST project (or 'apt-get install dataset-fashion-mnist' on
Debian/Ubuntu) and put them in $dir, or pass FMNIST_DIR=<dir> to make.
MSG
exit 1
