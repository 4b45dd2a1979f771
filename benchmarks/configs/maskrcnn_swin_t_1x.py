# Baseline for benchmarks/compare_inference.py: mmdet's Mask R-CNN Swin-T.
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
