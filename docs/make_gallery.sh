#!/usr/bin/env bash
# Re-make the pictures in docs/gallery/ (README's quick-start and demo page,
# docs/tools.md's gallery) with the tools, on the generated data. Needs the quick-start model (bash scripts/setup.sh
# or scripts/quickstart.sh), the detection benchmark model
# (benchmarks/det_shapes.sh) and a Semantic FPN VAN-B0 trained on the scenes:
#   python tools/train.py configs/scenes/fpn_van_b0_scenes.py \
#     --work-dir work_dirs/gallery_scenes --cfg-options train_cfg.max_iters=300 \
#     default_hooks.checkpoint.interval=300 val_cfg=None val_dataloader=None val_evaluator=None
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
OUT=docs/gallery
DET=configs/shapes/maskrcnn_van_b0_shapes.py
SEG=configs/scenes/fpn_van_b0_scenes.py
DET_CKPT=${DET_CKPT:-$(cat work_dirs/bench_det_shapes/last_checkpoint)}
SEG_CKPT=${SEG_CKPT:-work_dirs/gallery_scenes/iter_300.pth}
IMG=data/shapes/val2017/val_00003.jpg
SCENE=data/scenes/images/validation/ADE_validation_00000003.jpg
mkdir -p "$OUT"

"$PY" tools/demo.py "$IMG" "$DET" "$DET_CKPT" --out "$OUT/demo_det.png"
"$PY" tools/demo.py "$SCENE" "$SEG" "$SEG_CKPT" --out "$OUT/demo_seg.png"
"$PY" tools/visualize_attention.py "$IMG" --config "$DET" --checkpoint "$DET_CKPT" \
  --method lka --out "$OUT/lka_det.png"
"$PY" tools/visualize_attention.py "$IMG" --config "$DET" --checkpoint "$DET_CKPT" \
  --method gradcam --out "$OUT/gradcam_det.png"
"$PY" tools/visualize_attention.py "$SCENE" --config "$SEG" --checkpoint "$SEG_CKPT" \
  --method gradcam --out "$OUT/gradcam_seg.png"
"$PY" tools/browse_dataset.py "$DET" --out-dir work_dirs/browse_det --num 1
cp work_dirs/browse_det/000_*.png "$OUT/browse_det.png"
"$PY" tools/plot_curves.py work_dirs/quickstart work_dirs/bench_det_shapes \
  --keys loss loss_mask lr --out "$OUT/curves_det.png"
# README's quick-start picture: the first six held-out images as the
# quick-start's tools/test.py --show-dir painted them
"$PY" - work_dirs/quickstart/show "$OUT/quickstart.png" <<'PYEOF'
import glob, os.path as osp, sys
import numpy as np
from PIL import Image
paths = sorted(p for p in glob.glob(osp.join(sys.argv[1], '**', '*.*'),
                                    recursive=True)
               if p.endswith(('.jpg', '.png')))[:6]
if len(paths) < 6:
    sys.exit(f'{sys.argv[1]}: {len(paths)} painted images; run the '
             'quick-start (scripts/quickstart.sh) first')
# each painted image is ground truth (left) | prediction (right)
tiles = [np.asarray(Image.open(p).convert('RGB')) for p in paths]
rows = [np.concatenate(tiles[i:i + 2], axis=1) for i in (0, 2, 4)]
Image.fromarray(np.concatenate(rows, axis=0)).save(sys.argv[2])
PYEOF
# README's demo page: tools/web_demo.py on the quick-start model, the page
# in headless Chromium after IMG was picked (needs chromium and
# chromium-driver)
QS_CKPT=${QS_CKPT:-work_dirs/quickstart/iter_500.pth}
"$PY" tests/webdriver.py "$OUT/web_demo.png" "$IMG" \
  configs/shapes/maskrcnn_van_b0_shapes_quickstart.py "$QS_CKPT"
# keep the committed pictures small: 256-colour palette PNGs
"$PY" - "$OUT"/*.png <<'PYEOF'
import sys
from PIL import Image
for path in sys.argv[1:]:
    Image.open(path).convert('RGB').quantize(256).save(path, optimize=True)
PYEOF
