# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Export a config's model, or its backbone, to ONNX for onnxruntime.

    python tools/export_onnx.py CONFIG [CHECKPOINT] --out FILE
        [--shape H W] [--dynamic] [--backbone] [--rtol 1e-4] [--opset N]

What the file computes (``docs/deploy.md``): a segmentor takes a uint8
BGR image (1, 3, H, W) and gives ``seg_logits`` and the label map
``seg_label`` at the image's size; a detector gives its dense heads' raw
outputs (two-stage: and the neck's features), the rest stays with the host
(``--backend onnxruntime`` of ``tools/demo.py`` and ``tools/benchmark.py``
runs it); ``--backbone`` gives the stage outputs of a normalised RGB
float image. Before writing, the file is run in onnxruntime on generated
pictures and compared with PyTorch (with ``--dynamic`` at three sizes, one
no multiple of 32); above ``--rtol`` nothing is written. Random weights
without CHECKPOINT.
"""
import argparse
import os.path as osp

from van_mm.apis import build_from_config, load_config
from van_mm.cli.common import require_file


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', nargs='?',
                        help='weights: a checkpoint of the whole model, or '
                        'with --backbone any VAN checkpoint (default: '
                        'random)')
    parser.add_argument('--out', required=True, help='the .onnx file')
    parser.add_argument('--shape', type=int, nargs=2, default=[512, 512],
                        metavar=('H', 'W'),
                        help='input size of the example (512 512); the '
                        'only size without --dynamic')
    parser.add_argument('--dynamic', action='store_true',
                        help='batch, height and width dynamic')
    parser.add_argument('--backbone', action='store_true',
                        help="export the config's backbone alone")
    parser.add_argument('--rtol', type=float, default=1e-4,
                        help='largest relative error against PyTorch '
                        'accepted (1e-4)')
    parser.add_argument('--opset', type=int,
                        help="ONNX opset (default: torch's)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config)
    if args.checkpoint:
        require_file(args.checkpoint, 'Checkpoint')
    else:
        print('No CHECKPOINT: exporting random weights.')
    try:
        from van_mm.export import ExportCheckError, export_onnx
    except ImportError as e:
        raise SystemExit(str(e))
    model = build_from_config(cfg, args.backbone, args.checkpoint)
    metadata = dict(config=osp.basename(args.config),
                    checkpoint=osp.basename(args.checkpoint or '') or
                    'random weights')
    try:
        report = export_onnx(model, args.out, tuple(args.shape),
                             args.dynamic, args.rtol, metadata, args.opset)
    except ExportCheckError as e:
        raise SystemExit(f'{e} (--rtol {args.rtol:g})')
    except (ValueError, ImportError) as e:
        raise SystemExit(str(e))
    print(f'{report.kind} exported in {report.seconds:.0f} s: {args.out} '
          f'({osp.getsize(args.out) / 2**20:.1f} MiB)')
    for (b, h, w), error in report.errors.items():
        agreement = report.label_agreement.get((b, h, w))
        print(f'  input {b}x3x{h}x{w}: max relative error vs PyTorch '
              f'{error:.1e}' + (f', labels equal at {100 * agreement:.3f}% '
                                'of pixels' if agreement is not None else ''))
