#!/usr/bin/env bash
# README command 2: the test suite, installing first if this checkout's
# van_mm and its stack are not importable here.
#
#   bash scripts/test.sh                                # the whole suite
#   bash scripts/test.sh tests/test_backbone.py -k shapes   # only these
#   bash scripts/test.sh -m "not slow"                  # skip end-to-end runs
#
# Arguments go to pytest as they are; without any, pytest runs tests/. The
# tests run in VAN_MM_TEST_WORKERS processes (pytest-xdist; default 2, one
# thread each; 0 runs them in this process, as plain `python -m pytest`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
# -I: this folder is not on sys.path, so van_mm is found where it is
# installed
if ! "$PY" -I - 2>/dev/null <<'PYEOF'
import os, sys, sysconfig
purelib = sysconfig.get_paths()['purelib']
if os.path.exists(os.path.join(purelib, 'van_mm_startup.pth')):
    sys.exit(1)  # left by an earlier install.sh: install.sh removes it
import mmdet, mmseg, pkg_resources, pytest, van_mm, xdist
from mmcv.ops import nms
here = os.path.dirname(os.path.dirname(os.path.abspath(van_mm.__file__)))
sys.exit(here != os.getcwd())  # van_mm installed from another checkout
PYEOF
then
  bash scripts/install.sh
fi
start=$SECONDS
"$PY" -m pytest -n "${VAN_MM_TEST_WORKERS:-2}" --dist loadgroup "$@"
echo "[van-mm tests] took $((SECONDS - start)) s"
