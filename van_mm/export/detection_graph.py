# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""A whole mmdet detector as one graph of tensors that
``torch.onnx.export`` traces: image in, detections out.

:class:`WholeDetectorGraph` computes what mmdet's ``test_step`` computes
after the test pipeline has resized the image: normalisation and padding
(the data pre-processor), backbone, neck, heads, anchors, box decoding,
score threshold and top-k, NMS (``van_mm::nms``, ONNX
``NonMaxSuppression``), and for two-stage detectors the RoI heads on
features cut by ``van_mm::roi_align`` (ONNX ``RoiAlign``) and the mask
head. Its inputs are the resized image (uint8 (1, 3, H, W), the channel
order the pre-processor takes) and the resize factor ``scale_factor``
(float (2, ): width, height; ``(1, 1)`` for an image that was not
resized), with which boxes are brought back to the original image as
mmdet does (before NMS where mmdet does it before NMS). Its outputs are
``boxes`` (N, 4) in the original image, ``scores`` (N, ), ``labels``
(N, ) int64 and, for a mask head, ``masks`` (N, S, S): the mask head's
probabilities of the box's class at its own resolution, which the host
pastes into the image (:func:`van_mm.export.runner.paste_mask`) and
thresholds at ``mask_thr_binary``.

mmdet's post-processing is re-expressed, not called: it branches in Python
on data-dependent sizes (``if len(rois) == 0``), on
``torch.onnx.is_in_onnx_export()`` (into mmdet 2.x code that mmdet 3 no
longer has) and runs mmcv's compiled ops. Each function below names the
mmdet function whose results it reproduces. What is not covered raises
:class:`UnsupportedDetector` naming the part.
"""
import copy
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from van_mm.export import onnx_ops  # noqa: F401  (torch.ops.van_mm.*)
from van_mm.export.graphs import ImageNormalizer


class UnsupportedDetector(ValueError):
    """The detector has a part the whole-detector graph does not cover."""


def _type(module) -> str:
    return type(module).__name__


# -------------------------------------------------------- box decoding


def _clip(boxes: torch.Tensor, height, width) -> torch.Tensor:
    """Clamp x to [0, width] and y to [0, height] (mmdet's ``clamp_`` with
    ``max_shape``); ``height``/``width`` may be symbolic."""
    x = boxes[..., 0::2].clamp(min=0)
    y = boxes[..., 1::2].clamp(min=0)
    x = torch.minimum(x, torch.full_like(x[..., :1], 1.0) * width)
    y = torch.minimum(y, torch.full_like(y[..., :1], 1.0) * height)
    return torch.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], -1)


class BoxDecoder(nn.Module):
    """A head's ``bbox_coder.decode(priors, pred, max_shape=(H, W))``:
    mmdet's ``delta2bbox`` (``DeltaXYWHBBoxCoder``) or ``distance2bbox``
    (``DistancePointBBoxCoder``, priors are points)."""

    def __init__(self, coder, where: str):
        super().__init__()
        kind = _type(coder)
        if kind not in ('DeltaXYWHBBoxCoder', 'DistancePointBBoxCoder'):
            raise UnsupportedDetector(
                f'{where}.bbox_coder is {kind}; the whole-detector graph '
                'decodes DeltaXYWHBBoxCoder and DistancePointBBoxCoder.')
        self.kind = kind
        self.clip = bool(coder.clip_border)
        if kind == 'DeltaXYWHBBoxCoder':
            if coder.add_ctr_clamp:
                raise UnsupportedDetector(
                    f'{where}.bbox_coder has add_ctr_clamp=True, which the '
                    'whole-detector graph does not decode.')
            self.register_buffer('means', torch.tensor(
                coder.means, dtype=torch.float32), persistent=False)
            self.register_buffer('stds', torch.tensor(
                coder.stds, dtype=torch.float32), persistent=False)
            # decode()'s default wh_ratio_clip, which mmdet's heads keep
            self.max_ratio = float(abs(math.log(16 / 1000)))

    def forward(self, priors: torch.Tensor, pred: torch.Tensor, height,
                width) -> torch.Tensor:
        if self.kind == 'DistancePointBBoxCoder':
            boxes = torch.cat([priors - pred[:, :2], priors + pred[:, 2:]],
                              -1)
        else:
            d = pred * self.stds + self.means
            pxy = (priors[:, :2] + priors[:, 2:]) * 0.5
            pwh = priors[:, 2:] - priors[:, :2]
            gxy = pxy + pwh * d[:, :2]
            gwh = pwh * d[:, 2:].clamp(min=-self.max_ratio,
                                       max=self.max_ratio).exp()
            boxes = torch.cat([gxy - gwh * 0.5, gxy + gwh * 0.5], -1)
        return _clip(boxes, height, width) if self.clip else boxes


# ---------------------------------------------------- selection and NMS


def top_candidates(scores: torch.Tensor, score_thr: float, nms_pre: int
                   ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """mmdet's ``filter_scores_and_topk`` on (N, C) scores: of the scores
    above ``score_thr``, the ``nms_pre`` highest, in decreasing order, with
    their rows and columns (labels). The top-k is taken over all scores
    first and then thresholded: the same set, with one data-dependent size
    fewer."""
    flat = scores.reshape(-1)
    k = torch.sym_min(nms_pre, flat.shape[0])
    top, index = flat.topk(k)
    keep = top > score_thr
    top, index = top[keep], index[keep]
    classes = scores.shape[1]
    return top, torch.div(index, classes, rounding_mode='floor'), \
        index % classes


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor,
                groups: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """mmcv's ``batched_nms`` (not class-agnostic): NMS within each group
    (class, or level for an RPN), by mmcv's offset trick: each group's
    boxes moved by ``group * (max coordinate + 1)`` so that groups never
    overlap. Indices kept, in decreasing score order. mmcv's per-group loop
    for 10000 boxes or more uses the same shifted boxes, so it keeps the
    same boxes (in the same order but among equal scores, which it
    re-sorts). The maximum is taken with a zero appended, so that no box
    at all is not an error: the same as mmcv's unless every coordinate is
    negative (boxes clipped to the image never are)."""
    largest = torch.cat([boxes.reshape(-1), boxes.new_zeros(1)]).max()
    shifted = boxes + (groups.to(boxes.dtype) * (largest + 1))[:, None]
    return torch.ops.van_mm.nms(shifted, scores, float(iou_threshold))


def _nms_iou(nms_cfg, where: str) -> float:
    cfg = dict(nms_cfg)
    kind = cfg.pop('type', 'nms')
    iou = cfg.pop('iou_threshold', cfg.pop('iou_thr', None))
    cfg.pop('split_thr', None)  # same result either way (see batched_nms)
    if kind != 'nms' or iou is None or cfg.get('class_agnostic') or \
            cfg.get('offset', 0) != 0 or cfg.get('score_threshold', 0) or \
            cfg.get('max_num', -1) > 0:
        raise UnsupportedDetector(
            f'{where}.nms is {dict(nms_cfg)}; the whole-detector graph '
            "exports type='nms' with an iou_threshold, per class, offset 0.")
    return float(iou)


def _rescale(boxes: torch.Tensor, scale_factor: torch.Tensor,
             divide: bool = False) -> torch.Tensor:
    """Boxes of the resized image in the original one: times ``1 / scale``
    (mmdet's ``scale_boxes``) or divided by it (the mask head's
    ``bboxes /= scale_factor``)."""
    factor = scale_factor.repeat(2)
    return boxes / factor if divide else boxes * (1.0 / factor)


def _size_filter(boxes: torch.Tensor, min_size: float) -> torch.Tensor:
    """mmdet's ``min_bbox_size`` test: both sides longer than it."""
    wh = boxes[:, 2:] - boxes[:, :2]
    return (wh[:, 0] > min_size) & (wh[:, 1] > min_size)


