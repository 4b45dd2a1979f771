# Semantic FPN with VAN-B1 on ADE20K, 40k iterations.
# Paper: 18M params, 35G FLOPs, 42.9 mIoU (single scale).
# Drop path 0.2: the official VAN-Segmentation config
# (configs/sem_fpn/fpn_van_b1_ade20k_40k.py).
_base_ = ['./_base_/fpn_van_40k.py', './_base_/models/van_b1.py']
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    neck=dict(in_channels={{_base_.van.channels}}))
