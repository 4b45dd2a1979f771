# The VAN detection schedule, 1x: 12 epochs with AdamW (configs/_base_/van.py:
# lr 1e-4, weight decay 0.05) for 16 images per step (8 GPUs x 2; other
# totals are scaled linearly by auto_scale_lr), a 1000-iteration linear
# warm-up and x0.1 steps after epochs 8 and 11, as mmdet's Swin-T Mask R-CNN
# 1x config (swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py).
_base_ = [
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    './van.py',
]
custom_imports = dict(imports=['van_mm'], allow_failed_imports=False)
visualizer = dict(vis_backends={{_base_.van_vis_backends}})
custom_hooks = {{_base_.van_custom_hooks}}
optim_wrapper = {{_base_.van_det_optim_wrapper}}
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True,
         milestones=[8, 11], gamma=0.1)
]
auto_scale_lr = dict(enable=True, base_batch_size=16)
