# Sparse R-CNN with VAN-B2 on COCO 2017, 36 epochs, 300 proposals, crop and
# multi-scale (480-800) augmentation: mmdet's R-50 config with VAN-B2 and
# AdamW as in SPEC section 3 (gradient clipping kept from mmdet's config).
# No published number in the paper; about 108M params.
_base_ = [
    'mmdet::sparse_rcnn/sparse-rcnn_r50_fpn_300-proposals_crop-ms-480-800-3x_coco.py',  # noqa
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

optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=1e-4,
        betas=(0.9, 0.999),
        weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.,
        custom_keys={'layer_scale': dict(decay_mult=0.)}))
auto_scale_lr = dict(enable=True, base_batch_size=16)
