#!/usr/bin/env bash
# The quick-start: Mask R-CNN VAN-B0 on a generated shapes dataset, no
# download needed. Under 10 minutes on 2 CPU cores:
#   1. write 160 training / 40 validation COCO-format images to data/shapes/
#   2. train 150 iterations from scratch with tools/train.py
#   3. evaluate with tools/test.py (COCO bbox and segm mAP) and paint the
#      predictions into work_dirs/quickstart/show/
# A few minutes of training only starts the learning; benchmarks/det_shapes.sh
# trains the same model for 650 iterations.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
CONFIG=configs/shapes/maskrcnn_van_b0_shapes.py
WORK=work_dirs/quickstart
ITERS=${QUICKSTART_ITERS:-150}
start=$SECONDS

"$PY" tools/make_synthetic_data.py coco data/shapes --num-train 160 --num-val 40
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK" --cfg-options \
  train_cfg.max_iters="$ITERS" default_hooks.checkpoint.interval="$ITERS" \
  val_cfg=None val_dataloader=None val_evaluator=None
"$PY" tools/test.py "$CONFIG" "$WORK/iter_$ITERS.pth" --work-dir "$WORK" \
  --show-dir "$(pwd)/$WORK/show"
echo "[quick-start] done in $((SECONDS - start)) s; predictions painted in $WORK/show/"
