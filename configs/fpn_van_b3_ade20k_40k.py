# Semantic FPN with VAN-B3 on ADE20K, 40k iterations.
# Paper: 49M params, 68G FLOPs, 48.1 mIoU.
_base_ = './fpn_van_b2_ade20k_40k.py'
pretrained = 'https://huggingface.co/Visual-Attention-Network/VAN-Large-original/resolve/main/van_large_839.pth.tar'  # noqa

model = dict(
    backbone=dict(
        arch='b3',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint=pretrained)),)
