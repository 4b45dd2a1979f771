# ADE20K as the official VAN-Segmentation repository tests it
# (configs/_base_/datasets/ade20k.py there, mmsegmentation 0.x): mmseg's
# ADE20K base with that repository's test pipelines.
#
# Single scale (the Semantic FPN results): the image is resized to fit
# 2048x512 keeping its aspect ratio, then resized (not padded) to the next
# multiple of 32 (ResizeToMultiple, which mmseg 1.x keeps); predictions are
# scored at the original size.
#
# Multi-scale + flip (tools/test.py --tta; the UperNet results, "mIoU(ms)"
# following Swin): mmseg 0.x's `--aug-test` sets img_ratios 0.5, 0.75, 1.0,
# 1.25, 1.5, 1.75 and flip, and MultiScaleFlipAug turns them into the
# target scales int(2048 * r) x int(512 * r), each followed by
# ResizeToMultiple. mmseg 1.x's own ade20k tta_pipeline instead resizes the
# original image by r (Resize(scale_factor=r)), which differs for every
# image whose short side is not 512; the official scales are written out
# below. SegTTAModel (mmseg's default_runtime) averages the softmax of the
# 12 predictions at the original size, as mmseg 0.x's aug_test does.
_base_ = 'mmseg::_base_/datasets/ade20k.py'

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=32),
    # after resizing: the ground truth stays at the original size
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(1024, 256), keep_ratio=True),
                dict(type='Resize', scale=(1536, 384), keep_ratio=True),
                dict(type='Resize', scale=(2048, 512), keep_ratio=True),
                dict(type='Resize', scale=(2560, 640), keep_ratio=True),
                dict(type='Resize', scale=(3072, 768), keep_ratio=True),
                dict(type='Resize', scale=(3584, 896), keep_ratio=True),
            ],
            [dict(type='ResizeToMultiple', size_divisor=32)],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadAnnotations', reduce_zero_label=True)],
            [dict(type='PackSegInputs')],
        ])
]
