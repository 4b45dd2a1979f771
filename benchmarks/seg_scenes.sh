#!/usr/bin/env bash
# Benchmark "it learns": Semantic FPN VAN-B0 from scratch on generated scenes.
#
#   bash benchmarks/seg_scenes.sh [WORK_DIR]
#
# 160 training / 40 held-out validation images (256x192, seed 0, ADE20K
# layout) are written to data/scenes/, the model trains for the config's
# 800 iterations (batch 4) with tools/train.py, tools/test.py reports mIoU
# on the validation images, and the loss curve goes to
# docs/seg_scenes_loss.png.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
CONFIG=configs/scenes/fpn_van_b0_scenes.py
WORK=${1:-work_dirs/bench_seg_scenes}

"$PY" tools/make_synthetic_data.py ade data/scenes --num-train 160 --num-val 40
start=$SECONDS
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK" \
  --cfg-options val_cfg=None val_dataloader=None val_evaluator=None
echo "[benchmark] training took $((SECONDS - start)) s"
"$PY" tools/test.py "$CONFIG" "$(cat "$WORK/last_checkpoint")" --work-dir "$WORK"
"$PY" tools/plot_curves.py "$WORK" --keys loss lr --out docs/seg_scenes_loss.png
