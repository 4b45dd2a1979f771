# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Class ids checked where a run reads its samples, in training and in
evaluation (:class:`LabelCheckHook`).

Segmentation: a label-map value that is neither a class of the model nor
its ignore index makes the loss fail far from its cause (``IndexError:
Target 6 is out of bounds`` on a CPU, "device-side assert triggered" on a
GPU), and mmseg's ``IoUMetric`` leaves it out without a word (its
histograms stop at the last class). The hook looks at each batch's
``gt_sem_seg`` before the model sees it, i.e. after ``LoadAnnotations``
applied ``reduce_zero_label`` and the dataset's ``label_map``: the targets
of the loss and the metric. The first sample with such a value stops the
run, naming its label file, the values it holds outside the classes and
the class count.

Detection: mmdet's ``CocoDataset`` keeps the annotations whose category is
among the config's classes and drops the others without a word. That is
how a subset of a file's categories is trained, and also how a category
id the file does not define vanishes. Once per annotation file the hook
reads the file as stored and

* counts the annotations of the categories the config's classes leave out
  and logs them once (a subset is trained);
* stops on annotations whose ``category_id`` the file does not define,
  naming the file and the annotations;
* stops on config classes the file does not define (mmdet would train them
  on nothing), and on classes listed in another order than the file's
  (mmdet numbers the labels in the file's order, so pictures and
  checkpoints would name them wrongly).

