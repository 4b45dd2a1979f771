# Semantic FPN with VAN-B1 on ADE20K, 40k iterations.
# Paper: 18M params, 35G FLOPs, 42.9 mIoU.
_base_ = './fpn_van_b2_ade20k_40k.py'
pretrained = 'https://huggingface.co/Visual-Attention-Network/VAN-Small-original/resolve/main/van_small_811.pth.tar'  # noqa

model = dict(
    backbone=dict(
        arch='b1',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint=pretrained)),)