def _levels(outs: Sequence[torch.Tensor], width: int) -> List[torch.Tensor]:
    """Per-level head outputs (1, A * width, h, w) of image 0 as
    (h * w * A, width), mmdet's layout of priors."""
    return [o[0].permute(1, 2, 0).reshape(-1, width) for o in outs]


# -------------------------------------------------------- dense heads


class DenseHeadPredictor(nn.Module):
    """A single-stage head's ``predict_by_feat`` for one image with NMS:
    mmdet's ``BaseDenseHead._predict_by_feat_single`` and
    ``_bbox_post_process`` (RetinaNet, ATSS with its centerness as score
    factor) or ``GFLHead._predict_by_feat_single`` (integral of the
    distance distribution times the stride, from anchor centres)."""

    def __init__(self, head: nn.Module, where: str = 'bbox_head'):
        super().__init__()
        from mmdet.models.dense_heads import GFLHead
        from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
        self.gfl = isinstance(head, GFLHead)
        own = type(head)._predict_by_feat_single
        if not self.gfl and own is not BaseDenseHead._predict_by_feat_single:
            raise UnsupportedDetector(
                f'{where} is {_type(head)}, whose post-processing the '
                'whole-detector graph does not reproduce (it covers '
                "BaseDenseHead's: RetinaNet, ATSS; and GFL's).")
        if getattr(head.loss_cls, 'custom_cls_channels', False):
            raise UnsupportedDetector(f'{where}: custom classifier '
                                      'channels are not exported.')
        cfg = head.test_cfg
        self.head = head
        self.decoder = BoxDecoder(head.bbox_coder, where)
        self.sigmoid = bool(head.use_sigmoid_cls)
        self.classes = int(head.cls_out_channels)
        self.encode_size = int(head.bbox_coder.encode_size)
        self.score_thr = float(cfg.get('score_thr', 0))
        self.nms_pre = int(cfg.get('nms_pre', -1))
        if self.nms_pre <= 0:
            raise UnsupportedDetector(
                f'{where}.test_cfg.nms_pre is {self.nms_pre}; set a '
                'positive top-k (mmdet keeps all but one score otherwise).')
        self.min_size = float(cfg.get('min_bbox_size', -1))
        self.iou = _nms_iou(cfg.nms, f'{where}.test_cfg')
        self.max_per_img = int(cfg.max_per_img)
        if self.gfl:
            self.strides = [int(s[0]) for s in head.prior_generator.strides]

    def forward(self, feats: Sequence[torch.Tensor],
                scale_factor: torch.Tensor, height, width
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        outs = self.head(feats)
        cls_scores, bbox_preds = outs[0], outs[1]
        factors = outs[2] if len(outs) > 2 else None
        priors = self.head.prior_generator.grid_priors(
            [c.shape[-2:] for c in cls_scores], dtype=cls_scores[0].dtype,
            device=cls_scores[0].device)
        width_pred = (self.head.reg_max + 1) * 4 if self.gfl else \
            self.encode_size
        boxes, scores, labels, score_factors = [], [], [], []
        for lvl, (cls, pred, prior) in enumerate(zip(
                _levels(cls_scores, self.classes),
                _levels(bbox_preds, width_pred), priors)):
            probs = cls.sigmoid() if self.sigmoid else \
                cls.softmax(-1)[:, :-1]
            if self.gfl:
                pred = self.head.integral(pred) * self.strides[lvl]
            top, rows, cols = top_candidates(probs, self.score_thr,
                                             self.nms_pre)
            prior, pred = prior[rows], pred[rows]
            if self.gfl:
                prior = self.head.anchor_center(prior)
            boxes.append(self.decoder(prior, pred, height, width))
            scores.append(top)
            labels.append(cols)
            if factors is not None:
                factor = factors[lvl][0].permute(1, 2, 0).reshape(-1)
                score_factors.append(factor.sigmoid()[rows])
        boxes = _rescale(torch.cat(boxes), scale_factor)
        scores, labels = torch.cat(scores), torch.cat(labels)
        if factors is not None:
            scores = scores * torch.cat(score_factors)
        if self.min_size >= 0:
            keep = _size_filter(boxes, self.min_size)
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        keep = batched_nms(boxes, scores, labels, self.iou)
        keep = keep[:self.max_per_img]
        return boxes[keep], scores[keep], labels[keep]


class RPNPredictor(nn.Module):
    """mmdet's ``RPNHead._predict_by_feat_single`` and
    ``_bbox_post_process`` (no rescale): the ``nms_pre`` best anchors of
    each level, decoded, small boxes dropped, NMS within each level, the
    ``max_per_img`` best proposals."""

    def __init__(self, head: nn.Module, cfg, where: str = 'rpn_head'):
        super().__init__()
        if _type(head) != 'RPNHead' or not head.use_sigmoid_cls or \
                head.cls_out_channels != 1:
            raise UnsupportedDetector(
                f'{where} is {_type(head)} (sigmoid '
                f'{head.use_sigmoid_cls}); the whole-detector graph exports '
                "mmdet's RPNHead with a sigmoid classifier.")
        self.head = head
        self.decoder = BoxDecoder(head.bbox_coder, where)
        self.nms_pre = int(cfg.get('nms_pre', -1))
        self.min_size = float(cfg.get('min_bbox_size', -1))
        self.iou = _nms_iou(cfg.nms, 'test_cfg.rpn')
        self.max_per_img = int(cfg.max_per_img)

    def forward(self, feats: Sequence[torch.Tensor], height, width
                ) -> torch.Tensor:
        cls_scores, bbox_preds = self.head(feats)
        priors = self.head.prior_generator.grid_priors(
            [c.shape[-2:] for c in cls_scores], dtype=cls_scores[0].dtype,
            device=cls_scores[0].device)
        boxes, scores, levels = [], [], []
        for lvl, (cls, pred, prior) in enumerate(zip(
                _levels(cls_scores, 1), _levels(bbox_preds, 4), priors)):
            score = cls.sigmoid().reshape(-1)
            if self.nms_pre > 0:
                score, rows = score.topk(
                    torch.sym_min(self.nms_pre, score.shape[0]))
                pred, prior = pred[rows], prior[rows]
            boxes.append(self.decoder(prior, pred, height, width))
            scores.append(score)
            levels.append(torch.full_like(score, lvl, dtype=torch.long))
        boxes, scores = torch.cat(boxes), torch.cat(scores)
        levels = torch.cat(levels)
        if self.min_size >= 0:
            keep = _size_filter(boxes, self.min_size)
            boxes, scores, levels = boxes[keep], scores[keep], levels[keep]
        keep = batched_nms(boxes, scores, levels, self.iou)
        return boxes[keep[:self.max_per_img]]


# ------------------------------------------------------------ RoI heads


class RoIExtractor(nn.Module):
    """mmdet's ``SingleRoIExtractor``: each RoI on the level of its scale
    (``map_roi_levels``: ``floor(log2(sqrt(w h) / finest_scale + 1e-6))``
    clamped to the levels), RoIAlign there. In the graph: each level's
    RoIs gathered (NonZero), aligned and scattered back."""

    def __init__(self, extractor: nn.Module, where: str):
        super().__init__()
        if _type(extractor) != 'SingleRoIExtractor':
            raise UnsupportedDetector(
                f'{where} is {_type(extractor)}; the whole-detector graph '
                'exports SingleRoIExtractor.')
        layers = extractor.roi_layers
        for layer in layers:
            if _type(layer) != 'RoIAlign' or layer.pool_mode != 'avg':
                raise UnsupportedDetector(
                    f'{where}.roi_layers hold {_type(layer)} '
                    f"({getattr(layer, 'pool_mode', '')}); the graph "
                    "exports RoIAlign with pool_mode='avg'.")
        self.num_inputs = len(layers)
        self.finest_scale = float(extractor.finest_scale)
        self.out_channels = int(extractor.out_channels)
        self.layers = [
            (int(layer.output_size[0]), int(layer.output_size[1]),
             float(layer.spatial_scale), int(layer.sampling_ratio),
             bool(layer.aligned))
            for layer in layers]

    def forward(self, feats: Sequence[torch.Tensor],
                rois: torch.Tensor) -> torch.Tensor:
        feats = feats[:self.num_inputs]
        oh, ow = self.layers[0][:2]
        if len(feats) == 1:
            return torch.ops.van_mm.roi_align(feats[0], rois, *self.layers[0])
        scale = torch.sqrt((rois[:, 3] - rois[:, 1]) *
                           (rois[:, 4] - rois[:, 2]))
        level = torch.floor(torch.log2(scale / self.finest_scale + 1e-6))
        level = level.clamp(min=0, max=len(feats) - 1).long()
        out = rois.new_zeros(rois.shape[0], self.out_channels, oh, ow)
        for i, feat in enumerate(feats):
            inds = (level == i).nonzero().squeeze(1)
            aligned = torch.ops.van_mm.roi_align(feat, rois[inds],
                                                 *self.layers[i])
            out = out.index_put((inds, ), aligned)
        return out


class EvalBatchNorm(nn.Module):
    """A BatchNorm layer in eval mode as elementwise arithmetic:
    ``(x - mean) / sqrt(var + eps) * weight + bias``. The same outputs;
    ``aten.batch_norm`` asks whether its input is empty, which
    ``torch.export`` cannot answer for a data-dependent number of RoIs
    (``GuardOnDataDependentSymNode: Eq(12544*Min(50, u1), 0)`` in the
    cascade's ``Shared4Conv1FCBBoxHead``)."""

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm):
        super().__init__()
        channels = bn.num_features
        weight = bn.weight if bn.affine else torch.ones(channels)
        bias = bn.bias if bn.affine else torch.zeros(channels)
        for name, value in (('mean', bn.running_mean),
                            ('var', bn.running_var), ('weight', weight),
                            ('bias', bias)):
            self.register_buffer(name, value.detach().clone())
        self.eps = float(bn.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1, ) * (x.dim() - 2)
        return (x - self.mean.view(shape)) / torch.sqrt(
            self.var.view(shape) + self.eps) * self.weight.view(shape) + \
            self.bias.view(shape)


