# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Write the config that trains a base config of this repository on your
data, after checking the data.

    python tools/config_for_data.py BASE --data-root DIR --out FILE
        (--ann FILE_OR_DIR --img DIR [--val-fraction 0.2]
         | --train-ann A --train-img I --val-ann A --val-img I)
        [--test-ann A --test-img I] [--classes FILE] [--ignore-zero]
        [--pretrained PATH|URL|none] [--iters N] [--batch-size N]
        [--short-side N] [--workers N]

Detection and instance segmentation (an mmdet BASE): the annotations are a
COCO json (CVAT's and Label Studio's "COCO" exports); the classes are its
categories in the file's order, or the subset ``--classes`` names.
Semantic segmentation (an mmseg BASE): the annotations are a folder of
index PNG masks named as the images; the classes are the lines of
``--classes`` (line i names mask value i; with ``--ignore-zero`` value 0
is unlabelled and line i names value i + 1), or ``class_<value>`` for the
values found. Paths are relative to ``--data-root``.

The config it writes holds values only (``_base_`` and dicts): the classes
and a palette, ``num_classes`` of every head, the datasets (data root,
annotation files, image folders, splits), the backbone's weights, input
sizes that do not enlarge the images (:func:`input_scale`) and a schedule
for the size of the data (:func:`schedule`), with the rules and what was
found in its header. Before writing, what would fail later stops it with
the files named (:mod:`van_mm.checks.user_data`); the config is then
loaded and put through van_mm's config checks and the dataset check of
``tools/check_dataset.py`` on every split, and written only if they pass.

