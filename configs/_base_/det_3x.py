# The paper's 3x detection setting for the single-stage detectors (ATSS,
# GFL), as PVTv2's 3x recipes for them (whai362/PVT,
# detection/configs/{atss,gfl}_pvt_v2_b2_fpn_3x_mstrain_fp16.py), the
# closest public configs: 36 epochs; mmdet's 500-iteration linear warm-up
# (their schedule_1x base) and x0.1 steps after epochs 27 and 33; DETR's
# augmentation: a flip, then either a resize to a shorter side of 480-800
# or a resize to 400-600, a 384-600 crop and that multi-scale resize (the
# pipeline of mmdet's
# sparse-rcnn_r50_fpn_300-proposals_crop-ms-480-800-3x_coco.py).
# Variables only, so that it combines with mmdet's ATSS and GFL configs; a
# framework base puts them in place.
det_3x_max_epochs = 36
det_3x_param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=500),
    dict(type='MultiStepLR', begin=0, end=36, by_epoch=True,
         milestones=[27, 33], gamma=0.1)
]
det_3x_scales = [(480, 1333), (512, 1333), (544, 1333), (576, 1333),
                 (608, 1333), (640, 1333), (672, 1333), (704, 1333),
                 (736, 1333), (768, 1333), (800, 1333)]
det_3x_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomChoice',
        transforms=[
            [dict(type='RandomChoiceResize', scales=det_3x_scales,
                  keep_ratio=True)],
            [
                dict(type='RandomChoiceResize',
                     scales=[(400, 1333), (500, 1333), (600, 1333)],
                     keep_ratio=True),
                dict(type='RandomCrop', crop_type='absolute_range',
                     crop_size=(384, 600), allow_negative_crop=True),
                dict(type='RandomChoiceResize', scales=det_3x_scales,
                     keep_ratio=True)
            ]
        ]),
    dict(type='PackDetInputs')
]
