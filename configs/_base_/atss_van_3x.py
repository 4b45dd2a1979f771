# ATSS with the VAN backbone on COCO 2017, 36 epochs (3x) with crop and
# multi-scale training: the paper's 3x setting. Model: mmdet's R-50 ATSS
# (FPN P3-P7 from stages 2-4 with extra convs on its outputs, 4-conv head,
# GIoU loss, ATSS assigner top 9, NMS 0.6), as PVTv2's ATSS 3x recipe
# (whai362/PVT, detection/configs/atss_pvt_v2_b2_fpn_3x_mstrain_fp16.py).
# Optimizer: the VAN detection AdamW (configs/_base_/van.py: lr 1e-4,
# weight decay 0.05 for 16 images, as PVTv2's recipe; PVTv2 trained in
# fp16, here `tools/train.py --amp`). Schedule and pipeline:
# configs/_base_/det_3x.py. An arch base adds the arch.
_base_ = [
    'mmdet::atss/atss_r50_fpn_1x_coco.py',
    './van.py',
    './det_3x.py',
]
custom_imports = dict(imports=['van_mm'], allow_failed_imports=False)
visualizer = dict(vis_backends={{_base_.van_vis_backends}})
model = dict(backbone={{_base_.van_backbone}})
optim_wrapper = {{_base_.van_det_optim_wrapper}}
auto_scale_lr = dict(enable=True, base_batch_size=16)
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.det_3x_train_pipeline}}))
train_cfg = dict(max_epochs={{_base_.det_3x_max_epochs}})
param_scheduler = {{_base_.det_3x_param_scheduler}}
