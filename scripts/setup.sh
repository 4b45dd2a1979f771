#!/usr/bin/env bash
# README command 1: install everything, then run the quick-start.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install.sh
bash scripts/quickstart.sh
