#!/usr/bin/env bash
# README command 2: install if needed, then run the test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install.sh
start=$SECONDS
"${PYTHON:-python3}" -m pytest tests "$@"
echo "[van-mm tests] test suite took $((SECONDS - start)) s"
