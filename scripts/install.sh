#!/usr/bin/env bash
# Install van-mm and its OpenMMLab stack into the active Python environment.
#
#   torch (an installed torch is kept; else $TORCH_SPEC, default torch==2.13.0)
#   mmengine 0.10.7, mmdet 3.3.0, mmsegmentation 1.2.2, mmpretrain 1.2.0,
#     and setuptools<81: mmengine finds the packages of mmdet:: and mmseg::
#     config bases through pkg_resources, which setuptools 81 removed (a
#     requirement of van_mm too, which --no-deps below would skip)
#   mmcv 2.1.0 with compiled ops: OpenMMLab's prebuilt wheel where one exists
#     for the installed torch (torch 2.0/2.1), else built once from the sdist
#     and kept in $VAN_MM_WHEEL_CACHE (default ~/.cache/van_mm/wheels), one
#     folder per torch build and Python, so re-installs take
#     seconds. CUDA ops are built when torch sees a GPU (FORCE_CUDA=1 builds
#     them without one, e.g. on a login node; FORCE_CUDA=0 never).
#   safetensors, captum (Grad-CAM in tools/visualize_attention.py);
#   panopticapi (PQ for the panoptic configs, through mmdet's
#     CocoPanopticMetric): COCO's panopticapi as packaged on PyPI
#     (panopticapi-lite), without its numpy<2 pin, which its code does not
#     need (it runs on the stack's numpy 2);
#   the test extra: pytest<9 (pytest 9.2 with pytest-xdist 3.8 ignores
#   xdist_group marks: the tests of one session fixture no longer share a
#   process), pytest-xdist, ruff, tensorboard and transformers<5 (the last
#     release line with HuggingFace's VAN, for the equality tests), and the
#     deploy extra's onnx, onnxruntime and onnxscript (the export tests)
#     and the openvino extra's openvino (the OpenVINO backend's tests)
#   van_mm itself, editable
#
# Whichever way mmcv arrives, the environment ends the same: the mmcv build
# gets its build tools from a folder of its own, and a closing check that
# configs with mmdet:: and mmseg:: bases load. Safe to re-run: every step checks first. Set PYTHON to
# choose the interpreter (default python3).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY=${PYTHON:-python3}
MMCV_VERSION=2.1.0
STACK=(mmengine==0.10.7 mmdet==3.3.0 mmsegmentation==1.2.2 mmpretrain==1.2.0
       "setuptools<81" ftfy regex safetensors captum
       "pytest<9" pytest-xdist ruff tensorboard "transformers<5"  # from here: test extra
       "onnx>=1.23" "onnxruntime>=1.30" "onnxscript>=0.7" "openvino>=2026.0")
export PIP_ROOT_USER_ACTION=ignore
pip_() { "$PY" -m pip install --no-input "$@"; }
say() { printf '\n[van-mm install] %s\n' "$*"; }
start=$SECONDS

# 1. torch
if "$PY" -c 'import torch' 2>/dev/null; then
  say "keeping torch $("$PY" -c 'import torch; print(torch.__version__)')"
else
  say "installing ${TORCH_SPEC:=torch==2.13.0}"
  pip_ "$TORCH_SPEC"
fi

# 2. the OpenMMLab packages that need no compiling (none of them pulls mmcv)
say "installing ${STACK[*]}"
pip_ "${STACK[@]}"

# PQ evaluation: panopticapi needs only numpy and Pillow, which the stack has
pip_ --no-deps "panopticapi-lite==0.2.0"

# 3. mmcv with compiled ops
mmcv_ok() {
  "$PY" - <<PYEOF 2>/dev/null
import mmcv
assert mmcv.__version__ == '$MMCV_VERSION', mmcv.__version__
from mmcv.ops import nms, RoIAlign  # noqa: F401  (compiled ops load)
PYEOF
}
if mmcv_ok; then
  say "mmcv $MMCV_VERSION with ops already installed"
