# Mask R-CNN (mmdet's R-50-FPN model with the VAN backbone) on COCO 2017
# instance segmentation, 1x schedule; optimizer, schedule and batch: the
# paper's 1x setting (configs/_base_/det_adamw_1x.py). Data: mmdet's COCO
# instance pipeline (1333x800, flip). An arch base adds the arch.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    './det_adamw_1x.py',
]
model = dict(backbone={{_base_.van_backbone}})
