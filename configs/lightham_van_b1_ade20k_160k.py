# Light-Ham with VAN-B1 on ADE20K, 160k iterations
# (configs/_base_/lightham_van_160k.py).
# Published (Gsunshine/Enjoy-Hamburger, seg_light_ham README; FLOPs at
# 512x512; SegNeXt issue 4): VAN-Small + Light-Ham-D256, 13.8M params,
# 15.8G FLOPs, 45.2 mIoU (multi-scale). Head width 256 and NMF rank 16:
# that README's D256 head, as in its hamnet_light_van_tiny_d256_512x512_
# 160k_ade20k.py (SegNeXt-S's head has the same); drop path 0.1: the
# default of its VAN-Small.
_base_ = ['./_base_/lightham_van_160k.py', './_base_/models/van_b1.py']
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
