# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""The test pipeline's image resizing in numpy: mmcv's ``imrescale`` /
``imresize`` with OpenCV's bilinear interpolation (``cv2.INTER_LINEAR``
on uint8 images), for the runner, which has no OpenCV.

OpenCV's uint8 bilinear resize is fixed-point: per axis the source pixel
``floor((d + 0.5) * src / dst - 0.5)`` and weights ``1 - f``, ``f``
rounded to 11 bits (along x clamped at the borders to one pixel, along y
the weights kept and the rows read clamped); a horizontal pass in 32-bit
integers, then a vertical pass that, vectorised, drops 4 bits before a
16-bit multiply: ``(((a >> 4) * b0 >> 16) + ((c >> 4) * b1 >> 16) + 2)
>> 2``, on every value of the row. A downscale by exactly 2 on both axes
is a 2x2 mean (OpenCV's ``INTER_AREA`` fast path). The result is
bit-exact against opencv-python (``tests/test_onnx_ops.py`` checks it
against the installed ``cv2.resize``). Exactness matters: one grey level
on the first and last rows moved a steep Mask R-CNN score by 4e-4.
Pillow's ``BILINEAR`` is not this arithmetic: it widens its filter when it
downscales (antialiasing), so its pixels differ by tens of grey levels.
"""
from typing import Sequence, Tuple

import numpy as np

COEF_BITS = 11
COEF_SCALE = 1 << COEF_BITS


def rescale_size(width: int, height: int, scale: Sequence[int]
                 ) -> Tuple[int, int]:
    """``mmcv.rescale_size``: the size (w, h) of an image resized to fit
    ``scale`` (long edge, short edge in either order) keeping its ratio."""
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(height, width),
                 short_edge / min(height, width))
    return int(width * float(factor) + 0.5), int(height * float(factor) + 0.5)


def _axis(src: int, dst: int, clamp: bool = True
          ) -> Tuple[np.ndarray, np.ndarray]:
    """OpenCV's source index and 11-bit weight pair along one axis. Along
    x an index outside the image is clamped with weights (1, 0); along y
    (``clamp=False``) OpenCV keeps the weights and clamps the rows it
    reads instead."""
    scale = 1.0 / (dst / src)  # OpenCV's 1 / inv_scale, in double
    f = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(
        np.float32)
    s = np.floor(f).astype(np.int64)
    f = f - s.astype(np.float32)
    if clamp:
        low = s < 0
        f[low], s[low] = 0, 0
        high = s >= src - 1
        f[high], s[high] = 0, src - 1
    w1 = np.round(f * COEF_SCALE).astype(np.int64)  # saturate_cast rounds
    w0 = np.round((1 - f) * COEF_SCALE).astype(np.int64)
    return s, np.stack([w0, w1], 1)


def resize_bilinear(image: np.ndarray, width: int, height: int,
                    simd: bool = True) -> np.ndarray:
    """``cv2.resize(image, (width, height), interpolation=INTER_LINEAR)``
    of a uint8 (H, W[, C]) image. ``simd``: the vertical pass's rounding
    of OpenCV's vectorised code (every OpenCV build with SIMD, as the
    opencv-python wheels); False: the exact rounding of its scalar code."""
    if image.dtype != np.uint8:
        raise TypeError(f'uint8 images only, got {image.dtype}')
    src_h, src_w = image.shape[:2]
    if (src_w, src_h) == (width, height):
        return image.copy()
    img = image.reshape(src_h, src_w, -1)
    if src_w == 2 * width and src_h == 2 * height:
        # OpenCV's INTER_AREA fast path: mean of 2x2, rounded
        s = img.astype(np.int32)
        s = s[0::2, 0::2] + s[1::2, 0::2] + s[0::2, 1::2] + s[1::2, 1::2]
        return ((s + 2) >> 2).astype(np.uint8).reshape(
            (height, width) + image.shape[2:])
    xs, xw = _axis(src_w, width)
    ys, yw = _axis(src_h, height, clamp=False)
    # horizontal pass in integers; weights sum to 2048 (a column clamped
    # to the border takes that pixel alone, times 2048)
    x1 = np.minimum(xs + 1, src_w - 1)
    rows = img.astype(np.int64)
    h = rows[:, xs] * xw[None, :, None, 0] + \
        rows[:, x1] * xw[None, :, None, 1]
    edge = xw[:, 1] == 0
    h[:, edge] = rows[:, xs[edge]] * COEF_SCALE
    # vertical pass: rows clamped to the image, weights kept
    a = h[np.clip(ys, 0, src_h - 1)]
    c = h[np.clip(ys + 1, 0, src_h - 1)]
    b0, b1 = yw[:, 0, None, None], yw[:, 1, None, None]
    if simd:
        def mul_hi(v, b):  # int16 lanes: v_mul_hi(v >> 4, b)
            return (np.clip(v >> 4, -32768, 32767) * b) >> 16
        out = (mul_hi(a, b0) + mul_hi(c, b1) + 2) >> 2
    else:
        out = (a * b0 + c * b1 + (1 << 21)) >> 22
    return np.clip(out, 0, 255).astype(np.uint8).reshape(
        (height, width) + image.shape[2:])


def resize_steps(image: np.ndarray, steps: Sequence[dict]
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """``image`` (H, W, 3) uint8 through a test pipeline's resizing steps
    (a file's ``van_mm.test_resize``: mmcv's ``Resize(scale,
    keep_ratio)``, mmseg's ``ResizeToMultiple(size_divisor)``, both
    bilinear), and the scale factor (w, h) of the result against
    ``image``, float32, as mmdet's ``Resize`` records it."""
    height, width = image.shape[:2]
    for step in steps:
        h, w = image.shape[:2]
        if step['type'] == 'Resize':
            new_w, new_h = rescale_size(w, h, step['scale']) \
                if step['keep_ratio'] else tuple(step['scale'])
        elif step['type'] == 'ResizeToMultiple':
            d = step['size_divisor']
            new_w, new_h = -(-w // d) * d, -(-h // d) * d
        else:
            raise ValueError(f"test resize step {step['type']!r} is not "
                             'known to this runner.')
        image = resize_bilinear(image, int(new_w), int(new_h))
    h, w = image.shape[:2]
    return image, np.array([w / width, h / height], np.float32)
