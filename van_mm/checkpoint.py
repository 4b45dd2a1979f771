# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Reading VAN checkpoints and mapping their keys onto van_mm's layout.

van_mm's backbone keys are ``stages.{i}.patch_embed.{proj,norm}.*``,
``stages.{i}.blocks.{j}.{norm1,attn,norm2,mlp,layer_scale_1,layer_scale_2}``
and ``stages.{i}.norm.*`` with 0-based stage index ``i``. Every published
layout is described by one :class:`Layout` in :data:`LAYOUTS` (rules to
van_mm's keys and back, LayerNorm eps); a new layout is one more entry there.
:func:`load_pretrained` loads any of them into a backbone,
:func:`convert_file` (``tools/convert_checkpoint.py``) converts files, and
:func:`export_state_dict` writes van_mm weights in another layout.
"""
import os
import os.path as osp
import pickle
import re
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
from mmengine.logging import print_log

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


@dataclass(frozen=True)
class Layout:
    """One checkpoint layout.

    Attributes:
        name: Short name reported to the user and accepted by the
            converter's ``--to``.
        description: Where files in this layout come from.
        signature: A regex that some key of this layout, and of no other,
            matches (searched after wrappers and ``backbone.`` are removed).
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


LAYOUTS: Tuple[Layout, ...] = (
    Layout(
        name='van_mm',
        description="van_mm's own backbone, or a van_mm detector/segmentor "
        'training checkpoint',
        signature=r'^stages\.\d+\.blocks\.',
        head='head.fc.'),
    Layout(
        name='official',
        description='official VAN-Classification (timm) .pth.tar',
        signature=r'^block\d+\.\d+\.mlp\.dwconv\.dwconv\.',
        rules=(
            (r'^patch_embed(\d+)\.', _stage('patch_embed.')),
            (r'^block(\d+)\.', _stage('blocks.')),
            (r'^norm(\d+)\.', _stage('norm.')),
            (r'\.mlp\.dwconv\.dwconv\.', '.mlp.dwconv.'),
        ),
        export=_numbered_stages('block') + (
            (r'\.mlp\.dwconv\.', '.mlp.dwconv.dwconv.'),)),
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
        ln_eps=1e-5),
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


@dataclass
class Converted:
    """Result of :func:`convert_state_dict`.

    Attributes:
        state_dict: The backbone weights under van_mm's keys.
        layout: The layout they were found in.
        dropped: Keys of the input that are not backbone weights.
        head: The linear classifier (``weight``, ``bias``) if the input has
            one in its layout's :attr:`Layout.head`, else empty.
        ln_eps: LayerNorm epsilon the weights were trained with: the file's
            own ``meta['ln_eps']`` (written by the converter) or the
            layout's.
    """
    state_dict: Dict[str, torch.Tensor]
    layout: Layout
    dropped: List[str] = field(default_factory=list)
    head: Dict[str, torch.Tensor] = field(default_factory=dict)
    ln_eps: float = 1e-6


class CheckpointError(ValueError):
    """A checkpoint that cannot be used as VAN weights."""


def _load_safetensors(filename: str, is_url: bool) -> Dict:
    """A safetensors file as ``{'state_dict': ..., 'meta': ...}``; the
    converter stores ``ln_eps`` in the file's string metadata."""
    from safetensors import safe_open
    from safetensors.torch import load
    if is_url:
        with urllib.request.urlopen(filename) as f:
            return dict(state_dict=load(f.read()), meta={})
    with safe_open(osp.expanduser(filename), framework='pt') as f:
        meta = dict(f.metadata() or {})
        state_dict = {k: f.get_tensor(k) for k in f.keys()}
    if 'ln_eps' in meta:
        meta['ln_eps'] = float(meta['ln_eps'])
    return dict(state_dict=state_dict, meta=meta)


def load_file(filename: str, allow_pickle: bool = False):
    """Read a checkpoint file or URL as it is stored (no unwrapping).

    ``.safetensors`` files are read with safetensors. Other files go through
    ``torch.load(weights_only=True)``, which unpickles only tensors and plain
    containers, unless ``allow_pickle`` is set: that runs arbitrary code
    from the file, so use it only for files you trust.

    Raises:
        FileNotFoundError: ``filename`` is neither an existing file nor a URL.
        CheckpointError: The file is truncated, not a checkpoint, or needs
            unpickling that is not allowed.
    """
    is_url = re.match(r'^https?://', filename) is not None
    path = filename if is_url else osp.expanduser(filename)
    if not is_url and not osp.isfile(path):
        raise FileNotFoundError(
            f'VAN checkpoint not found: {filename!r}. Check '
            "init_cfg=dict(type='Pretrained', checkpoint=...) or "
            'download the file first.')
    try:
        if filename.endswith('.safetensors'):
            return _load_safetensors(filename, is_url)
        if is_url:
            return torch.hub.load_state_dict_from_url(
                filename, map_location='cpu', weights_only=not allow_pickle)
        return torch.load(
            path, map_location='cpu', weights_only=not allow_pickle)
    except pickle.UnpicklingError as e:
        if not is_url and not zipfile.is_zipfile(path):
            # torch.save writes zip archives; this is some other file.
            raise CheckpointError(
                f'Cannot read checkpoint {filename!r}: it is truncated or '
                'not a PyTorch/safetensors file (not a zip archive).') from e
        raise CheckpointError(
            f'{filename!r} holds Python objects besides tensors; van_mm '
            'refuses to unpickle it by default because that can run '
            'arbitrary code. If you trust the file, allow it: '
            "init_cfg=dict(..., allow_pickle=True), or --allow-pickle for "
            'tools/convert_checkpoint.py. Original error: '
            f'{str(e).splitlines()[0]}') from e
    except ImportError:
        raise
    except Exception as e:  # zip, safetensors and I/O errors differ by type
        raise CheckpointError(
            f'Cannot read checkpoint {filename!r}: it is truncated or not a '
            f'PyTorch/safetensors file ({type(e).__name__}: '
            f'{str(e).splitlines()[0] if str(e) else ""}).') from e


def unwrap(ckpt, filename: str = '<state dict>') -> Dict[str, torch.Tensor]:
    """Return the state dict inside a checkpoint (``state_dict``/``model``
    entries, a ``module.`` prefix from DataParallel)."""
    for key in ('state_dict', 'model'):
        if isinstance(ckpt, dict) and isinstance(ckpt.get(key), dict):
            ckpt = ckpt[key]
            break
    if not isinstance(ckpt, dict) or not any(
            isinstance(v, torch.Tensor) for v in ckpt.values()):
        raise CheckpointError(
            f'{filename!r} holds no state dict of tensors (top-level keys: '
            f'{list(ckpt)[:5] if isinstance(ckpt, dict) else type(ckpt)}).')
    if all(k.startswith('module.') for k in ckpt):
        ckpt = {k[len('module.'):]: v for k, v in ckpt.items()}
    return dict(ckpt)


def detect_layout(state_dict: Dict[str, torch.Tensor]) -> Layout:
    """The :class:`Layout` whose signature some key matches."""
    for layout in LAYOUTS:
        if any(re.search(layout.signature, k) for k in state_dict):
            return layout
    raise CheckpointError(
        'Unrecognised VAN checkpoint layout; known layouts: '
        f'{[layout.name for layout in LAYOUTS]}. First keys: '
        f'{list(state_dict)[:5]}')


def convert_state_dict(state_dict: Dict[str, torch.Tensor],
                       prefix: Optional[str] = None,
                       ln_eps: Optional[float] = None) -> Converted:
    """Map a state dict in any known layout onto van_mm's backbone keys.

    Args:
        state_dict: Keys of a backbone, of a classifier, or of a whole
            detector/segmentor/classifier whose backbone sits under
            ``backbone.``.
        prefix: Keep only keys under this prefix (e.g. ``'backbone.'``) and
            strip it. By default ``backbone.`` is used when present.
        ln_eps: The LayerNorm epsilon recorded in the file, if any;
            defaults to the layout's.

    Returns:
        :class:`Converted` with the mapped state dict, the detected layout,
        the keys that were dropped (heads, non-backbone modules) and the
        classification head if there is one.
    """
    if prefix is None and any(k.startswith('backbone.') for k in state_dict):
        prefix = 'backbone.'
    rest = {}
    if prefix:
        kept = {k[len(prefix):]: v for k, v in state_dict.items()
                if k.startswith(prefix)}
        rest = {k: v for k, v in state_dict.items()
                if not k.startswith(prefix)}
        if not kept:
            raise CheckpointError(f'No key starts with prefix {prefix!r}.')
        state_dict = kept

    layout = detect_layout(state_dict)
    out = {}
    for key, value in state_dict.items():
        if re.search(layout.ignore, key):
            rest[key] = value
            continue
        for pattern, repl in layout.rules:
            key = re.sub(pattern, repl, key)
        out[key] = value
    head = {}
    if layout.head is not None:
        head = {name: rest[layout.head + name] for name in ('weight', 'bias')
                if layout.head + name in rest}
    return Converted(out, layout, list(rest), head,
                     layout.ln_eps if ln_eps is None else ln_eps)


def export_state_dict(state_dict: Dict[str, torch.Tensor],
                      layout: Union[str, Layout],
                      head: Optional[Dict[str, torch.Tensor]] = None
                      ) -> Dict[str, torch.Tensor]:
    """Map van_mm backbone weights onto another layout's keys, the inverse
    of :func:`convert_state_dict`.

    The backbone keys get the prefix that the layout's published files use
    (``backbone.`` for mmpretrain and mmseg, ``van.`` for HuggingFace);
    ``head`` (``weight``, ``bias``) is written under :attr:`Layout.head`.
    """
    if isinstance(layout, str):
        layout = get_layout(layout)
    out = {}
    for key, value in state_dict.items():
        for pattern, repl in layout.export:
            key = re.sub(pattern, repl, key)
        out[layout.prefix + key] = value
    if head:
        if layout.head is None:
            raise CheckpointError(
                f'The {layout.name} layout has no plain linear classifier '
                'to hold the head; export the backbone alone.')
        out.update({layout.head + k: v for k, v in head.items()})
    return out


def _widths_and_depths(state_dict: Dict[str, torch.Tensor]
                       ) -> Tuple[List[int], List[int]]:
    """Stage widths and depths of a van_mm state dict."""
    dims, depths = [], []
    i = 0
    while f'stages.{i}.norm.weight' in state_dict:
        dims.append(state_dict[f'stages.{i}.norm.weight'].shape[0])
        blocks = {
            int(m[1])
            for k in state_dict
            for m in [re.match(rf'stages\.{i}\.blocks\.(\d+)\.', k)] if m
        }
        depths.append(len(blocks))
        i += 1
    return dims, depths


def infer_arch(state_dict: Dict[str, torch.Tensor]) -> Optional[str]:
    """Name of the VAN arch whose widths and depths match a van_mm state
    dict, or None."""
    from van_mm.models.van import VAN  # here: van.py imports this module
    dims, depths = _widths_and_depths(state_dict)
    for name, arch in VAN.arch_zoo.items():
        if arch['embed_dims'] == dims and arch['depths'] == depths:
            return name
    return None


def closest_arch(state_dict: Dict[str, torch.Tensor]) -> str:
    """The built-in arch (b0-b6) with the most stage widths and depths in
    common with a van_mm state dict: the one to compare against when none
    fits, so that an error can name the first offending key."""
    from van_mm.models.van import VAN
    dims, depths = _widths_and_depths(state_dict)

    def agreement(name):
        arch = VAN.arch_zoo[name]
        return (sum(map(int.__eq__, arch['embed_dims'], dims)) +
                sum(map(int.__eq__, arch['depths'], depths)))

    return max((f'b{i}' for i in range(7)), key=agreement)


def check_compatible(model: torch.nn.Module,
                     state_dict: Dict[str, torch.Tensor],
                     source: str) -> None:
    """Raise :class:`CheckpointError` unless ``state_dict`` has exactly the
    model's keys with the model's shapes; the message names the first key
    that differs."""
    own = model.state_dict()

    def hint():
        found = infer_arch(state_dict)
        return (f'the checkpoint looks like arch {found!r}' if found else
                'the checkpoint matches no built-in arch')

    arch = getattr(model, 'arch_settings', None)
    for key, value in state_dict.items():
        if key in own and own[key].shape != value.shape:
            raise CheckpointError(
                f'{source}: shape of {key!r} is {tuple(value.shape)} in the '
                f'checkpoint but {tuple(own[key].shape)} in the model '
                f'({arch}); {hint()}. Set the backbone arch to match it.')
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    if missing or unexpected:
        raise CheckpointError(
            f'{source}: {len(missing)} model keys are missing from the '
            f'checkpoint (first: {missing[:3]}) and {len(unexpected)} '
            f'checkpoint keys are not in the model (first: {unexpected[:3]});'
            f' {hint()}. Set the backbone arch to match it.')


def read_converted(filename: str,
                   prefix: Optional[str] = None,
                   allow_pickle: bool = False) -> Converted:
    """Read a checkpoint in any known layout and convert it to van_mm's
    keys; the file's ``meta['ln_eps']`` (if any) is kept."""
    ckpt = load_file(filename, allow_pickle)
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    ln_eps = meta.get('ln_eps') if isinstance(meta, dict) else None
    return convert_state_dict(unwrap(ckpt, filename), prefix, ln_eps)


def load_pretrained(model: torch.nn.Module,
                    filename: str,
                    prefix: Optional[str] = None,
                    allow_pickle: bool = False) -> Converted:
    """Load VAN weights in any known layout into a van_mm ``VAN`` backbone.

    Logs the detected layout and the dropped keys; raises
    :class:`CheckpointError` naming the first offending key if the weights
    do not fit the model's arch. Warns when the model's LayerNorm epsilon
    differs from the one the weights were trained with.
    """
    converted = read_converted(filename, prefix, allow_pickle)
    check_compatible(model, converted.state_dict, filename)
    model.load_state_dict(converted.state_dict, strict=True)
    ln_eps = {m.eps for m in model.modules()
              if isinstance(m, torch.nn.LayerNorm)}
    msg = (f'Loaded VAN weights from {filename} (layout: '
           f'{converted.layout.name}, {converted.layout.description}); '
           f'{len(converted.state_dict)} tensors, {len(converted.dropped)} '
           'non-backbone keys ignored')
    if converted.dropped:
        msg += f' (e.g. {converted.dropped[:3]})'
    print_log(msg + '.', logger='current')
    if ln_eps != {converted.ln_eps}:
        print_log(
            f'The {converted.layout.name} weights were trained with '
            f'LayerNorm eps {converted.ln_eps}; the model uses '
            f'{sorted(ln_eps)}. Set ln_eps={converted.ln_eps} in the '
            'backbone config to reproduce their outputs exactly.',
            logger='current', level=30)
    return converted


def convert_file(src: str,
                 dst: str,
                 arch: Optional[str] = None,
                 to: str = 'van_mm',
                 with_head: bool = False,
                 allow_pickle: bool = False) -> Tuple[Converted, str]:
    """Convert a VAN checkpoint in any known layout to one file in layout
    ``to`` (default: a plain van_mm backbone state dict).

    The weights are loaded into a real ``VAN(arch)`` (strict) before
    anything is written, and ``dst`` is only replaced once the new file is
    complete, so a failure leaves no ``dst`` behind.

    Args:
        src: Checkpoint file or URL in any layout of :data:`LAYOUTS`.
        dst: Output path; ``.safetensors`` writes safetensors, anything
            else ``torch.save({'state_dict': ..., 'meta': ...})``.
        arch: Expected arch; by default inferred from the shapes.
        to: Output layout name.
        with_head: Also write the linear classifier of a classification
            checkpoint.
        allow_pickle: Let ``torch.load`` unpickle arbitrary objects (only
            for trusted files).

    Returns:
        The :class:`Converted` source and the arch of the weights.
    """
    from van_mm.models.van import VAN
    converted = read_converted(src, allow_pickle=allow_pickle)
    found = infer_arch(converted.state_dict)
    if arch is None:
        arch = found or closest_arch(converted.state_dict)
    check_compatible(
        VAN(arch=arch), converted.state_dict, src)  # names the first bad key
    if with_head and not converted.head:
        raise CheckpointError(
            f'{src}: --with-head asked for a classification head, but the '
            f'{converted.layout.name} checkpoint has none that van_mm can '
            f'write (dropped keys: {converted.dropped[:5]}).')
    out = export_state_dict(converted.state_dict, to,
                            converted.head if with_head else None)
    meta = dict(arch=arch, ln_eps=converted.ln_eps,
                source_layout=converted.layout.name, layout=to)
    dst_dir = osp.dirname(osp.abspath(dst))
    os.makedirs(dst_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=osp.basename(dst) + '.', suffix='.partial', dir=dst_dir)
    os.close(fd)
    try:
        if dst.endswith('.safetensors'):
            from safetensors.torch import save_file
            save_file({k: v.contiguous() for k, v in out.items()}, tmp,
                      metadata={k: str(v) for k, v in meta.items()})
        else:
            torch.save(dict(state_dict=out, meta=meta), tmp)
        os.replace(tmp, dst)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return converted, arch
