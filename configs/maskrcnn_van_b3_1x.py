# Mask R-CNN with VAN-B3 on COCO 2017, 12 epochs.
# Paper: 64.4M params, 48.3 AP box / 43.4 AP mask.
_base_ = './maskrcnn_van_b2_1x.py'
pretrained = 'https://huggingface.co/Visual-Attention-Network/VAN-Large-original/resolve/main/van_large_839.pth.tar'  # noqa

model = dict(
    backbone=dict(
        arch='b3',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint=pretrained)))
