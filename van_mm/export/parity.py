# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""An engine's outputs against the PyTorch model's: how close they must
be (:class:`Tolerance`, one per precision), and the detections of an
exported whole detector against ``test_step``'s: boxes matched by IoU,
labels, scores, counts and masks.

fp32 (:data:`FP32`): every detection matched one to one (same label,
IoU >= 0.99, scores within 1e-3), the same number of detections; masks,
pasted into the image, agree on nearly all pixels; other outputs within
1e-4 (largest ``max|a - b| / max|a|``).

bf16 (:data:`BF16`) rounds every activation to 8 bits of mantissa, which
reorders near-equal scores: which detections of nearly equal score make
the top ``max_per_img`` or survive NMS can change. So the detections
compared are those rounding cannot add or remove: scored more than the
score tolerance above 0.3 (what ``tools/demo.py`` draws) and, where a
side kept ``max_per_img`` detections, above the lowest score it kept.
Every one of them must be matched (IoU >= 0.9, scores within 2e-2),
masks 99% equal; other outputs within 5e-2 (trained models measured
about 1e-2, deep random ones up to 2e-2). A model with no such
detection passes with nothing compared, and the :class:`Parity` says so
(nothing compared either side).

Whether a comparison tested NMS at all is recorded too
(:func:`recorded_nms`, :func:`suppressed_in_top`): only where NMS removed
candidates that would otherwise have been among the detections can a
file without a working NMS differ.
"""
import contextlib
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """How close to PyTorch an engine's outputs must be.

    Attributes:
        rtol: Largest relative error of a tensor (``max|a - b| /
            max|a|``): backbone stages, a segmentor's logits.
        iou, score_tol, mask_tol: A detection matches if of the same
            label, IoU at least ``iou`` and score within ``score_tol``;
            matched masks equal on ``mask_tol`` of their pixels.
        min_score: None: every detection is compared and the counts must
            be equal; a score: only detections above it and clear of the
            lowest kept score (module docstring).
    """
    rtol: float
    iou: float
    score_tol: float
    mask_tol: float
    min_score: Optional[float] = None


FP32 = Tolerance(rtol=1e-4, iou=0.99, score_tol=1e-3, mask_tol=0.999)
BF16 = Tolerance(rtol=5e-2, iou=0.9, score_tol=2e-2, mask_tol=0.99,
                 min_score=0.3)
TOLERANCES = {'fp32': FP32, 'bf16': BF16}


def tolerance(precision: str) -> Tolerance:
    """The :class:`Tolerance` of an engine computing in ``precision``
    (``'fp32'`` or ``'bf16'``)."""
    return TOLERANCES[precision]


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
    # with a score floor: the detections compared, and those of them
    # (indices into ref, got) left unmatched
    floor: Optional[float] = None
    compared_ref: int = 0
    compared_got: int = 0
    missing_ref: List[int] = field(default_factory=list)
    missing_got: List[int] = field(default_factory=list)
    # PyTorch's last NMS: (candidates, kept, how many of the best
    # ``count_ref`` candidates it removed); None: not recorded or no NMS
    nms: Optional[Tuple[int, int, int]] = None

    def ok(self, iou: float = 0.99, score_tol: float = 1e-3,
           mask_tol: float = 0.999) -> bool:
        masks = self.mask_agreement is None or self.mask_agreement >= mask_tol
        if self.floor is not None:  # matched within iou and score_tol
            return not self.missing_ref and not self.missing_got and masks
        return (self.count_ref == self.count_got == self.matched
                and self.min_iou >= iou
                and self.max_score_diff <= score_tol and masks)

    def within(self, tol: Tolerance) -> bool:
        """:meth:`ok` for a :class:`Tolerance`, with which the detections
        were compared (:func:`compare_detections`)."""
        return self.ok(tol.iou, tol.score_tol, tol.mask_tol)

    def __str__(self) -> str:
        mask = '' if self.mask_agreement is None else \
            f', masks {self.mask_agreement:.5f} equal'
        text = (f'{self.count_got}/{self.count_ref} detections, '
                f'{self.matched} matched, min IoU {self.min_iou:.5f}, max '
                f'score diff {self.max_score_diff:.2e}{mask}')
        if self.floor is not None:
            text += (f'; compared above score {self.floor:.3f}: '
                     f'{self.compared_ref} of PyTorch\'s '
                     f'({len(self.missing_ref)} unmatched), '
                     f'{self.compared_got} of the engine\'s '
                     f'({len(self.missing_got)} unmatched)')
        if self.nms is not None:
            text += (f'; NMS {self.nms[0]} -> {self.nms[1]} candidates, '
                     f'{self.nms[2]} of the best {self.count_ref} '
                     'suppressed')
        return text


def compare_detections(ref: Dict[str, np.ndarray], got: Dict[str, np.ndarray],
                       iou: float = 0.99, score_tol: float = 1e-3,
                       min_score: Optional[float] = None,
                       max_count: Optional[int] = None) -> Parity:
    """Match ``got`` to ``ref`` (dicts of ``boxes``, ``scores``,
    ``labels``, optionally ``masks`` (N, H, W) bool): greedily, reference
    detections by decreasing score, each to the unmatched detection of the
    same label with the highest IoU, if that IoU is at least ``iou`` and
    the scores differ by at most ``score_tol``.

    With ``min_score``, the detections that must be matched are those
    scored above a floor: ``min_score`` or, for a side that kept
    ``max_count`` detections (the top-k cut), its lowest score, whichever
    is higher, plus ``score_tol`` (module docstring); the
    minimum IoU, score difference and masks are then over the matches of
    those."""
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
    if min_score is not None:
        pairs = _over_floor(result, ref['scores'], got['scores'], pairs,
                            min_score, score_tol, max_count,
                            ious if len(rb) and len(gb) else None)
    if 'masks' in ref and 'masks' in got and pairs:
        equal = total = 0
        for i, j in pairs:
            equal += int((ref['masks'][i] == got['masks'][j]).sum())
            total += ref['masks'][i].size
        result.mask_agreement = equal / total
    return result


def _over_floor(result: Parity, ref_scores: np.ndarray,
                got_scores: np.ndarray, pairs: list, min_score: float,
                score_tol: float, max_count: Optional[int],
                ious: Optional[np.ndarray]) -> list:
    """Restrict ``result`` to the detections above the floor of
    :func:`compare_detections`; the pairs among them."""
    lowest = [float(s.min()) for s in (ref_scores, got_scores)
              if max_count and len(s) >= max_count]
    result.floor = max([min_score] + lowest) + score_tol
    ref_in = set(np.flatnonzero(ref_scores > result.floor).tolist())
    got_in = set(np.flatnonzero(got_scores > result.floor).tolist())
    kept = [(i, j) for i, j in pairs if i in ref_in or j in got_in]
    paired_ref = {i for i, _ in pairs}
    paired_got = {j for _, j in pairs}
    result.compared_ref, result.compared_got = len(ref_in), len(got_in)
    result.missing_ref = sorted(ref_in - paired_ref)
    result.missing_got = sorted(got_in - paired_got)
    result.min_iou = min([1.0] + [float(ious[i, j]) for i, j in kept])
    result.max_score_diff = max([0.0] + [
        float(abs(got_scores[j] - ref_scores[i])) for i, j in kept])
    return kept


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
