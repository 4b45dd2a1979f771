# Baseline for benchmarks/compare_inference.py: Semantic FPN with mmseg's
# Swin-T (the settings of mmseg's swin-tiny UperNet config) in place of VAN.
_base_ = '../../configs/fpn_van_b0_ade20k_40k.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',
        embed_dims=96,
        depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24],
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.3,
        patch_norm=True),
    neck=dict(in_channels=[96, 192, 384, 768]))
