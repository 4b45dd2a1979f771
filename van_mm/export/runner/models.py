# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Exported detectors and segmentors run on images with numpy, Pillow and
onnxruntime only.

Everything the runner needs is in the file's metadata (``van_mm.*``,
written by :func:`van_mm.export.export_onnx`): the test pipeline's
resizing (``test_resize``), the class names, the mask threshold, the
segmentor's ``align_corners``.
"""
import json
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .resize import resize_steps

META_PREFIX = 'van_mm.'


def read_image(path: str) -> np.ndarray:
    """An image file as uint8 (H, W, 3) BGR, as mmcv reads it with OpenCV
    (EXIF orientation applied, grey and alpha images to three channels).

    Raises:
        FileNotFoundError: No such file.
        ValueError: Pillow cannot decode it.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img).convert('RGB')
            return np.ascontiguousarray(np.asarray(img)[..., ::-1])
    except FileNotFoundError:
        raise FileNotFoundError(f'Image not found: {path!r}') from None
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f'Cannot read image {path!r}: {e}') from e


def session(path: str, threads: Optional[int] = None):
    """An onnxruntime session for ``path`` on the CPU.

    Raises:
        FileNotFoundError: No such file.
    """
    import onnxruntime as ort
    if not os.path.isfile(path):
        raise FileNotFoundError(f'ONNX file not found: {path!r}')
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(path, options,
                                providers=['CPUExecutionProvider'])


def dense_heads_only(path: str) -> str:
    """What to do with a detector file of an earlier van_mm, which ended
    at the dense heads."""
    return (f'{path!r} holds a detector exported up to its dense heads by '
            'an earlier van_mm: export it again with tools/export_onnx.py '
            '(detectors are exported whole).')


def metadata(session) -> Dict[str, str]:
    """The ``van_mm.*`` entries of a session's model, prefix removed."""
    meta = session.get_modelmeta().custom_metadata_map
    return {k[len(META_PREFIX):]: v for k, v in meta.items()
            if k.startswith(META_PREFIX)}


def _test_resize(meta: Dict[str, str], path: str) -> List[dict]:
    if 'test_resize' not in meta:
        why = meta.get('test_resize_unsupported') or \
            'export it with tools/export_onnx.py and its config'
        raise ValueError(
            f'{path!r} does not record how its test pipeline resizes images '
            f'(metadata van_mm.test_resize): {why}.')
    return json.loads(meta['test_resize'])


def paste_mask(mask: np.ndarray, box: np.ndarray, height: int,
               width: int, threshold: float) -> np.ndarray:
    """One mask-head probability map (S, S) pasted into an image of
    ``height`` x ``width`` at ``box`` and thresholded (``>=``): mmdet's
    ``_do_paste_mask`` on the CPU (one box at a time, within its box
    widened by a pixel; bilinear sampling of pixel centres as
    ``grid_sample(align_corners=False)`` with zeros outside), in float32."""
    out = np.zeros((height, width), bool)
    x0, y0, x1, y1 = (np.float32(v) for v in box)
    left = max(int(math.floor(x0)) - 1, 0)
    top = max(int(math.floor(y0)) - 1, 0)
    right = min(int(math.ceil(x1)) + 1, width)
    bottom = min(int(math.ceil(y1)) + 1, height)
    if right <= left or bottom <= top:
        return out
    one, two, half = np.float32(1), np.float32(2), np.float32(0.5)
    with np.errstate(divide='ignore', invalid='ignore'):
        gx = (np.arange(left, right, dtype=np.float32) + half - x0) / \
            (x1 - x0) * two - one
        gy = (np.arange(top, bottom, dtype=np.float32) + half - y0) / \
            (y1 - y0) * two - one
    gx[~np.isfinite(gx)] = 0
    gy[~np.isfinite(gy)] = 0
    size_y, size_x = mask.shape
    # grid_sample's unnormalisation for align_corners=False
    ix = ((gx + one) * np.float32(size_x) - one) / two
    iy = ((gy + one) * np.float32(size_y) - one) / two
    padded = np.zeros((size_y + 2, size_x + 2), np.float32)
    padded[1:-1, 1:-1] = mask  # zeros around: grid_sample's padding

    def taps(v, size):
        low = np.floor(v)
        frac = (v - low).astype(np.float32)
        low = low.astype(np.int64)
        # indices into the padded map; beyond it the value is zero anyway
        i0 = np.clip(low + 1, 0, size + 1)
        i1 = np.clip(low + 2, 0, size + 1)
        w0 = np.where((low >= -1) & (low <= size - 1), one - frac, 0)
        w1 = np.where((low + 1 >= 0) & (low + 1 <= size), frac, 0)
        return i0, i1, w0.astype(np.float32), w1.astype(np.float32)

    x_0, x_1, wx0, wx1 = taps(ix, size_x)
    y_0, y_1, wy0, wy1 = taps(iy, size_y)
    val = (padded[y_0][:, x_0] * wy0[:, None] * wx0[None] +
           padded[y_0][:, x_1] * wy0[:, None] * wx1[None] +
           padded[y_1][:, x_0] * wy1[:, None] * wx0[None] +
           padded[y_1][:, x_1] * wy1[:, None] * wx1[None])
    out[top:bottom, left:right] = val >= threshold
    return out


