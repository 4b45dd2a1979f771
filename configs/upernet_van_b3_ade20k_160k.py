# UperNet with VAN-B3 on ADE20K, 160k iterations.
# Paper: 75M params, 50.6 mIoU (multi-scale + flip).
# Drop path 0.3: the official VAN-Segmentation config
# (configs/upernet/1k_pretrained/upernet_van_b3_512x512_160k_ade20k.py).
_base_ = ['./_base_/upernet_van_160k.py', './_base_/models/van_b3.py']
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    decode_head=dict(in_channels={{_base_.van.channels}}),
    auxiliary_head=dict(in_channels={{_base_.van.stage3_channels}}))
