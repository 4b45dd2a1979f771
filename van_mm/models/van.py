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
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from torch.nn.modules.batchnorm import _BatchNorm

from van_mm import compat
from van_mm.checkpoint import (
    NotVanCheckpoint,
    load_pretrained,
    model_zoo_scheme,
)
from van_mm.models.archs import ARCHS, parse_arch, resolve_arch
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


GELU = dict(type='GELU')


class SpatialAttention(nn.Module):
    """``proj_2(LKA(GELU(proj_1(x)))) + x`` with 1x1 projections.

    Args:
        dims (int): Channels C. Input and output are (B, C, H, W).
        act_cfg (dict): The activation after ``proj_1``.
            Defaults to ``dict(type='GELU')``.
    """

    def __init__(self, dims: int, act_cfg: Dict = GELU):
        super().__init__()
        self.proj_1 = nn.Conv2d(dims, dims, 1)
        self.activation = build_activation_layer(act_cfg)
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
        act_cfg (dict): The activation. Defaults to ``dict(type='GELU')``.
    """

    def __init__(self, dims: int, hidden_dims: int, drop: float = 0.,
                 act_cfg: Dict = GELU):
        super().__init__()
        self.fc1 = nn.Conv2d(dims, hidden_dims, 1)
        self.dwconv = nn.Conv2d(
            hidden_dims, hidden_dims, 3, padding=1, groups=hidden_dims)
        self.act = build_activation_layer(act_cfg)
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
        act_cfg (dict): The MLP's activation. Defaults to GELU.
        attn_act_cfg (dict): The attention branch's activation. Defaults to
            GELU.
    """

    def __init__(self,
                 dims: int,
                 mlp_ratio: float,
                 drop: float = 0.,
                 drop_path: float = 0.,
                 norm_cfg: Dict = dict(type='BN'),
                 layer_scale_init: float = 1e-2,
                 deploy: bool = False,
                 act_cfg: Dict = GELU,
                 attn_act_cfg: Dict = GELU):
        super().__init__()
        self.attn = SpatialAttention(dims, attn_act_cfg)
        self.mlp = ConvMlp(dims, int(dims * mlp_ratio), drop, act_cfg)
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
        norm_cfg (dict): Config of the BN layers of the blocks.
        ln_eps (float): Epsilon of the closing LayerNorm.
        with_cp (bool): Checkpoint each block's activations to save memory.
        deploy (bool): Build the deploy form of the patch embedding and the
            blocks.
        embed_norm_cfg (dict, optional): Config of the patch embedding's BN;
            defaults to ``norm_cfg``.
        block_kwargs (dict, optional): More arguments of every
            :class:`VANBlock` (activations, layer scale).
        ln_requires_grad (bool): Whether the closing LayerNorm trains.
            Defaults to True.
    """

    def __init__(self, in_channels: int, embed_dims: int, depth: int,
                 mlp_ratio: float, patch_size: int, stride: int,
                 drop_paths: Sequence[float], drop: float, norm_cfg: Dict,
                 ln_eps: float, with_cp: bool, deploy: bool = False,
                 embed_norm_cfg: Optional[Dict] = None,
                 block_kwargs: Optional[Dict] = None,
                 ln_requires_grad: bool = True):
        super().__init__()
        self.with_cp = with_cp
        self.patch_embed = OverlapPatchEmbed(
            in_channels, embed_dims, patch_size, stride,
            norm_cfg if embed_norm_cfg is None else embed_norm_cfg, deploy)
        self.blocks = nn.ModuleList([
            VANBlock(embed_dims, mlp_ratio, drop, drop_paths[j], norm_cfg,
                     deploy=deploy, **(block_kwargs or {}))
            for j in range(depth)
        ])
        self.norm = ChannelLayerNorm(embed_dims, eps=ln_eps)
        self.norm.requires_grad_(ln_requires_grad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        for block in self.blocks:
            if self.with_cp and torch.is_grad_enabled():
                x = cp.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return self.norm(x)


# The stage norms: a LayerNorm ``norm_cfg`` is mmpretrain's meaning of it.
LN_TYPES = ('LN', 'LayerNorm')
DEFAULT_BN = dict(type='BN', requires_grad=True)
DEFAULT_LN_EPS = 1e-6  # the official weights'
TORCH_LN_EPS = 1e-5  # nn.LayerNorm's: what dict(type='LN') means
# What mmpretrain's VAN passes on to every block through ``block_cfgs``.
BLOCK_CFG_KEYS = ('norm_cfg', 'act_cfg', 'layer_scale_init_value')


def is_layer_norm(cfg) -> bool:
    """Whether a norm config builds a LayerNorm (``'LN'``)."""
    kind = cfg.get('type') if isinstance(cfg, dict) else None
    return kind in LN_TYPES or (isinstance(kind, type)
                                and issubclass(kind, nn.LayerNorm))


def _norm_settings(norm_cfg: Dict, block_cfgs: Dict,
                   ln_eps: Optional[float]) -> Tuple[Dict, Dict, float, bool]:
    """The patch embeddings' BN config, the blocks' BN config, the stage
    LayerNorms' epsilon and whether they train, from VAN's ``norm_cfg``,
    ``block_cfgs`` and ``ln_eps`` (the rule of :class:`VAN`'s docstring)."""
    if not isinstance(norm_cfg, dict) or 'type' not in norm_cfg:
        raise TypeError(
            "VAN: norm_cfg must be a dict with a type: dict(type='BN') or "
            "dict(type='SyncBN') for the norms inside the blocks and patch "
            "embeddings, or dict(type='LN', eps=...) for the LayerNorm after "
            f'each stage; got {norm_cfg!r}.')
    block_norm = block_cfgs.get('norm_cfg')
    if block_norm is not None and (not isinstance(block_norm, dict)
                                   or is_layer_norm(block_norm)):
        raise ValueError(
            'VAN: block_cfgs.norm_cfg sets the norms inside the blocks, which '
            "normalise NCHW maps: write a BatchNorm (dict(type='BN') or "
            f"dict(type='SyncBN')), got {block_norm!r}.")
    if not is_layer_norm(norm_cfg):
        return (norm_cfg, block_norm or norm_cfg,
                DEFAULT_LN_EPS if ln_eps is None else ln_eps, True)
    extra = sorted(set(norm_cfg) - {'type', 'eps', 'requires_grad'})
    if extra:
        raise ValueError(
            f'VAN: norm_cfg={norm_cfg!r} sets the LayerNorm after each stage '
            "(mmpretrain's meaning), which takes eps and requires_grad "
            f'only: remove {extra}.')
    eps = norm_cfg.get('eps', TORCH_LN_EPS)
    if ln_eps is not None and ln_eps != eps:
        raise ValueError(
            f'VAN: ln_eps={ln_eps:g} and norm_cfg={norm_cfg!r} (the stage '
            f'LayerNorms, eps {eps:g}) disagree: give the epsilon once, as '
            "ln_eps or as norm_cfg's eps.")
    return (DEFAULT_BN, block_norm or DEFAULT_BN, eps,
            norm_cfg.get('requires_grad', True))


def _block_kwargs(block_cfgs: Dict, act_cfg: Optional[Dict]) -> Dict:
    """:class:`VANBlock`'s activations and layer scale from VAN's
    ``block_cfgs`` (mmpretrain's) and ``act_cfg`` (mmseg's)."""
    extra = sorted(set(block_cfgs) - set(BLOCK_CFG_KEYS))
    if extra:
        raise ValueError(
            f'VAN: block_cfgs takes {list(BLOCK_CFG_KEYS)}, not {extra}; '
            'dropout, drop path and MLP ratios are VAN\'s own arguments '
            '(drop_rate, drop_path_rate, mlp_ratios).')
    scale = block_cfgs.get('layer_scale_init_value', 1e-2)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or \
            scale <= 0:
        raise ValueError(
            'VAN: block_cfgs.layer_scale_init_value must be a number > 0: '
            "van_mm's blocks always have layer scales (mmpretrain builds "
            f'none for 0); got {scale!r}.')
    block_act = block_cfgs.get('act_cfg')
    for name, cfg in (('act_cfg', act_cfg), ('block_cfgs.act_cfg',
                                             block_act)):
        if cfg is not None and not (isinstance(cfg, dict) and 'type' in cfg):
            raise TypeError(f"VAN: {name} must be a dict with a type, e.g. "
                            f"dict(type='GELU'); got {cfg!r}.")
    if act_cfg is not None and block_act is not None and act_cfg != block_act:
        raise ValueError(
            f"VAN: act_cfg={act_cfg!r} (the MLPs' activation, mmseg's "
            f'meaning) and block_cfgs.act_cfg={block_act!r} (the attention\'s '
            "and the MLPs', mmpretrain's meaning) disagree: give one.")
    return dict(layer_scale_init=float(scale),
                act_cfg=block_act or act_cfg or GELU,
                attn_act_cfg=block_act or GELU)


def _patch_sizes(patch_sizes: Optional[Sequence[int]],
                 num_stages: int) -> List[int]:
    """Kernel sizes of the patch embeddings, one per stage: 7 then 3s by
    default; the first ``num_stages`` of ``patch_sizes`` (as mmpretrain
    reads them)."""
    if patch_sizes is None:
        return [7] + [3] * (num_stages - 1)
    if not isinstance(patch_sizes, (list, tuple)) or \
            len(patch_sizes) < num_stages or any(
                isinstance(p, bool) or not isinstance(p, int) or p < 1
                for p in patch_sizes):
        raise ValueError(
            'VAN: patch_sizes must be a list of positive ints, one kernel '
            f'size per stage ({num_stages}), e.g. [7, 3, 3, 3]; got '
            f'{patch_sizes!r}.')
    return list(patch_sizes[:num_stages])


def _init_cfgs(init_cfg) -> List[Dict]:
    """``init_cfg`` as a list of dicts (mmengine takes a dict or a list);
    an empty one is none."""
    cfgs = list(init_cfg) if isinstance(init_cfg, (list, tuple)) else \
        [init_cfg] if init_cfg else []
    if any(not isinstance(c, dict) or 'type' not in c for c in cfgs):
        raise TypeError(
            'VAN: init_cfg must be a dict with a type, a list of them or '
            "None, e.g. dict(type='Pretrained', checkpoint=PATH_OR_URL); "
            f'got {init_cfg!r}.')
    if sum(c['type'] == 'Pretrained' for c in cfgs) > 1:
        raise ValueError('VAN: init_cfg names more than one Pretrained '
                         f'checkpoint: keep one. {init_cfg!r}')
    return cfgs


def _from_pretrained_hint() -> str:
    return ("It came from the backbone's `pretrained`, which mmseg's "
            "EncoderDecoder sets to the segmentor's model.pretrained "
            "(mmseg's fpn_r50.py base names ResNet-50's "
            "'open-mmlab://resnet50_v1c'): set model.pretrained=None in the "
            "config, and VAN weights in model.backbone.init_cfg=dict("
            "type='Pretrained', checkpoint=...).")


def _refuse_model_zoo(checkpoint, from_pretrained: bool) -> None:
    """Refuse a checkpoint of mmengine's model zoo by its name, before
    anything is downloaded."""
    scheme = model_zoo_scheme(checkpoint)
    if scheme is None:
        return
    fix = _from_pretrained_hint() if from_pretrained else (
        "Name VAN weights in init_cfg=dict(type='Pretrained', "
        'checkpoint=...), or set init_cfg=None.')
    raise ValueError(
        f"VAN: {checkpoint!r} is not VAN weights: {scheme} names a "
        "checkpoint of mmengine's model zoo (ResNets, VGGs and other "
        f'classifiers; no VAN). {fix}')


@register_model
class VAN(BaseModule):
    """Visual Attention Network backbone.

    Four stages at strides 4, 8, 16 and 32 (a 7x7/stride-4 patch embedding,
    then 3x3/stride-2 ones), each followed by a LayerNorm over channels.

    It takes every argument of mmpretrain's ``VAN`` and of mmseg 1.x
    ``projects/van``'s, with their meaning where a config states one
    (``docs/peers.md`` has the table of arguments and defaults side by
    side); the defaults are van_mm's.

    Args:
        arch (str | dict, optional): ``'b0'``-``'b6'`` (aliases ``'tiny'``/
            ``'t'``, ``'small'``/``'s'``, ``'base'``/``'b'``, ``'large'``/
            ``'l'`` for b0-b3), or a dict with keys ``embed_dims``,
            ``depths`` and ``mlp_ratios`` (or mmpretrain's ``ffn_ratios``),
            one entry per stage. Defaults to ``'b0'`` unless ``embed_dims``
            and ``depths`` are given.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (Sequence[int], optional): Stages whose outputs are
            returned. Defaults to every stage, ``(0, 1, 2, 3)``.
        drop_rate (float): Dropout inside the MLPs. Defaults to 0.
        drop_path_rate (float): Stochastic depth rate of the last block; it
            rises linearly from 0 over all blocks. Defaults to 0.
        norm_cfg (dict): One rule, by type. A BatchNorm (``'BN'``,
            ``'SyncBN'``; van_mm's and mmseg's meaning) sets the norms
            inside the blocks and the patch embeddings. A LayerNorm
            (``'LN'``; mmpretrain's meaning) sets the LayerNorm after each
            stage: its ``eps`` (default 1e-5, ``nn.LayerNorm``'s) becomes
            the stage norms' epsilon, and the BN layers are then
            ``block_cfgs['norm_cfg']`` in the blocks and plain BN in the
            patch embeddings, as in mmpretrain.
            Defaults to ``dict(type='BN', requires_grad=True)``.
        ln_eps (float, optional): Epsilon of the LayerNorm after each stage;
            the official weights were trained with 1e-6. Defaults to 1e-6
            (or the ``eps`` of a LayerNorm ``norm_cfg``).
        frozen_stages (int): Freeze stages 0..``frozen_stages`` (patch
            embedding, blocks, norm): no gradient and BN in eval mode; -1
            freezes nothing. mmpretrain's meaning: 0 freezes the first
            stage. Defaults to -1.
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
        init_cfg (dict | list[dict], optional): ``dict(type='Pretrained',
            checkpoint=PATH_OR_URL)`` loads a VAN checkpoint in any layout
            known to :mod:`van_mm.checkpoint` (e.g. the official
            VAN-Classification ``.pth.tar``); other mmengine initialisers
            (``Kaiming``, ``Constant``...), alone or in a list, are applied
            after the official random init to the layers they name. None or
            empty: the official random init. Defaults to None.
        deploy (bool): Build the inference-only model that
            :meth:`switch_to_deploy` makes of a trained one (BN and layer
            scales folded into the convolutions), e.g. to load a state dict
            saved from such a model. It runs in eval mode and cannot train.
            Defaults to False.
        patch_sizes (Sequence[int], optional): Kernel size of each stage's
            patch embedding; its stride is ``size // 2 + 1`` and its padding
            ``size // 2`` (mmpretrain's rule). Defaults to ``[7, 3, 3, 3]``.
        block_cfgs (dict, optional): mmpretrain's extra arguments of every
            block: ``norm_cfg`` (the blocks' BN; where given it wins over
            ``norm_cfg`` for the blocks), ``act_cfg`` (the activation of
            the attention branch and the MLP) and ``layer_scale_init_value``
            (> 0). Defaults to none.
        act_cfg (dict, optional): The MLPs' activation (mmseg's meaning: its
            attention branch keeps GELU). Defaults to GELU.
        embed_dims, depths, mlp_ratios (Sequence, optional): mmseg's
            top-level arch: without ``arch``, ``embed_dims`` and ``depths``
            define it (``mlp_ratios`` defaults to ``[8, 8, 4, 4]``); with
            ``arch``, each one given must equal the arch's
            (:func:`van_mm.models.archs.resolve_arch`).
        num_stages (int, optional): Build only the first ``num_stages``
            stages of the arch (mmseg's meaning). Defaults to all.
        pretrained (str, optional): Deprecated, as in mmseg's and mmdet's
            backbones: a path or URL becomes ``init_cfg=dict(
            type='Pretrained', checkpoint=pretrained)`` with a
            FutureWarning. mmseg's ``EncoderDecoder`` passes the segmentor's
            ``model.pretrained`` here. Names of mmengine's model zoo
            (``open-mmlab://``, ``torchvision://``...) are refused: they are
            no VAN weights. Defaults to None.

    Shapes:
        Input (B, in_channels, H, W) with any H, W. Output: a tuple with one
        tensor per ``out_indices`` entry, stage i of shape
        (B, embed_dims[i], ceil(H / 2**(i+2)), ceil(W / 2**(i+2))) with the
        default patch sizes, NCHW and contiguous (in channels_last if the
        input is, without the ``channels_last`` option: deploy-mode models
        converted with ``model.to(memory_format=torch.channels_last)`` stay
        in it).

    Example:
        >>> model = VAN(arch='b0')
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 224, 224))]
        [(1, 32, 56, 56), (1, 64, 28, 28), (1, 160, 14, 14), (1, 256, 7, 7)]
    """

    arch_zoo = ARCHS

    def __init__(self,
                 arch: Union[str, Dict, None] = None,
                 in_channels: int = 3,
                 out_indices: Optional[Sequence[int]] = None,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 norm_cfg: Dict = DEFAULT_BN,
                 ln_eps: Optional[float] = None,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 channels_last: bool = False,
                 init_cfg: Union[Dict, List[Dict], None] = None,
                 deploy: bool = False,
                 patch_sizes: Optional[Sequence[int]] = None,
                 block_cfgs: Optional[Dict] = None,
                 act_cfg: Optional[Dict] = None,
                 embed_dims: Optional[Sequence[int]] = None,
                 depths: Optional[Sequence[int]] = None,
                 mlp_ratios: Optional[Sequence[float]] = None,
                 num_stages: Optional[int] = None,
                 pretrained: Optional[str] = None):
        init_cfg = self._pretrained_to_init_cfg(pretrained, init_cfg)
        super().__init__(init_cfg=init_cfg)
        self.from_pretrained = pretrained is not None
        self.deploy = deploy
        self.channels_last = channels_last
        self.arch_settings = resolve_arch(arch, embed_dims, depths,
                                          mlp_ratios, num_stages)
        self.embed_dims = self.arch_settings['embed_dims']
        self.depths = self.arch_settings['depths']
        self.mlp_ratios = self.arch_settings['mlp_ratios']
        self.num_stages = len(self.depths)

        block_cfgs = {} if block_cfgs is None else block_cfgs
        if not isinstance(block_cfgs, dict):
            raise TypeError(
                'VAN: block_cfgs must be one dict for every block, as '
                "mmpretrain's VAN passes it to each, e.g. "
                f"dict(norm_cfg=dict(type='SyncBN')); got {block_cfgs!r}.")
        embed_norm, block_norm, ln_eps, ln_trains = _norm_settings(
            norm_cfg, block_cfgs, ln_eps)
        block_kwargs = _block_kwargs(block_cfgs, act_cfg)
        self.patch_sizes = _patch_sizes(patch_sizes, self.num_stages)
        self.strides = [p // 2 + 1 for p in self.patch_sizes]

        if out_indices is None:
            out_indices = range(self.num_stages)
        elif isinstance(out_indices, int):
            out_indices = (out_indices, )
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in range(self.num_stages)
                                  for i in out_indices):
            raise ValueError(f'out_indices must pick stages in 0..'
                             f'{self.num_stages - 1}, got {out_indices}')
        if isinstance(frozen_stages, bool) or \
                not isinstance(frozen_stages, int) or \
                not -1 <= frozen_stages < self.num_stages:
            raise ValueError(
                f'VAN: frozen_stages={frozen_stages!r}: write -1 (nothing '
                f'frozen) or k in 0..{self.num_stages - 1}, which freezes '
                'stages 0..k (as in mmpretrain).')
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
                    norm_cfg=block_norm,
                    ln_eps=ln_eps,
                    with_cp=with_cp,
                    deploy=deploy,
                    embed_norm_cfg=embed_norm,
                    block_kwargs=block_kwargs,
                    ln_requires_grad=ln_trains))
        self._freeze_stages()
        if deploy:
            self.eval()

    @staticmethod
    def _pretrained_to_init_cfg(pretrained, init_cfg):
        """``init_cfg`` with a ``pretrained`` path or URL in it (with a
        FutureWarning, as mmseg's backbones do); model-zoo names refused."""
        if pretrained is not None:
            if not isinstance(pretrained, str):
                raise TypeError('VAN: pretrained must be a checkpoint path '
                                f'or URL, or None; got {pretrained!r}.')
            _refuse_model_zoo(pretrained, from_pretrained=True)
            if init_cfg:
                raise ValueError(
                    f'VAN: pretrained={pretrained!r} and init_cfg='
                    f'{init_cfg!r} both initialise the backbone: give one. '
                    + _from_pretrained_hint())
            warnings.warn(
                "VAN: pretrained is deprecated; write init_cfg=dict(type="
                f"'Pretrained', checkpoint={pretrained!r}) instead.",
                FutureWarning, stacklevel=3)
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        for cfg in _init_cfgs(init_cfg):
            if cfg['type'] == 'Pretrained':
                _refuse_model_zoo(cfg.get('checkpoint'), False)
        return init_cfg

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
        for stage in self.stages[:self.frozen_stages + 1]:
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
        """Load ``init_cfg``'s Pretrained checkpoint; otherwise the official
        random init, then the other initialisers ``init_cfg`` lists (a dict
        or a list of dicts, as mmengine takes them)."""
        cfgs = _init_cfgs(self.init_cfg)
        pretrained = [c for c in cfgs if c['type'] == 'Pretrained']
        if pretrained:
            cfg = pretrained[0]
            try:
                load_pretrained(self, cfg['checkpoint'], cfg.get('prefix'),
                                cfg.get('allow_pickle', False))
            except NotVanCheckpoint as e:
                if not self.from_pretrained:
                    raise
                raise NotVanCheckpoint(f'{e}. {_from_pretrained_hint()}') \
                    from e
            self._is_init = True
            return
        self._official_init()
        others = [c for c in cfgs if c['type'] != 'Pretrained']
        if others:
            init_cfg, self.init_cfg = self.init_cfg, others
            try:
                super().init_weights()
            finally:
                self.init_cfg = init_cfg
        self._is_init = True

    def _official_init(self):
        """The official code's random init of the convolutions (BN and
        LayerNorm keep PyTorch's: weight 1, bias 0)."""
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
