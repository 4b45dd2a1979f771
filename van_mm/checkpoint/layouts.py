# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""The checkpoint layouts VAN weights are published in: one table.

van_mm's backbone keys are ``stages.{i}.patch_embed.{proj,norm}.*``,
``stages.{i}.blocks.{j}.{norm1,attn,norm2,mlp,layer_scale_1,layer_scale_2}``
and ``stages.{i}.norm.*`` with 0-based stage index ``i``. Each published
layout is one :class:`Layout` in :data:`LAYOUTS`: how to recognise it, the
rules from its keys to van_mm's and back, its classifier and the LayerNorm
epsilon its code was trained with. Adding a layout means adding one entry
here (and a round-trip case to ``tests/test_checkpoint_layouts.py``);
:mod:`van_mm.checkpoint.keys` applies the rules.
"""
import re
from dataclasses import dataclass
from typing import Callable, Optional, Tuple, Union

Rule = Tuple[str, Union[str, Callable[[re.Match], str]]]


def _stage(kind: str, offset: int = -1) -> Callable[[re.Match], str]:
    """Rule target: ``{kind}`` after ``stages.{n + offset}.``, where n is the
    stage number in group 1 of the match (1-based files: offset -1)."""
    return lambda m: f'stages.{int(m[1]) + offset}.{kind}'


def _numbered(kind: str) -> Callable[[re.Match], str]:
    """Export target: ``{kind}{i + 1}.`` for van_mm's 0-based stage ``i``."""
    return lambda m: f'{kind}{int(m[1]) + 1}.'


def _numbered_stages(blocks: str) -> Tuple[Rule, ...]:
    """Export rules to the layouts that number stages from 1 in their module
    names (``patch_embed1``, ``{blocks}1``, ``norm1``)."""
    return (
        (r'^stages\.(\d+)\.patch_embed\.', _numbered('patch_embed')),
        (r'^stages\.(\d+)\.blocks\.', _numbered(blocks)),
        (r'^stages\.(\d+)\.norm\.', _numbered('norm')),
    )


_HF_STAGE = r'^(?:van\.)?encoder\.stages\.(\d+)\.'

# The official module names (VAN-Classification's van.py, copied into
# VAN-Segmentation): 1-based stages, the MLP's conv inside a DWConv module.
_OFFICIAL_SIGNATURE = r'^block\d+\.\d+\.mlp\.dwconv\.dwconv\.'
_OFFICIAL_RULES = (
    (r'^patch_embed(\d+)\.', _stage('patch_embed.')),
    (r'^block(\d+)\.', _stage('blocks.')),
    (r'^norm(\d+)\.', _stage('norm.')),
    (r'\.mlp\.dwconv\.dwconv\.', '.mlp.dwconv.'),
)
_OFFICIAL_EXPORT = _numbered_stages('block') + (
    (r'\.mlp\.dwconv\.', '.mlp.dwconv.dwconv.'),)


@dataclass(frozen=True)
class Layout:
    """One checkpoint layout.

    Attributes:
        name: Short name reported to the user and accepted by the
            converter's ``--to``.
        description: Where files in this layout come from.
        signature: A regex that some key of this layout matches (searched
            after wrappers and ``backbone.`` are removed). Two layouts share
            a signature only if they differ in :attr:`whole_model`.
        rules: ``(pattern, replacement)`` pairs applied in order with
            :func:`re.sub` to every key, mapping it to van_mm's name.
        export: The rules of the opposite direction, van_mm -> this layout.
        ignore: Regex of keys with no counterpart in the backbone
            (classification heads); they are dropped and reported.
        head: Prefix of this layout's linear classifier (``weight``,
            ``bias``), or None if it has none that a plain linear head can
            take (HuggingFace adds a LayerNorm before its classifier).
        prefix: Prefix of the backbone keys in this layout's whole-model
            files, used when exporting.
        ln_eps: LayerNorm epsilon of the stage norms in this layout's
            implementation; the weights were trained with it.
        whole_model: Whether this layout's files can hold a whole detector
            or segmentor (the backbone under ``backbone.``, beside ``neck.``
            and heads). Of two layouts with the same keys, a file with the
            backbone under a prefix is taken for the one that holds whole
            models, a bare backbone for the other.
    """
    name: str
    description: str
    signature: str
    rules: Tuple[Rule, ...] = ()
    export: Tuple[Rule, ...] = ()
    ignore: str = r'^head\.'
    head: Optional[str] = 'head.'
    prefix: str = ''
    ln_eps: float = 1e-6
    whole_model: bool = False


