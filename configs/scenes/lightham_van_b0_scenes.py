# Light-Ham VAN-B0 trained from scratch on the generated scenes
# (van_mm.synthetic.make_ade_scenes: sky, grass, water, road and buildings,
# 256x192, ADE20K layout with 0 = unlabelled): the framework of
# configs/_base_/lightham_van_160k.py with its VAN-B0 head (width 256, NMF
# rank 16), and the data, batch and schedule of fpn_van_b0_scenes.py
# (batch 4, AdamW 1e-3, poly). Used by the tool tests.
_base_ = ['../_base_/lightham_van_160k.py', '../_base_/models/van_b0.py']

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
    backbone=dict(  # from scratch: no ImageNet weights, BN, no drop path
        arch={{_base_.van.arch}},
        drop_path_rate=0.,
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=None),
    decode_head=dict(
        in_channels={{_base_.van.stage234_channels}},
        channels=256,
        ham_channels=256,
        ham_kwargs=dict(MD_R=16),
        num_classes=len(classes)))

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