else
  read -r TORCH_VER CUDA_TAG PY_TAG GPU < <("$PY" -c '
import sys, torch
cuda = torch.version.cuda
print(torch.__version__.split("+")[0],
      "cu" + cuda.replace(".", "") if cuda else "cpu",
      "cp%d%d" % sys.version_info[:2], int(torch.cuda.is_available()))')
  # CUDA ops need a CUDA torch, and a GPU or FORCE_CUDA=1 (a CUDA build of
  # torch on a machine without a GPU gets CPU ops, as PyPI's torch does here)
  if [ "$CUDA_TAG" != cpu ] && [ "${FORCE_CUDA:-$GPU}" = 1 ]; then OPS=cuda; else OPS=cpu; fi
  cache="${VAN_MM_WHEEL_CACHE:-$HOME/.cache/van_mm/wheels}/torch${TORCH_VER}-${CUDA_TAG}-${PY_TAG}"
  [ "$OPS" = "${CUDA_TAG/cu*/cuda}" ] || cache="$cache-cpuops"
  wheel=$(ls "$cache"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$wheel" ]; then
    TORCH_MINOR=${TORCH_VER%.*}
    if [[ "$TORCH_MINOR" == 2.0 || "$TORCH_MINOR" == 2.1 ]] && [[ "$cache" != *-cpuops ]] &&
       pip_ --only-binary mmcv "mmcv==$MMCV_VERSION" -f \
         "https://download.openmmlab.com/mmcv/dist/$CUDA_TAG/torch$TORCH_MINOR/index.html"
    then
      say "installed OpenMMLab's prebuilt mmcv wheel"
    else
      say "building mmcv $MMCV_VERSION with $OPS ops for torch $TORCH_VER ($CUDA_TAG, $PY_TAG); about 9 minutes on 2 cores for CPU ops, once"
      # The sdist's setup.py needs torch (hence no build isolation) and
      # pkg_resources, which setuptools>=81 no longer ships. The build tools
      # go to a folder of their own, put first on PYTHONPATH for the build
      # only: the environment keeps its own setuptools, whatever its version.
      build_tools=$(mktemp -d)
      trap 'rm -rf "$build_tools"' EXIT
      pip_ numpy
      pip_ --target "$build_tools" "setuptools>=77,<81" wheel ninja
      if [ "$OPS" = cuda ]; then export FORCE_CUDA=1; else export FORCE_CUDA=0; fi
      PYTHONPATH="$build_tools${PYTHONPATH:+:$PYTHONPATH}" PATH="$build_tools/bin:$PATH" \
        MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "$PY" -m pip wheel \
        --no-deps --no-build-isolation -w "$cache" "mmcv==$MMCV_VERSION"
      wheel=$(ls "$cache"/mmcv-"$MMCV_VERSION"-*.whl | head -n 1)
    fi
  fi
  if [ -n "$wheel" ]; then
    say "installing $wheel"
    pip_ --force-reinstall --no-deps "$wheel"
    pip_ addict packaging Pillow pyyaml yapf "opencv-python>=3"
  fi
  mmcv_ok || { echo "mmcv $MMCV_VERSION with ops did not install correctly" >&2; exit 1; }
fi

# 4. van_mm, editable
say "installing van_mm (editable)"
pip_ --no-deps --no-build-isolation -e .
# install.sh of van-mm 0.1 (before December 2026) also copied a start-up
# hook into site-packages, outside pip's record of the install: remove it
"$PY" -c 'import os, sysconfig
hook = os.path.join(sysconfig.get_paths()["purelib"], "van_mm_startup.pth")
if os.path.exists(hook):
    os.remove(hook)
    print("removed", hook, "(an earlier install.sh wrote it)")'

# 5. the closing check: the stack imports, and configs with mmdet:: and
# mmseg:: bases load as the tools load them
"$PY" scripts/check_install.py
say "done in $((SECONDS - start)) s"
