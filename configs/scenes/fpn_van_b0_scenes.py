# Semantic FPN VAN-B0 trained from scratch on the synthetic scenes set
# (van_mm.synthetic.make_ade_scenes: sky, grass, water, road and buildings,
# 256x192, ADE20K layout with 0 = unlabelled), sized for a 2-core CPU:
# batch 4, AdamW 1e-3, poly schedule. Used by benchmarks/seg_scenes.sh and
# the tool tests.
_base_ = '../fpn_van_b0_ade20k_40k.py'

data_root = 'data/scenes'
classes = ('sky', 'grass', 'water', 'road', 'building')
metainfo = dict(
    classes=classes,
    palette=[[180, 130, 70], [50, 170, 60], [30, 90, 180], [90, 90, 90],
             [200, 110, 70]])
crop_size = (192, 256)
max_iters = 800

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        drop_path_rate=0.,
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=None),
    decode_head=dict(
        num_classes=len(classes), norm_cfg=dict(type='BN',
                                                requires_grad=True)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(
        type='RandomResize',
        scale=(256, 192),
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 192), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
# tools/test.py --tta: the ADE20K protocol's ratios 0.5-1.75 and flip
# (configs/_base_/ade20k_van.py) applied to this set's scale.
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(128, 96), keep_ratio=True),
                dict(type='Resize', scale=(192, 144), keep_ratio=True),
                dict(type='Resize', scale=(256, 192), keep_ratio=True),
                dict(type='Resize', scale=(320, 240), keep_ratio=True),
                dict(type='Resize', scale=(384, 288), keep_ratio=True),
                dict(type='Resize', scale=(448, 336), keep_ratio=True),
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadAnnotations', reduce_zero_label=True)],
            [dict(type='PackSegInputs')],
        ])
]
# ADE20KDataset with other class names would remap labels by name onto its
# own 150 classes; the generic dataset takes the classes as they are.
dataset = dict(
    type='BaseSegDataset',
    data_root=data_root,
    metainfo=metainfo,
    img_suffix='.jpg',
    seg_map_suffix='.png',
    reduce_zero_label=True)
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(_delete_=True, **dataset,
                 data_prefix=dict(img_path='images/training',
                                  seg_map_path='annotations/training'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    dataset=dict(_delete_=True, **dataset,
                 data_prefix=dict(img_path='images/validation',
                                  seg_map_path='annotations/validation'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0., begin=0, end=max_iters,
         by_epoch=False)
]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_iters))
