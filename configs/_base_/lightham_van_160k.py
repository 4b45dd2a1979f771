# VAN with the Light-Ham head (Hamburger's NMF matrix decomposition) on
# ADE20K, 512x512 crops, 160k iterations. Head, data, optimizer and
# schedule: mmseg's SegNeXt config (segnext_mscan-b_1xb16-adamw-160k_ade20k
# -512x512.py, from the official Visual-Attention-Network/SegNeXt repo):
# LightHamHead on stages 2-4 with GroupNorm (32 groups), dropout 0.1, NMF
# with 6 training / 7 testing steps; AdamW lr 6e-5, betas (0.9, 0.999),
# weight decay 0.01, none on norms; 1500-iteration linear warm-up then
# poly (power 1.0); 16 images per step. One change, to follow the VAN +
# Light-Ham configs that the compared figures come from (Gsunshine/
# Enjoy-Hamburger, seg_light_ham/configs/ham/hamnet_light_van_*_512x512_
# 160k_ade20k.py, cited in SegNeXt issue 4): no x10 learning rate on the
# head, and 8 GPUs x 2 images. An arch base adds the arch; a config states
# the head's width (SegNeXt: 256 for its T/S models, 512 for B).
_base_ = [
    'mmseg::segnext/segnext_mscan-b_1xb16-adamw-160k_ade20k-512x512.py',
    './van.py',
]
custom_imports = dict(imports=['van_mm'], allow_failed_imports=False)
visualizer = dict(vis_backends={{_base_.van_vis_backends}})
model = dict(backbone={{_base_.van_backbone}})
optim_wrapper = dict(
    paramwise_cfg=dict(
        _delete_=True, custom_keys={'norm': dict(decay_mult=0.)}))
train_dataloader = dict(batch_size=2)
