#!/usr/bin/env bash
# README command 2: the test suite, installing first if this checkout's
# van_mm and its stack are not importable here.
#
#   bash scripts/test.sh                                # the whole suite
#   bash scripts/test.sh tests/test_backbone.py -k shapes   # only these
#   bash scripts/test.sh -m "not slow"                  # skip end-to-end runs
#
# Arguments go to pytest as they are; without any, pytest runs tests/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
# -I: this folder is not on sys.path, so van_mm is found where it is
# installed; the start-up hook (van_mm_startup.pth) must be in place too
if ! "$PY" -I - 2>/dev/null <<'PYEOF'
import os, sys
if not any(type(f).__name__ == '_PackageUtilsHook' for f in sys.meta_path):
    sys.exit(1)  # installed before van_mm_startup.pth existed
import mmdet, mmseg, pytest, van_mm
from mmcv.ops import nms
here = os.path.dirname(os.path.dirname(os.path.abspath(van_mm.__file__)))
sys.exit(here != os.getcwd())  # van_mm installed from another checkout
PYEOF
then
  bash scripts/install.sh
fi
start=$SECONDS
"$PY" -m pytest "$@"
echo "[van-mm tests] took $((SECONDS - start)) s"
