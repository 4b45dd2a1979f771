# UperNet with VAN-B6 (ImageNet-22K weights) on ADE20K, 160k iterations.
# Official: 231M params, 54.7 mIoU (multi-scale + flip), VAN-Segmentation
# README. Drop path 0.5: the official config
# (configs/upernet/22k_pretrained/upernet_van_b6_512x512_160k_ade20k_22k.py).
_base_ = ['./_base_/upernet_van_160k.py', './_base_/models/van_b6_22k.py']
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.5,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    decode_head=dict(in_channels={{_base_.van.channels}}),
    auxiliary_head=dict(in_channels={{_base_.van.stage3_channels}}))
