#!/usr/bin/env bash
# Benchmark "it learns": Mask R-CNN VAN-B0 from scratch on generated shapes.
#
#   bash benchmarks/det_shapes.sh [WORK_DIR]
#
# 160 training / 40 held-out validation images (256x192, seed 0) are
# written to data/shapes/, the model trains for the config's 650 iterations
# (batch 4) with tools/train.py, tools/test.py reports bbox and segm mAP on
# the validation images, and the loss curve goes to docs/det_shapes_loss.png.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
CONFIG=configs/shapes/maskrcnn_van_b0_shapes.py
WORK=${1:-work_dirs/bench_det_shapes}

"$PY" tools/make_synthetic_data.py coco data/shapes --num-train 160 --num-val 40
start=$SECONDS
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK" \
  --cfg-options val_cfg=None val_dataloader=None val_evaluator=None
echo "[benchmark] training took $((SECONDS - start)) s"
"$PY" tools/test.py "$CONFIG" "$(cat "$WORK/last_checkpoint")" --work-dir "$WORK"
"$PY" tools/plot_curves.py "$WORK" --keys loss loss_mask lr \
  --out docs/det_shapes_loss.png