LAYOUTS: Tuple[Layout, ...] = (
    Layout(
        name='van_mm',
        description="van_mm's own backbone, or a van_mm detector/segmentor "
        'training checkpoint',
        signature=r'^stages\.\d+\.blocks\.',
        head='head.fc.',
        whole_model=True),
    Layout(
        name='official',
        description='official VAN-Classification (timm) .pth.tar',
        signature=_OFFICIAL_SIGNATURE,
        rules=_OFFICIAL_RULES,
        export=_OFFICIAL_EXPORT),
    Layout(
        name='official_seg',
        description='official VAN-Segmentation segmentor '
        '(mmsegmentation 0.x)',
        signature=_OFFICIAL_SIGNATURE,
        rules=_OFFICIAL_RULES,
        export=_OFFICIAL_EXPORT,
        head=None,
        prefix='backbone.',
        # VAN-Segmentation's van.py builds its stage norms with
        # nn.LayerNorm(embed_dims[i]): PyTorch's default epsilon.
        ln_eps=1e-5,
        whole_model=True),
    Layout(
        name='mmseg',
        description='mmsegmentation 1.x projects/van (VAN on MSCAN), '
        'backbone or segmentor checkpoint',
        signature=r'^block\d+\.\d+\.mlp\.dwconv\.(weight|bias)$',
        rules=(
            (r'^patch_embed(\d+)\.', _stage('patch_embed.')),
            (r'^block(\d+)\.', _stage('blocks.')),
            (r'^norm(\d+)\.', _stage('norm.')),
        ),
        export=_numbered_stages('block'),
        head=None,
        prefix='backbone.',
        # MSCAN builds its stage norms with nn.LayerNorm's default epsilon.
        ln_eps=1e-5,
        whole_model=True),
    Layout(
        name='mmpretrain',
        description='mmpretrain 1.x VAN (van-*_8xb128_in1k_*.pth)',
        signature=r'^blocks\d+\.\d+\.',
        rules=(
            (r'^patch_embed(\d+)\.projection\.', _stage('patch_embed.proj.')),
            (r'^patch_embed(\d+)\.', _stage('patch_embed.')),
            (r'^blocks(\d+)\.', _stage('blocks.')),
            (r'^norm(\d+)\.', _stage('norm.')),
            (r'\.spatial_gating_unit\.DW_conv\.',
             '.spatial_gating_unit.conv0.'),
            (r'\.spatial_gating_unit\.DW_D_conv\.',
             '.spatial_gating_unit.conv_spatial.'),
        ),
        export=_numbered_stages('blocks') + (
            (r'^(patch_embed\d+)\.proj\.', r'\1.projection.'),
            (r'\.spatial_gating_unit\.conv0\.',
             '.spatial_gating_unit.DW_conv.'),
            (r'\.spatial_gating_unit\.conv_spatial\.',
             '.spatial_gating_unit.DW_D_conv.'),
        ),
        head='head.fc.',
        prefix='backbone.',
        # mmpretrain's VAN uses nn.LayerNorm's default epsilon.
        ln_eps=1e-5),
    Layout(
        name='hf',
        description='HuggingFace transformers VanModel / '
        'VanForImageClassification (models/deprecated/van)',
        signature=_HF_STAGE + r'layers\.',
        rules=(
            (_HF_STAGE + r'embeddings\.convolution\.',
             _stage('patch_embed.proj.', 0)),
            (_HF_STAGE + r'embeddings\.normalization\.',
             _stage('patch_embed.norm.', 0)),
            (_HF_STAGE + r'layers\.', _stage('blocks.', 0)),
            (_HF_STAGE + r'normalization\.', _stage('norm.', 0)),
            (r'\.pre_normomalization\.', '.norm1.'),  # sic, in transformers
            (r'\.post_normalization\.', '.norm2.'),
            (r'\.attention\.pre_projection\.conv\.', '.attn.proj_1.'),
            (r'\.attention\.attention_layer\.attention\.depth_wise\.',
             '.attn.spatial_gating_unit.conv0.'),
            (r'\.attention\.attention_layer\.attention\.depth_wise_dilated\.',
             '.attn.spatial_gating_unit.conv_spatial.'),
            (r'\.attention\.attention_layer\.attention\.point_wise\.',
             '.attn.spatial_gating_unit.conv1.'),
            (r'\.attention\.post_projection\.', '.attn.proj_2.'),
            (r'\.attention_scaling\.weight$', '.layer_scale_1'),
            (r'\.mlp_scaling\.weight$', '.layer_scale_2'),
            (r'\.mlp\.in_dense\.', '.mlp.fc1.'),
            (r'\.mlp\.depth_wise\.', '.mlp.dwconv.'),
            (r'\.mlp\.out_dense\.', '.mlp.fc2.'),
        ),
        export=(
            (r'^stages\.(\d+)\.patch_embed\.proj\.',
             r'encoder.stages.\1.embeddings.convolution.'),
            (r'^stages\.(\d+)\.patch_embed\.norm\.',
             r'encoder.stages.\1.embeddings.normalization.'),
            (r'^stages\.(\d+)\.blocks\.', r'encoder.stages.\1.layers.'),
            (r'^stages\.(\d+)\.norm\.', r'encoder.stages.\1.normalization.'),
            (r'\.norm1\.', '.pre_normomalization.'),
            (r'\.norm2\.', '.post_normalization.'),
            (r'\.attn\.proj_1\.', '.attention.pre_projection.conv.'),
            (r'\.attn\.spatial_gating_unit\.conv0\.',
             '.attention.attention_layer.attention.depth_wise.'),
            (r'\.attn\.spatial_gating_unit\.conv_spatial\.',
             '.attention.attention_layer.attention.depth_wise_dilated.'),
            (r'\.attn\.spatial_gating_unit\.conv1\.',
             '.attention.attention_layer.attention.point_wise.'),
            (r'\.attn\.proj_2\.', '.attention.post_projection.'),
            (r'\.layer_scale_1$', '.attention_scaling.weight'),
            (r'\.layer_scale_2$', '.mlp_scaling.weight'),
            (r'\.mlp\.fc1\.', '.mlp.in_dense.'),
            (r'\.mlp\.dwconv\.', '.mlp.depth_wise.'),
            (r'\.mlp\.fc2\.', '.mlp.out_dense.'),
        ),
        # VanForImageClassification: a LayerNorm on the pooled features
        # (van.layernorm), then the classifier.
        ignore=r'^(van\.)?layernorm\.|^classifier\.',
        head=None,
        prefix='van.',
        ln_eps=1e-6),
)


def get_layout(name: str) -> Layout:
    """The layout called ``name`` (see :data:`LAYOUTS`)."""
    for layout in LAYOUTS:
        if layout.name == name:
            return layout
    raise ValueError(f'Unknown checkpoint layout {name!r}; choose from '
                     f'{[layout.name for layout in LAYOUTS]}.')
