# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""NMS and RoIAlign as PyTorch operators that export to the standard ONNX
operators ``NonMaxSuppression`` and ``RoiAlign``.

mmcv's ``nms`` and ``RoIAlign`` are compiled extension functions, which
``torch.export`` cannot trace, and torchvision (whose ops the exporter
maps to ONNX) has no build for this torch. So the exported graphs call
two operators of their own, registered with ``torch.library.custom_op``:

* ``van_mm::nms(boxes, scores, iou_threshold) -> keep`` (int64, sorted by
  decreasing score): greedy NMS, a box suppressed when its IoU with a kept
  box of higher score is above ``iou_threshold``, IoU without mmcv's
  ``+1`` offset (``offset=0``, mmcv 2.x's default);
* ``van_mm::roi_align(features, rois, output_height, output_width,
  spatial_scale, sampling_ratio, aligned) -> (R, C, oh, ow)``: mmcv's
  ``RoIAlign`` in ``avg`` mode; ``rois`` (R, 5) are ``(batch index, x1,
  y1, x2, y2)``; ``sampling_ratio=0`` samples ``ceil(roi size / output
  size)`` points per bin and axis, as both mmcv and ONNX do; ``aligned``
  shifts the RoI by half a pixel (ONNX's ``half_pixel`` mode, opset 16).

Each has a pure-PyTorch CPU implementation (the graph can be run and
checked eagerly), a fake implementation for ``torch.export`` (the number
of boxes kept is data-dependent) and an onnxscript translation, given to
``torch.onnx.export(..., custom_translation_table=TRANSLATIONS)``.
"""
import math

import torch
from onnxscript import FLOAT, INT64
from onnxscript import opset18 as op

# ---------------------------------------------------------------- nms


@torch.library.custom_op('van_mm::nms', mutates_args=())
def nms(boxes: torch.Tensor, scores: torch.Tensor,
        iou_threshold: float) -> torch.Tensor:
    """Indices of the boxes (N, 4) kept, in decreasing score order."""
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    # the sort mmcv's CPU nms does (same kernel, so same order of ties)
    order = scores.sort(0, descending=True)[1]
    b = boxes[order].float()
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    alive = torch.ones(len(order), dtype=torch.bool)
    for i in range(len(order)):
        if not alive[i]:
            continue
        lt = torch.maximum(b[i, :2], b[i + 1:, :2])
        rb = torch.minimum(b[i, 2:], b[i + 1:, 2:])
        wh = (rb - lt).clamp(min=0)
        inter = wh[:, 0] * wh[:, 1]
        iou = inter / (area[i] + area[i + 1:] - inter)
        alive[i + 1:] &= ~(iou > iou_threshold)
    return order[alive.to(boxes.device)]


@nms.register_fake
def _nms_fake(boxes, scores, iou_threshold):
    kept = torch.library.get_ctx().new_dynamic_size()
    return boxes.new_empty((kept, ), dtype=torch.long)


def nms_onnx(boxes: FLOAT, scores: FLOAT, iou_threshold: float) -> INT64:
    """``van_mm::nms`` as ONNX ``NonMaxSuppression``: one batch, one class,
    every box a candidate (no score threshold), up to all of them kept;
    its output rows are (batch, class, box), in decreasing score order."""
    selected = op.NonMaxSuppression(
        op.Unsqueeze(boxes, [0]), op.Unsqueeze(scores, [0, 1]),
        op.Shape(scores), op.Constant(value_floats=[iou_threshold]),
        center_point_box=0)
    return op.Reshape(op.Slice(selected, [2], [3], [1]), [-1])


# ---------------------------------------------------------- roi_align


def _bilinear(feat: torch.Tensor, y: torch.Tensor,
              x: torch.Tensor) -> torch.Tensor:
    """mmcv's ``bilinear_interpolate`` of ``feat`` (C, H, W) at the points
    ``y`` (P, ) x ``x`` (Q, ): (C, P, Q); zero outside [-1, size]."""
    height, width = feat.shape[1:]

    def axis(v, size):
        out = (v < -1.0) | (v > size)
        v = v.clamp(min=0)
        low = v.floor().long()
        edge = low >= size - 1
        low = torch.where(edge, torch.full_like(low, size - 1), low)
        high = torch.where(edge, low, low + 1)
        v = torch.where(edge, low.to(v.dtype), v)
        frac = v - low.to(v.dtype)
        return low, high, 1 - frac, frac, ~out

    yl, yh, wyl, wyh, yin = axis(y, height)
    xl, xh, wxl, wxh, xin = axis(x, width)
    rows_l, rows_h = feat[:, yl], feat[:, yh]  # (C, P, W)
    val = (wyl[:, None] * wxl[None] * rows_l[:, :, xl] +
           wyl[:, None] * wxh[None] * rows_l[:, :, xh] +
           wyh[:, None] * wxl[None] * rows_h[:, :, xl] +
           wyh[:, None] * wxh[None] * rows_h[:, :, xh])
    return val * (yin[:, None] & xin[None]).to(val.dtype)


@torch.library.custom_op('van_mm::roi_align', mutates_args=())
def roi_align(features: torch.Tensor, rois: torch.Tensor,
              output_height: int, output_width: int, spatial_scale: float,
              sampling_ratio: int, aligned: bool) -> torch.Tensor:
    """mmcv's ``RoIAlign`` (avg) of ``features`` (B, C, H, W) over
    ``rois`` (R, 5): (R, C, output_height, output_width)."""
    num, channels = rois.shape[0], features.shape[1]
    out = features.new_zeros(num, channels, output_height, output_width)
    offset = 0.5 if aligned else 0.0
    for n in range(num):
        batch = int(rois[n, 0])
        x1, y1, x2, y2 = (float(v) * spatial_scale - offset
                          for v in rois[n, 1:].tolist())
        roi_w, roi_h = x2 - x1, y2 - y1
        if not aligned:
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_h, bin_w = roi_h / output_height, roi_w / output_width
        grid_h = sampling_ratio if sampling_ratio > 0 else \
            math.ceil(roi_h / output_height)
        grid_w = sampling_ratio if sampling_ratio > 0 else \
            math.ceil(roi_w / output_width)
        if grid_h <= 0 or grid_w <= 0:
            continue  # an empty grid gives zeros, as in mmcv
        iy = torch.arange(grid_h, dtype=torch.float32) + 0.5
        ix = torch.arange(grid_w, dtype=torch.float32) + 0.5
        ph = torch.arange(output_height, dtype=torch.float32)
        pw = torch.arange(output_width, dtype=torch.float32)
        y = (y1 + ph[:, None] * bin_h + iy[None] * bin_h / grid_h).reshape(-1)
        x = (x1 + pw[:, None] * bin_w + ix[None] * bin_w / grid_w).reshape(-1)
        val = _bilinear(features[batch].float(), y, x)
        val = val.view(channels, output_height, grid_h, output_width, grid_w)
        out[n] = val.mean(dim=(2, 4)).to(out.dtype)
    return out


@roi_align.register_fake
def _roi_align_fake(features, rois, output_height, output_width,
                    spatial_scale, sampling_ratio, aligned):
    return features.new_empty(
        (rois.shape[0], features.shape[1], output_height, output_width))


def roi_align_onnx(features: FLOAT, rois: FLOAT, output_height: int,
                   output_width: int, spatial_scale: float,
                   sampling_ratio: int, aligned: bool) -> FLOAT:
    """``van_mm::roi_align`` as ONNX ``RoiAlign`` (opset 16): batch indices
    and boxes split from ``rois``, ``half_pixel`` for ``aligned``."""
    batch = op.Cast(op.Reshape(op.Slice(rois, [0], [1], [1]), [-1]),
                    to=INT64.dtype)
    boxes = op.Slice(rois, [1], [5], [1])
    mode = 'half_pixel' if aligned else 'output_half_pixel'
    return op.RoiAlign(features, boxes, batch, mode='avg',
                       output_height=output_height,
                       output_width=output_width,
                       sampling_ratio=sampling_ratio,
                       spatial_scale=spatial_scale,
                       coordinate_transformation_mode=mode)


# The translations for torch.onnx.export(custom_translation_table=...).
TRANSLATIONS = {
    torch.ops.van_mm.nms.default: nms_onnx,
    torch.ops.van_mm.roi_align.default: roi_align_onnx,
}
