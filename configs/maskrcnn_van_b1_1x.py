# Mask R-CNN with VAN-B1 on COCO 2017, 12 epochs (1x).
# Paper: 33.5M params, 42.6 box AP / 38.9 mask AP.
# Drop path 0.1: the paper does not give the detection rates; 0.1/0.1/0.2/0.3
# for B0-B3 are this project's choice (mmdet's Swin-T detectors use 0.2).
_base_ = ['./_base_/maskrcnn_van_1x.py', './_base_/models/van_b1.py']
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    neck=dict(in_channels={{_base_.van.channels}}))
