# Sparse R-CNN with the VAN backbone on COCO 2017, 36 epochs (3x), 300
# proposals, crop and multi-scale (480-800) augmentation: mmdet's R-50
# config, with the VAN detection AdamW (configs/_base_/van.py); gradient
# clipping as mmdet's config. An arch base adds the arch.
_base_ = [
    'mmdet::sparse_rcnn/sparse-rcnn_r50_fpn_300-proposals_crop-ms-480-800-3x_coco.py',  # noqa
    './van.py',
]
custom_imports = dict(imports=['van_mm'], allow_failed_imports=False)
visualizer = dict(vis_backends={{_base_.van_vis_backends}})
custom_hooks = {{_base_.van_custom_hooks}}
model = dict(backbone={{_base_.van_backbone}})
optim_wrapper = dict(
    optimizer={{_base_.van_det_optim_wrapper.optimizer}},
    paramwise_cfg={{_base_.van_det_optim_wrapper.paramwise_cfg}})
auto_scale_lr = dict(enable=True, base_batch_size=16)
