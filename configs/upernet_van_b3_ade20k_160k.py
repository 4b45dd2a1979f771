# UperNet with VAN-B3 on ADE20K, 160k iterations.
# Paper: 75M params, 50.6 mIoU.
_base_ = './upernet_van_b2_ade20k_160k.py'
pretrained = 'https://huggingface.co/Visual-Attention-Network/VAN-Large-original/resolve/main/van_large_839.pth.tar'  # noqa

model = dict(
    backbone=dict(
        arch='b3',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint=pretrained)),)
