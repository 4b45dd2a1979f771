# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Mapping checkpoint keys between the published layouts and van_mm's.

:func:`convert_state_dict` finds the layout of a state dict (the
:data:`~van_mm.checkpoint.layouts.LAYOUTS` table) and renames its backbone
keys to van_mm's; :func:`export_state_dict` goes the other way. Pure key
work: nothing here builds or imports a model.
"""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Union

import torch

from van_mm.checkpoint.files import (
    CheckpointError,
    NotVanCheckpoint,
    load_file,
)
from van_mm.checkpoint.layouts import LAYOUTS, Layout, get_layout


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


def detect_layout(state_dict: Dict[str, torch.Tensor],
                  whole_model: bool = False) -> Layout:
    """The :class:`Layout` whose signature some key matches; where two
    layouts have the same keys, the one whose :attr:`Layout.whole_model`
    is ``whole_model`` (whether the keys came from under a prefix such as
    ``backbone.``)."""
    found = [layout for layout in LAYOUTS
             if any(re.search(layout.signature, k) for k in state_dict)]
    if not found:
        raise NotVanCheckpoint(
            'Unrecognised VAN checkpoint layout: these are not VAN weights '
            'in any known layout (known layouts: '
            f'{[layout.name for layout in LAYOUTS]}). First keys: '
            f'{list(state_dict)[:5]}')
    return next((layout for layout in found
                 if layout.whole_model == whole_model), found[0])


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

    layout = detect_layout(state_dict, whole_model=bool(prefix))
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


def read_converted(filename: str,
                   prefix: Optional[str] = None,
                   allow_pickle: bool = False) -> Converted:
    """Read a checkpoint in any known layout and convert it to van_mm's
    keys; the file's ``meta['ln_eps']`` (if any) is kept."""
    ckpt = load_file(filename, allow_pickle)
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    ln_eps = meta.get('ln_eps') if isinstance(meta, dict) else None
    return convert_state_dict(unwrap(ckpt, filename), prefix, ln_eps)
