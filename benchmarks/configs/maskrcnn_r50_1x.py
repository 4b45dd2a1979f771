# Baseline for benchmarks/compare_inference.py: mmdet's Mask R-CNN R-50.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
