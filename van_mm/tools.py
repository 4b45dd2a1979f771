# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""What ``tools/train.py`` and ``tools/test.py`` share."""
import argparse
import os
import os.path as osp
from typing import Dict, Optional

from mmengine.config import Config, DictAction

TASKS = {'mmdet': 'det', 'mmseg': 'seg'}


def task_of(cfg: Config) -> str:
    """``'det'`` or ``'seg'``, from the config's ``default_scope``."""
    scope = cfg.get('default_scope')
    if scope not in TASKS:
        raise ValueError(
            f'Config default_scope is {scope!r}; van_mm tools run mmdet and '
            "mmseg configs (inherit mmdet's or mmseg's default_runtime).")
    return TASKS[scope]


def load_config(path: str,
                cfg_options: Optional[Dict] = None,
                work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """Read a config the way mmdet's/mmseg's tools do: options merged, the
    launcher set and ``work_dir`` from the CLI, the config, or
    ``./work_dirs/CONFIG_NAME``; fails early unless it is an mmdet or mmseg
    config."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'Config not found: {path!r}')
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    task_of(cfg)
    return cfg


def tool_parser(description: str) -> argparse.ArgumentParser:
    """A parser with the arguments both tools take: CONFIG, ``--work-dir``,
    ``--cfg-options``, ``--launcher`` and the launcher's ``--local-rank``.
    The tool adds its own before calling :func:`parse_tool_args`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='the dir to save logs, models '
                        'and evaluation metrics')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, xxx=yyy format')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def parse_tool_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def close_distributed() -> None:
    """Wait for every rank, then tear the process group down.

    Without this, a rank that finishes first (rank 1 skips the checkpoint
    save) exits with gloo's threads still alive and can abort with
    ``terminate called without an active exception``.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def data_sample(cfg: Config, height: int, width: int):
    """An empty ``DetDataSample``/``SegDataSample`` (by the config's task)
    for one unscaled, unpadded ``height`` x ``width`` image, as
    ``test_step``/``predict`` take it."""
    if task_of(cfg) == 'det':
        from mmdet.structures import DetDataSample as Sample
    else:
        from mmseg.structures import SegDataSample as Sample
    shape = (height, width)
    return Sample(metainfo=dict(img_shape=shape, ori_shape=shape,
                                pad_shape=shape, scale_factor=(1., 1.)))


def build_visualizer(cfg: Config, name: str, dataset_meta: Dict):
    """The config's visualizer (Det/SegLocalVisualizer), drawing only to the
    ``out_file`` given to ``add_datasample`` (no ``save_dir``).

    Classes without a palette get random colours with the seed mmseg's
    datasets use (mmseg's visualizer would otherwise pair them with the
    Cityscapes palette and fail).
    """
    import numpy as np
    from mmengine.registry import VISUALIZERS, init_default_scope
    init_default_scope(cfg.default_scope)
    vis_cfg = cfg.visualizer.copy()
    vis_cfg.pop('save_dir', None)
    vis_cfg.update(vis_backends=[dict(type='LocalVisBackend')], name=name)
    visualizer = VISUALIZERS.build(vis_cfg)
    meta = dict(dataset_meta or {})
    if meta.get('classes') and not meta.get('palette'):
        meta['palette'] = np.random.RandomState(42).randint(
            0, 255, (len(meta['classes']), 3)).tolist()
    visualizer.dataset_meta = meta
    return visualizer


def require_file(path: str, what: str) -> str:
    """``path`` if it is a file; else exit with ``'{what} not found: path'``
    (e.g. ``what='Checkpoint'``), before any model is built."""
    if not osp.isfile(path):
        raise SystemExit(f'{what} not found: {path!r}')
    return path


def read_image(path: str):
    """An RGB uint8 array (H, W, 3); fails with the path if the file is
    missing or not an image."""
    import mmcv
    # None for a file OpenCV cannot decode
    image = mmcv.imread(require_file(path, 'Image'))
    if image is None:
        raise SystemExit(f'Cannot read image {path!r}: not an image file '
                         'or corrupt.')
    return mmcv.bgr2rgb(image)


def build_runner(cfg: Config):
    """mmengine's Runner, or the config's ``runner_type`` if it names one."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg \
        else RUNNERS.build(cfg)
