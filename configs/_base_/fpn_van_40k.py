# Semantic FPN with the VAN backbone on ADE20K, 512x512 crops, 40k
# iterations, 8 GPUs x 4 images; AdamW lr 2e-4, weight decay 1e-4, poly
# (power 0.9); FPN out 256, FPNHead channels 128: the official
# VAN-Segmentation config (configs/sem_fpn/fpn_van_*_ade20k_40k.py). An
# arch base adds the arch.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    './ade20k_van.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_40k.py',
    './van.py',
]
custom_imports = dict(imports=['van_mm'], allow_failed_imports=False)
visualizer = dict(vis_backends={{_base_.van_vis_backends}})
custom_hooks = {{_base_.van_custom_hooks}}
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone={{_base_.van_backbone}},
    neck=dict(out_channels=256),
    decode_head=dict(channels=128, num_classes=150))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0., begin=0, end=40000,
         by_epoch=False)
]