``VAN_MM_MAX_ITERS`` (environment): at most this many training
iterations, said in the output and in the config (docs/custom_data.md's
quick try).
"""
import argparse
import colorsys
import math
import os
import os.path as osp
import statistics
import sys
from typing import Dict, List, Optional, Tuple

from mmengine.config import Config

# The schedule rule (:func:`schedule`).
EPOCHS = {'det': 24, 'seg': 50}
MIN_ITERS, MAX_ITERS = 1000, 160000
WARMUP_FRACTION, MAX_WARMUP = 0.1, 1000
# mmengine's LinearLR changes the rate at steps begin..end-1 only: a
# one-iteration warm-up would leave it at start_factor for the whole run.
MIN_WARMUP = 2
EVALUATIONS, MIN_EVAL_GAP = 10, 200
ENV_ITERS = 'VAN_MM_MAX_ITERS'
SIZE_KEYS = ('scale', 'scales', 'crop_size', 'img_scale')
DET_DATASETS = ('CocoDataset', )
SEG_DATASETS = ('ADE20KDataset', 'BaseSegDataset')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write the config that trains a base config on your '
        'data (docs/custom_data.md)')
    parser.add_argument('base', help='a config of this repository, e.g. '
                        'configs/maskrcnn_van_b0_1x.py')
    parser.add_argument('--data-root', required=True,
                        help='the data folder (written as given: relative '
                        'paths start where the tools run)')
    parser.add_argument('--out', required=True, help='the config to write')
    for split in ('', 'train-', 'val-', 'test-'):
        which = split[:-1] or 'all'
        parser.add_argument(
            f'--{split}ann', help=f'{which} annotations, relative to the '
            'data root: a COCO json (detection) or a folder of PNG masks '
            '(segmentation)')
        parser.add_argument(
            f'--{split}img', help=f'{which} images folder, relative to the '
            "data root (detection: where the json's file_name paths start)")
    parser.add_argument(
        '--val-fraction', type=float, default=0.2,
        help='with --ann/--img: the share of images held out for validation '
        '(0.2, seeded); their lists go to DATA_ROOT/splits/')
    parser.add_argument(
        '--classes', help='a text file, one class name per line. '
        'Segmentation: line i names mask value i (i + 1 with '
        '--ignore-zero); detection: the categories to train (a subset)')
    parser.add_argument(
        '--ignore-zero', action='store_true',
        help='segmentation: mask value 0 is unlabelled (not trained or '
        "scored), values 1..N are the classes (mmseg's reduce_zero_label)")
    parser.add_argument(
        '--pretrained', help='backbone weights: a file, a URL, or none '
        "(from scratch); default: the base's ImageNet weights (a URL)")
    parser.add_argument('--iters', type=int,
                        help='training iterations (default: the rule)')
    parser.add_argument('--batch-size', type=int,
                        help="images per step (default: the base's)")
    parser.add_argument(
        '--short-side', type=int,
        help="input short side in pixels (default: the base's, or the "
        'median short side of the training images if smaller)')
    parser.add_argument('--workers', type=int,
                        default=min(4, os.cpu_count() or 1),
                        help='processes for the dataset check')
    return parser.parse_args(argv)


# -------------------------------------------------------------- splits

def splits_of(args, root: str):
    """The splits the arguments name, their paths checked."""
    from van_mm.checks.user_data import Split
    given = [s for s in ('train', 'val', 'test')
             if getattr(args, f'{s}_ann') or getattr(args, f'{s}_img')]
    if args.ann or args.img:
        if not (args.ann and args.img) or {'train', 'val'} & set(given):
            raise SystemExit('Give --ann and --img (one set, split by '
                             '--val-fraction), or --train-ann/--train-img '
                             'and --val-ann/--val-img.')
        if not 0 < args.val_fraction < 1:
            raise SystemExit(f'--val-fraction {args.val_fraction}: a '
                             'fraction between 0 and 1, e.g. 0.2')
        splits = [Split('train', args.ann, args.img),
                  Split('val', args.ann, args.img)]
    else:
        for s in ('train', 'val'):
            if not (getattr(args, f'{s}_ann') and getattr(args, f'{s}_img')):
                raise SystemExit(f'--{s}-ann and --{s}-img are needed (or '
                                 '--ann and --img, split by --val-fraction)')
        splits = [Split(s, getattr(args, f'{s}_ann'),
                        getattr(args, f'{s}_img')) for s in ('train', 'val')]
    if 'test' in given:
        if not (args.test_ann and args.test_img):
            raise SystemExit('--test-ann and --test-img go together')
        splits.append(Split('test', args.test_ann, args.test_img))
    for split in splits:
        for what in ('ann', 'img'):
            path = osp.join(root, getattr(split, what))
            if not osp.exists(path):
                flag = f'--{what}' if args.ann else f'--{split.name}-{what}'
                raise SystemExit(f'{flag}: {path!r} not found (paths are '
                                 'relative to --data-root)')
    return splits


def list_file(split) -> Optional[str]:
    """The list file of a held-out split, relative to the data root."""
    if not split.held_out:
        return None
    return osp.join('splits', f'{split.name}.'
                    + ('json' if isinstance(split.images, dict) else 'txt'))


def write_split_files(root: str, splits) -> List[str]:
    """Write the held-out splits' lists; what was written."""
    import json
    said = []
    for split in splits:
        name = list_file(split)
        if name is None:
            continue
        path = osp.join(root, name)
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            if isinstance(split.images, dict):
                json.dump(split.images, f)
                count = len(split.images['images'])
            else:
                f.write(''.join(f'{n}\n' for n in split.images))
                count = len(split.images)
        said.append(f'{split.name} split: {count} images, listed in {path}')
    return said


# ----------------------------------------------------- schedule, sizes

def schedule(num_train: int, batch: int, task: str,
             iters: Optional[int] = None) -> Dict[str, int]:
    """The rule: ``EPOCHS[task]`` passes over the training images (24 for
    detection, 50 for segmentation) at ``batch`` images per iteration, at
    least 1,000 and at most 160,000 iterations; a warm-up over the first
    10% (at most 1,000) where the base has one; evaluation and a checkpoint
    every tenth of the run, at least 200 iterations apart (and at the
    end). ``iters`` replaces the length; ``VAN_MM_MAX_ITERS`` caps it."""
    per_epoch = math.ceil(num_train / batch)
    rule = min(MAX_ITERS, max(MIN_ITERS, EPOCHS[task] * per_epoch))
    total = iters or rule
    cap = os.environ.get(ENV_ITERS)
    if cap:
        try:
            total = min(total, int(cap))
        except ValueError:
            raise SystemExit(f'{ENV_ITERS}={cap!r}: a number of iterations')
    interval = max(math.ceil(total / EVALUATIONS), min(total, MIN_EVAL_GAP))
    return dict(max_iters=total, rule=rule, per_epoch=per_epoch,
                warmup=min(MAX_WARMUP, int(total * WARMUP_FRACTION)),
                interval=interval, capped=bool(cap) and total < (iters or
                                                                 rule))


