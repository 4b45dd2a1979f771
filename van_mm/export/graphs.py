# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""What an exported backbone or segmentor computes, as plain ``nn.Module``
graphs of tensors that ``torch.onnx.export`` traces (a whole detector:
:mod:`van_mm.export.detection_graph`).

* :class:`SegmentorGraph`: an image in (uint8, the channel order the
  config's data pre-processor takes), logits and the label map at the
  image's size out; mmseg's whole-image ``test_step`` (normalisation,
  backbone, neck, decode head, logits resized to the input, arg-max).
* :class:`ImageNormalizer`: the data pre-processor's normalisation, which
  the segmentor and detector graphs start with.
* a VAN backbone is exported as it is: a normalised float image in, the
  stage outputs out.
"""
from typing import Tuple

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
