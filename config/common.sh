# Sourced by every config script: finds the repository and its Python.
# PYTHON overrides the interpreter; by default the repository's .venv (made by
# `make venv`) is used when it exists, else python3 from PATH.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then
    PYTHON="$REPO/.venv/bin/python"
  else
    PYTHON=python3
  fi
fi
TRAIN_AND_EVAL="$REPO/train_and_eval.py"
