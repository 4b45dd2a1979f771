#!/usr/bin/env bash
# Install van-mm and its OpenMMLab stack into the active Python environment.
#
#   torch (an installed torch is kept; else $TORCH_SPEC, default torch==2.13.0)
#   mmengine 0.10.7, mmdet 3.3.0, mmsegmentation 1.2.2, mmpretrain 1.2.0
#   mmcv 2.1.0 with compiled ops: OpenMMLab's prebuilt wheel where one exists
#     for the installed torch (torch 2.0/2.1), else built once from the sdist
#     and kept in $VAN_MM_WHEEL_CACHE (default ~/.cache/van_mm/wheels), one
#     folder per torch build, so re-installs take seconds
#   safetensors, captum (Grad-CAM in tools/visualize_attention.py);
#   the test extra: pytest and transformers<5 (the last
#     release line with HuggingFace's VAN, for the equality tests)
#   van_mm itself, editable
#
# Safe to re-run: every step checks first. Set PYTHON to choose the
# interpreter (default python3).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY=${PYTHON:-python3}
MMCV_VERSION=2.1.0
STACK=(mmengine==0.10.7 mmdet==3.3.0 mmsegmentation==1.2.2 mmpretrain==1.2.0
       ftfy regex safetensors captum
       pytest "transformers<5")  # the last two: the test extra
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
  read -r TORCH_VER CUDA_TAG PY_TAG < <("$PY" -c '
import sys, torch
cuda = torch.version.cuda
print(torch.__version__.split("+")[0],
      "cu" + cuda.replace(".", "") if cuda else "cpu",
      "cp%d%d" % sys.version_info[:2])')
  cache="${VAN_MM_WHEEL_CACHE:-$HOME/.cache/van_mm/wheels}/torch${TORCH_VER}-${CUDA_TAG}-${PY_TAG}"
  wheel=$(ls "$cache"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$wheel" ]; then
    TORCH_MINOR=${TORCH_VER%.*}
    if [[ "$TORCH_MINOR" == 2.0 || "$TORCH_MINOR" == 2.1 ]] &&
       pip_ --only-binary mmcv "mmcv==$MMCV_VERSION" -f \
         "https://download.openmmlab.com/mmcv/dist/$CUDA_TAG/torch$TORCH_MINOR/index.html"
    then
      say "installed OpenMMLab's prebuilt mmcv wheel"
    else
      say "building mmcv $MMCV_VERSION with ops for torch $TORCH_VER ($CUDA_TAG); about 9 minutes on 2 cores, once"
      # The sdist's setup.py needs pkg_resources (setuptools<81) and torch,
      # hence no build isolation.
      pip_ "setuptools>=77,<81" wheel numpy ninja
      if [ "$CUDA_TAG" = cpu ]; then export FORCE_CUDA=0; else export FORCE_CUDA=1; fi
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

"$PY" -c '
import mmcv, mmdet, mmengine, mmpretrain, mmseg, torch, van_mm
print("torch", torch.__version__, "| mmengine", mmengine.__version__,
      "| mmcv", mmcv.__version__, "| mmdet", mmdet.__version__,
      "| mmseg", mmseg.__version__, "| mmpretrain", mmpretrain.__version__,
      "| van_mm", van_mm.__version__)'
say "done in $((SECONDS - start)) s"
