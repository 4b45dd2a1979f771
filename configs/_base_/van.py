# What every VAN framework base shares (variables only, so that it combines
# with any mmdet/mmseg base). A framework base puts `van_backbone` in place
# of its base's backbone; a config adds an arch base
# (configs/_base_/models/van_b*.py: arch, pretrained weights, and the stage
# widths necks and heads read). Each framework base also states
# custom_imports = dict(imports=['van_mm']), which registers VAN.

# All four stages (strides 4, 8, 16, 32); SyncBN as in the official
# VAN-Segmentation configs (tools/train.py reverts it to BN on one process
# or on CPU); ImageNet weights named by the arch base.
van_backbone = dict(
    _delete_=True,
    type='VAN',
    out_indices=(0, 1, 2, 3),
    norm_cfg=dict(type='SyncBN', requires_grad=True),
    init_cfg=dict(type='Pretrained'))

# Every checkpoint the runner loads (load_from, tools/test.py's CHECKPOINT,
# resume) is mapped onto the model from any published VAN layout and
# refused unless it fits (van_mm.engine.CheckpointFitHook); set
# allow_partial_load = True next to load_from to load only what fits. A
# training run's load_from may have other classes (fine-tuning): the heads'
# class outputs then keep their new initialisation, named in a warning.
# Class ids the model cannot have stop the run where the samples are read,
# naming the file (van_mm.engine.LabelCheckHook): segmentation mask values
# past num_classes, COCO category ids the annotation file does not define.
van_custom_hooks = [dict(type='CheckpointFitHook'),
                    dict(type='LabelCheckHook')]

# Scalars to WORK_DIR/<timestamp>/vis_data/scalars.json, and to TensorBoard
# event files there when `tensorboard` is installed (van_mm.visualization).
van_vis_backends = [
    dict(type='LocalVisBackend'),
    dict(type='TensorboardIfInstalledVisBackend'),
]

# AdamW for VAN detectors: lr 1e-4, weight decay 0.05 for 16 images per
# step (the paper's detection setting, as Swin's and PVTv2's), no decay on
# norms and layer scales.
van_det_optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0., custom_keys={'layer_scale': dict(decay_mult=0.)}))
