"""Helpers shared by the tests: tiny inputs, configs made small, and
running the scripts of ``tools/`` as a user does."""
import os
import subprocess
import sys

import torch
from mmengine.config import Config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(REPO, 'configs')

ALL_ARCHS = ['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6']
B0_DIMS = [32, 64, 160, 256]

# Parameter counts (M) of the configs' models. Detection: the paper's
# figures (RetinaNet 13.4/23.6/36.3/54.5M, Mask R-CNN 23.9/33.5/46.2/64.4M,
# 3x Mask R-CNN 46M, Cascade Mask R-CNN 84M, ATSS 34M, GFL 34M) reproduced
# with mmdet 3.3's heads to two decimals; Sparse R-CNN, Faster R-CNN and
# Mask2Former have no published count (these are the built models').
# Segmentation: the paper's Semantic FPN 8/18/30/49M and UperNet
# 32/44/57/75M, and the VAN-Segmentation README's UperNet B4 90M and B6
# 231M, reproduced with mmseg 1.2's FPN/FPNHead and UPerHead/FCNHead; no
# count is published for Semantic FPN B4. UperNet B5: the README says 117M,
# which its own config (widths 96/192/480/768, depths 3/3/24/3; the
# backbone alone is the paper's 90M) cannot give: it builds 121.89M, at
# 1205G FLOPs against the README's 1208G. Light-Ham: the Enjoy-Hamburger
# README's 4.2/13.8/27.4/45.6M with mmseg 1.2's LightHamHead.
DET_PARAMS_M = {
    'retinanet_van_b0_1x.py': 13.39,
    'retinanet_van_b1_1x.py': 23.60,
    'retinanet_van_b2_1x.py': 36.32,
    'retinanet_van_b3_1x.py': 54.50,
    'maskrcnn_van_b0_1x.py': 23.89,
    'maskrcnn_van_b1_1x.py': 33.52,
    'maskrcnn_van_b2_1x.py': 46.23,
    'maskrcnn_van_b3_1x.py': 64.42,
    'maskrcnn_van_b2_3x.py': 46.23,
    'cascade_maskrcnn_van_b2_3x.py': 84.07,
    'sparsercnn_van_b2_3x.py': 108.18,
    'atss_van_b2_3x.py': 34.18,
    'gfl_van_b2_3x.py': 34.33,
    'faster_rcnn_van_b0_1x.py': 21.24,
    'faster_rcnn_van_b1_1x.py': 30.87,
    'faster_rcnn_van_b2_1x.py': 43.59,
    'faster_rcnn_van_b3_1x.py': 61.78,
    'mask2former_van_b2_panoptic_50e.py': 45.87,
}
SEG_PARAMS_M = {
    'fpn_van_b0_ade20k_40k.py': 7.98,
    'fpn_van_b1_ade20k_40k.py': 17.62,
    'fpn_van_b2_ade20k_40k.py': 30.33,
    'fpn_van_b3_ade20k_40k.py': 48.52,
    'upernet_van_b0_ade20k_160k.py': 32.13,
    'upernet_van_b1_ade20k_160k.py': 43.84,
    'upernet_van_b2_ade20k_160k.py': 56.55,
    'upernet_van_b3_ade20k_160k.py': 74.74,
    'lightham_van_b0_ade20k_160k.py': 4.21,
    'lightham_van_b1_ade20k_160k.py': 13.83,
    'lightham_van_b2_ade20k_160k.py': 27.42,
    'lightham_van_b3_ade20k_160k.py': 45.61,
    'fpn_van_b4_ade20k_40k.py': 64.04,
    'upernet_van_b4_ade20k_160k.py': 90.26,
    'upernet_van_b4_22k_ade20k_160k.py': 90.26,
    'upernet_van_b5_22k_ade20k_160k.py': 121.89,
    'upernet_van_b6_22k_ade20k_160k.py': 231.48,
}


def load(name: str) -> Config:
    import van_mm  # noqa: F401  (configs load as van_mm's tools load them)
    return Config.fromfile(os.path.join(CONFIGS, name))


def image(*shape, seed=1):
    """A reproducible random input, by default (2, 3, 97, 131)."""
    return torch.rand(*(shape or (2, 3, 97, 131)),
                      generator=torch.Generator().manual_seed(seed))


def pretrained(path, arch='b0', **kwargs):
    """A VAN of ``arch`` initialised from ``path`` as configs do it
    (``init_cfg``), in eval mode."""
    from van_mm import VAN
    model = VAN(arch=arch, init_cfg=dict(type='Pretrained', checkpoint=path),
                **kwargs)
    model.init_weights()
    return model.eval()


