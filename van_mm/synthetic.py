# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Small synthetic datasets in the real on-disk formats, made on the fly.

Used by the tests, the quick-start and the learning benchmarks, so that no
dataset is downloaded or committed:

* :func:`make_coco_shapes`: COCO-format instance segmentation (JPEG files,
  ``annotations/instances_{train,val}2017.json`` with polygons) of circles,
  squares and triangles on textured backgrounds.
* :func:`make_coco_panoptic_shapes`: the shapes as "things" on "stuff"
  (sky above grass) in COCO's panoptic layout
  (``annotations/panoptic_{train,val}2017.json`` and PNG segment maps in
  ``annotations/panoptic_{train,val}2017/``), with the things' instance
  annotations beside them.
* :func:`make_ade_scenes`: ADE20K-layout semantic segmentation of scenes
  whose classes differ in pattern and layout, not colour
  (``images/{training,validation}/*.jpg``, ``annotations/.../*.png``, label
  0 = ignore, classes 1..N so that ``reduce_zero_label=True`` maps them to
  0..N-1).
* :func:`make_coco_export` and :func:`make_mask_folder`: the shapes and
  the scenes laid out as a user has them (docs/custom_data.md): one COCO
  json as CVAT exports it beside its images; images, index PNG masks and
  a classes file.
* :func:`synthetic_picture`: one picture of a few shapes on a gradient, for
  demos that need an image and no data.
* :func:`scene_picture`: one textured scene of any size, as OpenCV reads
  an image (BGR), for checking exported models on a natural-looking input.

Everything is drawn with OpenCV from a seeded ``numpy`` generator, so the
same arguments give the same files.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np

SHAPE_CLASSES = ('circle', 'square', 'triangle')
SCENE_CLASSES = ('sky', 'grass', 'water', 'road', 'building')
# The panoptic shapes' "stuff": the sky above the horizon, grass below.
STUFF_CLASSES = ('sky', 'grass')


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random gradient with blotchy noise and stripes, BGR uint8."""
    c0, c1 = rng.uniform(40, 215, (2, 3))
    t = np.linspace(0, 1, w if rng.random() < .5 else h)
    grad = c0 + (c1 - c0) * t[:, None]
    img = np.broadcast_to(grad[None] if len(t) == w else grad[:, None],
                          (h, w, 3)).astype(np.float32)
    noise = cv2.resize(rng.normal(0, 25, (h // 8 + 1, w // 8 + 1, 3)),
                       (w, h), interpolation=cv2.INTER_CUBIC)
    period = rng.uniform(6, 20)
    stripes = 12 * np.sin(np.arange(w) * 2 * np.pi / period)[None, :, None]
    return np.clip(img + noise + stripes + rng.normal(0, 6, (h, w, 3)), 0,
                   255).astype(np.uint8)


def _shape_polygon(rng: np.random.Generator, kind: str, cx: float,
                   cy: float, r: float) -> np.ndarray:
    """Polygon (N, 2) of a circle, square or triangle of radius r."""
    if kind == 'circle':
        angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    elif kind == 'square':
        angles = np.pi / 4 + np.arange(4) * np.pi / 2
    else:
        angles = -np.pi / 2 + np.arange(3) * 2 * np.pi / 3
    angles = angles + (rng.uniform(0, 2 * np.pi) if kind != 'circle' else 0)
    return np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], 1)


def _draw_shapes(rng: np.random.Generator, img: np.ndarray,
                 max_objects: int) -> List[Dict]:
    """Draw up to ``max_objects`` non-overlapping shapes into ``img`` (in
    place); their labels and polygons."""
    h, w = img.shape[:2]
    objects, placed = [], []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _attempt in range(20):
            r = rng.uniform(0.08, 0.22) * min(h, w)
            cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
            if all(np.hypot(cx - x, cy - y) > r + q + 2
                   for x, y, q in placed):
                break
        else:
            continue
        placed.append((cx, cy, r))
        label = int(rng.integers(len(SHAPE_CLASSES)))
        poly = _shape_polygon(rng, SHAPE_CLASSES[label], cx, cy, r)
        color = [int(c) for c in rng.integers(0, 256, 3)]
        cv2.fillPoly(img, [np.round(poly).astype(np.int32)], color)
        objects.append(dict(label=label, polygon=poly))
    return objects


def _shapes_image(rng: np.random.Generator, h: int, w: int,
                  max_objects: int) -> Tuple[np.ndarray, List[Dict]]:
    img = _background(rng, h, w)
    return img, _draw_shapes(rng, img, max_objects)


def _instance_annotation(obj: Dict, ann_id: int, image_id: int) -> Dict:
    """A COCO instance annotation (polygon, area, box) of a drawn shape."""
    poly = obj['polygon']
    x0, y0 = poly.min(0)
    x1, y1 = poly.max(0)
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=obj['label'] + 1,
        segmentation=[poly.round(2).ravel().tolist()],
        area=float(cv2.contourArea(poly.astype(np.float32))),
        bbox=[float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
        iscrowd=0)


def make_coco_shapes(root: str,
                     num_train: int = 16,
                     num_val: int = 4,
                     image_size: Tuple[int, int] = (192, 256),
                     max_objects: int = 4,
                     seed: int = 0) -> Dict[str, str]:
    """Write a COCO-format shapes dataset under ``root``.

    Layout: ``root/{train2017,val2017}/*.jpg`` and
    ``root/annotations/instances_{train2017,val2017}.json``, categories
    ``circle``, ``square`` and ``triangle`` (ids 1-3).

    Args:
        root: Output folder (created).
        num_train / num_val: Number of images per split.
        image_size: (height, width) of every image.
        max_objects: Up to this many non-overlapping objects per image.
        seed: Random seed; the same seed gives the same dataset.

    Returns:
        Paths of the two annotation files, keyed by ``'train'``/``'val'``.
    """
    rng = np.random.default_rng(seed)
    h, w = image_size
    categories = [
        dict(id=i + 1, name=name, supercategory='shape')
        for i, name in enumerate(SHAPE_CLASSES)
    ]
    paths = {}
    ann_id = 1
    for split, num in (('train', num_train), ('val', num_val)):
        folder = f'{split}2017'
        os.makedirs(osp.join(root, folder), exist_ok=True)
        os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
        images, annotations = [], []
        for i in range(num):
            img, objects = _shapes_image(rng, h, w, max_objects)
            image_id = len(images) + 1
            name = f'{split}_{i:05d}.jpg'
            cv2.imwrite(osp.join(root, folder, name), img,
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            images.append(dict(id=image_id, file_name=name, height=h,
                               width=w))
            for obj in objects:
                annotations.append(
                    _instance_annotation(obj, ann_id, image_id))
                ann_id += 1
        paths[split] = osp.join(root, 'annotations',
                                f'instances_{folder}.json')
        with open(paths[split], 'w') as f:
            json.dump(dict(images=images, annotations=annotations,
                           categories=categories), f)
    return paths


def _panoptic_image(rng: np.random.Generator, h: int, w: int,
                    max_objects: int
                    ) -> Tuple[np.ndarray, np.ndarray, List[Dict]]:
    """Shapes on sky and grass: the picture, its segment map (0: sky,
    1: grass, 2 + i: the i-th shape) and the shapes."""
    segments = np.zeros((h, w), np.int32)
    segments[int(rng.uniform(0.3, 0.6) * h):] = 1
    img = np.zeros((h, w, 3), np.float32)
    for index, kind in enumerate(STUFF_CLASSES):
        mask = segments == index
        img[mask] = _texture(rng, kind, h, w)[mask]
    img = np.clip(img + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)
    objects = _draw_shapes(rng, img, max_objects)
    for i, obj in enumerate(objects):
        cv2.fillPoly(segments, [np.round(obj['polygon']).astype(np.int32)],
                     2 + i)
    return img, segments, objects


def _segments_info(segments: np.ndarray, objects: List[Dict]) -> List[Dict]:
    """COCO panoptic ``segments_info`` of a segment map (segment id =
    index + 1; stuff categories after the shapes')."""
    info = []
    for index in np.unique(segments).tolist():
        mask = segments == index
        ys, xs = np.nonzero(mask)
        category = (objects[index - 2]['label'] + 1 if index >= 2 else
                    len(SHAPE_CLASSES) + 1 + index)
        info.append(dict(
            id=index + 1, category_id=category, area=int(mask.sum()),
            bbox=[int(xs.min()), int(ys.min()),
                  int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)],
            iscrowd=0))
    return info


def _id_png(ids: np.ndarray) -> np.ndarray:
    """Segment ids as COCO panoptic PNG pixels (id = R + 256 G + 256^2 B),
    in OpenCV's BGR order for ``cv2.imwrite``."""
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], -1)
    return rgb[..., ::-1].astype(np.uint8)


def make_coco_panoptic_shapes(root: str,
                              num_train: int = 16,
                              num_val: int = 4,
                              image_size: Tuple[int, int] = (192, 256),
                              max_objects: int = 4,
                              seed: int = 0) -> Dict[str, str]:
    """Write a COCO panoptic shapes dataset under ``root``.

    Layout, as mmdet's ``CocoPanopticDataset`` and ``CocoPanopticMetric``
    read COCO's: ``root/{train2017,val2017}/*.jpg``,
    ``root/annotations/panoptic_{train2017,val2017}.json`` with the PNG
    segment maps (same names as the images) in
    ``root/annotations/panoptic_{train2017,val2017}/``, and the things'
    instance annotations in ``root/annotations/instances_*.json``.
    Categories: the things ``circle``, ``square``, ``triangle`` (ids 1-3,
    ``isthing=1``) and the stuff ``sky``, ``grass`` (ids 4-5).

    Returns:
        Paths of the two panoptic annotation files, keyed by
        ``'train'``/``'val'``.
    """
    rng = np.random.default_rng(seed)
    h, w = image_size
    things = [dict(id=i + 1, name=n, supercategory='shape', isthing=1)
              for i, n in enumerate(SHAPE_CLASSES)]
    stuff = [dict(id=len(things) + i + 1, name=n, supercategory='stuff',
                  isthing=0) for i, n in enumerate(STUFF_CLASSES)]
    for cat in things + stuff:
        cat['color'] = [int(c) for c in rng.integers(0, 256, 3)]
    paths = {}
    for split, num in (('train', num_train), ('val', num_val)):
        folder = f'{split}2017'
        seg_dir = osp.join(root, 'annotations', f'panoptic_{folder}')
        os.makedirs(osp.join(root, folder), exist_ok=True)
        os.makedirs(seg_dir, exist_ok=True)
        images, panoptic, instances = [], [], []
        for i in range(num):
            img, segments, objects = _panoptic_image(rng, h, w, max_objects)
            image_id, name = i + 1, f'{split}_{i:05d}'
            cv2.imwrite(osp.join(root, folder, name + '.jpg'), img,
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(osp.join(seg_dir, name + '.png'),
                        _id_png(segments + 1))
            images.append(dict(id=image_id, file_name=name + '.jpg',
                               height=h, width=w))
            panoptic.append(dict(image_id=image_id, file_name=name + '.png',
                                 segments_info=_segments_info(segments,
                                                              objects)))
            instances += [_instance_annotation(obj, len(instances) + 1,
                                               image_id) for obj in objects]
        with open(osp.join(root, 'annotations',
                           f'instances_{folder}.json'), 'w') as f:
            json.dump(dict(images=images, annotations=instances,
                           categories=things), f)
        paths[split] = osp.join(root, 'annotations',
                                f'panoptic_{folder}.json')
        with open(paths[split], 'w') as f:
            json.dump(dict(images=images, annotations=panoptic,
                           categories=things + stuff), f)
    return paths


def _texture(rng: np.random.Generator, kind: str, h: int,
             w: int) -> np.ndarray:
    """A (h, w, 3) float texture in a random colour; the class shows in the
    pattern, not in the colour."""
    base = rng.uniform(40, 215, 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 'sky':  # smooth vertical gradient
        other = rng.uniform(40, 215, 3)
        t = (yy / h)[..., None]
        return base * (1 - t) + other * t
    if kind == 'grass':  # fine, vertically streaked noise
        blades = cv2.resize(rng.normal(0, 45, (h // 3 + 1, w, 3)), (w, h))
        return base + blades
    if kind == 'water':  # horizontal waves
        period = rng.uniform(5, 10)
        waves = np.sin(yy * 2 * np.pi / period +
                       2 * np.sin(xx / rng.uniform(15, 30)))
        return base + 35 * waves[..., None]
    if kind == 'road':  # flat with coarse speckle
        speckle = cv2.resize(rng.normal(0, 12, (h // 4 + 1, w // 4 + 1, 3)),
                             (w, h), interpolation=cv2.INTER_NEAREST)
        return base + speckle
    # building: a grid of windows
    step = int(rng.integers(6, 11))
    windows = ((yy % step) < step / 2) & ((xx % step) < step / 2)
    shade = rng.uniform(50, 90) * rng.choice([-1, 1])
    return base + shade * windows[..., None]


def _scene_image(rng: np.random.Generator, h: int,
                 w: int) -> Tuple[np.ndarray, np.ndarray]:
    """A layered scene and its label map (0 = unlabelled, 1..N classes).

    Every class gets a random colour in every image, so a model has to
    learn the classes from their patterns and layout.
    """
    label = np.zeros((h, w), np.uint8)
    horizon = int(rng.uniform(0.3, 0.6) * h)
    label[:horizon] = 1  # sky
    label[horizon:] = 2 if rng.random() < .5 else 3  # grass or water
    # A road: a trapezoid from the bottom to the horizon.
    cx = rng.uniform(0.3, 0.7) * w
    road = np.array([[cx - 0.35 * w, h], [cx + 0.35 * w, h],
                     [cx + 0.04 * w, horizon], [cx - 0.04 * w, horizon]])
    if rng.random() < 0.8:
        cv2.fillPoly(label, [road.astype(np.int32)], 4)
    # Buildings standing on the horizon.
    for _ in range(int(rng.integers(1, 4))):
        bw = rng.uniform(0.08, 0.2) * w
        bh = rng.uniform(0.15, 0.45) * h
        x0 = rng.uniform(0, w - bw)
        y0 = max(horizon - bh, 0)
        label[int(y0):horizon + 2, int(x0):int(x0 + bw)] = 5
    img = np.zeros((h, w, 3), np.float32)
    for index, kind in enumerate(SCENE_CLASSES, start=1):
        mask = label == index
        if mask.any():
            img[mask] = _texture(rng, kind, h, w)[mask]
    img += rng.normal(0, 8, (h, w, 3))
    # Unlabelled seams between regions, as in ADE20K's annotations.
    edges = cv2.morphologyEx(label, cv2.MORPH_GRADIENT, np.ones((3, 3)))
    label[edges > 0] = 0
    return np.clip(img, 0, 255).astype(np.uint8), label


def make_ade_scenes(root: str,
                    num_train: int = 16,
                    num_val: int = 4,
                    image_size: Tuple[int, int] = (192, 256),
                    seed: int = 0) -> str:
    """Write an ADE20K-layout scenes dataset under ``root``.

    Layout: ``root/images/{training,validation}/*.jpg`` and
    ``root/annotations/{training,validation}/*.png`` with label 0 for
    unlabelled pixels and 1..5 for :data:`SCENE_CLASSES`, i.e. the labels
    that ``reduce_zero_label=True`` turns into 0..4 with 0 ignored (255).

    Returns:
        ``root``.
    """
    rng = np.random.default_rng(seed)
    h, w = image_size
    for split, num in (('training', num_train), ('validation', num_val)):
        os.makedirs(osp.join(root, 'images', split), exist_ok=True)
        os.makedirs(osp.join(root, 'annotations', split), exist_ok=True)
        for i in range(num):
            img, label = _scene_image(rng, h, w)
            name = f'ADE_{split}_{i:08d}'
            cv2.imwrite(osp.join(root, 'images', split, name + '.jpg'), img,
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(osp.join(root, 'annotations', split, name + '.png'),
                        label)
    return root


def make_coco_export(root: str,
                     num_images: int = 10,
                     image_size: Tuple[int, int] = (192, 256),
                     seed: int = 0) -> str:
    """The shapes as an annotation tool exports them (CVAT's "COCO 1.0"):
    ``root/images/frame_*.jpg`` and one
    ``root/annotations/instances_default.json`` for all of them (category
    ids from 1, ``file_name`` relative to ``images/``, CVAT's ``licenses``,
    ``info`` and ``attributes``).

    Returns:
        The json's path.
    """
    import shutil
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_coco_shapes(tmp, num_images, 0, image_size, seed=seed)
        with open(paths['train']) as f:
            raw = json.load(f)
        os.makedirs(osp.join(root, 'images'), exist_ok=True)
        for info in raw['images']:
            name = info['file_name'].replace('train_', 'frame_')
            shutil.copy(osp.join(tmp, 'train2017', info['file_name']),
                        osp.join(root, 'images', name))
            info['file_name'] = name
    for ann in raw['annotations']:
        ann['attributes'] = {'occluded': False}
    raw['licenses'] = [{'name': '', 'id': 0, 'url': ''}]
    raw['info'] = {'contributor': '', 'description': '', 'version': ''}
    path = osp.join(root, 'annotations', 'instances_default.json')
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(raw, f)
    return path


def make_mask_folder(root: str,
                     num_images: int = 10,
                     image_size: Tuple[int, int] = (192, 256),
                     seed: int = 0) -> str:
    """The scenes as images with index PNG masks of the same names:
    ``root/images/scene_*.jpg``, ``root/masks/scene_*.png`` (0 for the
    unlabelled seams between regions, 1..5 for :data:`SCENE_CLASSES`),
    ``root/classes.txt`` naming values 1..5 and
    ``root/classes_with_background.txt`` naming 0 ('background') too.

    Returns:
        ``root``.
    """
    rng = np.random.default_rng(seed)
    h, w = image_size
    for folder in ('images', 'masks'):
        os.makedirs(osp.join(root, folder), exist_ok=True)
    for i in range(num_images):
        img, label = _scene_image(rng, h, w)
        name = f'scene_{i:05d}'
        cv2.imwrite(osp.join(root, 'images', name + '.jpg'), img,
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(osp.join(root, 'masks', name + '.png'), label)
    for name, classes in (('classes.txt', SCENE_CLASSES),
                          ('classes_with_background.txt',
                           ('background', ) + SCENE_CLASSES)):
        with open(osp.join(root, name), 'w') as f:
            f.write(''.join(f'{c}\n' for c in classes))
    return root


def synthetic_picture(h: int = 480, w: int = 640) -> np.ndarray:
    """A picture of a disc and a rectangle on a gradient, RGB uint8
    (h, w, 3)."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 / w, yy * 255 / h, np.full((h, w), 96)], -1)
    img[(yy - 150)**2 + (xx - 200)**2 < 80**2] = (230, 40, 40)
    img[300:420, 380:560] = (40, 200, 60)
    return img.astype(np.uint8)


def scene_picture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """One scene of :func:`make_ade_scenes` (textured sky, grass or water,
    road, buildings) of ``h`` x ``w`` pixels, BGR uint8 (h, w, 3) as
    OpenCV reads an image file."""
    return _scene_image(np.random.default_rng(seed), h, w)[0]
