# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Visual Attention Network (VAN) backbone for dense prediction.

Guo et al., "Visual Attention Network", 2022
(https://arxiv.org/abs/2202.09741).
The maths follows the official VAN-Classification code exactly; the module
layout is van_mm's own (``stages.{i}.patch_embed / blocks / norm``) and
:mod:`van_mm.checkpoint` maps published checkpoints onto it. The archs
b0-b6 are the table of :mod:`van_mm.models.archs`. Each module's
``switch_to_deploy`` turns it into an inference-only equivalent with the
layers of :mod:`van_mm.models.fusion`.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from torch.nn.modules.batchnorm import _BatchNorm

from van_mm import compat
from van_mm.checkpoint import load_pretrained
from van_mm.models.archs import ARCHS, parse_arch
from van_mm.models.fusion import (
    RowBands,
    bn_affine,
    conv_mlp_in_bands,
    fuse_conv,
    phase_split_conv,
)
from van_mm.registry import register_model


def _bf16_channels_last_on_cpu(x: torch.Tensor) -> bool:
    """Whether ``x`` is a bfloat16 CPU tensor in channels_last layout."""
    return x.device.type == 'cpu' and x.dtype == torch.bfloat16 and \
        not x.is_contiguous() and \
        x.is_contiguous(memory_format=torch.channels_last)


class LKA(nn.Module):
    """Large Kernel Attention: a 21x21 kernel decomposed with dilation 3.

    ``attn = conv1(conv_spatial(conv0(x)))`` and the output is ``x * attn``
    (element-wise, no normalisation).

    Args:
        dims (int): Channels C. Input and output are (B, C, H, W).

    Attributes:
        phase_split (bool): Compute the dilated conv on its dilation phases
            (:func:`~van_mm.models.fusion.phase_split_conv`): same result,
            faster in oneDNN. Set by deploy mode.
    """

    def __init__(self, dims: int):
        super().__init__()
        # (2d-1)x(2d-1) depth-wise conv: local context.
        self.conv0 = nn.Conv2d(dims, dims, 5, padding=2, groups=dims)
        # ceil(K/d)xceil(K/d) depth-wise conv with dilation d: long range.
        self.conv_spatial = nn.Conv2d(
            dims, dims, 7, padding=9, dilation=3, groups=dims)
        # 1x1 conv: channel adaptability.
        self.conv1 = nn.Conv2d(dims, dims, 1)
        self.phase_split = False

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """The map ``attn`` that multiplies ``x``; shape (B, C, H, W)."""
        attn = self.conv0(x)
        if self.phase_split:
            attn = phase_split_conv(attn, self.conv_spatial)
        elif compat.DILATED_DWCONV_BF16_GRAD_BUG and attn.requires_grad and \
                _bf16_channels_last_on_cpu(attn):
            # the installed torch's CPU kernel gets this conv's weight
            # gradient wrong in bfloat16 channels_last (van_mm.compat): it
            # runs in the contiguous layout then
            attn = self.conv_spatial(attn.contiguous()).contiguous(
                memory_format=torch.channels_last)
        else:
            attn = self.conv_spatial(attn)
        return self.conv1(attn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention_map(x)


class SpatialAttention(nn.Module):
    """``proj_2(LKA(GELU(proj_1(x)))) + x`` with 1x1 projections.

    Args:
        dims (int): Channels C. Input and output are (B, C, H, W).
    """

    def __init__(self, dims: int):
        super().__init__()
        self.proj_1 = nn.Conv2d(dims, dims, 1)
        self.activation = nn.GELU()
        self.spatial_gating_unit = LKA(dims)
        self.proj_2 = nn.Conv2d(dims, dims, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.activation(self.proj_1(x))
        x = self.spatial_gating_unit(x)
        return self.proj_2(x) + shortcut


class ConvMlp(nn.Module):
    """Convolutional feed-forward network: ``fc2(GELU(dwconv(fc1(x))))``.

    ``fc1``/``fc2`` are 1x1 convs, ``dwconv`` a 3x3 depth-wise conv.

    Args:
        dims (int): Input and output channels C.
        hidden_dims (int): Hidden channels (``mlp_ratio * C``).
        drop (float): Dropout after the activation and after ``fc2``.
            Defaults to 0.
    """

    def __init__(self, dims: int, hidden_dims: int, drop: float = 0.):
        super().__init__()
        self.fc1 = nn.Conv2d(dims, hidden_dims, 1)
        self.dwconv = nn.Conv2d(
            hidden_dims, hidden_dims, 3, padding=1, groups=hidden_dims)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden_dims, dims, 1)
        self.drop = nn.Dropout(drop)
        self.bands = None  # set by VANBlock.switch_to_deploy
        self.deploy = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deploy:  # no dropout; large inputs in bands if asked for
            if self.bands is None:
                return self.fc2(self.act(self.dwconv(self.fc1(x))))
            return conv_mlp_in_bands(x, self.fc1, self.dwconv, self.act,
                                     self.fc2, self.bands)
        x = self.drop(self.act(self.dwconv(self.fc1(x))))
        return self.drop(self.fc2(x))


class VANBlock(nn.Module):
    """One VAN block: two pre-norm residual branches with layer scale.

    ``x = x + drop_path(ls1 * attn(norm1(x)))``, then
    ``x = x + drop_path(ls2 * mlp(norm2(x)))``; ``norm1``/``norm2`` are
    BatchNorm (``norm_cfg``), ``ls1``/``ls2`` per-channel scales initialised
    to ``layer_scale_init``.

    Args:
        dims (int): Channels C. Input and output are (B, C, H, W).
        mlp_ratio (float): Hidden channels of the MLP over C.
        drop (float): Dropout rate inside the MLP. Defaults to 0.
        drop_path (float): Stochastic depth rate of this block. Defaults to 0.
        norm_cfg (dict): Config of the two BN layers.
            Defaults to ``dict(type='BN')``.
        layer_scale_init (float): Initial layer scale. Defaults to 1e-2.
        deploy (bool): Build the inference-only form that
            :meth:`switch_to_deploy` makes (no norms, no layer scales, a
            ``shortcut_scale`` buffer), to load its state dict.
            Defaults to False.
    """

    def __init__(self,
                 dims: int,
                 mlp_ratio: float,
                 drop: float = 0.,
                 drop_path: float = 0.,
                 norm_cfg: Dict = dict(type='BN'),
                 layer_scale_init: float = 1e-2,
                 deploy: bool = False):
        super().__init__()
        self.attn = SpatialAttention(dims)
        self.mlp = ConvMlp(dims, int(dims * mlp_ratio), drop)
        self.deploy = deploy
        if deploy:
            self.mlp.deploy = True
            self.attn.spatial_gating_unit.phase_split = True
            self.drop_path = nn.Identity()
            self.register_buffer('shortcut_scale', torch.ones(dims, 1, 1))
            return
        self.norm1 = build_norm_layer(norm_cfg, dims)[1]
        self.norm2 = build_norm_layer(norm_cfg, dims)[1]
        self.drop_path = (DropPath(drop_path)
                          if drop_path > 0 else nn.Identity())
        self.layer_scale_1 = nn.Parameter(torch.full((dims, ),
                                                     layer_scale_init))
        self.layer_scale_2 = nn.Parameter(torch.full((dims, ),
                                                     layer_scale_init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deploy:
            return self._forward_deploy(x)
        x = x + self.drop_path(
            self.layer_scale_1[:, None, None] * self.attn(self.norm1(x)))
        x = x + self.drop_path(
            self.layer_scale_2[:, None, None] * self.mlp(self.norm2(x)))
        return x

    def _forward_deploy(self, x: torch.Tensor) -> torch.Tensor:
        attn = self.attn
        u = attn.spatial_gating_unit(attn.activation(attn.proj_1(x)))
        x = torch.addcmul(attn.proj_2(u), x, self.shortcut_scale)
        return self.mlp(x).add_(x)

    @torch.no_grad()
    def switch_to_deploy(self, mlp_bands: Optional[RowBands] = None,
                         phase_split: bool = True):
        """Fold ``norm1``/``norm2`` (eval statistics) and the layer scales
        into the 1x1 convs around them (once), and choose how the deployed
        block computes: with ``phase_split``, LKA's dilated conv phase by
        phase (:func:`~van_mm.models.fusion.phase_split_conv`); with
        ``mlp_bands``, large MLP inputs in bands of rows
        (:func:`~van_mm.models.fusion.conv_mlp_in_bands`). Inference only.

        With ``norm1(x) = s * x + t`` and layer scale ``l``, the attention
        branch ``x + l * (proj_2(LKA(...)) + norm1(x))`` becomes
        ``proj_2'(LKA(...)) + (1 + l * s) * x`` where ``proj_2'`` carries
        ``l`` and ``l * t``; ``proj_1`` absorbs ``s`` and ``t``. The MLP
        branch becomes ``x + mlp'(x)`` with ``fc1`` absorbing ``norm2`` and
        ``fc2`` absorbing ``l2``.
        """
        attn, mlp = self.attn, self.mlp
        if not self.deploy:
            s1, t1 = bn_affine(self.norm1)
            s2, t2 = bn_affine(self.norm2)
            ls1, ls2 = self.layer_scale_1.detach(), self.layer_scale_2.detach()
            attn.proj_1 = fuse_conv(attn.proj_1, in_scale=s1, in_shift=t1)
            attn.proj_2 = fuse_conv(attn.proj_2, out_scale=ls1,
                                    out_shift=ls1 * t1)
            mlp.fc1 = fuse_conv(mlp.fc1, in_scale=s2, in_shift=t2)
            mlp.fc2 = fuse_conv(mlp.fc2, out_scale=ls2)
            self.register_buffer('shortcut_scale',
                                 (1 + ls1 * s1)[:, None, None])
            del self.norm1, self.norm2, self.layer_scale_1, self.layer_scale_2
            self.drop_path = nn.Identity()
            mlp.deploy = self.deploy = True
        mlp.bands = mlp_bands
        attn.spatial_gating_unit.phase_split = phase_split


class OverlapPatchEmbed(nn.Module):
    """Strided convolution followed by BatchNorm.

    Args:
        in_channels (int): Input channels.
        embed_dims (int): Output channels.
        patch_size (int): Kernel size; padding is ``patch_size // 2``.
        stride (int): Down-sampling factor.
        norm_cfg (dict): Config of the BN layer.
        deploy (bool): Build the form :meth:`switch_to_deploy` makes (a BN
            folded into the conv). Defaults to False.
    """

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int,
                 stride: int, norm_cfg: Dict, deploy: bool = False):
        super().__init__()
        self.proj = nn.Conv2d(
            in_channels,
            embed_dims,
            patch_size,
            stride=stride,
            padding=patch_size // 2)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]
        if deploy and isinstance(self.norm, _BatchNorm):
            self.norm = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))

    @torch.no_grad()
    def switch_to_deploy(self):
        """Fold the BN (eval statistics) into the conv; inference only."""
        if isinstance(self.norm, _BatchNorm):
            scale, shift = bn_affine(self.norm)
            self.proj = fuse_conv(self.proj, out_scale=scale, out_shift=shift)
            self.norm = nn.Identity()


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor; returns NCHW,
    contiguous in the input's memory format (channels_last stays
    channels_last, without a copy)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels_last = x.is_contiguous(memory_format=torch.channels_last)
        x = F.layer_norm(
            x.permute(0, 2, 3, 1), self.normalized_shape, self.weight,
            self.bias, self.eps).permute(0, 3, 1, 2)
        return x if channels_last else x.contiguous()


class VANStage(nn.Module):
    """Patch embedding, ``depth`` VAN blocks, then LayerNorm over channels.

    Args:
        in_channels (int): Input channels.
        embed_dims (int): Channels of this stage.
        depth (int): Number of blocks.
        mlp_ratio (float): MLP expansion of the blocks.
        patch_size (int): Kernel size of the patch embedding.
        stride (int): Stride of the patch embedding.
        drop_paths (Sequence[float]): Drop-path rate of each block.
        drop (float): Dropout inside the MLPs.
        norm_cfg (dict): Config of the BN layers.
        ln_eps (float): Epsilon of the closing LayerNorm.
        with_cp (bool): Checkpoint each block's activations to save memory.
        deploy (bool): Build the deploy form of the patch embedding and the
            blocks.
    """

    def __init__(self, in_channels: int, embed_dims: int, depth: int,
                 mlp_ratio: float, patch_size: int, stride: int,
                 drop_paths: Sequence[float], drop: float, norm_cfg: Dict,
                 ln_eps: float, with_cp: bool, deploy: bool = False):
        super().__init__()
        self.with_cp = with_cp
        self.patch_embed = OverlapPatchEmbed(in_channels, embed_dims,
                                             patch_size, stride, norm_cfg,
                                             deploy)
        self.blocks = nn.ModuleList([
            VANBlock(embed_dims, mlp_ratio, drop, drop_paths[j], norm_cfg,
                     deploy=deploy) for j in range(depth)
        ])
        self.norm = ChannelLayerNorm(embed_dims, eps=ln_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        for block in self.blocks:
            if self.with_cp and torch.is_grad_enabled():
                x = cp.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return self.norm(x)


@register_model
class VAN(BaseModule):
    """Visual Attention Network backbone.

    Four stages at strides 4, 8, 16 and 32 (a 7x7/stride-4 patch embedding,
    then 3x3/stride-2 ones), each followed by a LayerNorm over channels.

    Args:
        arch (str | dict): ``'b0'``-``'b6'`` (aliases ``'tiny'``, ``'small'``,
            ``'base'``, ``'large'`` for b0-b3), or a dict with keys
            ``embed_dims``, ``depths`` and ``mlp_ratios`` (4 entries each).
            Defaults to ``'b0'``.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (Sequence[int]): Stages whose outputs are returned, in
            0..3. Defaults to ``(0, 1, 2, 3)``.
        drop_rate (float): Dropout inside the MLPs. Defaults to 0.
        drop_path_rate (float): Stochastic depth rate of the last block; it
            rises linearly from 0 over all blocks. Defaults to 0.
        norm_cfg (dict): Config of the BatchNorm layers (``'BN'`` or
            ``'SyncBN'``). Defaults to ``dict(type='BN', requires_grad=True)``.
        ln_eps (float): Epsilon of the LayerNorm after each stage; the
            official weights were trained with 1e-6. Defaults to 1e-6.
        frozen_stages (int): Freeze the first ``frozen_stages`` stages
            (patch embedding, blocks, norm): no gradient and BN in eval mode.
            0 or -1 freezes nothing. Defaults to -1.
        norm_eval (bool): Keep every BN layer in eval mode while training
            (frozen running statistics). Defaults to False.
        with_cp (bool): Activation checkpointing per block
            (``use_reentrant=False``): less memory, more compute.
            Defaults to False.
        channels_last (bool): Run the stages in channels_last memory format
            (the input is converted on entry) and hand the outputs on in the
            standard contiguous layout, as necks and heads expect them. Same
            maths, other memory order: outputs and gradients equal the
            default's to float rounding. On a CPU a training step of VAN-B2
            takes about half the time (``docs/speed.md``). Defaults to False.
        init_cfg (dict, optional): ``dict(type='Pretrained',
            checkpoint=PATH_OR_URL)`` loads a VAN checkpoint in any layout
            known to :mod:`van_mm.checkpoint` (e.g. the official
            VAN-Classification ``.pth.tar``). Defaults to None (random init
            as in the official code).
        deploy (bool): Build the inference-only model that
            :meth:`switch_to_deploy` makes of a trained one (BN and layer
            scales folded into the convolutions), e.g. to load a state dict
            saved from such a model. It runs in eval mode and cannot train.
            Defaults to False.

    Shapes:
        Input (B, in_channels, H, W) with any H, W. Output: a tuple with one
        tensor per ``out_indices`` entry, stage i of shape
        (B, embed_dims[i], ceil(H / 2**(i+2)), ceil(W / 2**(i+2))), NCHW and
        contiguous (in channels_last if the input is, without the
        ``channels_last`` option: deploy-mode models converted with
        ``model.to(memory_format=torch.channels_last)`` stay in it).

    Example:
        >>> model = VAN(arch='b0')
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 224, 224))]
        [(1, 32, 56, 56), (1, 64, 28, 28), (1, 160, 14, 14), (1, 256, 7, 7)]
    """

    arch_zoo = ARCHS
    patch_sizes = (7, 3, 3, 3)
    strides = (4, 2, 2, 2)

    def __init__(self,
                 arch: Union[str, Dict] = 'b0',
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 norm_cfg: Dict = dict(type='BN', requires_grad=True),
                 ln_eps: float = 1e-6,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 channels_last: bool = False,
                 init_cfg: Optional[Dict] = None,
                 deploy: bool = False):
        super().__init__(init_cfg=init_cfg)
        self.deploy = deploy
        self.channels_last = channels_last
        self.arch_settings = self.parse_arch(arch)
        self.embed_dims = self.arch_settings['embed_dims']
        self.depths = self.arch_settings['depths']
        self.mlp_ratios = self.arch_settings['mlp_ratios']

        num_stages = len(self.depths)
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in range(num_stages)
                                  for i in out_indices):
            raise ValueError(f'out_indices must pick stages in 0..'
                             f'{num_stages - 1}, got {out_indices}')
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        # rising linearly from 0 (torch.linspace's values, computed without
        # a tensor so that the model also builds on the meta device)
        blocks = sum(self.depths)
        dpr = [drop_path_rate * i / max(blocks - 1, 1) for i in range(blocks)]
        self.stages = nn.ModuleList()
        for i, depth in enumerate(self.depths):
            first = sum(self.depths[:i])
            self.stages.append(
                VANStage(
                    in_channels=in_channels if i == 0 else
                    self.embed_dims[i - 1],
                    embed_dims=self.embed_dims[i],
                    depth=depth,
                    mlp_ratio=self.mlp_ratios[i],
                    patch_size=self.patch_sizes[i],
                    stride=self.strides[i],
                    drop_paths=dpr[first:first + depth],
                    drop=drop_rate,
                    norm_cfg=norm_cfg,
                    ln_eps=ln_eps,
                    with_cp=with_cp,
                    deploy=deploy))
        self._freeze_stages()
        if deploy:
            self.eval()

    @staticmethod
    def parse_arch(arch: Union[str, Dict]) -> Dict[str, List]:
        """Resolve an arch name or dict
        (:func:`van_mm.models.archs.parse_arch`)."""
        return parse_arch(arch)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x.contiguous() if self.channels_last else x)
            if i == max(self.out_indices):
                break  # later stages would get no gradient
        return tuple(outs)

    @torch.no_grad()
    def switch_to_deploy(self, mlp_bands: Optional[RowBands] = None,
                         phase_split: bool = True):
        """Fold every BatchNorm and layer scale into the convolutions next to
        them (:meth:`VANBlock.switch_to_deploy`) for faster inference, and
        choose how the deployed model computes (called again on a deployed
        model, only that).

        Uses the BN running statistics, so call it after loading weights;
        the model is put in eval mode and cannot be trained afterwards.
        Outputs match the normal eval-mode forward to float rounding, and
        the state dict is that of ``VAN(..., deploy=True)``.

        Args:
            mlp_bands (RowBands, optional): Compute large MLP inputs in
                bands of rows that fit the CPU's cache
                (:func:`van_mm.apis.cpu_row_bands` for the CPU this runs
                on). Defaults to None: whole tensors, as on a GPU.
            phase_split (bool): Compute LKA's dilated depth-wise conv on its
                dilation phases (:func:`~van_mm.models.fusion.
                phase_split_conv`), which oneDNN runs faster; onnxruntime
                runs the dilated conv itself faster (``docs/speed.md``).
                Defaults to True.
        """
        self.eval()
        for stage in self.stages:
            stage.patch_embed.switch_to_deploy()
            for block in stage.blocks:
                block.switch_to_deploy(mlp_bands, phase_split)
        self.deploy = True

    def _freeze_stages(self):
        for stage in self.stages[:max(self.frozen_stages, 0)]:
            stage.eval()
            for param in stage.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        if mode and self.deploy:
            raise RuntimeError(
                'This VAN was switched to deploy mode (BN and layer scale '
                'folded into convs) and can only run inference; build a new '
                'model to train.')
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def init_weights(self):
        """Official random init, or load ``init_cfg.checkpoint``."""
        if self.init_cfg is not None and self.init_cfg.get(
                'type') == 'Pretrained':
            load_pretrained(self, self.init_cfg['checkpoint'],
                            self.init_cfg.get('prefix'),
                            self.init_cfg.get('allow_pickle', False))
            self._is_init = True
            return
        if self.init_cfg is not None:
            super().init_weights()
            return
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv2d):
                fan_out = (m.kernel_size[0] * m.kernel_size[1] *
                           m.out_channels // m.groups)
                nn.init.normal_(m.weight, 0, (2.0 / fan_out)**0.5)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        print_log('VAN: random initialisation (no pretrained checkpoint).',
                  logger='current')
