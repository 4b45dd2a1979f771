# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""What an exported model computes: a backbone, a whole-image segmentor or
the network part of a detector, as plain ``nn.Module`` graphs of tensors
that ``torch.onnx.export`` traces.

* :class:`SegmentorGraph`: an image in (uint8, the channel order the
  config's data pre-processor takes), logits and the label map at the
  image's size out; mmseg's whole-image ``test_step`` (normalisation,
  backbone, neck, decode head, logits resized to the input, arg-max).
* :class:`DetectorGraph`: an image in, the dense heads' raw outputs (and
  for two-stage detectors the neck's features) out; what follows in mmdet
  (anchors, box decoding, score threshold, NMS, RoI heads) has
  data-dependent output sizes and mmcv's compiled NMS and RoIAlign, which
  ``torch.export`` cannot trace, and stays with the host
  (:mod:`van_mm.export.runtime` runs it with mmdet's own code).
* a VAN backbone is exported as it is: a normalised float image in, the
  stage outputs out.
"""
import json
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


class ImageNormalizer(nn.Module):
    """A data pre-processor's per-image work on a uint8 batch: channel
    swap, float, ``(x - mean) / std`` (mmengine's ``ImgDataPreprocessor``
    and mmseg's ``SegDataPreProcessor`` alike).

    Args:
        preprocessor (nn.Module): The model's ``data_preprocessor``.
    """

    def __init__(self, preprocessor: nn.Module):
        super().__init__()
        self.swap = bool(getattr(preprocessor, 'channel_conversion', False)
                         or getattr(preprocessor, '_channel_conversion',
                                    False))
        self.normalize = bool(preprocessor._enable_normalize)
        if self.normalize:
            self.register_buffer('mean', preprocessor.mean.view(1, -1, 1, 1)
                                 .float().clone(), persistent=False)
            self.register_buffer('std', preprocessor.std.view(1, -1, 1, 1)
                                 .float().clone(), persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = image.float()
        if self.swap:
            x = x.flip(1)
        if self.normalize:
            x = (x - self.mean) / self.std
        return x


class SegmentorGraph(nn.Module):
    """Whole-image inference of an mmseg ``EncoderDecoder``: uint8 image
    (B, 3, H, W) in; ``seg_logits`` (B, classes, H, W) and ``seg_label``
    (B, H, W), int64, out, as ``test_step`` gives them for an image that
    needs no resizing.

    Args:
        segmentor (nn.Module): An mmseg ``EncoderDecoder`` in eval mode
            whose data pre-processor does not pad at test time.
    """

    output_names = ('seg_logits', 'seg_label')

    def __init__(self, segmentor: nn.Module):
        super().__init__()
        pre = segmentor.data_preprocessor
        if getattr(pre, 'test_cfg', None):
            raise ValueError(
                'data_preprocessor.test_cfg pads test images '
                f'({pre.test_cfg}); the exported segmentor takes images of '
                'any size unpadded: remove test_cfg from the config.')
        mode = (segmentor.test_cfg or {}).get('mode', 'whole')
        if mode != 'whole':
            raise ValueError(
                f"model.test_cfg.mode is {mode!r}; the exported segmentor "
                "runs whole-image inference: set mode='whole'.")
        self.normalizer = ImageNormalizer(pre)
        self.segmentor = segmentor
        head = segmentor.decode_head
        self.align_corners = head.align_corners
        self.threshold = getattr(head, 'threshold', 0.3)

    def forward(self, image: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        x = self.normalizer(image)
        logits = self.segmentor.decode_head(self.segmentor.extract_feat(x))
        logits = F.interpolate(logits, size=image.shape[2:], mode='bilinear',
                               align_corners=self.align_corners)
        if logits.shape[1] > 1:
            label = logits.argmax(1)
        else:
            label = (logits.sigmoid() > self.threshold)[:, 0].long()
        return logits, label


class IntegerUpsample(nn.Module):
    """mmseg's ``Upsample`` by an integer factor, with the output size
    computed in integers (``H * k``) so that ``torch.export`` keeps it
    symbolic (mmseg's ``int(H * 2.0)`` fixes it to the example's size).
    Same output: the size is the same, and so is the scale
    ``F.interpolate`` derives from it."""

    def __init__(self, factor: int, mode: str, align_corners):
        super().__init__()
        self.factor = factor
        self.mode = mode
        self.align_corners = align_corners

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2:]
        return F.interpolate(x, size=(h * self.factor, w * self.factor),
                             mode=self.mode, align_corners=self.align_corners)


def traceable_upsampling(model: nn.Module) -> nn.Module:
    """Replace, in place, mmseg ``Upsample`` layers by an integer factor
    (FPNHead's) with :class:`IntegerUpsample`; returns ``model``."""
    for name, module in list(model.named_modules()):
        factor = getattr(module, 'scale_factor', None)
        if type(module).__name__ != 'Upsample' or module.size or \
                not isinstance(factor, float) or not factor.is_integer():
            continue
        parent = model.get_submodule(name.rpartition('.')[0])
        setattr(parent, name.rpartition('.')[2], IntegerUpsample(
            int(factor), module.mode, module.align_corners))
    return model


def _flatten(outs: Sequence[Sequence[torch.Tensor]]) -> List[torch.Tensor]:
    return [t for level in outs for t in level]


class DetectorGraph(nn.Module):
    """The network of an mmdet detector up to its dense head: uint8 image
    (B, 3, H, W) in; normalised and padded as the data pre-processor does
    (right and bottom, to a multiple of ``pad_size_divisor``); out the
    dense head's raw outputs, level by level (``cls_score_0`` ...,
    ``bbox_pred_0`` ...), and for a two-stage detector first the neck's
    features (``feat_0`` ...), which its RoI heads read.

    Args:
        detector (nn.Module): An mmdet single-stage detector (``bbox_head``)
            or two-stage detector with an RPN head (``rpn_head``).
    """

    def __init__(self, detector: nn.Module):
        super().__init__()
        head = getattr(detector, 'rpn_head', None)
        self.two_stage = head is not None
        if head is None:
            head = getattr(detector, 'bbox_head', None)
        if head is None or not hasattr(head, 'predict_by_feat') or \
                type(head).__name__ == 'EmbeddingRPNHead':
            raise ValueError(
                f'{type(detector).__name__} has no dense head computed from '
                'features (an RPN or a single-stage bbox head); ONNX export '
                'covers single-stage detectors and two-stage ones with an '
                'RPN.')
        pre = detector.data_preprocessor
        self.normalizer = ImageNormalizer(pre)
        self.divisor = int(pre.pad_size_divisor)
        self.pad_value = float(pre.pad_value)
        self.detector = detector
        self.head = head
        self.layout: Dict[str, int] = {}  # set by the first forward

    def forward(self, image: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.normalizer(image)
        h, w = x.shape[2:]
        d = self.divisor
        x = F.pad(x, (0, (d - w % d) % d, 0, (d - h % d) % d),
                  value=self.pad_value)
        feats = self.detector.extract_feat(x)
        outs = self.head(feats)
        self.layout = dict(features=len(feats) if self.two_stage else 0,
                           head_outputs=len(outs), levels=len(outs[0]))
        return tuple(feats if self.two_stage else ()) + \
            tuple(_flatten(outs))

    def output_names(self) -> List[str]:
        """Names of the outputs (after one forward): ``feat_{level}``,
        ``cls_score_{level}``, ``bbox_pred_{level}``, then
        ``head_output{k}_{level}`` for any further per-level lists."""
        layout = self.layout
        names = [f'feat_{i}' for i in range(layout['features'])]
        for k in range(layout['head_outputs']):
            kind = ('cls_score', 'bbox_pred')[k] if k < 2 else \
                f'head_output{k}'
            names += [f'{kind}_{i}' for i in range(layout['levels'])]
        return names

    def layout_json(self) -> str:
        return json.dumps(self.layout)


def split_detector_outputs(outputs: Sequence[torch.Tensor],
                           layout: Dict[str, int]
                           ) -> Tuple[List[torch.Tensor], List[List]]:
    """The exported detector's flat outputs back into the neck's features
    and the head's per-level lists (inverse of :class:`DetectorGraph`)."""
    n = layout['features']
    feats, rest = list(outputs[:n]), list(outputs[n:])
    levels = layout['levels']
    outs = [rest[k * levels:(k + 1) * levels]
            for k in range(layout['head_outputs'])]
    return feats, outs