def detections(outputs: Dict[str, np.ndarray], height: int, width: int,
               mask_thr: Optional[float]) -> Dict[str, np.ndarray]:
    """A whole detector's outputs as detections in an image of ``height``
    x ``width``: ``boxes`` (N, 4), ``scores`` (N, ), ``labels`` (N, ) and,
    with a mask head, ``masks`` (N, height, width) bool, the head's
    probability maps pasted and thresholded at ``mask_thr``."""
    result = dict(boxes=outputs['boxes'], scores=outputs['scores'],
                  labels=outputs['labels'])
    if 'masks' in outputs:
        result['masks'] = np.stack([
            paste_mask(m, b, height, width, mask_thr)
            for m, b in zip(outputs['masks'], outputs['boxes'])]) \
            if len(outputs['boxes']) else np.zeros((0, height, width), bool)
    return result


def resize_logits(logits: np.ndarray, height: int, width: int,
                  align_corners: bool) -> np.ndarray:
    """``F.interpolate(logits[None], (height, width), mode='bilinear',
    align_corners=...)`` of float (C, h, w) logits, in float32 (PyTorch's
    CPU kernel: source index from the size ratio, no antialiasing)."""

    def axis(src, dst):
        d = np.arange(dst, dtype=np.float32)
        if align_corners:
            scale = np.float32((src - 1) / (dst - 1)) if dst > 1 else \
                np.float32(0)
            pos = d * scale
        else:
            scale = np.float32(src / dst)
            pos = np.maximum(scale * (d + np.float32(0.5)) -
                             np.float32(0.5), 0)
        low = np.minimum(pos.astype(np.int64), src - 1)
        high = np.minimum(low + 1, src - 1)
        frac = (pos - low).astype(np.float32)
        return low, high, np.float32(1) - frac, frac

    y0, y1, wy0, wy1 = axis(logits.shape[1], height)
    x0, x1, wx0, wx1 = axis(logits.shape[2], width)
    rows = logits[:, y0] * wy0[None, :, None] + \
        logits[:, y1] * wy1[None, :, None]
    return rows[:, :, x0] * wx0 + rows[:, :, x1] * wx1


