# Cascade Mask R-CNN with VAN-B2 on COCO 2017, 36 epochs (3x).
# Paper: 84M params, 752G FLOPs at 1280x800, 52.0 / 70.9 / 56.4 box AP /
# AP50 / AP75. Drop path 0.2, as the other VAN-B2 detectors (the paper
# does not give it; this project's choice).
_base_ = [
    './_base_/cascade_maskrcnn_van_3x.py',
    './_base_/models/van_b2.py',
]
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    neck=dict(in_channels={{_base_.van.channels}}))
