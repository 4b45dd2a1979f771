# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""A user's folder of images and annotations, read before any config
exists: what ``tools/config_for_data.py`` learns from it (classes, splits,
image sizes) and what would fail later, named by file.

Two layouts (docs/custom_data.md):

* detection and instance segmentation: a COCO json (as CVAT's "COCO 1.0"
  and Label Studio's "COCO" exports write it) and the folder its
  ``file_name`` paths start in. The classes are its categories in the
  file's order (mmdet numbers labels in that order), or the subset a
  classes file names;
* semantic segmentation: a folder of images and a folder of index PNG
  masks with the same names. The classes are the lines of a classes file:
  line i names mask value i, or value i + 1 where 0 means unlabelled
  (``ignore_zero``, mmseg's ``reduce_zero_label``); without a file, one
  class per value found (``class_<value>``).

One annotation set can be split into training and validation images
(seeded, :func:`hold_out`). Everything that would fail later is collected
and raised at once as :class:`DataProblem`, each line naming files: an
empty split; detection: annotations whose ``category_id`` the file does
not define, a training split without any annotated image, a mask base with
annotations that have no polygon, a validation file whose categories
differ from the training file's; segmentation: images without a mask and
masks without an image, several image formats in one folder, colour masks,
mask values the classes file does not name. What is only worth knowing
(images without objects, classes without annotations, crowd annotations,
images the json does not list) goes to :attr:`UserData.notes`.
"""
import json
import os
import os.path as osp
import random
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
IGNORE = 255  # mask value of pixels that are not trained or scored
SHOWN = 5


class DataProblem(ValueError):
    """Data that would fail later; one line per problem, naming files."""

    def __init__(self, problems: List[str]):
        self.problems = problems
        super().__init__('\n'.join(f'- {p}' for p in problems))


def shown(items: Sequence, n: int = SHOWN) -> str:
    """The first ``n`` items and how many there are."""
    items = list(items)
    return ', '.join(map(str, items[:n])) + (
        f', ... ({len(items)} in all)' if len(items) > n else '')


@dataclass
class Split:
    """One split of the data.

    Attributes:
        name: ``'train'``, ``'val'`` or ``'test'``.
        ann: The annotation file (detection) or mask folder, relative to
            the data root.
        img: The image folder, relative to the data root.
        held_out: Whether it is part of an annotation set split by
            :func:`hold_out` (it then gets a list file of its own).
        images: Detection: the split's COCO content (``held_out`` only);
            segmentation: the image names without suffix.
    """
    name: str
    ann: str
    img: str
    held_out: bool = False
    images: object = None


@dataclass
class UserData:
    """What a folder holds, as read by :func:`read_coco_data` or
    :func:`read_mask_data`.

    Attributes:
        classes: The class names, label 0 first.
        splits: Training, validation and, if given, test.
        notes: What is worth knowing but does not stop the run.
        short_sides: The training images' shorter sides in pixels.
        num_train: Training images (detection: those with an annotation
            of the classes, the ones mmdet trains on).
        img_suffix: Segmentation: the images' suffix (``'.jpg'``).
    """
    classes: List[str]
    splits: List[Split]
    notes: List[str] = field(default_factory=list)
    short_sides: List[int] = field(default_factory=list)
    num_train: int = 0
    img_suffix: str = ''


def read_classes_file(path: str) -> List[str]:
    """One class name per line; blank lines at the end are allowed.

    Raises:
        DataProblem: No name, a blank line between names, a name twice.
    """
    with open(path, encoding='utf-8') as f:
        lines = [line.strip() for line in f.read().splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    blank = [i + 1 for i, line in enumerate(lines) if not line]
    twice = sorted({n for n in lines if lines.count(n) > 1})
    if not lines or blank:
        raise DataProblem([f'{path}: one class name per line, no blank '
                           f'lines (blank: {blank or "all"})'])
    if twice:
        raise DataProblem([f'{path}: names given twice: {twice}'])
    return lines


def hold_out(names: Sequence[str], fraction: float,
             seed: int = 0) -> Tuple[List[str], List[str]]:
    """``(train, val)``: a seeded ``fraction`` of ``names`` (at least one)
    held out, both in sorted order."""
    names = sorted(names)
    held = set(random.Random(seed).sample(
        names, max(1, round(len(names) * fraction))))
    return [n for n in names if n not in held], [n for n in names
                                                 if n in held]


# ----------------------------------------------------------------- COCO

def load_coco(path: str) -> dict:
    """A COCO json with ``images``, ``annotations`` and ``categories``.

    Raises:
        DataProblem: The file cannot be read or lacks one of the lists.
    """
    try:
        with open(path, encoding='utf-8') as f:
            raw = json.load(f)
    except (OSError, ValueError) as e:
        raise DataProblem([f'{path}: not a readable json ({e})'])
    missing = [k for k in ('images', 'annotations', 'categories')
               if not isinstance(raw.get(k), list)]
    if missing:
        raise DataProblem([f'{path}: not a COCO file: no {missing} list'])
    return raw


def coco_subset(raw: dict, files: Sequence[str]) -> dict:
    """The images named in ``files`` and their annotations."""
    keep = set(files)
    images = [i for i in raw['images'] if i['file_name'] in keep]
    ids = {i['id'] for i in images}
    return dict(raw, images=images,
                annotations=[a for a in raw['annotations']
                             if a['image_id'] in ids])


def coco_split_problems(path: str, raw: dict, classes: List[str],
                        masks: bool, train: bool
                        ) -> Tuple[List[str], List[str]]:
    """``(problems, notes)`` of one split's COCO content."""
    if not raw['images']:
        return [f'{path}: the split has no images'], []
    problems, notes = [], []
    names = {c['id']: c['name'] for c in raw['categories']}
    unknown = [a['id'] for a in raw['annotations']
               if a['category_id'] not in names]
    if unknown:
        problems.append(
            f'{path}: annotations {shown(unknown)} have a category_id that '
            f'the file\'s categories ({sorted(names)}) do not define; mmdet '
            'would drop them without a word. Fix their category_id or add '
            'the category')
    wanted = {i for i, n in names.items() if n in classes}
    used = [a for a in raw['annotations'] if a['category_id'] in wanted]
    with_objects = {a['image_id'] for a in used if not a.get('iscrowd')}
    if train and not with_objects:
        problems.append(f'{path}: no image has an annotation of the classes '
                        f'{classes} (mmdet trains on annotated images only)')
    elif len(with_objects) < len(raw['images']):
        notes.append(
            f'{path}: {len(raw["images"]) - len(with_objects)} of '
            f'{len(raw["images"])} images have no annotation of the classes'
            + (' (mmdet skips them in training)' if train else ''))
    if masks:
        no_mask = [a['id'] for a in used if not a.get('segmentation')]
        if no_mask:
            problems.append(
                f'{path}: the base config trains masks, but annotations '
                f'{shown(no_mask)} have none (boxes only): take a box '
                'detector as the base (configs/retinanet_van_b0_1x.py, '
                'configs/faster_rcnn_van_b0_1x.py) or export the polygons')
    counts = {c: 0 for c in classes}
    for a in used:
        counts[names[a['category_id']]] += 1
    idle = [c for c, n in counts.items() if n == 0]
    if idle:
        notes.append(f'{path}: classes without annotations in this split: '
                     f'{idle}')
    crowd = sum(bool(a.get('iscrowd')) for a in used)
    if crowd:
        notes.append(f'{path}: {crowd} annotations are iscrowd=1, which '
                     'mmdet ignores in training (neither object nor '
                     'background)')
    return problems, notes


def _images_on_disk(folder: str) -> set:
    return {osp.normpath(osp.relpath(osp.join(d, f), folder))
            for d, _, files in os.walk(folder) for f in files
            if f.lower().endswith(IMAGE_EXTS)}


def read_coco_data(root: str, splits: List[Split], masks: bool,
                   classes_file: Optional[str] = None,
                   val_fraction: float = 0.2) -> UserData:
    """Classes, splits and sizes of COCO annotations under ``root``.
    Training and validation of one file (same ``ann`` and ``img``) are
    split by :func:`hold_out`; their content is then in
    :attr:`Split.images`.

    Raises:
        DataProblem: Everything that would fail later (module docs).
    """
    raws = {}
    for split in splits:
        path = osp.join(root, split.ann)
        if osp.isdir(path):
            raise DataProblem([f'{path}: a folder; a detection base needs '
                               'a COCO json file'])
        raws[split.name] = load_coco(path)
    train, val = splits[0], splits[1]
    if (train.ann, train.img) == (val.ann, val.img):
        files = [i['file_name'] for i in raws['train']['images']]
        if len(files) < 2:
            raise DataProblem([f'{osp.join(root, train.ann)}: '
                               f'{len(files)} image(s); at least 2 are '
                               'needed to hold one out for validation'])
        kept, held = hold_out(files, val_fraction)
        raws['train'] = coco_subset(raws['train'], kept)
        raws['val'] = coco_subset(raws['val'], held)
        train.held_out = val.held_out = True
    categories = [c['name'] for c in raws['train']['categories']]
    classes = categories
    if classes_file:
        wanted = read_classes_file(classes_file)
        absent = [c for c in wanted if c not in categories]
        if absent:
            raise DataProblem([
                f'{classes_file}: {absent} are not categories of '
                f'{osp.join(root, train.ann)} ({categories}); spell them as '
                'the file does'])
        classes = [c for c in categories if c in wanted]
    data = UserData(classes, splits)
    problems = []
    for split in splits:
        raw = raws[split.name]
        path = osp.join(root, split.ann) + (
            f' ({split.name} images)' if split.held_out else '')
        if split.held_out:
            split.images = raw
        if split.name != 'train':
            other = [c['name'] for c in raw['categories']]
            if [c for c in other if c in classes] != classes:
                problems.append(
                    f'{path}: its categories {other} do not list the '
                    f'classes {classes} in that order (mmdet numbers the '
                    'labels in each file\'s order)')
                continue
        found, notes = coco_split_problems(path, raw, classes, masks,
                                           split.name == 'train')
        problems += found
        data.notes += notes
        folder = osp.join(root, split.img)
        if not osp.isdir(folder):
            problems.append(f'{folder}: image folder not found')
            continue
        listed = {osp.normpath(i['file_name']) for i in raw['images']}
        unlisted = sorted(_images_on_disk(folder) - listed)
        if unlisted and not split.held_out:
            data.notes.append(f'{folder}: {len(unlisted)} images are not in '
                              f'{split.ann}: {shown(unlisted)}')
    if problems:
        raise DataProblem(problems)
    wanted = {c['id'] for c in raws['train']['categories']
              if c['name'] in classes}
    annotated = {a['image_id'] for a in raws['train']['annotations']
                 if a['category_id'] in wanted}
    data.num_train = len(annotated)
    data.short_sides = [min(i['height'], i['width'])
                        for i in raws['train']['images']
                        if i.get('height') and i.get('width')]
    return data


# ---------------------------------------------------------------- masks

def _stems(folder: str, exts) -> Dict[str, str]:
    """``{path relative to folder, without suffix: suffix}`` of the files
    with one of ``exts`` under ``folder``."""
    found = {}
    for d, _, files in os.walk(folder):
        for f in files:
            stem, ext = osp.splitext(f)
            if ext.lower() in exts:
                found[osp.relpath(osp.join(d, stem), folder)] = ext
    return found


def mask_values(path: str) -> Tuple[Optional[List[int]], Tuple[int, ...]]:
    """A mask's values (None for a colour image) and its shape, decoded as
    mmseg decodes it (Pillow, unchanged)."""
    import numpy as np
    from PIL import Image
    with Image.open(path) as im:
        array = np.asarray(im)
    if array.ndim == 3 and array.shape[2] > 1:
        return None, array.shape
    return np.unique(array).tolist(), array.shape


def read_mask_data(root: str, splits: List[Split],
                   classes_file: Optional[str] = None,
                   ignore_zero: bool = False,
                   val_fraction: float = 0.2) -> UserData:
    """Classes, splits and sizes of images with index PNG masks under
    ``root``. Training and validation of one folder pair are split by
    :func:`hold_out`; :attr:`Split.images` holds each split's names.

    Raises:
        DataProblem: Everything that would fail later (module docs).
    """
    from PIL import Image
    problems, values, sides = [], {}, []
    suffix, train_names = None, set()
    train, val = splits[0], splits[1]
    one_set = (train.ann, train.img) == (val.ann, val.img)
    for split in splits:
        if split.name == 'val' and one_set:
            continue
        img_dir, ann_dir = osp.join(root, split.img), osp.join(root,
                                                               split.ann)
        if not osp.isdir(ann_dir) or not osp.isdir(img_dir):
            problems.append(f'{ann_dir if not osp.isdir(ann_dir) else img_dir}'
                            ': folder not found (a segmentation base needs a '
                            'folder of images and one of PNG masks)')
            continue
        images, masks = _stems(img_dir, IMAGE_EXTS), _stems(ann_dir,
                                                            ('.png', ))
        suffixes = sorted(set(images.values()))
        if len(suffixes) > 1:
            problems.append(f'{img_dir}: images with the suffixes '
                            f'{suffixes}; mmseg reads one suffix per dataset:'
                            ' convert them to one format')
            continue
        if not images:
            problems.append(f'{img_dir}: no images ({", ".join(IMAGE_EXTS)})')
            continue
        suffix = suffix or suffixes[0]
        if suffixes[0] != suffix:
            problems.append(f'{img_dir}: {suffixes[0]} images, but the '
                            f'training images are {suffix}')
        lonely = sorted(set(images) - set(masks))
        orphans = sorted(set(masks) - set(images))
        if lonely:
            problems.append(f'{img_dir}: {len(lonely)} images without a mask '
                            f'in {ann_dir}: {shown(lonely)}')
        if orphans:
            problems.append(f'{ann_dir}: {len(orphans)} masks without an '
                            f'image in {img_dir}: {shown(orphans)}')
        names = sorted(set(images) & set(masks))
        if split.name == 'train' and one_set:
            if len(names) < 2:
                problems.append(f'{img_dir}: {len(names)} image(s) with a '
                                'mask; at least 2 are needed to hold one out '
                                'for validation')
                continue
            train.images, val.images = hold_out(names, val_fraction)
            train.held_out = val.held_out = True
        else:
            split.images = names
        if split.name == 'train':
            train_names = set(train.images)
        for name in names:
            mask = osp.join(ann_dir, name + '.png')
            found, shape = mask_values(mask)
            if found is None:
                problems.append(f'{mask}: a colour image {shape}; mmseg '
                                'needs one class index per pixel (an index '
                                'or grey PNG)')
                continue
            values[mask] = found
            if split.name == 'train' and name in train_names:
                with Image.open(osp.join(img_dir, name + suffix)) as im:
                    sides.append(min(im.size))
    for split in splits:
        if not split.images and not problems:
            problems.append(f'the {split.name} split is empty')
    if problems:
        raise DataProblem(problems)
    seen = sorted({v for vs in values.values() for v in vs} - {IGNORE})
    shift = 1 if ignore_zero else 0
    notes = []
    if classes_file:
        classes = read_classes_file(classes_file)
    else:
        top = max([v - shift for v in seen if v >= shift], default=-1)
        classes = [f'class_{v + shift}' for v in range(top + 1)]
        notes.append(f'no classes file: {len(classes)} classes named after '
                     f'the mask values {seen}')
    outside = {path: [v for v in vs if v != IGNORE and
                      v - shift >= len(classes)]
               for path, vs in values.items()}
    outside = {p: v for p, v in outside.items() if v}
    if outside:
        found = sorted({v for vs in outside.values() for v in vs})
        zero = ', 0 unlabelled' if shift else ''
        raise DataProblem([
            f'mask values {found} are not classes: {classes_file} names '
            f'{len(classes)} (values {shift}..{len(classes) - 1 + shift}'
            f'{zero}, {IGNORE} ignored); {len(outside)} masks hold them: '
            + shown(f'{p} {v}' for p, v in sorted(outside.items()))
            + f'. Add their names to the classes file, or set those pixels '
            f'to {IGNORE}'])
    if classes_file and not ignore_zero and seen and seen[0] > 0:
        notes.append(f'no mask has the value 0 ({classes[0]!r}); if 0 means '
                     'unlabelled, pass --ignore-zero')
    return UserData(classes, splits, notes, sides, len(train.images),
                    suffix)
