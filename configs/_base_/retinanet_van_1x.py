# RetinaNet (mmdet's R-50-FPN model with the VAN backbone) on COCO 2017
# detection, 1x schedule; optimizer, schedule and batch: the paper's 1x
# setting (configs/_base_/det_adamw_1x.py). The FPN is PVT's for RetinaNet
# (P3-P7 from stages 2-4, extra convs on the input), as the paper follows
# PVT's detection settings. An arch base adds the arch. tools/test.py
# --tta: mmdet's RetinaNet test-time augmentation (3 scales x flip, boxes
# merged by NMS).
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::retinanet/retinanet_tta.py',
    './det_adamw_1x.py',
]
model = dict(
    backbone={{_base_.van_backbone}},
    neck=dict(start_level=1, add_extra_convs='on_input', num_outs=5))
