# Faster R-CNN (mmdet's R-50-FPN model with the VAN backbone) on COCO 2017
# detection, 1x schedule: the settings of the Mask R-CNN 1x configs
# (configs/_base_/maskrcnn_van_1x.py) without the mask branch, as users
# asked upstream (mmdetection issue 7805). An arch base adds the arch.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    './det_adamw_1x.py',
]
model = dict(backbone={{_base_.van_backbone}})
