# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Checking every file of a config's datasets before a long run: what
``tools/check_dataset.py`` runs.

Each sample's image is read and decoded as mmcv's ``LoadImageFromFile``
does (OpenCV), its label map as mmseg's ``LoadAnnotations`` does (Pillow,
``reduce_zero_label`` and ``label_map`` applied), and its COCO annotations
are read as stored (mmdet's ``CocoDataset`` silently drops the ones it
cannot use). What is found, by kind:

* ``missing``: an image or label file that does not exist;
* ``unreadable``: a file that cannot be decoded, or a JPEG/PNG cut short
  (OpenCV decodes those partly, with a grey or black rest);
* ``size mismatch``: a label map, an RLE mask or the annotation's
  width/height that differs from the image;
* ``labels outside the classes``: label-map values that are neither a class
  nor the ignore index (after ``reduce_zero_label``), values above 255 in a
  16-bit label map (mmseg casts them to uint8), COCO annotations whose
  category the file does not define, config classes the COCO file does
  not define or lists in another order (mmdet numbers labels in the
  file's order);
* ``inconsistent``: boxes outside the image or without area, polygons with
  fewer than three points;
* ``empty annotation`` (a warning, not an error): a label map with only
  ignored pixels, an image without objects (mmdet skips those in training
  with ``filter_empty_gt``);
* ``left out`` (a warning): annotations of COCO categories that the
  config's classes leave out, counted per category (mmdet drops them:
  how a subset of the classes is trained).

The samples are checked in parallel processes; the datasets are built from
the config without their pipelines and without filtering.
"""
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.config import Config

from van_mm.checks.config import leaf_datasets

KINDS = ('missing', 'unreadable', 'size mismatch',
         'labels outside the classes', 'inconsistent', 'empty annotation',
         'left out')
WARNING_KINDS = ('empty annotation', 'left out')
# Bytes each format ends with, looked for near the end of the file.
_END_MARKERS = {'.jpg': b'\xff\xd9', '.jpeg': b'\xff\xd9', '.png': b'IEND'}


@dataclass
class Problem:
    """One thing wrong with one file."""
    kind: str
    path: str
    detail: str


def _read(path: str, problems: List[Problem]) -> Tuple[Optional[bytes], bool]:
    """The file's bytes (None if missing) and whether a JPEG/PNG lacks its
    end marker."""
    if not osp.isfile(path):
        problems.append(Problem('missing', path, 'file not found'))
        return None, False
    with open(path, 'rb') as f:
        data = f.read()
    marker = _END_MARKERS.get(osp.splitext(path)[1].lower())
    return data, bool(data and marker and marker not in data[-4096:])


def _decode(path: str, problems: List[Problem], **kwargs):
    """The decoded file (mmcv.imfrombytes ``kwargs``), or None with the
    problem recorded."""
    import mmcv
    data, cut = _read(path, problems)
    if data is None:
        return None
    if not data:
        problems.append(Problem('unreadable', path, 'empty file'))
        return None
    try:
        image = mmcv.imfrombytes(data, **kwargs)
    except Exception as e:  # cv2 and Pillow raise several types
        image, reason = None, f'{type(e).__name__}: {e}'.splitlines()[0]
    else:
        reason = 'not an image the decoder knows'
    if image is None:
        problems.append(Problem(
            'unreadable', path, reason + (' (cut short)' if cut else '')))
    elif cut:
        problems.append(Problem(
            'unreadable', path, 'cut short: no end-of-image marker (the '
            'decoder fills the missing part)'))
    return image


def _label_values(label: np.ndarray, task: dict) -> np.ndarray:
    """A label map as mmseg's LoadAnnotations turns it into targets."""
    label = label.squeeze().astype(np.uint8)
    if task['reduce_zero_label']:
        label[label == 0] = 255
        label = label - 1
        label[label == 254] = 255
    if task.get('label_map'):
        copy = label.copy()
        for old, new in task['label_map'].items():
            label[copy == old] = new
    return label


