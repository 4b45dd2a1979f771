# RetinaNet with VAN-B2 on COCO 2017, 12 epochs; PVT-style FPN (P3-P7 from
# stages 2-4, extra convs on the input). Paper: 36.3M params, 44.9 AP.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    './_base_/van_det_1x.py',
]
pretrained = 'https://huggingface.co/Visual-Attention-Network/VAN-Base-original/resolve/main/van_base_828.pth.tar'  # noqa

model = dict(
    backbone=dict(
        _delete_=True,
        type='VAN',
        arch='b2',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(
        in_channels=[64, 128, 320, 512],
        start_level=1,
        add_extra_convs='on_input',
        num_outs=5))
