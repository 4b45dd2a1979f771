# Semantic FPN with VAN-B3 on ADE20K, 40k iterations.
# Paper: 49M params, 68G FLOPs, 48.1 mIoU (single scale).
# Drop path 0.3: the official VAN-Segmentation config
# (configs/sem_fpn/fpn_van_b3_ade20k_40k.py).
_base_ = ['./_base_/fpn_van_40k.py', './_base_/models/van_b3.py']
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    neck=dict(in_channels={{_base_.van.channels}}))