def _check_label_map(task: dict, shape, problems: List[Problem]) -> None:
    path = task['seg']
    raw = _decode(path, problems, flag='unchanged', backend='pillow')
    if raw is None:
        return
    if shape is not None and raw.shape[:2] != tuple(shape):
        problems.append(Problem(
            'size mismatch', path, f'label map {raw.shape[1]}x'
            f'{raw.shape[0]} (WxH) but the image is {shape[1]}x{shape[0]}'))
    if not task.get('num_classes'):
        return  # a panoptic PNG: ids, not classes
    if raw.max() > 255:
        problems.append(Problem(
            'labels outside the classes', path, f'values up to {raw.max()} '
            'in a 16-bit label map; mmseg reads it as uint8 (values wrap)'))
        return
    values = set(np.unique(_label_values(raw, task)).tolist())
    values.discard(task['ignore_index'])
    outside = sorted(v for v in values if v >= task['num_classes'])
    if outside:
        problems.append(Problem(
            'labels outside the classes', path, f'values {outside} (after '
            f'reduce_zero_label={task["reduce_zero_label"]}) but there are '
            f'{task["num_classes"]} classes (0..{task["num_classes"] - 1}, '
            f'{task["ignore_index"]} ignored)'))
    elif not values:
        problems.append(Problem('empty annotation', path,
                                'every pixel is ignored'))


def _check_objects(task: dict, shape, problems: List[Problem]) -> None:
    """COCO-style annotations of one image (see :func:`_coco_objects`)."""
    path = task['img']
    if shape is not None and task.get('size') and \
            tuple(task['size']) != tuple(shape):
        h, w = task['size']
        problems.append(Problem(
            'size mismatch', path, f'the annotation file says {w}x{h} '
            f'(WxH), the image is {shape[1]}x{shape[0]}'))
    for note in task['objects']:
        kind, detail = note
        problems.append(Problem(kind, path, detail))
    if task.get('empty'):
        problems.append(Problem('empty annotation', path, 'no objects'))


def check_sample(task: dict) -> List[Problem]:
    """Every problem of one sample (a task made by :func:`sample_tasks`);
    runs in worker processes."""
    problems: List[Problem] = []
    image = _decode(task['img'], problems, flag='color', backend='cv2')
    shape = image.shape[:2] if image is not None else None
    if task.get('seg'):
        _check_label_map(task, shape, problems)
    if 'objects' in task:
        _check_objects(task, shape, problems)
    return problems


def raw_coco(dataset):
    """The annotation file of an mmdet COCO-style dataset as stored (mmdet
    keeps only what it uses, then drops the file), or None."""
    api = getattr(dataset, 'COCOAPI', None)
    ann_file = getattr(dataset, 'ann_file', '')
    if api is None or not hasattr(dataset, 'cat_ids') or not ann_file:
        return None
    return api(ann_file)


def _coco_objects(dataset, coco, info: dict) -> Tuple[List, bool]:
    """``([(kind, detail), ...], empty)`` for one image's raw COCO
    annotations."""
    anns = coco.load_anns(coco.get_ann_ids(img_ids=[info['img_id']]))
    h, w = info['height'], info['width']
    notes, usable = [], 0
    for ann in anns:
        x, y, bw, bh = ann['bbox']
        where = f'annotation {ann["id"]}'
        if ann['category_id'] not in coco.cats:
            notes.append(('labels outside the classes', f'{where}: category '
                          f'{ann["category_id"]} is not defined by the '
                          f'file\'s categories {list(coco.cats)} (mmdet '
                          'drops it without a word)'))
            continue
        if ann['category_id'] not in dataset.cat_ids:
            continue  # a category the classes leave out: left_out_classes
        if bw < 1 or bh < 1 or x >= w or y >= h or x + bw <= 0 or \
                y + bh <= 0:
            notes.append(('inconsistent', f'{where}: box {ann["bbox"]} has '
                          f'no area inside the {w}x{h} image'))
            continue
        seg = ann.get('segmentation')
        if isinstance(seg, dict) and list(seg.get('size', [h, w])) != [h, w]:
            notes.append(('size mismatch', f'{where}: RLE mask of size '
                          f'{seg["size"]} (HxW) in a {h}x{w} image'))
        elif isinstance(seg, list) and any(len(p) < 6 for p in seg):
            notes.append(('inconsistent',
                          f'{where}: a polygon with fewer than 3 points'))
        usable += not ann.get('iscrowd', False)
    return notes, usable == 0


