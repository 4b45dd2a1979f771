# RetinaNet with VAN-B0 on COCO 2017, 12 epochs. Paper: 13.4M params, 38.8 AP.
_base_ = './retinanet_van_b2_1x.py'
pretrained = 'https://huggingface.co/Visual-Attention-Network/VAN-Tiny-original/resolve/main/van_tiny_754.pth.tar'  # noqa

model = dict(
    backbone=dict(
        arch='b0',
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[32, 64, 160, 256]))
