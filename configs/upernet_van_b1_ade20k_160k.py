# UperNet with VAN-B1 on ADE20K, 160k iterations.
# Paper: 44M params, 44.9 mIoU.
_base_ = './upernet_van_b2_ade20k_160k.py'
pretrained = 'https://huggingface.co/Visual-Attention-Network/VAN-Small-original/resolve/main/van_small_811.pth.tar'  # noqa

model = dict(
    backbone=dict(
        arch='b1',
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint=pretrained)),)
