# RetinaNet with VAN-B1 on COCO 2017, 12 epochs. Paper: 23.6M params, 42.3 AP.
_base_ = './retinanet_van_b2_1x.py'
pretrained = 'https://huggingface.co/Visual-Attention-Network/VAN-Small-original/resolve/main/van_small_811.pth.tar'  # noqa

model = dict(
    backbone=dict(
        arch='b1',
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint=pretrained)))
