# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Configs and models: reading a config as the tools do, telling its task,
building its model (or backbone) with weights, and deploy mode.

What ``tools/`` and ``benchmarks/`` build models with, as ``mmdet.apis``
does for mmdet's tools.
"""
import os
import os.path as osp
from typing import Dict, Optional

import torch.nn as nn
from mmengine.config import Config

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
    launcher set and ``work_dir`` from the argument, the config, or
    ``./work_dirs/CONFIG_NAME``; fails early unless it is an mmdet or mmseg
    config."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'Config not found: {path!r}')
    try:
        cfg = Config.fromfile(path)
    except ModuleNotFoundError as e:
        if e.name != 'pkg_resources':
            raise
        from van_mm.compat import PKG_RESOURCES_MISSING
        raise ModuleNotFoundError(f'{path}: {PKG_RESOURCES_MISSING}',
                                  name=e.name) from e
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


def use_tta(cfg: Config) -> None:
    """Test with multi-scale and flip augmentation as mmdet's and mmseg's
    ``tools/test.py --tta`` do: the config's ``tta_pipeline`` feeds the
    test set and its ``tta_model`` (``SegTTAModel``, ``DetTTAModel``)
    wraps the model and merges the predictions.

    Raises:
        ValueError: The config defines no ``tta_model`` or
            ``tta_pipeline``, or it is a detector that predicts masks,
            which mmdet 3.3's ``DetTTAModel`` cannot merge.
    """
    from mmengine.config import ConfigDict
    roi_head = cfg.model.get('roi_head') or {}
    if task_of(cfg) == 'det' and roi_head.get('mask_head'):
        raise ValueError(
            "The config's detector predicts masks, and mmdet 3.3's "
            'DetTTAModel merges boxes only ("TTA of instance segmentation '
            'does not support now"); test it without augmentation.')
    missing = [k for k in ('tta_model', 'tta_pipeline') if k not in cfg]
    if missing:
        raise ValueError(
            f'The config defines no {" or ".join(missing)}: add them (e.g. '
            "inherit 'mmdet::retinanet/retinanet_tta.py') to test with "
            'augmentation.')
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)


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


def build_from_config(cfg: Config, backbone_only: bool = False,
                      checkpoint: Optional[str] = None,
                      allow_partial: bool = False) -> nn.Module:
    """The config's model (or just its backbone) in eval mode on CPU, with
    SyncBN reverted to BN.

    Weights: ``checkpoint`` if given, else random; the config's pretrained
    ``init_cfg`` is not downloaded. A whole-model checkpoint may hold its
    backbone in any VAN layout and must fit the model unless
    ``allow_partial`` (:func:`van_mm.checkpoint.load_whole_model`); for
    ``backbone_only`` any VAN backbone checkpoint loads.
    """
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, init_default_scope

    from van_mm.checkpoint import load_pretrained, load_whole_model
    from van_mm.models import VAN
    init_default_scope(cfg.default_scope)
    model_cfg = cfg.model.backbone if backbone_only else cfg.model
    model = revert_sync_batchnorm(MODELS.build(model_cfg))
    if checkpoint:
        if isinstance(model, VAN):
            load_pretrained(model, checkpoint)
        else:
            load_whole_model(model, checkpoint, allow_partial)
    model.eval()
    return model


def config_dataset_meta(cfg: Config) -> Optional[Dict]:
    """The classes and palette of the config's test dataset (its metainfo,
    built without reading annotations); None if the config has no test
    dataset."""
    if not (cfg.get('test_dataloader') or {}).get('dataset'):
        return None
    from mmengine.registry import DATASETS, init_default_scope
    init_default_scope(cfg.default_scope)
    dataset = cfg.test_dataloader.dataset.copy()
    dataset['lazy_init'] = True  # the metainfo only, no annotations
    return dict(DATASETS.build(dataset).metainfo)


def init_model(cfg: Config, checkpoint: str, device: str = 'cpu',
               allow_partial: bool = False) -> nn.Module:
    """What mmdet's ``init_detector`` and mmseg's ``init_model`` return, for
    their ``inference_detector`` / ``inference_model``, with the weights
    loaded as the other tools load them (any VAN layout, refused unless
    they fit: :func:`van_mm.checkpoint.load_whole_model`).

    The model is in eval mode on ``device`` with the config as
    ``model.cfg``; its ``dataset_meta`` is the checkpoint's classes and
    palette, the config's test dataset's where the checkpoint has none.
    """
    from van_mm.checkpoint import dataset_meta, load_whole_model
    model = build_from_config(cfg)
    meta = dataset_meta(load_whole_model(model, checkpoint, allow_partial))
    config_meta = config_dataset_meta(cfg) or {}
    if meta is None:
        meta = config_meta
    elif not meta.get('palette') and config_meta.get('palette'):
        meta['palette'] = config_meta['palette']
    model.dataset_meta = meta
    model.cfg = cfg
    return model.to(device)


def _cache_bytes(level: int, default: int) -> int:
    """Size of cpu0's data/unified cache of this level (Linux sysfs)."""
    root = '/sys/devices/system/cpu/cpu0/cache'
    try:
        for index in sorted(os.listdir(root)):
            path = osp.join(root, index)
            with open(osp.join(path, 'level')) as f:
                if int(f.read()) != level:
                    continue
            with open(osp.join(path, 'type')) as f:
                if f.read().strip() == 'Instruction':
                    continue
            with open(osp.join(path, 'size')) as f:
                size = f.read().strip()
            units = {'K': 2**10, 'M': 2**20, 'G': 2**30}
            return int(size[:-1]) * units[size[-1]] if size[-1] in units \
                else int(size)
    except (OSError, ValueError, KeyError):
        pass
    return default


def cpu_row_bands():
    """How a deployed VAN's MLPs split large inputs on this machine's CPU
    (:class:`van_mm.models.fusion.RowBands`): one L2 cache per band, for
    hidden tensors over four of them (measured: docs/speed.md)."""
    from van_mm.models.fusion import RowBands
    l2 = _cache_bytes(2, default=2 * 2**20)
    return RowBands(band_bytes=l2, above_bytes=4 * l2)


def switch_to_deploy(model: nn.Module, device: str = 'cpu') -> None:
    """Deploy mode for a VAN or for a model whose backbone is a VAN, with
    the MLP row bands that suit ``device`` (cache-sized bands on a CPU,
    whole tensors elsewhere)."""
    target = getattr(model, 'backbone', model)
    if not hasattr(target, 'switch_to_deploy'):
        raise ValueError(
            f'{type(target).__name__} has no deploy mode: only van_mm\'s '
            'VAN backbone folds its BN and layer scales.')
    target.switch_to_deploy(
        mlp_bands=cpu_row_bands() if device == 'cpu' else None)