def convert_schedulers(cfg: Config, total: int,
                       warmup: int) -> Tuple[List[dict], Optional[bool]]:
    """The base's ``param_scheduler`` over ``total`` iterations: its
    warm-up (an iteration-based LinearLR from 0) takes ``warmup``
    iterations (none under :data:`MIN_WARMUP`); the other schedulers keep
    their share of the base's length (Mask R-CNN's steps after 8/12 and
    11/12; UperNet's poly decay starts after the warm-up). Returns the
    schedulers and whether the warm-up was kept (None: the base has
    none)."""
    loop = cfg.get('train_cfg') or {}
    base_iters = float(loop.get('max_iters') or 0)
    base_epochs = float(loop.get('max_epochs') or 0) if not base_iters \
        else 0.
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    out, warm_end, kept = [], None, None
    for s in schedulers:
        s = dict(s)
        by_epoch = s.pop('by_epoch', True)
        s.pop('convert_to_iter_based', None)
        length = base_epochs if by_epoch else base_iters
        if (not by_epoch and s.get('begin', 0) == 0 and s.get('end')
                and warm_end is None and s['type'] == 'LinearLR'
                and (base_epochs or s['end'] <= 0.1 * base_iters)):
            warm_end, kept = s['end'], warmup >= MIN_WARMUP
            if not kept:
                continue
            s.update(begin=0, end=warmup)
        else:
            def at(x, length=length):
                return round(total * x / length) if length else x
            if s.get('begin') is not None:
                s['begin'] = warmup if (kept and not by_epoch and
                                        s['begin'] == warm_end) \
                    else at(s['begin'])
            s['end'] = at(s.get('end', length))
            if 'milestones' in s:
                s['milestones'] = [at(m) for m in s['milestones']]
        s['by_epoch'] = False
        out.append(s)
    return out, kept


def _test_short_side(pipeline) -> Optional[int]:
    """The short side the base's test pipeline resizes to."""
    for t in pipeline or []:
        scale = t.get('scale') if isinstance(t, dict) else None
        if t.get('type') in ('Resize', 'RandomResize') and \
                isinstance(scale, (list, tuple)) and len(scale) == 2:
            return min(scale)
    return None


def input_scale(cfg: Config, short_sides: List[int],
                short_side: Optional[int]) -> Tuple[float, str]:
    """``(factor, why)``: every input size of the base times ``factor``.
    The rule: images are not enlarged: the base's short side (COCO configs
    800, ADE20K configs 512), or the median short side of the training
    images where that is smaller, rounded to a multiple of 32;
    ``short_side`` (``--short-side``) replaces it."""
    base = _test_short_side(cfg.test_dataloader.dataset.get('pipeline'))
    if not base:
        return 1., "the base's input sizes (its test pipeline has no Resize)"
    if short_side:
        return short_side / base, f'short side {short_side} (--short-side)'
    median = int(statistics.median(short_sides)) if short_sides else base
    target = max(32, round(median / 32) * 32)
    if target >= base:
        return 1., (f"the base's short side {base} (the training images' "
                    f'median short side is {median})')
    return target / base, (f"short side {target}: the training images' "
                           f"median short side {median}, below the base's "
                           f'{base}')


def scale_sizes(node, factor: float):
    """A copy of a config value with every size under :data:`SIZE_KEYS`
    times ``factor`` (crop sizes to a multiple of 32)."""
    if isinstance(node, (list, tuple)):
        return type(node)(scale_sizes(n, factor) for n in node)
    if not isinstance(node, dict):
        return node
    return {k: _scaled(v, factor, 32 if k == 'crop_size' else 1)
            if k in SIZE_KEYS else scale_sizes(v, factor)
            for k, v in node.items()}


def _scaled(value, factor: float, multiple: int):
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(x, (list, tuple)) for x in value):
        return [_scaled(v, factor, multiple) for v in value]
    if isinstance(value, (list, tuple)) and all(
            isinstance(x, int) for x in value):
        return tuple(max(multiple, round(x * factor / multiple) * multiple)
                     for x in value)
    return value


