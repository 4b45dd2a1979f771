# Sparse R-CNN with VAN-B2 on COCO 2017, 36 epochs (3x), 300 proposals.
# No published number in the paper; about 108M params.
# Drop path 0.2, as the other VAN-B2 detectors (this project's choice).
_base_ = ['./_base_/sparsercnn_van_3x.py', './_base_/models/van_b2.py']
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    neck=dict(in_channels={{_base_.van.channels}}))