def coco_class_problems(dataset) -> List[Problem]:
    """A COCO-style dataset's classes against its annotation file: classes
    the file does not define or lists in another order (errors: mmdet
    would train them on nothing, or name the labels wrongly), and the
    annotations of categories the classes leave out (one ``left out``
    warning: mmdet drops them)."""
    coco = raw_coco(dataset)
    if coco is None:
        return []
    path = dataset.ann_file
    names = [c['name'] for c in coco.cats.values()]  # the file's order
    classes = tuple(dataset.metainfo.get('classes') or ())
    absent = [c for c in classes if c not in names]
    if absent:
        return [Problem('labels outside the classes', path,
                        f'the classes {absent} are not categories of the '
                        f'file ({names}): spell them as the file does')]
    in_file_order = tuple(n for n in names if n in classes)
    if in_file_order != classes:
        return [Problem('labels outside the classes', path,
                        f'the classes are listed in another order than the '
                        f'file\'s: mmdet numbers labels in the file\'s order'
                        f', so list them as {in_file_order}')]
    kept = set(dataset.cat_ids)
    dropped = {}
    for ann in coco.anns.values():
        cat = ann['category_id']
        if cat in coco.cats and cat not in kept:
            dropped[cat] = dropped.get(cat, 0) + 1
    if not dropped:
        return []
    counts = ', '.join(f'{coco.cats[c]["name"]!r} (id {c}): {n}'
                       for c, n in sorted(dropped.items()))
    return [Problem('left out', path,
                    f'{sum(dropped.values())} annotations of categories the '
                    f'classes leave out are dropped, as mmdet drops them '
                    f'({counts})')]


def orphan_label_maps(dataset) -> List[Problem]:
    """Label maps of a folder-listed mmseg dataset without their image:
    mmseg lists samples by their images, so such a sample is silently left
    out."""
    prefix = getattr(dataset, 'data_prefix', {}) or {}
    seg_dir, img_dir = prefix.get('seg_map_path'), prefix.get('img_path')
    suffix = getattr(dataset, 'seg_map_suffix', None)
    if getattr(dataset, 'ann_file', '') or not (seg_dir and img_dir and suffix
                                               and osp.isdir(seg_dir)):
        return []
    listed = {dataset.get_data_info(i).get('seg_map_path')
              for i in range(len(dataset))}
    return [Problem('missing', osp.join(img_dir, name[:-len(suffix)] +
                                        dataset.img_suffix),
                    f'image not found for label map {name}')
            for name in sorted(os.listdir(seg_dir))
            if name.endswith(suffix) and osp.join(seg_dir, name) not in listed]


def sample_tasks(dataset, ignore_index: int = 255) -> List[Dict]:
    """One small picklable task per sample of a built dataset."""
    num_classes = len(dataset.metainfo.get('classes') or ())
    coco = raw_coco(dataset)
    tasks = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        task = dict(img=info['img_path'], seg=info.get('seg_map_path'))
        if coco is not None:
            task['objects'], task['empty'] = _coco_objects(dataset, coco,
                                                          info)
            task['size'] = (info['height'], info['width'])
        elif 'instances' in info:
            labels = [o['bbox_label'] for o in info['instances']]
            task['objects'] = [
                ('labels outside the classes', f'label {v} but there are '
                 f'{num_classes} classes') for v in labels
                if not 0 <= v < num_classes]
            task['empty'] = not labels
        else:
            task.update(num_classes=num_classes, ignore_index=ignore_index,
                        reduce_zero_label=info.get('reduce_zero_label',
                                                   False),
                        label_map=info.get('label_map'))
        tasks.append(task)
    return tasks


