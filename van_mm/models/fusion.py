# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Helpers for inference-only (deploy) models: folding BatchNorm and
per-channel scales into convolutions, a dilated depth-wise conv computed
phase by phase, and a convolutional MLP computed in bands of rows.

Generic: nothing here knows VAN or the machine. ``VAN(deploy=True)`` and
``VAN.switch_to_deploy`` use them; what suits a given CPU (the band size)
is chosen by the caller (:func:`van_mm.apis.switch_to_deploy`).
"""
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm


@torch.no_grad()
def fuse_conv(conv: nn.Conv2d,
              in_scale: Optional[torch.Tensor] = None,
              in_shift: Optional[torch.Tensor] = None,
              out_scale: Optional[torch.Tensor] = None,
              out_shift: Optional[torch.Tensor] = None) -> nn.Conv2d:
    """A conv equal to ``out_scale * conv(in_scale * x + in_shift) +
    out_shift`` (per-channel vectors, each optional).

    ``in_*`` may only be given for a 1x1 conv (with zero padding a per-channel
    shift before a larger kernel is not a bias).
    """
    w = conv.weight.detach().clone()
    b = (conv.bias.detach().clone() if conv.bias is not None else
         w.new_zeros(w.shape[0]))
    if in_shift is not None:
        assert conv.kernel_size == (1, 1) and conv.groups == 1
        b += w.flatten(1) @ in_shift
    if in_scale is not None:
        w *= in_scale[None, :, None, None]
    if out_scale is not None:
        w *= out_scale[:, None, None, None]
        b *= out_scale
    if out_shift is not None:
        b += out_shift
    fused = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size,
        stride=conv.stride, padding=conv.padding, dilation=conv.dilation,
        groups=conv.groups, bias=True, device=w.device, dtype=w.dtype)
    fused.weight.copy_(w)
    fused.bias.copy_(b)
    return fused


def bn_affine(bn: _BatchNorm) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(scale, shift)`` with ``bn(x) == scale * x + shift`` in eval mode."""
    std = (bn.running_var + bn.eps).sqrt()
    scale = bn.weight / std
    return scale.detach(), (bn.bias - bn.running_mean * scale).detach()


def phase_split_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(x)`` for a dilated depth-wise ``conv`` (stride 1, "same"
    padding ``dilation * (kernel_size - 1) // 2``), computed as a dense
    depth-wise conv on the input's dilation phases (space-to-batch, as in
    TensorFlow's atrous conv).

    With dilation d, output pixel (d*a + p, d*b + q) only sees input pixels
    of the same phase (p, q). Each phase grid is convolved with the same
    kernel without dilation; the d*d phases ride along as channels, so one
    depth-wise conv over ``d*d*C`` channels replaces the dilated one, which
    oneDNN runs several times slower on a CPU (docs/speed.md). Same sums,
    other order: equal to float rounding. The conv's own weights are used,
    so a model's state dict does not depend on this choice.
    """
    k, d = conv.kernel_size[0], conv.dilation[0]
    C = conv.in_channels
    assert conv.groups == C == conv.out_channels and conv.stride == (1, 1)
    assert conv.padding == (d * (k - 1) // 2, ) * 2
    B, _, H, W = x.shape
    channels_last = x.is_contiguous(memory_format=torch.channels_last)
    pad_h, pad_w = -H % d, -W % d
    if pad_h or pad_w:  # zeros, as the conv's own padding
        x = F.pad(x, (0, pad_w, 0, pad_h))
    Hd, Wd = (H + pad_h) // d, (W + pad_w) // d
    # NHWC (B, Hd, p, Wd, q, C) -> (B, Hd, Wd, p, q, C): phases as
    # channels, viewed back as a channels_last NCHW tensor; channel
    # (p * d + q) * C + c of the phase tensor is channel c of phase (p, q)
    x = x.permute(0, 2, 3, 1).reshape(B, Hd, d, Wd, d, C)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(B, Hd, Wd, d * d * C)
    x = F.conv2d(x.permute(0, 3, 1, 2), conv.weight.repeat(d * d, 1, 1, 1),
                 conv.bias.repeat(d * d), padding=k // 2, groups=d * d * C)
    x = x.permute(0, 2, 3, 1).reshape(B, Hd, Wd, d, d, C)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(B, Hd * d, Wd * d, C)
    x = x[:, :H, :W].permute(0, 3, 1, 2)
    return x.contiguous(memory_format=torch.channels_last
                        if channels_last else torch.contiguous_format)


@dataclass(frozen=True)
class RowBands:
    """How a convolutional MLP splits its input into bands of rows.

    A hidden tensor (``fc1``'s output) of more than ``above_bytes`` is
    computed in bands of about ``band_bytes`` each, small enough to stay in
    a CPU core's cache through ``fc1``, the 3x3 depth-wise conv, the
    activation and ``fc2``. What pays depends on the cache sizes, so the
    caller that knows the device chooses
    (:func:`van_mm.apis.cpu_row_bands`).
    """
    band_bytes: int
    above_bytes: int


def conv_mlp_in_bands(x: torch.Tensor, fc1: nn.Conv2d, dwconv: nn.Conv2d,
                      act: nn.Module, fc2: nn.Conv2d,
                      bands: RowBands) -> torch.Tensor:
    """``fc2(act(dwconv(fc1(x))))`` for 1x1 ``fc1``/``fc2`` and a 3x3
    depth-wise ``dwconv`` with padding 1, computed band by band when the
    hidden tensor is large (each band gets one row of context above and
    below for the 3x3 conv). Equal to the whole computation."""
    B, _, H, W = x.shape
    hidden_row = B * fc1.out_channels * W * x.element_size()
    if hidden_row * H <= bands.above_bytes:
        return fc2(act(dwconv(fc1(x))))
    rows = max(1, bands.band_bytes // hidden_row)
    channels_last = x.is_contiguous(memory_format=torch.channels_last)
    out = torch.empty(
        B, fc2.out_channels, H, W, dtype=x.dtype, device=x.device,
        memory_format=torch.channels_last
        if channels_last else torch.contiguous_format)
    for top in range(0, H, rows):
        bottom = min(top + rows, H)
        h = fc1(x[:, :, max(top - 1, 0):min(bottom + 1, H)])
        # rows beyond the image are the conv's zero padding
        h = F.pad(h, (0, 0, int(top == 0), int(bottom == H)))
        h = F.conv2d(h, dwconv.weight, dwconv.bias, padding=(0, 1),
                     groups=dwconv.groups)
        out[:, :, top:bottom] = fc2(act(h))
    return out
