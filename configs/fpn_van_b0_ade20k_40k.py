# Semantic FPN with VAN-B0 on ADE20K, 40k iterations.
# Paper: 8M params, 26G FLOPs, 38.5 mIoU.
_base_ = './fpn_van_b2_ade20k_40k.py'
pretrained = 'https://huggingface.co/Visual-Attention-Network/VAN-Tiny-original/resolve/main/van_tiny_754.pth.tar'  # noqa

model = dict(
    backbone=dict(
        arch='b0',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[32, 64, 160, 256]))
