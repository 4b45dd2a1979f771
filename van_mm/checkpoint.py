# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Reading VAN checkpoints and mapping their keys onto van_mm's layout.

van_mm's backbone keys are ``stages.{i}.patch_embed.{proj,norm}.*``,
``stages.{i}.blocks.{j}.{norm1,attn,norm2,mlp,layer_scale_1,layer_scale_2}``
and ``stages.{i}.norm.*`` with 0-based stage index ``i``. Every published
layout is described by one :class:`Layout` in :data:`LAYOUTS`; a new layout
is one more entry there.
"""
import os.path as osp
import pickle
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
from mmengine.logging import print_log

Rule = Tuple[str, Union[str, Callable[[re.Match], str]]]


def _stage(kind: str) -> Callable[[re.Match], str]:
    """Rule target for a 1-based stage number in group 1 of the match."""
    return lambda m: f'stages.{int(m[1]) - 1}.{kind}'


@dataclass(frozen=True)
class Layout:
    """One checkpoint layout.

    Attributes:
        name: Short name reported to the user.
        description: Where files in this layout come from.
        signature: A regex that some key of this layout, and of no other,
            matches (searched after wrappers and ``backbone.`` are removed).
        rules: ``(pattern, replacement)`` pairs applied in order with
            :func:`re.sub` to every key.
        ignore: Regex of keys with no counterpart in the backbone
            (classification heads); they are dropped and reported.
        ln_eps: LayerNorm epsilon the weights were trained with.
    """
    name: str
    description: str
    signature: str
    rules: Tuple[Rule, ...] = ()
    ignore: str = r'^head\.'
    ln_eps: float = 1e-6


LAYOUTS: Tuple[Layout, ...] = (
    Layout(
        name='van_mm',
        description="van_mm's own backbone state dict",
        signature=r'^stages\.\d+\.blocks\.'),
    Layout(
        name='official',
        description='official VAN-Classification (timm) .pth.tar',
        signature=r'^block\d+\.\d+\.',
        rules=(
            (r'^patch_embed(\d+)\.', _stage('patch_embed.')),
            (r'^block(\d+)\.', _stage('blocks.')),
            (r'^norm(\d+)\.', _stage('norm.')),
            (r'\.mlp\.dwconv\.dwconv\.', '.mlp.dwconv.'),
        )),
    Layout(
        name='mmpretrain',
        description="mmpretrain 1.x VAN (van-*_8xb128_in1k_*.pth)",
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
        # mmpretrain's VAN uses nn.LayerNorm's default epsilon.
        ln_eps=1e-5),
)


@dataclass
class Converted:
    """Result of :func:`convert_state_dict`."""
    state_dict: Dict[str, torch.Tensor]
    layout: Layout
    dropped: List[str] = field(default_factory=list)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used as VAN weights."""


def read_checkpoint(filename: str,
                    allow_pickle: bool = False) -> Dict[str, torch.Tensor]:
    """Read a checkpoint file or URL into a flat tensor state dict.

    Only tensors and plain containers are unpickled (``weights_only=True``)
    unless ``allow_pickle`` is set, which runs arbitrary code from the file:
    use it only for files you trust. Wrappers (``state_dict``, ``model``,
    ``module.``) are removed.

    Raises:
        FileNotFoundError: ``filename`` is neither an existing file nor a URL.
        CheckpointError: The file cannot be read, or holds no tensors.
    """
    try:
        if re.match(r'^https?://', filename):
            ckpt = torch.hub.load_state_dict_from_url(
                filename, map_location='cpu', weights_only=not allow_pickle)
        else:
            path = osp.expanduser(filename)
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'VAN checkpoint not found: {filename!r}. Check '
                    "init_cfg=dict(type='Pretrained', checkpoint=...) or "
                    'download the file first.')
            ckpt = torch.load(
                path, map_location='cpu', weights_only=not allow_pickle)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f'{filename!r} holds Python objects besides tensors; van_mm '
            'refuses to unpickle it by default because that can run '
            'arbitrary code. If you trust the file, pass allow_pickle=True '
            '(init_cfg=dict(..., allow_pickle=True)). Original error: '
            f'{str(e).splitlines()[0]}') from e
    except (RuntimeError, EOFError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise CheckpointError(
            f'Cannot read checkpoint {filename!r}: it is truncated or not a '
            f'PyTorch file ({type(e).__name__}: {e}).') from e
    return unwrap(ckpt, filename)


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
                       prefix: Optional[str] = None) -> Converted:
    """Map a state dict in any known layout onto van_mm's backbone keys.

    Args:
        state_dict: Keys of a backbone, of a classifier, or of a whole
            detector/segmentor/classifier whose backbone sits under
            ``backbone.``.
        prefix: Keep only keys under this prefix (e.g. ``'backbone.'``) and
            strip it. By default ``backbone.`` is used when present.

    Returns:
        :class:`Converted` with the mapped state dict, the detected layout
        and the keys that were dropped (heads, non-backbone modules).
    """
    if prefix is None and any(k.startswith('backbone.') for k in state_dict):
        prefix = 'backbone.'
    dropped = []
    if prefix:
        kept = {k[len(prefix):]: v for k, v in state_dict.items()
                if k.startswith(prefix)}
        dropped = [k for k in state_dict if not k.startswith(prefix)]
        if not kept:
            raise CheckpointError(f'No key starts with prefix {prefix!r}.')
        state_dict = kept

    layout = detect_layout(state_dict)
    out = {}
    for key, value in state_dict.items():
        if re.search(layout.ignore, key):
            dropped.append(key)
            continue
        for pattern, repl in layout.rules:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return Converted(out, layout, dropped)


def infer_arch(state_dict: Dict[str, torch.Tensor]) -> Optional[str]:
    """Name of the VAN arch whose widths and depths match a van_mm state
    dict, or None."""
    from van_mm.models.van import VAN  # here: van.py imports this module
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
    for name, arch in VAN.arch_zoo.items():
        if arch['embed_dims'] == dims and arch['depths'] == depths:
            return name
    return None


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


def load_pretrained(model: torch.nn.Module,
                    filename: str,
                    prefix: Optional[str] = None,
                    allow_pickle: bool = False) -> Converted:
    """Load VAN weights in any known layout into a van_mm ``VAN`` backbone.

    Logs the detected layout and the dropped keys; raises
    :class:`CheckpointError` naming the first offending key if the weights
    do not fit the model's arch.
    """
    converted = convert_state_dict(
        read_checkpoint(filename, allow_pickle), prefix)
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
    if ln_eps != {converted.layout.ln_eps}:
        print_log(
            f'The {converted.layout.name} weights were trained with '
            f'LayerNorm eps {converted.layout.ln_eps}; the model uses '
            f'{sorted(ln_eps)}. Set ln_eps={converted.layout.ln_eps} to '
            'reproduce their outputs exactly.',
            logger='current', level=30)
    return converted