def eval_batchnorms(module: nn.Module) -> nn.Module:
    """Replace, in place, the BatchNorm layers of ``module`` that track
    running statistics (``nn.BatchNorm*d``, and mmengine's ``_BatchNormXd``
    that ``revert_sync_batchnorm`` makes of SyncBN) by
    :class:`EvalBatchNorm`; returns it."""
    for name, child in list(module.named_modules()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and \
                child.track_running_stats:
            parent = module.get_submodule(name.rpartition('.')[0])
            setattr(parent, name.rpartition('.')[2], EvalBatchNorm(child))
    return module


def _check_box_head(box: nn.Module, where: str) -> None:
    if getattr(box, 'custom_cls_channels', False) or not box.with_reg or \
            not box.with_cls:
        raise UnsupportedDetector(
            f'{where} ({_type(box)}) has custom classifier channels or no '
            'regression or classification branch; the graph exports '
            "BBoxHead's softmax classifier and box regression.")


def _check_mask_head(mask: nn.Module, where: str) -> None:
    if _type(mask) != 'FCNMaskHead' or mask.class_agnostic:
        raise UnsupportedDetector(
            f'{where} is {_type(mask)} (class agnostic '
            f'{getattr(mask, "class_agnostic", None)}); the graph exports '
            'FCNMaskHead with per-class masks.')


class RoIHeadPredictor(nn.Module):
    """mmdet's ``StandardRoIHead.predict`` or ``CascadeRoIHead.predict``
    for one image.

    Box heads (one, or a cascade's stages) on the proposals: a cascade
    stage refines the RoIs with its regression of the arg-max class
    (``regress_by_class``), the classifier logits are averaged over the
    stages; then softmax, the last stage's per-class or class-agnostic
    box regression and ``multiclass_nms``. The mask head(s) on the
    detected boxes: a cascade averages its stages' sigmoids
    (``merge_aug_masks``). As in mmdet, boxes are rescaled to the original
    image before NMS when there is no mask head, and after it (by
    division) when there is."""

    def __init__(self, roi_head: nn.Module):
        super().__init__()
        kind = _type(roi_head)
        if kind not in ('StandardRoIHead', 'CascadeRoIHead') or \
                roi_head.with_shared_head:
            raise UnsupportedDetector(
                f'roi_head is {kind}; the whole-detector graph exports '
                'StandardRoIHead and CascadeRoIHead without a shared head.')
        # RoI heads run on a data-dependent number of RoIs: BatchNorm as
        # arithmetic (a copy: the detector given is left as it is)
        roi_head = eval_batchnorms(copy.deepcopy(roi_head).eval())
        self.roi_head = roi_head
        cascade = kind == 'CascadeRoIHead'
        heads = list(roi_head.bbox_head) if cascade else [roi_head.bbox_head]
        extractors = list(roi_head.bbox_roi_extractor) if cascade else \
            [roi_head.bbox_roi_extractor]
        self.box_heads = heads
        self.box_extractors = nn.ModuleList([
            RoIExtractor(e, f'roi_head.bbox_roi_extractor[{i}]')
            for i, e in enumerate(extractors)])
        self.decoders = nn.ModuleList([
            BoxDecoder(h.bbox_coder, f'roi_head.bbox_head[{i}]')
            for i, h in enumerate(heads)])
        for i, h in enumerate(heads):
            _check_box_head(h, f'roi_head.bbox_head[{i}]')
        self.agnostic = [bool(h.reg_class_agnostic) for h in heads]
        self.classes = int(heads[-1].num_classes)
        cfg = roi_head.test_cfg
        self.score_thr = float(cfg.score_thr)
        self.iou = _nms_iou(cfg.nms, 'test_cfg.rcnn')
        self.max_per_img = int(cfg.max_per_img)
        self.with_mask = bool(roi_head.with_mask)
        if self.with_mask:
            masks = list(roi_head.mask_head) if cascade else \
                [roi_head.mask_head]
            for i, m in enumerate(masks):
                _check_mask_head(m, f'roi_head.mask_head[{i}]')
            self.mask_heads = masks
            extractors = roi_head.mask_roi_extractor
            extractors = list(extractors) if cascade else [extractors]
            self.mask_extractors = nn.ModuleList([
                RoIExtractor(e, f'roi_head.mask_roi_extractor[{i}]')
                for i, e in enumerate(extractors)])

    @staticmethod
    def _rois(boxes: torch.Tensor) -> torch.Tensor:
        return torch.cat([boxes.new_zeros(boxes.shape[0], 1), boxes], 1)

    def forward(self, feats: Sequence[torch.Tensor],
                proposals: torch.Tensor, scale_factor: torch.Tensor, height,
                width) -> Tuple[torch.Tensor, ...]:
        boxes = proposals
        stages = len(self.box_heads)
        logits = 0
        for i, (head, extractor) in enumerate(zip(self.box_heads,
                                                  self.box_extractors)):
            cls_score, bbox_pred = head(extractor(feats, self._rois(boxes)))
            logits = logits + cls_score
            if i < stages - 1:  # CascadeRoIHead._refine_roi
                if not self.agnostic[i]:
                    label = cls_score[:, :-1].argmax(dim=1)
                    bbox_pred = bbox_pred.reshape(
                        bbox_pred.shape[0], -1, 4)[
                            torch.arange(bbox_pred.shape[0]), label]
                boxes = self.decoders[i](boxes, bbox_pred, height, width)
        if stages > 1:
            logits = logits / float(stages)
        probs = F.softmax(logits, dim=-1)
        reg = 1 if self.agnostic[-1] else self.classes
        boxes = self.decoders[-1](boxes.repeat_interleave(reg, dim=0),
                                  bbox_pred.reshape(-1, 4), height, width)
        if not self.with_mask:
            boxes = _rescale(boxes, scale_factor)
        # multiclass_nms: every (RoI, class) above the threshold
        boxes = boxes.reshape(-1, reg, 4).expand(-1, self.classes, 4)
        scores = probs[:, :-1].reshape(-1)
        labels = torch.arange(self.classes, device=scores.device).repeat(
            probs.shape[0])
        keep = (scores > self.score_thr).nonzero().squeeze(1)
        boxes, scores, labels = boxes.reshape(-1, 4)[keep], scores[keep], \
            labels[keep]
        keep = batched_nms(boxes, scores, labels, self.iou)
        keep = keep[:self.max_per_img]
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        if not self.with_mask:
            return boxes, scores, labels
        rois = self._rois(boxes)
        probs = 0
        for head, extractor in zip(self.mask_heads, self.mask_extractors):
            probs = probs + head(extractor(feats, rois)).sigmoid()
        if len(self.mask_heads) > 1:
            probs = probs / float(len(self.mask_heads))
        masks = probs[torch.arange(probs.shape[0]), labels]
        return _rescale(boxes, scale_factor, divide=True), scores, labels, \
            masks


class SparseRCNNPredictor(nn.Module):
    """mmdet's Sparse R-CNN inference (``EmbeddingRPNHead`` and
    ``SparseRoIHead.predict_bbox``) for one image: the learned proposal
    boxes (centre, size relative to the unpadded image) and features,
    refined by each ``DIIHead`` stage on RoIAlign features (class-agnostic
    regression of every proposal), then the ``max_per_img`` best
    (proposal, class) sigmoid scores, boxes divided by the scale factor.
    No NMS. Masks are not exported."""

    def __init__(self, detector: nn.Module):
        super().__init__()
        rpn, roi_head = detector.rpn_head, detector.roi_head
        if _type(roi_head) != 'SparseRoIHead' or roi_head.with_mask:
            raise UnsupportedDetector(
                f'roi_head is {_type(roi_head)} (mask '
                f'{getattr(roi_head, "with_mask", None)}); with an '
                'EmbeddingRPNHead the graph exports SparseRoIHead without '
                'masks.')
        self.rpn = rpn
        self.roi_head = eval_batchnorms(copy.deepcopy(roi_head).eval())
        self.extractors = nn.ModuleList([
            RoIExtractor(e, f'roi_head.bbox_roi_extractor[{i}]')
            for i, e in enumerate(self.roi_head.bbox_roi_extractor)])
        self.decoders = nn.ModuleList([
            BoxDecoder(h.bbox_coder, f'roi_head.bbox_head[{i}]')
            for i, h in enumerate(self.roi_head.bbox_head)])
        last = self.roi_head.bbox_head[-1]
        self.sigmoid = bool(last.loss_cls.use_sigmoid)
        self.classes = int(last.num_classes)
        self.max_per_img = int(roi_head.test_cfg.max_per_img)

    def forward(self, feats: Sequence[torch.Tensor],
                scale_factor: torch.Tensor, height, width
                ) -> Tuple[torch.Tensor, ...]:
        centre_size = self.rpn.init_proposal_bboxes.weight
        boxes = torch.cat([centre_size[:, :2] - centre_size[:, 2:] * 0.5,
                           centre_size[:, :2] + centre_size[:, 2:] * 0.5],
                          -1)
        one = boxes.new_ones(1)  # sizes may be symbolic: tensor * SymInt
        boxes = boxes * torch.cat([one * width, one * height] * 2)
        objects = self.rpn.init_proposal_features.weight[None]
        for head, extractor, decoder in zip(self.roi_head.bbox_head,
                                            self.extractors, self.decoders):
            rois = torch.cat([boxes.new_zeros(boxes.shape[0], 1), boxes], 1)
            cls_score, delta, objects, _ = head(extractor(feats, rois),
                                                 objects)
            boxes = decoder(boxes, delta.reshape(-1, 4), height, width)
        scores = cls_score[0].sigmoid() if self.sigmoid else \
            cls_score[0].softmax(-1)[:, :-1]
        top, index = scores.reshape(-1).topk(self.max_per_img)
        labels = index % self.classes
        boxes = boxes[torch.div(index, self.classes, rounding_mode='floor')]
        return _rescale(boxes, scale_factor, divide=True), top, labels


# ------------------------------------------------------------ detector


class WholeDetectorGraph(nn.Module):
    """An mmdet detector from resized image to detections (see the module
    docstring): ``forward(image, scale_factor) -> boxes, scores, labels[,
    masks]``, batch 1, any height and width.

    Args:
        detector (nn.Module): An mmdet single-stage detector with a
            RetinaNet, ATSS or GFL head, or a two-stage detector with an
            RPN and a ``StandardRoIHead`` or ``CascadeRoIHead`` (Faster,
            Mask and Cascade Mask R-CNN), in eval
            mode.
    """

    def __init__(self, detector: nn.Module):
        super().__init__()
        pre = detector.data_preprocessor
        self.normalizer = ImageNormalizer(pre)
        self.divisor = int(pre.pad_size_divisor)
        self.pad_value = float(pre.pad_value)
        self.detector = detector
        self.two_stage = getattr(detector, 'rpn_head', None) is not None
        self.sparse = self.two_stage and \
            _type(detector.rpn_head) == 'EmbeddingRPNHead'
        if self.sparse:
            self.query = SparseRCNNPredictor(detector)
        elif self.two_stage:
            roi_head = getattr(detector, 'roi_head', None)
            if roi_head is None or _type(detector.rpn_head) != 'RPNHead':
                raise UnsupportedDetector(
                    f'{_type(detector)} has {_type(detector.rpn_head)} and '
                    f'{_type(roi_head)}; the whole-detector graph exports an '
                    'RPNHead with a StandardRoIHead or CascadeRoIHead.')
            self.rpn = RPNPredictor(detector.rpn_head,
                                    detector.test_cfg.rpn)
            self.rcnn = RoIHeadPredictor(roi_head)
        elif getattr(detector, 'bbox_head', None) is not None:
            self.dense = DenseHeadPredictor(detector.bbox_head)
        else:
            raise UnsupportedDetector(
                f'{_type(detector)} has neither a bbox_head nor an RPN '
                f'(its heads: {", ".join(_heads(detector)) or "none"}); '
                'the whole-detector graph exports single-stage detectors '
                '(RetinaNet, ATSS, GFL heads), two-stage ones with an '
                'RPNHead (Faster, Mask, Cascade Mask R-CNN) and Sparse '
                'R-CNN.')
        self.with_mask = self.two_stage and not self.sparse and \
            self.rcnn.with_mask

    @property
    def output_names(self) -> List[str]:
        return ['boxes', 'scores', 'labels'] + \
            (['masks'] if self.with_mask else [])

    def forward(self, image: torch.Tensor, scale_factor: torch.Tensor
                ) -> Tuple[torch.Tensor, ...]:
        height, width = image.shape[2:]
        x = self.normalizer(image)
        d = self.divisor
        x = F.pad(x, (0, (d - width % d) % d, 0, (d - height % d) % d),
                  value=self.pad_value)
        feats = self.detector.extract_feat(x)
        scale_factor = scale_factor.float()
        if self.sparse:
            return self.query(feats, scale_factor, height, width)
        if not self.two_stage:
            return self.dense(feats, scale_factor, height, width)
        proposals = self.rpn(feats, height, width)
        return self.rcnn(feats, proposals, scale_factor, height, width)


def _heads(detector: nn.Module) -> List[str]:
    return [f'{name} ({_type(child)})' for name, child in
            detector.named_children() if name.endswith('head')]


def mask_threshold(detector: nn.Module) -> Optional[float]:
    """The mask head's ``mask_thr_binary`` (None without a mask head)."""
    roi_head = getattr(detector, 'roi_head', None)
    if roi_head is None or not getattr(roi_head, 'with_mask', False):
        return None
    return float(roi_head.test_cfg.mask_thr_binary)
