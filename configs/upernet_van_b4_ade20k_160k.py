# UperNet with VAN-B4 (ImageNet-1K weights) on ADE20K, 160k iterations.
# Official: 90M params, 52.2 mIoU (multi-scale + flip), VAN-Segmentation
# README. Drop path 0.4 and 4 images per GPU: the official config
# (configs/upernet/1k_pretrained/upernet_van_b4_512x512_160k_ade20k.py,
# samples_per_gpu=4 under a comment that still says 2).
_base_ = ['./_base_/upernet_van_160k.py', './_base_/models/van_b4.py']
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.4,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    decode_head=dict(in_channels={{_base_.van.channels}}),
    auxiliary_head=dict(in_channels={{_base_.van.stage3_channels}}))
train_dataloader = dict(batch_size=4)
