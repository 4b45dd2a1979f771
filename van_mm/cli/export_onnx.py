# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Export a config's model, or its backbone, to ONNX for onnxruntime and
OpenVINO.

    python tools/export_onnx.py CONFIG [CHECKPOINT] --out FILE
        [--shape H W] [--dynamic] [--backbone] [--rtol 1e-4] [--opset N]
        [--check openvino openvino-bf16]

What the file computes (``docs/deploy.md``): a detector is exported whole,
for one image of any size as the config's test pipeline resized it, with
its resize factor: normalisation, backbone, neck, heads, box decoding,
NMS (ONNX ``NonMaxSuppression``), RoIAlign (ONNX ``RoiAlign``), RoI and
mask heads; out come boxes in the original image, scores, labels (and the
mask head's maps). A segmentor takes a uint8 BGR image (1, 3, H, W) and
gives ``seg_logits`` and the label map ``seg_label`` at the image's size;
``--backbone`` gives the stage outputs of a normalised RGB float image.

Before writing, the file is run in onnxruntime on generated pictures and
compared with PyTorch: a detector's detections with ``test_step``'s at the
``--shape`` and at a size no multiple of 32, each resized from a larger
original (every detection matched: same label, IoU >= 0.99, scores within
1e-3, masks 99.9% equal); other models' outputs at ``--shape`` (with
``--dynamic`` at three sizes), within ``--rtol``. ``--check`` runs the
same check in more engines, each within the tolerance of its precision
(bf16: ``van_mm.export.parity.BF16``). If a check fails, nothing is
written. The file's metadata holds what
``python -m van_mm.export.runner`` (no torch) needs: the test resize and
the class names. Random weights without CHECKPOINT.
"""
import argparse
import os.path as osp

from van_mm.apis import (
    build_from_config,
    config_dataset_meta,
    init_model,
    load_config,
)
from van_mm.checkpoint import CheckpointError
from van_mm.cli.common import cli_message, require_file


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
                        help='input size of the example and of the check '
                        '(512 512); without --dynamic the only size of a '
                        'backbone or segmentor')
    parser.add_argument('--dynamic', action='store_true',
                        help='batch, height and width dynamic (detectors: '
                        'height and width always are, batch 1)')
    parser.add_argument('--backbone', action='store_true',
                        help="export the config's backbone alone")
    parser.add_argument('--rtol', type=float, default=1e-4,
                        help='largest relative error against PyTorch '
                        'accepted for a backbone or segmentor (1e-4)')
    parser.add_argument('--opset', type=int,
                        help="ONNX opset (default: torch's)")
    from van_mm.export.backends import BACKENDS
    parser.add_argument('--check', nargs='+', default=[], metavar='ENGINE',
                        choices=[b for b in BACKENDS if b != 'onnxruntime'],
                        help='check the file in these engines too (%(choices)'
                        's), before writing it; onnxruntime always checks it')
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
    try:
        if args.checkpoint and not args.backbone:  # with its classes
            model = init_model(cfg, args.checkpoint)
        else:
            model = build_from_config(cfg, args.backbone, args.checkpoint)
            if not args.backbone:
                model.dataset_meta = config_dataset_meta(cfg)
    except CheckpointError as e:
        raise SystemExit(cli_message(e))
    metadata = dict(config=osp.basename(args.config),
                    checkpoint=osp.basename(args.checkpoint or '') or
                    'random weights')
    try:
        report = export_onnx(model, args.out, tuple(args.shape),
                             args.dynamic, args.rtol, metadata, args.opset,
                             cfg=cfg, engines=args.check)
    except ExportCheckError as e:
        raise SystemExit(f'{e} (--rtol {args.rtol:g})' if 'relative error'
                         in str(e) and f'{args.rtol:g}.' in str(e)
                         else str(e))
    except (ValueError, ImportError) as e:
        raise SystemExit(str(e))
    print(f'{report.kind} exported in {report.seconds:.0f} s: {args.out} '
          f'({osp.getsize(args.out) / 2**20:.1f} MiB)')
    if report.kind == 'detector':
        print('  whole detector: one image of any height and width; ONNX '
              + ', '.join(f'{op} x{n}' for op, n in
                          report.operators.items()))
    for engine, check in report.checks.items():
        where = '' if engine == 'onnxruntime' else f'{engine}, '
        for (size, original), parity in check.detections.items():
            print(f'  {where}image {size[0]}x{size[1]} from {original[0]}x'
                  f'{original[1]}: {parity} (vs PyTorch test_step)')
        for (b, h, w), error in check.errors.items():
            agreement = check.label_agreement.get((b, h, w))
            print(f'  {where}input {b}x3x{h}x{w}: max relative error vs '
                  f'PyTorch {error:.1e}' + (
                      f', labels equal at {100 * agreement:.3f}% of pixels'
                      if agreement is not None else '') + (
                      f' (tolerance {check.tolerance.rtol:g})'
                      if where else ''))
    if report.nms_tested is False:
        print('  note: on these images NMS removed none of the candidates '
              'that would otherwise have been detections (untrained heads '
              'detect little), so the check did not test the NMS; check '
              'the file on your data: tools/test.py CONFIG FILE --backend '
              'onnxruntime')
