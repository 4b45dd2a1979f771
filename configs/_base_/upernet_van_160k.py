# UperNet with the VAN backbone on ADE20K, 512x512 crops, 160k iterations,
# 8 GPUs x 2 images; AdamW lr 6e-5 (betas 0.9/0.999), weight decay 0.01,
# none on norms, 1500-iteration linear warm-up then poly (power 1.0);
# decode channels 512 and an auxiliary FCN head on stage 3 (loss weight
# 0.4): the official VAN-Segmentation config
# (configs/upernet/1k_pretrained/upernet_van_*_512x512_160k_ade20k.py), which
# follows Swin's. An arch base adds the arch.
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    './ade20k_van.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
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
    decode_head=dict(channels=512, num_classes=150),
    auxiliary_head=dict(in_index=2, num_classes=150))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', eta_min=0., power=1.0, begin=1500, end=160000,
         by_epoch=False)
]
train_dataloader = dict(batch_size=2)
