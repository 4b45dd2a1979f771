# ATSS with VAN-B2 on COCO 2017, 36 epochs (3x) with crop and multi-scale
# training (configs/_base_/atss_van_3x.py).
# Paper: 34M params, 221G FLOPs at 1280x800, 50.2 / 69.3 / 55.1 box AP /
# AP50 / AP75. Drop path 0.2: the paper does not give it; as the other
# VAN-B2 detectors (this project's choice).
_base_ = ['./_base_/atss_van_3x.py', './_base_/models/van_b2.py']
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    neck=dict(in_channels={{_base_.van.channels}}))
