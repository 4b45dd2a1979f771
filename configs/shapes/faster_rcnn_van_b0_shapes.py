# Faster R-CNN VAN-B0 trained from scratch on the generated shapes
# (configs/shapes/_base_/shapes_box.py): the framework of
# configs/_base_/faster_rcnn_van_1x.py with the data and schedule of the
# shapes. Used by the tool tests.
_base_ = [
    '../_base_/faster_rcnn_van_1x.py',
    '../_base_/models/van_b0.py',
    './_base_/shapes_box.py',
]
model = dict(
    backbone=dict(  # from scratch: no ImageNet weights, BN, no drop path
        arch={{_base_.van.arch}},
        drop_path_rate=0.,
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=None),
    neck=dict(in_channels={{_base_.van.channels}}),
    roi_head=dict(
        # 2x2 samples per RoIAlign bin, as maskrcnn_van_b0_shapes.py
        bbox_roi_extractor=dict(roi_layer=dict(sampling_ratio=2)),
        bbox_head=dict(num_classes=3)))
train_dataloader = {{_base_.shapes_train_dataloader}}
val_dataloader = {{_base_.shapes_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.shapes_evaluator}}
test_evaluator = val_evaluator
train_cfg = {{_base_.shapes_train_cfg}}
param_scheduler = {{_base_.shapes_param_scheduler}}
optim_wrapper = dict(optimizer=dict(lr=1e-3))
auto_scale_lr = dict(enable=False)
default_hooks = {{_base_.shapes_default_hooks}}
log_processor = dict(by_epoch=False)
