# Light-Ham with VAN-B0 on ADE20K, 160k iterations
# (configs/_base_/lightham_van_160k.py).
# Published (Gsunshine/Enjoy-Hamburger, seg_light_ham README; FLOPs at
# 512x512): VAN-Tiny + Light-Ham-D256, 4.2M params, 6.5G FLOPs, 40.9 mIoU
# (multi-scale). Head width 256, NMF rank 16, drop path 0.1: that config
# (seg_light_ham/configs/ham/hamnet_light_van_tiny_d256_512x512_160k_ade20k
# .py; 0.1 is its VAN's default); 256 and 16 are also SegNeXt-T's.
_base_ = ['./_base_/lightham_van_160k.py', './_base_/models/van_b0.py']
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    decode_head=dict(
        in_channels={{_base_.van.stage234_channels}},
        channels=256,
        ham_channels=256,
        ham_kwargs=dict(MD_R=16)))