def random_checkpoint(config, classes, path):
    """A randomly initialised model of ``config`` saved as the runner saves
    it (state dict + dataset meta)."""
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, init_default_scope

    from van_mm.apis import load_config
    cfg = load_config(config)
    init_default_scope(cfg.default_scope)
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'classes': classes}}}, path)
    return str(path)


def params_m(model) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


def to_tiny_b0(cfg: Config) -> Config:
    """The config's model with a randomly initialised VAN-B0 backbone (plain
    BN, no drop path) and the neck and heads that read it resized."""
    cfg.model.backbone.update(
        arch='b0', init_cfg=None, drop_path_rate=0.,
        norm_cfg=dict(type='BN', requires_grad=True))
    neck = cfg.model.get('neck')
    if neck is not None and 'in_channels' in neck:
        neck.in_channels = B0_DIMS
    head = cfg.model.get('decode_head')
    if head is not None and head.type == 'UPerHead':
        head.in_channels = B0_DIMS
    if head is not None and head.type == 'LightHamHead':
        head.in_channels = [B0_DIMS[i] for i in head.in_index]
    panoptic = cfg.model.get('panoptic_head')
    if panoptic is not None:
        panoptic.in_channels = B0_DIMS
    aux = cfg.model.get('auxiliary_head')
    if aux is not None:
        aux.in_channels = B0_DIMS[aux.in_index]
    return cfg


def lighten(cfg: Config) -> Config:
    """Fewer proposals and sampled RoIs (and mask points), so two-stage
    and query-based models step quickly on a CPU (mmcv's CPU RoIAlign
    dominates otherwise)."""

    def visit(node):
        if isinstance(node, (list, tuple)):
            for item in node:
                visit(item)
        elif isinstance(node, dict):
            for key in ('rpn', 'rpn_proposal'):
                if isinstance(node.get(key), dict):
                    node[key].update(nms_pre=200, max_per_img=50)
            if isinstance(node.get('sampler'), dict) and \
                    'num' in node['sampler']:
                node['sampler']['num'] = 32
            if 'max_per_img' in node and 'mask_thr_binary' in node:
                node['max_per_img'] = 20  # rcnn test: fewer masks to paste
            for value in node.values():
                visit(value)

    visit(cfg.model.get('train_cfg'))
    visit(cfg.model.get('test_cfg'))
    if cfg.model.get('rpn_head', {}).get('type') == 'EmbeddingRPNHead':
        cfg.model.rpn_head.num_proposals = 20  # Sparse R-CNN
        cfg.model.test_cfg.rcnn.max_per_img = 20
    if 'panoptic_head' in cfg.model:
        # Mask2Former: fewer mask points; batches padded to their largest
        # image instead of the large-scale jitter's fixed 1024x1024
        cfg.model.train_cfg.num_points = 1024
        cfg.model.data_preprocessor.batch_augments = None
    return cfg


# --cfg-options for quick tool runs: batch 2, data loaded in the main
# process, a log line every iteration.
QUICK_RUN = [
    'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    'default_hooks.logger.interval=1',
]


def iters(n, interval=None):
    """--cfg-options for ``n`` training iterations, validating and saving
    every ``interval`` (default: at the end)."""
    interval = interval or n
    return [f'train_cfg.max_iters={n}', f'train_cfg.val_interval={interval}',
            f'default_hooks.checkpoint.interval={interval}']


def run_script(args, cwd, timeout=900, env=None):
    """Run a repo script (``tools/*.py``, ``*.sh``) as a user does, with
    this interpreter; the finished process (``returncode``, ``stdout``,
    ``stderr``)."""
    script = os.path.join(REPO, args[0])
    cmd = (['bash', script] if script.endswith('.sh') else
           [sys.executable, script]) + [str(a) for a in args[1:]]
    full_env = dict(os.environ, **(env or {}))
    full_env.setdefault('OMP_NUM_THREADS', '2')
    full_env.setdefault('PYTHON', sys.executable)  # for the .sh launchers
    return subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def run_tool(args, cwd, timeout=900, env=None):
    """Run a repo script and return its output; fail with the tail of the
    log if it exits non-zero."""
    out = run_script(args, cwd, timeout, env)
    log = out.stdout + out.stderr
    assert out.returncode == 0, f'{args[0]} failed:\n{log[-4000:]}'
    return log
