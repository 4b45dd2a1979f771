# Mask2Former with VAN-B2 on COCO 2017 panoptic segmentation, about 50
# epochs (configs/_base_/mask2former_van_panoptic_50e.py). No published
# VAN-B2 number to compare with: the paper's panoptic result is VAN-B6's.
# For scale: mmdet's Swin-T Mask2Former (a backbone of VAN-B2's size)
# reaches 53.4 PQ (its metafile). Drop path 0.3: as that Swin-T config.
_base_ = [
    './_base_/mask2former_van_panoptic_50e.py',
    './_base_/models/van_b2.py',
]
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    panoptic_head=dict(in_channels={{_base_.van.channels}}))