def palette(n: int) -> List[Tuple[int, int, int]]:
    """``n`` distinct, reproducible colours (hues a golden angle apart)."""
    out = []
    for i in range(n):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1, 0.65,
                                      0.95 - 0.25 * (i // 8 % 2))
        out.append((round(r * 255), round(g * 255), round(b * 255)))
    return out


def best_metric(cfg: Config) -> str:
    """The metric the best checkpoint is kept by (mmengine's ``'auto'``
    takes the evaluator's first: mmseg's aAcc, not mIoU)."""
    evaluator = cfg.get('val_evaluator') or {}
    if isinstance(evaluator, (list, tuple)):
        evaluator = evaluator[0] if evaluator else {}
    kind = str(evaluator.get('type', ''))
    metric = evaluator.get('metric', 'bbox')
    first = metric[0] if isinstance(metric, (list, tuple)) else metric
    if kind.endswith('IoUMetric'):
        return 'mIoU'
    if kind.endswith('CocoMetric'):
        return f'coco/{first}_mAP'
    return 'auto'


# ------------------------------------------------------------- writing

class Code(str):
    """Config text written as it is (``val_dataloader``, ``data_root +
    'x'``), as this repository's configs reference their own names."""


def fmt(value, indent: int = 0, prefix: int = 0) -> str:
    """A config value as text: ``dict(...)``, lists and tuples, on one
    line where it fits in 79 columns after ``prefix`` characters."""
    pad = ' ' * (indent + 4)
    if isinstance(value, Code):
        return str(value)
    if isinstance(value, dict):
        if not value:
            return 'dict()'
        items = [f'{k}={fmt(v, indent + 4, len(k) + 1)}'
                 for k, v in value.items()]
        text = f'dict({", ".join(items)})'
        if len(text) + indent + prefix <= 78 and '\n' not in text:
            return text
        return 'dict(\n' + ',\n'.join(pad + i for i in items) + ')'
    if isinstance(value, (list, tuple)):
        left, right = ('[', ']') if isinstance(value, list) else ('(', ')')
        items = [fmt(v, indent + 4) for v in value]
        tail = ',' if isinstance(value, tuple) and len(value) == 1 else ''
        text = left + ', '.join(items) + tail + right
        if len(text) + indent + prefix <= 78 and '\n' not in text:
            return text
        return left + '\n' + ',\n'.join(pad + i for i in items) + tail + \
            right
    return repr(value)


def config_text(base: str, out: str, header: List[str],
                values: Dict[str, object]) -> str:
    rel = osp.relpath(osp.abspath(base), osp.dirname(osp.abspath(out)))
    lines = [f'# {h}'.rstrip() for h in header]
    lines += [f'_base_ = {rel!r}', '']
    lines += [f'{key} = {fmt(value, 0, len(key) + 3)}'
              for key, value in values.items()]
    return '\n'.join(lines) + '\n'


def class_heads(model: dict) -> List[List[str]]:
    """The paths (``['roi_head', 'bbox_head']``) of the heads that predict
    the dataset's classes, as the config checks find them."""
    from van_mm.checks.config import _num_classes_keys
    return [key[len('model.'):].split('.')
            for key, _ in _num_classes_keys(model)]


def model_values(cfg: Config, num_classes: int, factor: float,
                 pretrained: Optional[str]) -> dict:
    """``model = dict(...)``: the ``num_classes`` of every head, the
    backbone's weights, the segmentor's input size."""
    model: dict = {}
    for path in class_heads(cfg.model):
        node, base = model, cfg.model
        for part in path[:-1]:
            node, base = node.setdefault(part, {}), base[part]
        name = path[-1]
        if '[' in name:  # a list of heads (a cascade): every one
            name = name.split('[')[0]
            node[name] = [dict(h, num_classes=num_classes)
                          for h in base[name]]
        else:
            node.setdefault(name, {})['num_classes'] = num_classes
    if pretrained is not None:
        model['backbone'] = dict(init_cfg=None if pretrained == 'none' else
                                 dict(type='Pretrained',
                                      checkpoint=pretrained))
    size = (cfg.model.get('data_preprocessor') or {}).get('size')
    if size and factor != 1:
        model.setdefault('data_preprocessor', {})['size'] = _scaled(
            size, factor, 32)
    return model


def seg_pipeline(pipeline, reduce_zero_label: bool, factor: float):
    """A base pipeline with its sizes scaled and ``LoadAnnotations``'
    ``reduce_zero_label`` set as the dataset's (mmseg asserts they agree),
    also inside ``TestTimeAug``."""
    def visit(node):
        if isinstance(node, (list, tuple)):
            return type(node)(visit(n) for n in node)
        if isinstance(node, dict):
            node = {k: visit(v) for k, v in node.items()}
            if node.get('type') == 'LoadAnnotations':
                node['reduce_zero_label'] = reduce_zero_label
        return node

    return visit(scale_sizes(list(pipeline), factor))


def dataset_values(task: str, split, data, ignore_zero: bool,
                   base_ds: dict, pipeline) -> dict:
    """The ``dataset`` of one split's data loader."""
    ann = list_file(split) or split.ann
    ds = dict(data_root=Code('data_root'), metainfo=Code('metainfo'))
    if task == 'det':
        ds.update(ann_file=ann, data_prefix=dict(img=split.img.rstrip('/') +
                                                 '/'))
        if pipeline is not None:
            ds['pipeline'] = pipeline
        return ds
    ds = dict(_delete_=True, type='BaseSegDataset', **ds,
              img_suffix=data.img_suffix, seg_map_suffix='.png',
              reduce_zero_label=ignore_zero,
              data_prefix=dict(img_path=split.img, seg_map_path=split.ann),
              ann_file=ann if split.held_out else '', pipeline=pipeline)
    if base_ds.get('test_mode') is not None:
        ds['test_mode'] = base_ds['test_mode']
    return ds


def config_values(args, cfg: Config, task: str, data,
                  plan: Dict[str, int], factor: float) -> dict:
    """Every value the written config sets."""
    root = args.data_root.rstrip('/') + '/'
    values: Dict[str, object] = dict(
        data_root=root,
        metainfo=dict(classes=tuple(data.classes),
                      palette=palette(len(data.classes))),
        model=model_values(cfg, len(data.classes), factor, args.pretrained))
    for split in data.splits:
        base_ds = cfg[f'{split.name}_dataloader'].dataset
        pipeline = base_ds.get('pipeline') or []
        if task == 'seg':
            pipeline = seg_pipeline(pipeline, args.ignore_zero, factor)
        else:
            pipeline = scale_sizes(pipeline, factor) if factor != 1 \
                else None
        loader = dict(dataset=dataset_values(task, split, data,
                                             args.ignore_zero, base_ds,
                                             pipeline))
        if split.name == 'train' and args.batch_size:
            loader['batch_size'] = args.batch_size
        values[f'{split.name}_dataloader'] = loader
        if task == 'det' and split.name != 'train':
            ann = list_file(split) or split.ann
            values[f'{split.name}_evaluator'] = dict(
                ann_file=Code(f'data_root + {ann!r}'))
    if not any(s.name == 'test' for s in data.splits):
        values['test_dataloader'] = Code('val_dataloader')
        if task == 'det':
            values['test_evaluator'] = Code('val_evaluator')
    if cfg.get('tta_pipeline') and (task == 'seg' or factor != 1):
        values['tta_pipeline'] = seg_pipeline(
            cfg.tta_pipeline, args.ignore_zero, factor) if task == 'seg' \
            else scale_sizes(cfg.tta_pipeline, factor)
    total = plan['max_iters']
    values['train_cfg'] = dict(_delete_=True, type='IterBasedTrainLoop',
                               max_iters=total, val_interval=plan['interval'])
    values['param_scheduler'], plan['warmup_kept'] = convert_schedulers(
        cfg, total, plan['warmup'])
    values['default_hooks'] = dict(
        logger=dict(interval=max(1, min(50, plan['interval'] // 4))),
        checkpoint=dict(by_epoch=False, interval=plan['interval'],
                        max_keep_ckpts=3, save_best=best_metric(cfg)))
    values['log_processor'] = dict(by_epoch=False)
    return values


def header(args, data, task: str, plan: Dict[str, int], batch: int,
           why_size: str) -> List[str]:
    """The written config's first lines: how it was made and why."""
    if plan['capped']:
        length = (f'{plan["max_iters"]} iterations ({ENV_ITERS}='
                  f'{os.environ[ENV_ITERS]}; the rule gives {plan["rule"]})')
    elif args.iters:
        length = f'{plan["max_iters"]} iterations (--iters)'
    else:
        length = (f'{plan["max_iters"]} iterations = max({MIN_ITERS}, '
                  f'{EPOCHS[task]} epochs x {plan["per_epoch"]} iterations),'
                  f' at most {MAX_ITERS}')
    kept = plan.get('warmup_kept')
    warm = ('none (the base has none)' if kept is None else
            f'{plan["warmup"]} iterations' if kept else
            'none (too short a run)')
    return [
        f'Written by tools/config_for_data.py: {args.base} on '
        f'{args.data_root}, {len(data.classes)} classes.',
        f'Command: python tools/config_for_data.py {" ".join(args.argv)}',
        f'Schedule: {length}; batch {batch}; warm-up {warm}; evaluation and '
        f'a checkpoint every {plan["interval"]} iterations.',
        f'Input: {why_size}.',
        'Backbone weights: ' + (args.pretrained or "the base's"),
        *(['', 'Found in the data:'] + data.notes if data.notes else []),
        '']


# --------------------------------------------------------------- check

def check_written(path: str, workers: int) -> List[str]:
    """The config checks and the dataset check on the written config: the
    errors found (the report is printed)."""
    from van_mm.apis import load_config
    from van_mm.checks.config import ConfigCheckError, check_config
    from van_mm.checks.dataset import check_splits
    cfg = load_config(path)
    try:
        check_config(cfg, 'train')
    except ConfigCheckError as e:
        return e.problems
    errors = check_splits(cfg, ['train', 'val', 'test'],
                          lambda n: min(workers, max(1, n // 8)))
    return [f'{errors} error(s) in the data, listed above'] if errors else []


def main(argv=None):
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    from van_mm.apis import load_config, task_of
    from van_mm.checks.user_data import (
        DataProblem,
        read_coco_data,
        read_mask_data,
    )
    try:
        cfg = load_config(args.base)
    except FileNotFoundError as e:
        raise SystemExit(str(e))
    task = task_of(cfg)
    kind = str(cfg.train_dataloader.dataset.get('type', '')).rpartition(
        '.')[2]
    if kind not in (DET_DATASETS if task == 'det' else SEG_DATASETS):
        raise SystemExit(
            f'{args.base}: its dataset is {kind}; tools/config_for_data.py '
            'writes COCO-json detection configs (bases with a CocoDataset) '
            'and PNG-mask segmentation configs (ADE20KDataset or '
            'BaseSegDataset)')
    root = args.data_root
    if not osp.isdir(root):
        raise SystemExit(f'--data-root: folder {root!r} not found')
    if args.pretrained and args.pretrained != 'none' and \
            '://' not in args.pretrained and not osp.isfile(args.pretrained):
        raise SystemExit(f'--pretrained: file {args.pretrained!r} not found '
                         '(a file, a URL, or none)')
    splits = splits_of(args, root)
    try:
        if task == 'det':
            masks = bool((cfg.model.get('roi_head') or {}).get('mask_head'))
            data = read_coco_data(root, splits, masks, args.classes,
                                  args.val_fraction)
        else:
            data = read_mask_data(root, splits, args.classes,
                                  args.ignore_zero, args.val_fraction)
    except DataProblem as e:
        raise SystemExit(f'Nothing written: {args.base} cannot train on '
                         f'{root} as it is:\n{e}')
    batch = args.batch_size or cfg.train_dataloader.batch_size
    plan = schedule(data.num_train, batch, task, args.iters)
    factor, why_size = input_scale(cfg, data.short_sides, args.short_side)
    values = config_values(args, cfg, task, data, plan, factor)
    lines = header(args, data, task, plan, batch, why_size)
    for note in data.notes:
        print(note)
    for said in write_split_files(root, data.splits):
        print(said)
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    partial = osp.join(out_dir, f'.{osp.basename(args.out)}.partial.py')
    with open(partial, 'w', encoding='utf-8') as f:
        f.write(config_text(args.base, args.out, lines, values))
    try:
        problems = check_written(partial, args.workers)
    except BaseException:
        os.remove(partial)
        raise
    if problems:
        os.remove(partial)
        raise SystemExit('Nothing written: the checks of the config found:\n'
                         + '\n'.join(f'- {p}' for p in problems))
    os.replace(partial, args.out)
    print(f'{args.out}: {len(data.classes)} classes '
          f'({", ".join(data.classes[:8])}'
          f'{", ..." if len(data.classes) > 8 else ""}). {lines[2]}')
