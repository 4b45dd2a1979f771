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
"""
import argparse
import sys
from collections import Counter

from van_mm.checkpoint import LAYOUTS, CheckpointError
from van_mm.checkpoint.converter import convert_file, convert_whole_file


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
