# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Checking a config before anything heavy is built.

A neck or head that does not fit the backbone fails in the first forward
with a convolution shape error that names neither (``Given groups=1, weight
of size [256, 64, 1, 1], expected input[1, 32, 32, 40] to have 64
channels``); a wrong ``num_classes`` trains without error and evaluates
wrongly; a missing annotation file fails after the model is built. These
checks read only the config (and a dataset class's ``METAINFO``) and name
the key, its value and the value that fits:

* the VAN backbone's stage widths for its arch (:mod:`van_mm.models.archs`) and
  ``out_indices`` against the neck's ``in_channels`` (FPN, PAFPN,
  ChannelMapper) and, without a neck, against the decode and auxiliary
  heads' ``in_channels``/``in_index`` (UperNet, FCN, Light-Ham); with a
  neck, the heads against its outputs;
* an FPN's ``start_level``/``end_level``/``num_outs`` against its inputs,
  and the levels of the detection heads' anchor generators and RoI
  extractors against its outputs;
* every ``num_classes`` of the heads against the dataset's classes;
* the weights a VAN backbone is given: a checkpoint of mmengine's model
  zoo (``open-mmlab://``, ``torchvision://``...: no VAN weights) in
  ``model.pretrained`` (mmseg's ``EncoderDecoder`` hands it to the
  backbone; mmseg's ``fpn_r50.py`` base names a ResNet-50 there), the
  backbone's ``pretrained`` or its ``init_cfg``, and ``model.pretrained``
  beside a backbone ``init_cfg``;
* the data roots, annotation files and image/label folders of the
  datasets (and evaluators' annotation files) that the run will read.
"""
import os
import os.path as osp
from typing import Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config

from van_mm.checkpoint.files import model_zoo_scheme
from van_mm.models.archs import resolve_arch

VAN_TYPES = ('VAN', 'van_mm.VAN')


class ConfigCheckError(ValueError):
    """A config with settings that cannot work together.

    Attributes:
        problems: One sentence per problem, each naming the key.
    """

    def __init__(self, problems: List[str]):
        self.problems = problems
        super().__init__('\n'.join(f'- {p}' for p in problems))


def _fmt(values) -> str:
    return '[' + ', '.join(map(str, values)) + ']' if isinstance(
        values, (list, tuple)) else str(values)


def van_channels(cfg: Config) -> Optional[Tuple[str, List[int]]]:
    """``(description, channels)`` of the VAN backbone's outputs, e.g.
    ``("VAN arch 'b0'", [32, 64, 160, 256])``; None for other backbones or
    an unknown arch (the backbone reports that itself)."""
    backbone = cfg.model.get('backbone') or {}
    if backbone.get('type') not in VAN_TYPES:
        return None
    arch = backbone.get('arch')
    try:
        widths = resolve_arch(
            arch, *(backbone.get(k) for k in ('embed_dims', 'depths',
                                              'mlp_ratios', 'num_stages'))
        )['embed_dims']
    except (KeyError, ValueError):
        return None
    indices = backbone.get('out_indices')
    indices = list(range(len(widths)) if indices is None else
                   [indices] if isinstance(indices, int) else indices)
    if any(not 0 <= i < len(widths) for i in indices):
        return None
    if arch is None and backbone.get('embed_dims') is None:
        arch = 'b0'
    name = f"VAN arch {arch!r}" if isinstance(arch, str) else 'the VAN arch'
    if indices != list(range(len(widths))):
        name += f' with out_indices {_fmt(indices)}'
    return name, [widths[i] for i in indices]


def _fpn_problems(key: str, neck: dict) -> List[str]:
    """start_level / end_level / num_outs of an FPN-like neck."""
    n = len(neck['in_channels'])
    start = neck.get('start_level', 0)
    end = neck.get('end_level', -1)
    num_outs = neck.get('num_outs')
    if not 0 <= start < n:
        return [f'`{key}.start_level` is {start} but {key} has {n} inputs '
                f'(`{key}.in_channels`): use 0..{n - 1}']
    if num_outs is None:
        return []
    if end in (-1, n - 1):
        if num_outs < n - start:
            return [f'`{key}.num_outs` is {num_outs} but inputs '
                    f'{start}..{n - 1} (start_level {start}) give at least '
                    f'{n - start} outputs: set it to {n - start} or more']
        return []
    if not start <= end < n:
        return [f'`{key}.end_level` is {end} but {key} has {n} inputs and '
                f'start_level {start}: use {start}..{n - 1}, or -1']
    if num_outs != end - start + 1:
        return [f'`{key}.num_outs` is {num_outs} but start_level {start} '
                f'and end_level {end} give {end - start + 1} outputs']
    return []


def _neck_problems(cfg: Config, source) -> Tuple[List[str], Optional[tuple]]:
    """Problems of the neck, and ``(description, channels)`` of its
    outputs (None if unknown)."""
    neck = cfg.model.get('neck')
    key = 'model.neck'
    if isinstance(neck, (list, tuple)):
        neck, key = (neck[0] if neck else None), 'model.neck[0]'
    if not neck or 'in_channels' not in neck:
        return [], None
    problems = []
    in_channels = neck['in_channels']
    if source and isinstance(in_channels, (list, tuple)) and \
            list(in_channels) != source[1]:
        problems.append(
            f'`{key}.in_channels` is {_fmt(in_channels)} but {source[0]} '
            f'gives {_fmt(source[1])}: set it to {_fmt(source[1])}')
    if str(neck.get('type', '')).endswith('FPN') and isinstance(
            in_channels, (list, tuple)):
        problems += _fpn_problems(key, neck)
    out, num = neck.get('out_channels'), neck.get('num_outs')
    if isinstance(out, int) and isinstance(num, int):
        return problems, (key, [out] * num)
    return problems, None


def _heads(model: dict, key: str) -> Iterator[Tuple[str, dict]]:
    head = model.get(key)
    if isinstance(head, (list, tuple)):
        for i, h in enumerate(head):
            yield f'model.{key}[{i}]', h
    elif head:
        yield f'model.{key}', head


def _seg_head_problems(key: str, head: dict, inputs: tuple) -> List[str]:
    """A decode/auxiliary head's in_channels and in_index against the
    features it reads."""
    name, channels = inputs
    in_channels, index = head.get('in_channels'), head.get('in_index', -1)
    if in_channels is None:
        return []
    many = isinstance(in_channels, (list, tuple))
    if many != isinstance(index, (list, tuple)) or (
            many and len(in_channels) != len(index)):
        return [f'`{key}.in_channels` ({_fmt(in_channels)}) and '
                f'`{key}.in_index` ({_fmt(index)}) must both be numbers or '
                'lists of equal length']
    indices = list(index) if many else [index]
    wrong = [i for i in indices if not -len(channels) <= i < len(channels)]
    if wrong:
        return [f'`{key}.in_index` is {_fmt(index)} but {name} has '
                f'{len(channels)} levels: use 0..{len(channels) - 1}']
    right = [channels[i] for i in indices]
    if list(in_channels if many else [in_channels]) == right:
        return []
    value, where = (_fmt(right), _fmt(index)) if many else (
        str(right[0]), f'{index} (of {_fmt(channels)})')
    return [f'`{key}.in_channels` is {_fmt(in_channels)} but {name} gives '
            f'{value} at in_index {where}: set it to {value}']


def _det_head_problems(model: dict, neck_out) -> List[str]:
    """Detection heads against the neck: input channels and levels."""
    if neck_out is None:
        return []
    width, levels = neck_out[1][0], len(neck_out[1])
    problems = []
    roi = model.get('roi_head') or {}
    for key, head in [('model.bbox_head', model.get('bbox_head')),
                      ('model.rpn_head', model.get('rpn_head')),
                      ('model.roi_head.bbox_roi_extractor',
                       roi.get('bbox_roi_extractor'))]:
        if not head:
            continue
        channels = head.get('in_channels', head.get('out_channels'))
        name = 'in_channels' if 'in_channels' in head else 'out_channels'
        if isinstance(channels, int) and channels != width:
            problems.append(f'`{key}.{name}` is {channels} but '
                            f'{neck_out[0]} gives {width} channels: set it '
                            f'to {width}')
        for gen in ('anchor_generator', 'prior_generator'):
            strides = (head.get(gen) or {}).get('strides')
            if strides is not None and len(strides) != levels:
                problems.append(
                    f'`{key}.{gen}.strides` has {len(strides)} levels but '
                    f'`model.neck.num_outs` is {levels}')
        strides = head.get('featmap_strides')
        if strides is not None and len(strides) > levels:
            problems.append(f'`{key}.featmap_strides` has {len(strides)} '
                            f'levels but `model.neck.num_outs` is {levels}')
    return problems


def _checkpoints(init_cfg) -> List[str]:
    """The checkpoints a backbone's ``init_cfg`` (a dict or a list) names."""
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return [c.get('checkpoint') for c in cfgs
            if isinstance(c, dict) and c.get('type') == 'Pretrained']


def weights_problems(cfg: Config) -> List[str]:
    """Weights a VAN backbone cannot take: model-zoo names (not VAN
    weights, known without downloading), and ``model.pretrained`` beside
    the backbone's own ``init_cfg``."""
    model = cfg.get('model') or {}
    backbone = model.get('backbone') or {}
    if backbone.get('type') not in VAN_TYPES:
        return []
    zoo = ("a checkpoint of mmengine's model zoo ({}: ResNets, VGGs and "
           'other classifiers), not VAN weights')
    init = ("VAN weights go in model.backbone.init_cfg=dict(type="
            "'Pretrained', checkpoint=...)")
    problems = []
    pretrained = model.get('pretrained')
    if model_zoo_scheme(pretrained):
        problems.append(
            f'`model.pretrained` is {pretrained!r}, '
            f'{zoo.format(model_zoo_scheme(pretrained))}; mmseg\'s '
            'EncoderDecoder hands it to the VAN backbone: set '
            f'model.pretrained=None ({init})')
    elif pretrained is not None and (backbone.get('init_cfg') or
                                     backbone.get('pretrained')):
        problems.append(
            f'`model.pretrained` is {pretrained!r} and the backbone has '
            'weights of its own (`model.backbone.init_cfg` or '
            '`.pretrained`); mmseg\'s EncoderDecoder hands model.pretrained '
            'to the backbone, which takes one: set model.pretrained=None')
    named = [('model.backbone.pretrained', backbone.get('pretrained'))] + [
        ('model.backbone.init_cfg', c)
        for c in _checkpoints(backbone.get('init_cfg'))]
    for key, checkpoint in named:
        if model_zoo_scheme(checkpoint):
            problems.append(
                f'`{key}` names {checkpoint!r}, '
                f'{zoo.format(model_zoo_scheme(checkpoint))}: {init}, or '
                f'remove it')
    return problems


def model_problems(cfg: Config) -> List[str]:
    """Backbone, neck and heads that do not fit together, and weights the
    backbone cannot take."""
    model = cfg.get('model') or {}
    source = van_channels(cfg) if model.get('backbone') else None
    problems, neck_out = _neck_problems(cfg, source)
    problems = weights_problems(cfg) + problems
    inputs = neck_out if model.get('neck') else source
    for name in ('decode_head', 'auxiliary_head'):
        for key, head in _heads(model, name):
            if inputs:
                problems += _seg_head_problems(key, head, inputs)
    return problems + _det_head_problems(model, neck_out)


def leaf_datasets(ds: dict, key: str) -> Iterator[Tuple[str, dict]]:
    """The datasets inside wrappers (Repeat, ClassBalanced, Concat,
    GuardedDataset...), with their keys."""
    if not isinstance(ds, dict):
        return
    if isinstance(ds.get('datasets'), (list, tuple)):
        for i, inner in enumerate(ds['datasets']):
            yield from leaf_datasets(inner, f'{key}.datasets[{i}]')
    elif isinstance(ds.get('dataset'), dict):
        yield from leaf_datasets(ds['dataset'], f'{key}.dataset')
    else:
        yield key, ds


def dataset_classes(cfg: Config, loader: str) -> Optional[Tuple[str, tuple]]:
    """``(key, classes)`` of a data loader's dataset: its ``metainfo``, or
    its class's ``METAINFO``; None if unknown."""
    leaves = list(leaf_datasets((cfg.get(loader) or {}).get('dataset'),
                                 f'{loader}.dataset'))
    if not leaves:
        return None
    key, ds = leaves[0]
    classes = (ds.get('metainfo') or {}).get('classes')
    if classes is None and isinstance(ds.get('type'), str):
        from mmengine.registry import DATASETS
        name, scope = ds['type'], cfg.get('default_scope')
        cls = DATASETS.get(name if '.' in name or not scope else
                           f'{scope}.{name}')
        classes = getattr(cls, 'METAINFO', {}).get('classes')
    return (key, tuple(classes)) if classes is not None else None


def _num_classes_keys(model: dict) -> Iterator[Tuple[str, int]]:
    """``(key, num_classes)`` of every head that predicts the dataset's
    classes (not the class-agnostic RPN)."""
    roi = model.get('roi_head') or {}
    for key, head in [*_heads(model, 'decode_head'),
                      *_heads(model, 'auxiliary_head'),
                      *_heads(model, 'bbox_head'),
                      *(('model.roi_head.' + k[len('model.'):], h)
                        for name in ('bbox_head', 'mask_head')
                        for k, h in _heads(roi, name))]:
        if isinstance(head.get('num_classes'), int):
            yield key, head['num_classes']


def class_problems(cfg: Config, loader: str) -> List[str]:
    """Heads whose ``num_classes`` differ from the dataset's classes."""
    found = dataset_classes(cfg, loader)
    if found is None:
        return []
    key, classes = found
    shown = ', '.join(map(repr, classes[:5])) + (
        ', ...' if len(classes) > 5 else '')
    return [f'`{head}.num_classes` is {num} but the dataset ({key}) has '
            f'{len(classes)} classes ({shown}): set it to {len(classes)}'
            for head, num in _num_classes_keys(cfg.get('model') or {})
            if num != len(classes)]


def _is_remote(ds: dict) -> bool:
    backend = (ds.get('backend_args') or {}).get('backend', 'local')
    return backend != 'local' or '://' in str(ds.get('data_root', ''))


def _path_problems(key: str, ds: dict) -> List[str]:
    """Missing data root, annotation file or data folders of a dataset."""
    root = ds.get('data_root') or ''
    if root and not osp.isdir(root):
        return [f'`{key}.data_root`: folder {root!r} not found (relative '
                f'paths start at {os.getcwd()})']
    problems = []
    ann = ds.get('ann_file') or ''
    if ann:
        path = ann if osp.isabs(ann) else osp.join(root, ann)
        if not osp.isfile(path):
            problems.append(f'`{key}.ann_file`: {path!r} not found')
    for name, prefix in (ds.get('data_prefix') or {}).items():
        if not prefix or not isinstance(prefix, str):
            continue
        path = prefix if osp.isabs(prefix) else osp.join(root, prefix)
        if not osp.isdir(path):
            problems.append(
                f'`{key}.data_prefix.{name}`: folder {path!r} not found')
    return problems


def data_problems(cfg: Config, loaders: Sequence[str]) -> List[str]:
    """Missing files and folders of the datasets (and their evaluators'
    annotation files) that ``loaders`` (e.g. ``'train_dataloader'``)
    read."""
    problems = []
    for loader in loaders:
        dataset = (cfg.get(loader) or {}).get('dataset')
        for key, ds in leaf_datasets(dataset, f'{loader}.dataset'):
            if not _is_remote(ds):
                problems += _path_problems(key, ds)
        evaluator = cfg.get(loader.replace('_dataloader', '_evaluator'))
        metrics = evaluator if isinstance(evaluator, (list, tuple)) else [
            evaluator]
        for i, metric in enumerate(m for m in metrics if m):
            ann = metric.get('ann_file')
            if ann and '://' not in ann and not osp.isfile(ann):
                key = loader.replace('_dataloader', '_evaluator') + (
                    f'[{i}]' if len(metrics) > 1 else '')
                problems.append(f'`{key}.ann_file`: {ann!r} not found')
    return problems


def loaders_of(cfg: Config, mode: str) -> List[str]:
    """The data loaders a ``'train'`` run (training, and validation if
    configured) or a ``'test'`` run reads."""
    if mode == 'test':
        return ['test_dataloader']
    loaders = ['train_dataloader']
    if cfg.get('val_cfg') is not None and cfg.get('val_dataloader'):
        loaders.append('val_dataloader')
    return loaders


def check_config(cfg: Config, mode: str = 'train') -> None:
    """Run every check for a ``'train'`` or ``'test'`` run.

    Raises:
        ConfigCheckError: listing every problem found.
    """
    loaders = loaders_of(cfg, mode)
    problems = model_problems(cfg) + class_problems(cfg, loaders[0]) + \
        data_problems(cfg, loaders)
    if problems:
        raise ConfigCheckError(problems)
