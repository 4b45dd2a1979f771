#!/usr/bin/env bash
# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
# The GPU check (benchmarks/gpu_check.py): VAN-B2 training steps in fp32,
# AMP fp16 and channels_last against mmpretrain's VAN with the same
# weights (gradients compared), and fp16 inference, on a GPU machine that
# has a CUDA torch but no OpenMMLab packages and no network.
#
#   bash benchmarks/gpu_check.sh prepare [PYTHON_VERSION ...]  # where PyPI is reachable
#   bash benchmarks/gpu_check.sh [OUT_DIR] [-- gpu_check.py options]  # on the GPU machine
#
# prepare: downloads into $GPU_WHEELS (default benchmarks/gpu_wheels, which
#   git ignores) the wheels the check needs beyond torch and numpy: the
#   pure-Python ones (mmengine 0.10.7, mmcv-lite 2.1.0, mmpretrain 1.2.0 and
#   their pure dependencies, about 5 MiB), opencv-python-headless (one
#   wheel for every Python 3: mmcv and van_mm import cv2; 48 MiB) and
#   PyYAML and Pillow for each PYTHON_VERSION (default: this interpreter's;
#   about 8 MiB each). Fails above 64 MiB in all: one Python version fits.
#   Carry the checkout with that folder to the GPU machine.
# run: finds which of those modules the machine's interpreter ($PYTHON,
#   default python3) lacks, unpacks only their wheels into a temporary
#   folder (a wheel is a zip file: neither pip nor a venv is needed, and
#   the interpreter's own packages, torch included, are used as they are),
#   then runs gpu_check.py with that folder and this checkout on PYTHONPATH,
#   under a time limit ($GPU_CHECK_TIMEOUT, default 240 s). Results:
#   Markdown on stdout, OUT_DIR/results.json (default work_dirs/gpu_check).
#   Without a CUDA device gpu_check.py stops with exit status 2 and says
#   so; `-- --dry-run` runs its code on the CPU at tiny sizes instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
WHEELS=${GPU_WHEELS:-benchmarks/gpu_wheels}
LIMIT_MIB=64
# distribution==version: importable module
PURE=(mmengine==0.10.7:mmengine mmcv-lite==2.1.0:mmcv
      mmpretrain==1.2.0:mmpretrain addict==2.4.0:addict yapf==0.43.0:yapf
      platformdirs==4.14.9:platformdirs termcolor==3.3.0:termcolor
      rich==15.0.0:rich markdown-it-py==4.3.0:markdown_it mdurl==0.1.2:mdurl
      pygments==2.21.0:pygments importlib_metadata==8.7.0:importlib_metadata
      zipp==4.1.2:zipp modelindex==0.0.2:modelindex
      model-index==0.1.11:model_index ordered-set==4.1.0:ordered_set
      markdown==3.11.3:markdown einops==0.8.2:einops
      packaging==26.4:packaging)
OPENCV=opencv-python-headless==4.11.0.86:cv2
BINARY=(pyyaml==6.0.4:yaml pillow==13.0.0:PIL)

if [ "${1:-}" = prepare ]; then
  shift
  versions=("$@")
  [ ${#versions[@]} -gt 0 ] || versions=("$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')")
  mkdir -p "$WHEELS"
  "$PY" -m pip download -q --no-deps --only-binary :all: -d "$WHEELS" \
    "${PURE[@]%%:*}" "${OPENCV%%:*}"
  for v in "${versions[@]}"; do
    "$PY" -m pip download -q --no-deps --only-binary :all: \
      --python-version "$v" --platform manylinux2014_x86_64 \
      --platform manylinux_2_28_x86_64 -d "$WHEELS" "${BINARY[@]%%:*}"
  done
  mib=$(du -sm "$WHEELS" | cut -f1)
  echo "[gpu_check] $WHEELS: $(ls "$WHEELS" | wc -l) wheels, ${mib} MiB (Python ${versions[*]})"
  [ "$mib" -le "$LIMIT_MIB" ] || { echo "[gpu_check] over ${LIMIT_MIB} MiB: prepare fewer Python versions" >&2; exit 1; }
  exit 0
fi

OUT=work_dirs/gpu_check
if [ $# -gt 0 ] && [ "$1" != -- ]; then OUT=$1; shift; fi
[ "${1:-}" = -- ] && shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -c 'import torch, numpy' || {
  echo "[gpu_check] $PY has no torch or numpy: set PYTHON to the interpreter that has them" >&2; exit 3; }
missing=()
for pair in "${PURE[@]}" "$OPENCV" "${BINARY[@]}"; do
  "$PY" -c "import ${pair##*:}" 2>/dev/null || missing+=("${pair%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[gpu_check] unpacking from $WHEELS: ${missing[*]}"
  "$PY" - "$WHEELS" "$tmp/site" "${missing[@]}" <<'PYEOF' || exit 3
import glob, os, re, sys, zipfile
folder, site, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
tag = 'cp%d%d' % sys.version_info[:2]
lacking = []
for spec in wanted:
    name, version = spec.split('==')
    stem = re.sub(r'[-_.]+', '_', name).lower()
    found = [w for w in glob.glob(os.path.join(folder, '*.whl'))
             if os.path.basename(w).lower().startswith(f'{stem}-{version}-')
             and (f'-{tag}-' in w or '-abi3-' in w or '-py3-' in w
                  or '-py2.py3-' in w)]
    if not found:
        lacking.append(spec)
        continue
    zipfile.ZipFile(found[0]).extractall(site)
if lacking:
    sys.exit(f'[gpu_check] no wheel in {folder} for Python '
             f'{sys.version_info[0]}.{sys.version_info[1]}: '
             f'{", ".join(lacking)}. Run "bash benchmarks/gpu_check.sh '
             f'prepare {sys.version_info[0]}.{sys.version_info[1]}" where '
             'PyPI is reachable.')
PYEOF
fi
start=$SECONDS
PYTHONPATH="$tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}" \
  timeout "${GPU_CHECK_TIMEOUT:-240}" "$PY" benchmarks/gpu_check.py --out "$OUT" "$@"
echo "[gpu_check] done in $((SECONDS - start)) s; $OUT/results.json"
