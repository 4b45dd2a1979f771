# Mask2Former with the VAN backbone on COCO 2017 panoptic segmentation
# (133 classes: 80 things, 53 stuff), about 50 epochs (368,750 iterations
# of 16 images), large-scale jitter to 1024x1024; PQ through mmdet's
# CocoPanopticMetric, box and mask AP through CocoMetric. Everything is
# mmdet's Mask2Former panoptic recipe
# (mask2former/mask2former_swin-t-p4-w7-224_8xb2-lsj-50e_coco-panoptic.py,
# on its R-50 base): AdamW lr 1e-4, weight decay 0.05, gradient clipping
# at 0.01, x0.1 steps at iterations 327,778 and 355,092; the backbone at
# x0.1 learning rate, no weight decay on its norms (here also its layer
# scales) nor on the query and level embeddings.
# Why Mask2Former: the paper's panoptic result (VAN-B6, 58.2 PQ, the
# paper's abstract and the VAN-Classification README) is put as the new
# state of the art over Mask2Former's 57.8 PQ (Swin-L); mmdet's Panoptic
# FPN is far from that range (R-50 3x: 42.5 PQ). An arch base adds the
# arch. Needs `panopticapi` (scripts/install.sh installs it).
_base_ = [
    'mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py',
    './van.py',
]
custom_imports = dict(imports=['van_mm'], allow_failed_imports=False)
visualizer = dict(vis_backends={{_base_.van_vis_backends}})
model = dict(backbone={{_base_.van_backbone}})
backbone_no_decay = dict(lr_mult=0.1, decay_mult=0.)
embed_no_decay = dict(lr_mult=1.0, decay_mult=0.)
optim_wrapper = dict(
    paramwise_cfg=dict(
        _delete_=True,
        norm_decay_mult=0.,
        custom_keys={
            'backbone': dict(lr_mult=0.1, decay_mult=1.0),
            # VAN's norms and layer scales. mmengine applies the longest
            # key found in a parameter's name, so each is longer than
            # 'backbone'; none of them occurs in the head.
            'backbone.stages.0.norm': backbone_no_decay,
            'backbone.stages.1.norm': backbone_no_decay,
            'backbone.stages.2.norm': backbone_no_decay,
            'backbone.stages.3.norm': backbone_no_decay,
            'patch_embed.norm': backbone_no_decay,
            'norm1.weight': backbone_no_decay,
            'norm1.bias': backbone_no_decay,
            'norm2.weight': backbone_no_decay,
            'norm2.bias': backbone_no_decay,
            'layer_scale_1': backbone_no_decay,
            'layer_scale_2': backbone_no_decay,
            'query_embed': embed_no_decay,
            'query_feat': embed_no_decay,
            'level_embed': embed_no_decay,
        }))