def build_for_check(ds_cfg: dict, scope: Optional[str]):
    """A config's dataset without pipeline or filtering, fully loaded."""
    from mmengine.registry import DATASETS
    ds_cfg = dict(ds_cfg, pipeline=[], lazy_init=False)
    if 'filter_cfg' in ds_cfg:
        ds_cfg['filter_cfg'] = None
    name = ds_cfg['type']
    if isinstance(name, str) and '.' not in name and scope:
        ds_cfg['type'] = f'{scope}.{name}'
    return DATASETS.build(ds_cfg)


def split_datasets(cfg: Config,
                   splits: Sequence[str]) -> List[Tuple[str, str, dict]]:
    """``(split, key, dataset config)`` of each dataset the splits'
    data loaders read, each distinct dataset once."""
    found, seen = [], []
    for split in splits:
        loader = cfg.get(f'{split}_dataloader') or {}
        for key, ds in leaf_datasets(loader.get('dataset'),
                                     f'{split}_dataloader.dataset'):
            signature = {k: v for k, v in ds.items() if k != 'pipeline'}
            if signature not in seen:
                seen.append(signature)
                found.append((split, key, ds))
    return found


def ignore_index(cfg: Config) -> int:
    """The decode head's ignore index (mmseg's default 255)."""
    head = (cfg.get('model') or {}).get('decode_head') or {}
    if isinstance(head, (list, tuple)):
        head = head[0] if head else {}
    return head.get('ignore_index', 255)


def check_tasks(tasks: List[Dict], nproc: int) -> List[Problem]:
    """Run :func:`check_sample` over ``tasks`` in ``nproc`` processes with
    a progress bar; every problem found, in sample order."""
    from mmengine.utils import track_parallel_progress, track_progress
    if nproc > 1 and len(tasks) > 1:
        results = track_parallel_progress(
            check_sample, tasks, nproc,
            chunksize=max(1, min(32, len(tasks) // (nproc * 8))))
    else:
        results = track_progress(check_sample, tasks)
    return [p for found in results for p in found]


def check_splits(cfg, splits: Sequence[str], workers,
                 log=print) -> int:
    """Check every sample of the config's datasets of ``splits`` (what
    ``tools/check_dataset.py`` does): each split's report is given to
    ``log``; the number of errors. ``workers``: processes, or a function
    of the number of samples that gives them."""
    errors = 0
    for _, key, ds_cfg in split_datasets(cfg, list(splits)):
        dataset = build_for_check(ds_cfg, cfg.get('default_scope'))
        tasks = sample_tasks(dataset, ignore_index(cfg))
        nproc = workers(len(tasks)) if callable(workers) else workers
        log(f'{key}: checking {len(tasks)} samples with {nproc} '
            'process(es)')
        problems = orphan_label_maps(dataset) + \
            coco_class_problems(dataset) + check_tasks(tasks, nproc)
        text, found = report(key, len(tasks), problems)
        log(text)
        errors += found
    return errors


def report(key: str, num_samples: int,
           problems: List[Problem]) -> Tuple[str, int]:
    """A text listing ``problems`` by kind, and the number of errors
    (problems of kinds other than :data:`WARNING_KINDS`)."""
    errors = sum(p.kind not in WARNING_KINDS for p in problems)
    lines = [f'{key}: {num_samples} samples checked, {errors} error(s), '
             f'{len(problems) - errors} warning(s)']
    for kind in KINDS:
        found = [p for p in problems if p.kind == kind]
        if found:
            lines.append(f'  {kind} ({len(found)}):')
            lines += [f'    {p.path}: {p.detail}' for p in found]
    return '\n'.join(lines), errors
