# Shared by the VAN detection configs: 12 epochs, AdamW as in SPEC section 3
# (lr 1e-4, weight decay 0.05, none on norms and layer scales), 1000-iter
# warm-up, steps at epochs 8 and 11; 16 images per step (8 GPUs x 2), scaled
# linearly for other totals by auto_scale_lr.
_base_ = [
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    './tensorboard.py',
]
custom_imports = dict(imports=['van_mm'], allow_failed_imports=False)
visualizer = dict(vis_backends={{_base_.van_vis_backends}})

optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=1e-4,
        betas=(0.9, 0.999),
        weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.,
        custom_keys={'layer_scale': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True,
         milestones=[8, 11], gamma=0.1)
]
auto_scale_lr = dict(enable=True, base_batch_size=16)
