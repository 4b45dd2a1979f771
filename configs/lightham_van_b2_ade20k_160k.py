# Light-Ham with VAN-B2 on ADE20K, 160k iterations
# (configs/_base_/lightham_van_160k.py).
# Published (Gsunshine/Enjoy-Hamburger, seg_light_ham README; FLOPs at
# 512x512; SegNeXt issue 4): VAN-Base + Light-Ham, 27.4M params, 34.4G
# FLOPs, 49.6 mIoU (multi-scale). Head width 512, NMF rank 64 (the head's
# default there), drop path 0.1: that config
# (seg_light_ham/configs/ham/hamnet_light_van_base_512x512_160k_ade20k.py;
# 0.1 is its VAN's default); width 512 is also SegNeXt-B's.
_base_ = ['./_base_/lightham_van_160k.py', './_base_/models/van_b2.py']
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    decode_head=dict(
        in_channels={{_base_.van.stage234_channels}},
        channels=512,
        ham_channels=512,
        ham_kwargs=dict(MD_R=64)))
