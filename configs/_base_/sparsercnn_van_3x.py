# Sparse R-CNN with the VAN backbone on COCO 2017, 36 epochs (3x), 300
# proposals, crop and multi-scale (480-800) augmentation, steps after
# epochs 27 and 33: mmdet's R-50 config, which PVTv2's Sparse R-CNN 3x
# recipe follows (whai362/PVT, detection/configs/sparse_rcnn_pvt_v2_b2_fpn_
# 300_proposals_crop_mstrain_480-800_3x_coco.py). Optimizer: that recipe's,
# as mmdet's config sets it: AdamW lr 2.5e-5, weight decay 1e-4, gradient
# clipping at norm 1.0, for 16 images per step (8 GPUs x 2; other totals
# are scaled linearly by auto_scale_lr). PVTv2 trains with 2.5e-5 / 1.4
# at one image per GPU; the detectors' AdamW (lr 1e-4, weight decay 0.05)
# is not used for the dynamic heads. An arch base adds the arch.
_base_ = [
    'mmdet::sparse_rcnn/sparse-rcnn_r50_fpn_300-proposals_crop-ms-480-800-3x_coco.py',  # noqa
    './van.py',
]
custom_imports = dict(imports=['van_mm'], allow_failed_imports=False)
visualizer = dict(vis_backends={{_base_.van_vis_backends}})
custom_hooks = {{_base_.van_custom_hooks}}
model = dict(backbone={{_base_.van_backbone}})
auto_scale_lr = dict(enable=True, base_batch_size=16)
