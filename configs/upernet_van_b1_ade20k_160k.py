# UperNet with VAN-B1 on ADE20K, 160k iterations.
# Paper: 44M params, 44.9 mIoU (multi-scale + flip).
# Drop path 0.1: the default of the official VAN-Segmentation backbone,
# which its UperNet configs for B0-B2 keep.
_base_ = ['./_base_/upernet_van_160k.py', './_base_/models/van_b1.py']
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    decode_head=dict(in_channels={{_base_.van.channels}}),
    auxiliary_head=dict(in_channels={{_base_.van.stage3_channels}}))
