# Cascade Mask R-CNN with VAN-B2 on COCO 2017, 36 epochs, multi-scale and
# crop augmentation, 4conv1fc box heads with GIoU loss: mmdet's ConvNeXt-T 3x
# config with VAN-B2 and AdamW as in SPEC section 3.
# Paper: 84M params, 752G FLOPs at 1280x800, 52.0 / 70.9 / 56.4 AP box.
_base_ = [
    'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py',  # noqa
    './_base_/tensorboard.py',
]
custom_imports = dict(imports=['van_mm'], allow_failed_imports=False)
visualizer = dict(vis_backends={{_base_.van_vis_backends}})
pretrained = 'https://huggingface.co/Visual-Attention-Network/VAN-Base-original/resolve/main/van_base_828.pth.tar'  # noqa

model = dict(
    backbone=dict(
        _delete_=True,
        type='VAN',
        arch='b2',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 320, 512]))

# ConvNeXt's layer-wise decay and AMP wrapper replaced by plain AdamW.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.,
        custom_keys={'layer_scale': dict(decay_mult=0.)}))
auto_scale_lr = dict(enable=True, base_batch_size=16)
