# Semantic FPN with VAN-B2 on ADE20K, 512x512 crops, 40k iterations, 8 GPUs
# x 4 images; AdamW 2e-4, weight decay 1e-4, poly (power 0.9) as the
# official VAN-Segmentation. Paper: 30M params, 48G FLOPs, 46.7 mIoU.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_40k.py',
    './_base_/tensorboard.py',
]
custom_imports = dict(imports=['van_mm'], allow_failed_imports=False)
visualizer = dict(vis_backends={{_base_.van_vis_backends}})
pretrained = 'https://huggingface.co/Visual-Attention-Network/VAN-Base-original/resolve/main/van_base_828.pth.tar'  # noqa
crop_size = (512, 512)

model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='VAN',
        arch='b2',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 320, 512], out_channels=256),
    decode_head=dict(channels=128, num_classes=150))

optim_wrapper = dict(
    optimizer=dict(
        _delete_=True, type='AdamW', lr=2e-4, weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0., begin=0, end=40000,
         by_epoch=False)
]
