# Semantic FPN with VAN-B4 (ImageNet-1K weights) on ADE20K, 40k iterations.
# No published result or trained checkpoint (the VAN-Segmentation README
# lists B0-B3). Drop path 0.4: the official config
# (configs/sem_fpn/fpn_van_b4_ade20k_40k.py).
_base_ = ['./_base_/fpn_van_40k.py', './_base_/models/van_b4.py']
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.4,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    neck=dict(in_channels={{_base_.van.channels}}))