Why a hook: it is in the config (van_mm's bases list it in
``custom_hooks``, van_mm's tools add it to configs that do not), so it
works under mmdet's and mmseg's own tools too; it reads the class count
and the ignore index from the model that computes the loss, so nothing is
repeated in the config; datasets, pipelines and ``LoadAnnotations`` stay
mmdet's and mmseg's. Its cost per batch (a minimum and a maximum of the
label pixels, NumPy on one thread) is measured by
``benchmarks/label_check_cost.py`` (``benchmarks/RESULTS.md``).
"""
import json
from collections import Counter
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper

from van_mm.registry import HOOKS, register

HINT = ('tools/check_dataset.py CONFIG lists every such file of the '
        'splits at once')
SHOWN = 5


class LabelOutsideClasses(ValueError):
    """A label file or annotation file holds a class id the model cannot
    have; the message names the file and the ids."""


def leaf_datasets(dataset) -> Iterator:
    """The datasets inside wrappers (van_mm's ``GuardedDataset``,
    mmengine's Concat/Repeat/ClassBalanced datasets)."""
    if isinstance(getattr(dataset, 'datasets', None), (list, tuple)):
        for inner in dataset.datasets:
            yield from leaf_datasets(inner)
    elif getattr(dataset, 'dataset', None) is not None:
        yield from leaf_datasets(dataset.dataset)
    elif dataset is not None:
        yield dataset


def bare_model(runner):
    """The runner's model without its DDP and test-time-augmentation
    wrappers."""
    model = runner.model
    if is_model_wrapper(model):
        model = model.module
    if isinstance(model, BaseTTAModel):
        model = model.module
    return model


def seg_classes(model) -> Optional[Tuple[int, int]]:
    """``(num_classes, ignore_index)`` of a segmentor's decode head (the
    last of a cascade), or None for a model without one."""
    head = getattr(model, 'decode_head', None)
    if isinstance(head, torch.nn.ModuleList):
        head = head[-1]
    if head is None or not isinstance(getattr(head, 'num_classes', None),
                                      int):
        return None
    return head.num_classes, getattr(head, 'ignore_index', 255)


# ------------------------------------------------------------ segmentation

def values_outside(labels: torch.Tensor, num_classes: int,
                   ignore_index: int) -> List[int]:
    """The values of ``labels`` that are neither a class
    (0..num_classes-1) nor ``ignore_index``, sorted.

    NumPy on the CPU tensor, one thread: torch's reductions go through its
    intra-op thread pool, which on a busy machine waited for a worker for
    tenths of a second per batch. A minimum and a maximum settle maps
    without such values; only a map with ignored pixels or bad values is
    counted value by value.
    """
    if labels.numel() == 0:
        return []
    flat = labels.detach().cpu().numpy().reshape(-1)
    low, high = int(flat.min()), int(flat.max())
    if low >= 0 and high < num_classes:
        return []
    if low >= 0 and high == ignore_index and \
            int(flat[flat != ignore_index].max(initial=0)) < num_classes:
        return []
    found = np.unique(flat).tolist()
    return [v for v in found if not 0 <= v < num_classes and
            v != ignore_index]


def _samples(data_batch) -> Iterator:
    """The data samples of a batch, also of a test-time-augmented one (a
    list of views per image)."""
    samples = data_batch.get('data_samples') if isinstance(
        data_batch, dict) else None
    for item in samples or []:
        if isinstance(item, (list, tuple)):
            yield from item
        else:
            yield item


def file_values(path: str, reduce_zero_label: bool,
                label_map: Optional[Dict]) -> List[int]:
    """The values of a whole label file as mmseg's ``LoadAnnotations``
    turns them into targets (for the message: the file, not the crop)."""
    import mmcv
    from mmengine.fileio import get
    label = mmcv.imfrombytes(get(path), flag='unchanged',
                             backend='pillow').squeeze().astype(np.uint8)
    if reduce_zero_label:
        label[label == 0] = 255
        label = label - 1
        label[label == 254] = 255
    if label_map:
        copy = label.copy()
        for old, new in label_map.items():
            label[copy == old] = new
    return np.unique(label).tolist()


def seg_message(sample, num_classes: int, ignore_index: int,
                outside: List[int]) -> str:
    """Which file holds which values outside the classes, and the fix."""
    meta = sample.metainfo
    path = meta.get('seg_map_path') or meta.get('img_path') or \
        '<a sample without a file name>'
    reduce = bool(meta.get('reduce_zero_label', False))
    try:
        values = file_values(path, reduce, meta.get('label_map'))
        outside = [v for v in values if not 0 <= v < num_classes and
                   v != ignore_index] or outside
    except Exception:  # e.g. the file is gone: what the batch holds
        pass
    stored = f' (stored in the file: {[v + 1 for v in outside]})' \
        if reduce else ''
    return (f'{path}: label values {outside}{stored} are not classes: the '
            f'model has {num_classes} classes (0..{num_classes - 1}) and '
            f'ignores {ignore_index}' + (
                ', after reduce_zero_label=True' if reduce else '') +
            '. Add the missing classes to the config (metainfo.classes and '
            'every num_classes), or set those pixels to '
            f'{ignore_index}; {HINT}.')


def check_seg_batch(data_batch, num_classes: int, ignore_index: int) -> None:
    """Raise :class:`LabelOutsideClasses` at the first sample of the batch
    whose ``gt_sem_seg`` holds a value outside the classes."""
    for sample in _samples(data_batch):
        seg = getattr(sample, 'gt_sem_seg', None)
        if seg is None:
            continue
        outside = values_outside(seg.data, num_classes, ignore_index)
        if outside:
            raise LabelOutsideClasses(
                seg_message(sample, num_classes, ignore_index, outside))


# --------------------------------------------------------------- detection

def _shown(items: List, n: int = SHOWN) -> str:
    return ', '.join(map(str, items[:n])) + (
        f', ... ({len(items)} in all)' if len(items) > n else '')


def coco_report(ann_file: str, raw: dict, classes: Tuple[str, ...],
                kept_ids) -> Tuple[str, str]:
    """``(error, note)`` for a COCO annotation file (``raw``, as stored)
    read by a dataset with ``classes`` that keeps the category ids
    ``kept_ids``: what stops the run (empty if nothing) and the note on
    the categories left out (empty if every category is trained)."""
    categories = raw.get('categories') or []
    names = {c['id']: c['name'] for c in categories}
    absent = [c for c in classes if c not in names.values()]
    if absent:
        return (f'{ann_file}: the config\'s classes {absent} are not '
                f'categories of the file, which defines '
                f'{[c["name"] for c in categories]}: mmdet would train them '
                'on nothing. Spell them as the file does (metainfo.classes)'
                '.'), ''
    in_file_order = tuple(c['name'] for c in categories
                          if c['name'] in classes)
    if in_file_order != tuple(classes):
        return (f'{ann_file}: the config lists the classes {tuple(classes)} '
                'in another order than the file: mmdet numbers the labels '
                'in the file\'s order, so pictures and checkpoints would '
                f'name them wrongly. List them as {in_file_order} '
                '(metainfo.classes).'), ''
    kept = set(kept_ids)
    unknown, dropped = [], Counter()
    for ann in raw.get('annotations') or []:
        cat = ann.get('category_id')
        if cat not in names:
            unknown.append(ann)
        elif cat not in kept:
            dropped[cat] += 1
    if unknown:
        files = {i.get('id'): i.get('file_name')
                 for i in raw.get('images') or []}
        shown = [f'annotation {a.get("id")} (image '
                 f'{files.get(a.get("image_id"))}, category_id '
                 f'{a.get("category_id")})' for a in unknown]
        return (f'{ann_file}: {len(unknown)} annotations have a category_id '
                f'that the file\'s categories ({sorted(names)}) do not '
                f'define, which mmdet would drop without a word: '
                f'{_shown(shown)}. Fix their category_id or add the '
                'category to the file.'), ''
    if not dropped:
        return '', ''
    counts = ', '.join(f'{names[c]!r} (id {c}): {n}'
                       for c, n in sorted(dropped.items()))
    return '', (f'{ann_file}: {sum(dropped.values())} annotations of '
                f'{len(dropped)} categories that the config\'s classes leave '
                f'out are dropped, as mmdet drops them ({counts}); '
                f'{len(classes)} classes are trained.')


def read_json(path: str, backend_args=None) -> dict:
    """A json file, local or through mmengine's file backends."""
    from mmengine.fileio import get_local_path
    with get_local_path(path, backend_args=backend_args) as local:
        with open(local) as f:
            return json.load(f)


def coco_datasets(dataset) -> Iterator:
    """mmdet COCO-style detection datasets (a json annotation file,
    category ids) inside ``dataset``'s wrappers; not panoptic ones, whose
    annotations are segment lists."""
    for leaf in leaf_datasets(dataset):
        ann_file = str(getattr(leaf, 'ann_file', '') or '')
        if ann_file.endswith('.json') and hasattr(type(leaf), 'COCOAPI') \
                and 'Panoptic' not in type(leaf).__name__:
            if not getattr(leaf, '_fully_initialized', True):
                leaf.full_init()
            if hasattr(leaf, 'cat_ids'):
                yield leaf


@register(HOOKS)
class LabelCheckHook(Hook):
    """Stop a run at class ids the model cannot have, in training,
    validation and testing (see the module's documentation)."""

    priority = 'VERY_HIGH'

    def __init__(self):
        self._seg = None
        self._checked = set()

    def _check_annotation_files(self, runner, loader, key: str) -> None:
        for leaf in coco_datasets(getattr(loader, 'dataset', None)):
            ann_file = leaf.ann_file
            if (ann_file, id(leaf)) in self._checked:
                continue
            self._checked.add((ann_file, id(leaf)))
            raw = read_json(ann_file, getattr(leaf, 'backend_args', None))
            error, note = coco_report(
                ann_file, raw, tuple(leaf.metainfo.get('classes') or ()),
                leaf.cat_ids)
            if error:
                raise LabelOutsideClasses(f'{key}: {error}')
            if note:
                runner.logger.info(f'{key}: {note}')

    def before_train(self, runner) -> None:
        self._check_annotation_files(runner, runner.train_dataloader,
                                     'train_dataloader')

    def before_val(self, runner) -> None:
        self._check_annotation_files(runner, runner.val_dataloader,
                                     'val_dataloader')

    def before_test(self, runner) -> None:
        self._check_annotation_files(runner, runner.test_dataloader,
                                     'test_dataloader')

    def _check_batch(self, runner, data_batch) -> None:
        if self._seg is None:
            self._seg = seg_classes(bare_model(runner)) or ()
        if self._seg:
            check_seg_batch(data_batch, *self._seg)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        self._check_batch(runner, data_batch)

    def before_val_iter(self, runner, batch_idx: int,
                        data_batch=None) -> None:
        self._check_batch(runner, data_batch)

    def before_test_iter(self, runner, batch_idx: int,
                         data_batch=None) -> None:
        self._check_batch(runner, data_batch)
