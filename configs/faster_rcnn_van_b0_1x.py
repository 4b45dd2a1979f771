# Faster R-CNN with VAN-B0 on COCO 2017, 12 epochs (1x), settings as
# configs/maskrcnn_van_b0_1x.py. The paper has no Faster R-CNN result.
# Drop path 0.1: as the Mask R-CNN configs (the paper does not give the
# detection rates; 0.1/0.1/0.2/0.3 for B0-B3 are this project's choice).
_base_ = ['./_base_/faster_rcnn_van_1x.py', './_base_/models/van_b0.py']
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    neck=dict(in_channels={{_base_.van.channels}}))
