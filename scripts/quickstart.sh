#!/usr/bin/env bash
# The quick-start: Mask R-CNN VAN-B0 trained from scratch on a generated
# shapes dataset, no download needed:
#   1. write 160 training / 40 validation COCO-format images (256x192) of
#      circles, squares and triangles to data/shapes/
#   2. train configs/shapes/maskrcnn_van_b0_shapes_quickstart.py with
#      tools/train.py: 500 iterations, batch 4, lighter FPN/heads than the
#      benchmark config (see the config's header for what was measured)
#   3. evaluate the 40 held-out images with tools/test.py (COCO bbox and
#      segm mAP) and paint the predictions into work_dirs/quickstart/show/
# Expect bbox mAP around 0.4 (README gives the measured runs and times).
# QUICKSTART_ITERS=N trains N iterations instead (LR step at 85% of N).
# benchmarks/det_shapes.sh trains the heavier maskrcnn_van_b0_shapes.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
CONFIG=configs/shapes/maskrcnn_van_b0_shapes_quickstart.py
WORK=work_dirs/quickstart
ITERS=${QUICKSTART_ITERS:-500}
start=$SECONDS

"$PY" tools/make_synthetic_data.py coco data/shapes --num-train 160 --num-val 40
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK" --cfg-options \
  train_cfg.max_iters="$ITERS" default_hooks.checkpoint.interval="$ITERS" \
  param_scheduler.1.end="$ITERS" \
  "param_scheduler.1.milestones=[$((ITERS * 85 / 100))]" \
  val_cfg=None val_dataloader=None val_evaluator=None
"$PY" tools/test.py "$CONFIG" "$WORK/iter_$ITERS.pth" --work-dir "$WORK" \
  --show-dir "$(pwd)/$WORK/show"
echo "[quick-start] done in $((SECONDS - start)) s; predictions painted in $WORK/show/"
