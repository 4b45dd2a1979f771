# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Convert a VAN checkpoint in any published layout to van_mm's (or back).

    python tools/convert_checkpoint.py SRC DST [--arch ARCH] [--to LAYOUT]
        [--with-head | --whole-model] [--allow-pickle]

SRC is a file or URL in one of the layouts of ``van_mm.checkpoint.LAYOUTS``
(official VAN-Classification, mmpretrain, mmseg projects/van, HuggingFace
transformers, or van_mm's own training checkpoints); the layout is detected
from the keys. DST gets the backbone weights in layout ``--to`` (default
``van_mm``): ``.safetensors`` or a torch file ``{'state_dict', 'meta'}``.
The weights are loaded into a real VAN of the arch first; on any error
nothing is written.

``--whole-model`` converts a whole detector or segmentor instead (e.g. an
official VAN-Segmentation UperNet): its backbone goes to layout ``--to``
(``van_mm``, ``official_seg`` or ``mmseg``), its neck and heads and its
meta (classes, palette) are kept, and DST is a torch file.

:func:`convert_file` and :func:`convert_whole_file` do the work: they load
the weights into a real ``VAN`` of their arch, so they sit here, above both
the model (:mod:`van_mm.models`) and the key mapping
(:mod:`van_mm.checkpoint`), which imports no model.
"""
import argparse
import sys
from collections import Counter
from typing import Dict, Optional, Tuple

import torch

from van_mm.checkpoint import LAYOUTS, CheckpointError
from van_mm.checkpoint.files import load_file
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
from van_mm.models.archs import ARCHS, closest_arch
from van_mm.models.van import VAN


def check_backbone(state_dict: Dict[str, torch.Tensor], arch: Optional[str],
                   source: str) -> str:
    """The arch of van_mm backbone weights (``arch`` or, by default, the one
    their shapes fit); raise :class:`CheckpointError` naming the first key
    that does not fit a real ``VAN`` of it."""
    if arch is None:
        arch = infer_arch(state_dict, ARCHS) or closest_arch(
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



def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert a VAN checkpoint to a van_mm backbone file')
    parser.add_argument('src', help='checkpoint file or URL, any layout')
    parser.add_argument('dst', help='output file (.pth or .safetensors)')
    parser.add_argument(
        '--arch', help='expected arch (b0-b6, tiny/small/base/large); '
        'default: inferred from the shapes')
    parser.add_argument(
        '--to', default='van_mm', choices=[lay.name for lay in LAYOUTS],
        help='layout of the output (default: van_mm)')
    content = parser.add_mutually_exclusive_group()
    content.add_argument(
        '--with-head', action='store_true',
        help='also write the linear classification head')
    content.add_argument(
        '--whole-model', action='store_true',
        help='convert a whole detector/segmentor: backbone to --to, neck, '
        'heads and meta kept')
    parser.add_argument(
        '--allow-pickle', action='store_true',
        help='let torch.load unpickle arbitrary Python objects; this runs '
        'code from the file, use it only for files you trust')
    return parser.parse_args(argv)


def summarize(keys):
    """``'head: 2, neck: 12'``: dropped keys counted by their first name."""
    counts = Counter(key.split('.')[0] for key in keys)
    return ', '.join(f'{name}: {n}' for name, n in counts.most_common())


def report_error(error, dst):
    option = getattr(error, 'option', None)
    flag = (f' [--{option.replace("_", "-")}]' if option else '')
    print(f'error{flag}: {error}\nNothing was written to {dst}.',
          file=sys.stderr)
    return 1


def main_whole_model(args):
    try:
        whole, arch = convert_whole_file(
            args.src, args.dst, arch=args.arch, to=args.to,
            allow_pickle=args.allow_pickle)
    except (CheckpointError, FileNotFoundError) as e:
        return report_error(e, args.dst)
    print(f'layout: {whole.layout.name} ({whole.layout.description})')
    eps = '' if whole.ln_eps is None else f', LayerNorm eps {whole.ln_eps}'
    print(f'arch: {arch}{eps}')
    print(f'wrote {len(whole.state_dict)} tensors '
          f'({summarize(whole.state_dict)}) to {args.dst} (backbone in the '
          f'{args.to} layout)')
    return 0


def main(argv=None):
    args = parse_args(argv)
    if args.whole_model:
        return main_whole_model(args)
    try:
        converted, arch = convert_file(
            args.src, args.dst, arch=args.arch, to=args.to,
            with_head=args.with_head, allow_pickle=args.allow_pickle)
    except (CheckpointError, FileNotFoundError) as e:
        return report_error(e, args.dst)
    print(f'layout: {converted.layout.name} ({converted.layout.description})')
    print(f'arch: {arch}, LayerNorm eps {converted.ln_eps}')
    print(f'wrote {len(converted.state_dict)} backbone tensors'
          f'{" and the head" if args.with_head else ""} to {args.dst} '
          f'({args.to} layout)')
    if converted.dropped:
        print(f'dropped {len(converted.dropped)} non-backbone keys '
              f'({summarize(converted.dropped)})')
    return 0
