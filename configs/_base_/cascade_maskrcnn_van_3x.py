# Cascade Mask R-CNN with the VAN backbone on COCO 2017, 36 epochs (3x),
# multi-scale and crop augmentation, 4conv1fc box heads with GIoU loss:
# mmdet's ConvNeXt-T 3x config, with the VAN detection AdamW
# (configs/_base_/van.py) in place of ConvNeXt's layer-wise decay and AMP
# wrapper. An arch base adds the arch.
_base_ = [
    'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py',  # noqa
    './van.py',
]
custom_imports = dict(imports=['van_mm'], allow_failed_imports=False)
visualizer = dict(vis_backends={{_base_.van_vis_backends}})
custom_hooks = {{_base_.van_custom_hooks}}
model = dict(backbone={{_base_.van_backbone}})
optim_wrapper = {{_base_.van_det_optim_wrapper}}
auto_scale_lr = dict(enable=True, base_batch_size=16)
