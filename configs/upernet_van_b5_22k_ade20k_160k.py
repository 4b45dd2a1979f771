# UperNet with VAN-B5 (ImageNet-22K weights) on ADE20K, 160k iterations.
# Official: 53.9 mIoU (multi-scale + flip), VAN-Segmentation README, which
# also says 117M params and 1208G FLOPs; built with its config's settings
# (as here) the model has 121.9M (the backbone alone is the paper's 90M) at
# 1205G FLOPs.
# Drop path 0.4: the official config
# (configs/upernet/22k_pretrained/upernet_van_b5_512x512_160k_ade20k_22k.py).
_base_ = ['./_base_/upernet_van_160k.py', './_base_/models/van_b5_22k.py']
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.4,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    decode_head=dict(in_channels={{_base_.van.channels}}),
    auxiliary_head=dict(in_channels={{_base_.van.stage3_channels}}))