class _Model:
    kind = ''

    def __init__(self, path: str, threads: Optional[int] = None,
                 onnx_session=None):
        self.path = path
        self.session = onnx_session or session(path, threads)
        self.meta = metadata(self.session)
        if self.meta.get('kind') != self.kind:
            raise ValueError(
                f'{path!r} holds {self.meta.get("kind") or "no van_mm model"}'
                f' (metadata van_mm.kind), not a {self.kind}.')
        self.classes = json.loads(self.meta.get('classes', 'null'))
        self.outputs = [o.name for o in self.session.get_outputs()]

    def preprocess(self, image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """``image`` (H, W, 3) uint8 BGR resized as the config's test
        pipeline resizes it, as the file's input (1, 3, h, w), and its
        scale factor (w, h)."""
        steps = _test_resize(self.meta, self.path)
        image, scale = resize_steps(image, steps)
        return np.ascontiguousarray(image.transpose(2, 0, 1)[None]), scale

    def run(self, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        return dict(zip(self.outputs, self.session.run(None, feeds)))


class OnnxDetector(_Model):
    """A detector exported whole (``van_mm.kind`` ``detector``), run on
    images.

    ``model(image)``: ``image`` a file path or uint8 (H, W, 3) BGR array;
    detections in its pixels: ``boxes`` (N, 4) x1 y1 x2 y2, ``scores``,
    ``labels`` (indices into ``model.classes``) and, with a mask head,
    ``masks`` (N, H, W) bool. The image is resized as the config's test
    pipeline resizes it, the file gives the detections in the original
    image, and the mask head's maps are pasted into it as mmdet's
    ``FCNMaskHead`` pastes them.

    Args:
        path (str): The ``.onnx`` file.
        threads (int, optional): onnxruntime's intra-op threads.
    """
    kind = 'detector'

    def __init__(self, path: str, threads: Optional[int] = None,
                 onnx_session=None):
        super().__init__(path, threads, onnx_session)
        if 'boxes' not in self.outputs:
            raise ValueError(dense_heads_only(path))
        thr = self.meta.get('mask_thr_binary')
        self.mask_thr = None if thr is None else float(thr)

    def detect(self, image: np.ndarray, scale_factor: Sequence[float],
               height: int, width: int) -> Dict[str, np.ndarray]:
        """Detections of an image already resized by the test pipeline:
        ``image`` uint8 (1, 3, h, w), ``scale_factor`` (w, h) of the
        resize, ``height`` x ``width`` the original size."""
        outs = self.run(dict(image=image, scale_factor=np.asarray(
            scale_factor, np.float32)))
        return detections(outs, height, width, self.mask_thr)

    def __call__(self, image) -> Dict[str, np.ndarray]:
        if isinstance(image, str):
            image = read_image(image)
        resized, scale = self.preprocess(image)
        return self.detect(resized, scale, *image.shape[:2])


class OnnxSegmentor(_Model):
    """A segmentor exported by ``tools/export_onnx.py`` (``van_mm.kind``
    ``segmentor``), run on images.

    ``model(image)``: the label map (H, W) int64 of ``image`` (a file path
    or uint8 (H, W, 3) BGR array) at its size: the image resized as the
    test pipeline does, the file's logits resized back to the image
    (bilinear, the head's ``align_corners``), arg-max (one class: sigmoid
    above the head's threshold), as mmseg's ``postprocess_result``.
    """
    kind = 'segmentor'

    def __call__(self, image) -> np.ndarray:
        if isinstance(image, str):
            image = read_image(image)
        height, width = image.shape[:2]
        resized, _ = self.preprocess(image)
        logits = self.run(dict(image=resized))['seg_logits'][0]
        logits = resize_logits(logits, height, width, json.loads(
            self.meta.get('align_corners', 'false')))
        if logits.shape[0] > 1:
            return logits.argmax(0)
        threshold = float(self.meta.get('threshold', 0.3))
        return (1 / (1 + np.exp(-logits[0])) > threshold).astype(np.int64)


def load(path: str, threads: Optional[int] = None):
    """The :class:`OnnxDetector` or :class:`OnnxSegmentor` of a file, by
    its metadata."""
    onnx_session = session(path, threads)
    kind = metadata(onnx_session).get('kind')
    for cls in (OnnxDetector, OnnxSegmentor):
        if kind == cls.kind:
            return cls(path, onnx_session=onnx_session)
    raise ValueError(
        f'{path!r} holds {kind or "no van_mm model"} (metadata van_mm.kind);'
        ' the runner runs exported detectors and segmentors.')


def _palette(n: int) -> List[tuple]:
    rng = np.random.default_rng(42)
    return [tuple(int(c) for c in rng.integers(40, 256, 3)) for _ in range(n)]


def draw(image: np.ndarray, result, classes: Optional[Sequence[str]] = None,
         score_thr: float = 0.3, path: Optional[str] = None):
    """``image`` (uint8 BGR) with detections (boxes, labels and scores of
    those at ``score_thr`` or above, masks blended) or a label map
    (colours blended) drawn on it, as a Pillow image, saved to ``path`` if
    given."""
    from PIL import Image, ImageDraw
    canvas = image[..., ::-1].astype(np.float32)
    if isinstance(result, np.ndarray):  # label map
        colors = np.array(_palette(int(result.max()) + 1), np.float32)
        canvas = canvas * 0.5 + colors[result] * 0.5
        picture = Image.fromarray(canvas.astype(np.uint8))
    else:
        keep = result['scores'] >= score_thr
        colors = _palette(max(len(classes or []), int(
            result['labels'].max(initial=0)) + 1))
        for mask, label in zip(result.get('masks', [])[keep] if 'masks' in
                               result else [], result['labels'][keep]):
            canvas[mask] = canvas[mask] * 0.5 + \
                np.array(colors[label], np.float32) * 0.5
        picture = Image.fromarray(canvas.astype(np.uint8))
        pen = ImageDraw.Draw(picture)
        for box, score, label in zip(result['boxes'][keep],
                                     result['scores'][keep],
                                     result['labels'][keep]):
            name = classes[label] if classes else str(label)
            pen.rectangle([float(v) for v in box], outline=colors[label],
                          width=2)
            pen.text((float(box[0]) + 2, float(box[1]) + 1),
                     f'{name} {score:.2f}', fill=colors[label])
    if path:
        picture.save(path)
    return picture
