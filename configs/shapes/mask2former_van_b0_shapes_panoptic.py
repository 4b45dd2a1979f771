# Mask2Former VAN-B0 trained from scratch on the generated panoptic shapes
# (van_mm.synthetic.make_coco_panoptic_shapes: circles, squares and
# triangles as things on sky and grass as stuff, 256x192, COCO panoptic
# layout): the framework of configs/_base_/mask2former_van_panoptic_50e.py
# with images resized to 256x192 instead of the 1024x1024 jitter, 50
# queries, 3136 sampled points per mask and AdamW 3e-4 with a x0.1 step at
# 85%, for a 2-core CPU. PQ (CocoPanopticMetric), box and mask AP
# (CocoMetric). Used by the tool tests.
_base_ = [
    '../_base_/mask2former_van_panoptic_50e.py',
    '../_base_/models/van_b0.py',
]
data_root = 'data/shapes_panoptic/'
things = ('circle', 'square', 'triangle')
stuff = ('sky', 'grass')
metainfo = dict(
    classes=things + stuff, thing_classes=things, stuff_classes=stuff,
    palette=[(220, 20, 60), (0, 128, 255), (60, 180, 75), (180, 130, 70),
             (50, 170, 60)])
num_queries = 50
max_iters = 400

model = dict(
    data_preprocessor=dict(batch_augments=None),
    backbone=dict(  # from scratch: no ImageNet weights, BN, no drop path
        arch={{_base_.van.arch}},
        drop_path_rate=0.,
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=None),
    panoptic_head=dict(
        in_channels={{_base_.van.channels}},
        num_things_classes=len(things),
        num_stuff_classes=len(stuff),
        num_queries=num_queries,
        loss_cls=dict(class_weight=[1.0] * len(things + stuff) + [0.1])),
    panoptic_fusion_head=dict(
        num_things_classes=len(things), num_stuff_classes=len(stuff)),
    train_cfg=dict(num_points=3136),
    test_cfg=dict(max_per_image=num_queries))

train_pipeline = [
    dict(type='LoadImageFromFile', to_float32=True),
    dict(type='LoadPanopticAnnotations', with_bbox=True, with_mask=True,
         with_seg=True),
    dict(type='Resize', scale=(256, 192), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 192), keep_ratio=True),
    dict(type='LoadPanopticAnnotations'),
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
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(
        type='CocoPanopticMetric',
        ann_file=data_root + 'annotations/panoptic_val2017.json',
        seg_prefix=data_root + 'annotations/panoptic_val2017/',
        nproc=1),
    dict(
        type='CocoMetric',
        ann_file=data_root + 'annotations/instances_val2017.json',
        metric=['bbox', 'segm'])
]
test_evaluator = val_evaluator

train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
    val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(lr=3e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.85)], gamma=0.1)
]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
