# The generated shapes set (van_mm.synthetic.make_coco_shapes: circles,
# squares and triangles on textured backgrounds, 256x192) for the box-only
# detectors (ATSS, GFL, Faster R-CNN): the data, schedule and hooks of
# configs/shapes/maskrcnn_van_b0_shapes.py without masks (batch 4, AdamW
# 1e-3 with warm-up and a x0.1 step at 85%, iteration-based). Variables only
# (shapes_*), so that it combines with a framework base; a config puts them
# in place.
shapes_root = 'data/shapes/'
shapes_metainfo = dict(
    classes=('circle', 'square', 'triangle'),
    palette=[(220, 20, 60), (0, 128, 255), (60, 180, 75)])
shapes_max_iters = 650
shapes_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(256, 192), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
shapes_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 192), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
shapes_train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        data_root=shapes_root,
        metainfo=shapes_metainfo,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        pipeline=shapes_train_pipeline))
shapes_val_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        data_root=shapes_root,
        metainfo=shapes_metainfo,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        pipeline=shapes_test_pipeline))
shapes_evaluator = dict(
    ann_file=shapes_root + 'annotations/instances_val2017.json')
shapes_train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=shapes_max_iters,
    val_interval=shapes_max_iters)
shapes_param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=shapes_max_iters,
         milestones=[int(shapes_max_iters * 0.85)], gamma=0.1)
]
shapes_default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=shapes_max_iters))
