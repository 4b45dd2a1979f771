# UperNet with VAN-B0 on ADE20K, 160k iterations.
# Paper: 32M params, 41.1 mIoU.
_base_ = './upernet_van_b2_ade20k_160k.py'
pretrained = 'https://huggingface.co/Visual-Attention-Network/VAN-Tiny-original/resolve/main/van_tiny_754.pth.tar'  # noqa

model = dict(
    backbone=dict(
        arch='b0',
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=[32, 64, 160, 256]),
    auxiliary_head=dict(in_channels=160))
