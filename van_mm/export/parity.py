# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Detections of an exported whole detector against the PyTorch model's
``test_step``: boxes matched by IoU, labels, scores, counts and masks.

The criterion (issue 23): every detection matched one to one (same label,
IoU >= 0.99, scores within 1e-3), the same number of detections; masks,
pasted into the image, agree on nearly all pixels.

Whether a comparison tested NMS at all is recorded too
(:func:`recorded_nms`, :func:`suppressed_in_top`): only where NMS removed
candidates that would otherwise have been among the detections can a
file without a working NMS differ.
"""
import contextlib
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of boxes (N, 4) and (M, 4), x1 y1 x2 y2."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(-1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-12)


@dataclass
class Parity:
    """How two sets of detections compare."""
    count_ref: int
    count_got: int
    matched: int
    min_iou: float = 1.0
    max_score_diff: float = 0.0
    mask_agreement: Optional[float] = None  # share of equal mask pixels
    unmatched_ref: List[int] = field(default_factory=list)
    unmatched_got: List[int] = field(default_factory=list)
    # PyTorch's last NMS: (candidates, kept, how many of the best
    # ``count_ref`` candidates it removed); None: not recorded or no NMS
    nms: Optional[Tuple[int, int, int]] = None

    def ok(self, iou: float = 0.99, score_tol: float = 1e-3,
           mask_tol: float = 0.999) -> bool:
        return (self.count_ref == self.count_got == self.matched
                and self.min_iou >= iou
                and self.max_score_diff <= score_tol
                and (self.mask_agreement is None
                     or self.mask_agreement >= mask_tol))

    def __str__(self) -> str:
        mask = '' if self.mask_agreement is None else \
            f', masks {self.mask_agreement:.5f} equal'
        nms = '' if self.nms is None else \
            (f'; NMS {self.nms[0]} -> {self.nms[1]} candidates, '
             f'{self.nms[2]} of the best {self.count_ref} suppressed')
        return (f'{self.count_got}/{self.count_ref} detections, '
                f'{self.matched} matched, min IoU {self.min_iou:.5f}, max '
                f'score diff {self.max_score_diff:.2e}{mask}{nms}')


def compare_detections(ref: Dict[str, np.ndarray], got: Dict[str, np.ndarray],
                       iou: float = 0.99, score_tol: float = 1e-3) -> Parity:
    """Match ``got`` to ``ref`` (dicts of ``boxes``, ``scores``,
    ``labels``, optionally ``masks`` (N, H, W) bool): greedily, reference
    detections by decreasing score, each to the unmatched detection of the
    same label with the highest IoU, if that IoU is at least ``iou`` and
    the scores differ by at most ``score_tol``."""
    rb, gb = ref['boxes'].reshape(-1, 4), got['boxes'].reshape(-1, 4)
    result = Parity(len(rb), len(gb), 0)
    if len(rb) and len(gb):
        ious = box_iou(rb, gb)
    used = np.zeros(len(gb), bool)
    pairs = []
    for i in np.argsort(-ref['scores'], kind='stable'):
        if not len(gb):
            result.unmatched_ref.append(int(i))
            continue
        cand = (~used) & (got['labels'] == ref['labels'][i]) & \
            (np.abs(got['scores'] - ref['scores'][i]) <= score_tol)
        if not cand.any():
            result.unmatched_ref.append(int(i))
            continue
        j = int(np.argmax(np.where(cand, ious[i], -1)))
        if ious[i, j] < iou:
            result.unmatched_ref.append(int(i))
            continue
        used[j] = True
        pairs.append((int(i), j))
        result.min_iou = min(result.min_iou, float(ious[i, j]))
        result.max_score_diff = max(
            result.max_score_diff,
            float(abs(got['scores'][j] - ref['scores'][i])))
    result.matched = len(pairs)
    result.unmatched_got = [int(j) for j in np.flatnonzero(~used)]
    if 'masks' in ref and 'masks' in got and pairs:
        equal = total = 0
        for i, j in pairs:
            equal += int((ref['masks'][i] == got['masks'][j]).sum())
            total += ref['masks'][i].size
        result.mask_agreement = equal / total
    return result


@contextlib.contextmanager
def recorded_nms():
    """mmcv's ``batched_nms`` where mmdet's dense heads and R-CNN heads
    (``multiclass_nms``) call it for their detections (not the RPN's),
    each call recorded as (candidate scores, indices kept); yields the
    list of calls."""
    import mmdet.models.dense_heads.base_dense_head as dense
    import mmdet.models.layers.bbox_nms as rcnn
    original = dense.batched_nms
    calls = []

    def recording(boxes, scores, idxs, nms_cfg, class_agnostic=False):
        dets, keep = original(boxes, scores, idxs, nms_cfg, class_agnostic)
        calls.append((scores.detach().clone(), keep.clone()))
        return dets, keep

    dense.batched_nms = rcnn.batched_nms = recording
    try:
        yield calls
    finally:
        dense.batched_nms = rcnn.batched_nms = original


def suppressed_in_top(scores, keep, n: int) -> int:
    """How many of the ``n`` best-scoring NMS candidates (``scores``, a
    tensor) NMS removed (``keep``: the indices it kept): boxes that a
    graph without a working NMS would give among ``n`` detections."""
    top = set(scores.argsort(descending=True)[:n].tolist())
    return len(top - set(keep.tolist()))


def nms_figures(calls, count: int) -> Optional[Tuple[int, int, int]]:
    """:attr:`Parity.nms` from the calls :func:`recorded_nms` recorded
    for one image with ``count`` detections (the last call is the one
    that gave them)."""
    if not calls:
        return None
    scores, keep = calls[-1]
    return len(scores), len(keep), suppressed_in_top(scores, keep, count)
