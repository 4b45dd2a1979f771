# Light-Ham with VAN-B3 on ADE20K, 160k iterations
# (configs/_base_/lightham_van_160k.py).
# Published (Gsunshine/Enjoy-Hamburger, seg_light_ham README; FLOPs at
# 512x512): VAN-Large + Light-Ham, 45.6M params, 55.0G FLOPs, 51.0 mIoU
# (multi-scale). Head width 512, NMF rank 64 (the head's default there),
# drop path 0.25: that config
# (seg_light_ham/configs/ham/hamnet_light_van_large_512x512_160k_ade20k.py).
_base_ = ['./_base_/lightham_van_160k.py', './_base_/models/van_b3.py']
model = dict(
    backbone=dict(
        arch={{_base_.van.arch}},
        drop_path_rate=0.25,
        init_cfg=dict(checkpoint={{_base_.van.pretrained}})),
    decode_head=dict(
        in_channels={{_base_.van.stage234_channels}},
        channels=512,
        ham_channels=512,
        ham_kwargs=dict(MD_R=64)))
