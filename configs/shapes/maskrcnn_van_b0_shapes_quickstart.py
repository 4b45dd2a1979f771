# The quick-start's config (scripts/quickstart.sh): maskrcnn_van_b0_shapes.py
# (Mask R-CNN, VAN-B0 from scratch, the same data and 256x192 input) with
# lighter heads and a shorter schedule, so that training fits in about
# 6 minutes on a 2-core CPU. Measured here: mmdet's heads, not the backbone,
# take most of a CPU step (the 12544->1024 fc of the box head and its AdamW
# update, the mask head's 256-channel convs, RoIAlign over 256 RoIs), so
#   * the FPN and the heads have 128 channels instead of 256, the box
#     head's fcs 256 instead of 1024;
#   * 100 proposals and 32 sampled RoIs per image (300 and 64 there);
# a training step then costs about a third of the parent's (single-thread
# profile: 1.05 vs 2.87 s). Smaller inputs were faster still but learned
# less: at 160x120 (objects of 19-52 px) bbox mAP was 0.35 after 600
# iterations, at 128x96 0.24. AdamW 2e-3 learned no faster than 1e-3.
# This config at 256x192: bbox mAP 0.08 / 0.20 / 0.32 after 200 / 300 / 400
# iterations (before the LR step, 600-iteration schedule); the full
# 500-iteration schedule below: bbox mAP 0.41, segm mAP 0.44 (one run).
_base_ = './maskrcnn_van_b0_shapes.py'

channels = 128
max_iters = 500

model = dict(
    neck=dict(out_channels=channels),
    rpn_head=dict(in_channels=channels, feat_channels=channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(in_channels=channels, fc_out_channels=256),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(in_channels=channels, conv_out_channels=channels)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=100),
        rcnn=dict(sampler=dict(num=32))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=100)))

train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.85)], gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
