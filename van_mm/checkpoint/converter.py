# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Converting a checkpoint file in any layout into one file in another
(``tools/convert_checkpoint.py``). The weights are loaded into a real
``VAN`` of their arch first, so this module imports the model; the key
mapping itself (:mod:`van_mm.checkpoint.keys`) does not.
"""
from typing import Dict, Optional, Tuple

import torch

from van_mm.archs import closest_arch
from van_mm.checkpoint.files import CheckpointError, load_file
from van_mm.checkpoint.keys import Converted, export_state_dict, read_converted
from van_mm.checkpoint.loading import (
    check_compatible,
    infer_arch,
    widths_and_depths,
)
from van_mm.checkpoint.whole_model import (
    BACKBONE,
    WholeModel,
    convert_whole_model,
    dataset_meta,
    export_whole_model,
)
from van_mm.fileio import atomic_write
from van_mm.models.van import VAN


def check_backbone(state_dict: Dict[str, torch.Tensor], arch: Optional[str],
                   source: str) -> str:
    """The arch of van_mm backbone weights (``arch`` or, by default, the one
    their shapes fit); raise :class:`CheckpointError` naming the first key
    that does not fit a real ``VAN`` of it."""
    if arch is None:
        arch = infer_arch(state_dict) or closest_arch(
            *widths_and_depths(state_dict))
    check_compatible(VAN(arch=arch), state_dict, source)
    return arch


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
    converted = read_converted(src, allow_pickle=allow_pickle)
    arch = check_backbone(converted.state_dict, arch, src)
    if with_head and not converted.head:
        raise CheckpointError(
            f'{src}: with_head asked for a classification head, but the '
            f'{converted.layout.name} checkpoint has none that van_mm can '
            f'write (dropped keys: {converted.dropped[:5]}).',
            option='with_head')
    out = export_state_dict(converted.state_dict, to,
                            converted.head if with_head else None)
    meta = dict(arch=arch, ln_eps=converted.ln_eps,
                source_layout=converted.layout.name, layout=to)
    with atomic_write(dst) as tmp:
        if dst.endswith('.safetensors'):
            from safetensors.torch import save_file
            save_file({k: v.contiguous() for k, v in out.items()}, tmp,
                      metadata={k: str(v) for k, v in meta.items()})
        else:
            torch.save(dict(state_dict=out, meta=meta), tmp)
    return converted, arch


def convert_whole_file(src: str,
                       dst: str,
                       arch: Optional[str] = None,
                       to: str = 'van_mm',
                       allow_pickle: bool = False) -> Tuple[WholeModel, str]:
    """Convert a whole detector/segmentor checkpoint whose backbone is in any
    known layout to one whose backbone is in layout ``to``, keeping the
    neck and head keys (:func:`~van_mm.checkpoint.whole_model.
    export_whole_model`).

    The backbone is loaded into a real ``VAN(arch)`` (strict) first. ``dst``
    gets ``torch.save({'state_dict': ..., 'meta': ...})`` where ``meta`` is
    the source's (class names, palette, versions) with the classes as
    ``dataset_meta`` too (what mmengine-era tools read), the arch and the
    LayerNorm epsilon the backbone was trained with; the optimizer state
    is not copied. Nothing is written on error.

    Returns:
        The source as :class:`WholeModel` and the arch of its backbone.
    """
    if dst.endswith('.safetensors'):
        raise CheckpointError(
            'A whole model keeps its meta (class names, palette), which a '
            'safetensors file cannot hold: write a .pth file.')
    whole = convert_whole_model(load_file(src, allow_pickle), src)
    if whole.layout is None:
        raise CheckpointError(
            f'{src}: the keys under backbone. are in no known VAN layout '
            f'(first: {list(whole.state_dict)[:3]}).')
    backbone = {k[len(BACKBONE):]: v for k, v in whole.state_dict.items()
                if k.startswith(BACKBONE)}
    arch = check_backbone(backbone, arch, src)
    out = export_whole_model(whole.state_dict, to)
    meta = dict(whole.meta, arch=arch, source_layout=whole.layout.name,
                layout=to)
    if whole.ln_eps is not None:
        meta['ln_eps'] = whole.ln_eps
    classes = dataset_meta(whole.meta)
    if classes is not None:
        meta['dataset_meta'] = classes
    with atomic_write(dst) as tmp:
        torch.save(dict(state_dict=out, meta=meta), tmp)
    return whole, arch
