# Mask R-CNN VAN-B0 trained from scratch on the synthetic shapes set
# (van_mm.synthetic.make_coco_shapes: circles, squares, triangles on
# textured backgrounds, 256x192), sized for a 2-core CPU: batch 4, 300
# proposals, 64 sampled RoIs per image (the mask head's cost grows with the
# positives: with 128 RoIs an iteration took 3.8 s by iteration 230), AdamW
# 1e-3 with warm-up and a x0.1 step at 85%.
# Used by the quick-start (fewer iterations) and benchmarks/det_shapes.sh.
_base_ = '../maskrcnn_van_b0_1x.py'

data_root = 'data/shapes/'
classes = ('circle', 'square', 'triangle')
metainfo = dict(
    classes=classes, palette=[(220, 20, 60), (0, 128, 255), (60, 180, 75)])
max_iters = 650

model = dict(
    backbone=dict(
        drop_path_rate=0.,
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=None),
    roi_head=dict(
        # 2x2 samples per RoIAlign bin instead of adaptive: mmcv's CPU
        # RoIAlign (forward and backward) is a third of a training step.
        bbox_roi_extractor=dict(roi_layer=dict(sampling_ratio=2)),
        mask_roi_extractor=dict(roi_layer=dict(sampling_ratio=2)),
        bbox_head=dict(num_classes=len(classes)),
        mask_head=dict(num_classes=len(classes))),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=600, max_per_img=300)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(256, 192), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 192), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
    val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.85)], gamma=0.1)
]
auto_scale_lr = dict(enable=False)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)
