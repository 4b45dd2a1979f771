# RetinaNet with VAN-B2 on COCO 2017, 12 epochs (1x).
# Paper: 36.3M params, 44.9 AP.
# Drop path 0.2: the paper does not give the detection rates; 0.1/0.1/0.2/0.3
# for B0-B3 are this project's choice (mmdet's Swin-T detectors use 0.2).
_base_ = ['./_base_/retinanet_van_1x.py', './_base_/models/van_b2.py']
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    neck=dict(in_channels={{_base_.van.channels}}))
