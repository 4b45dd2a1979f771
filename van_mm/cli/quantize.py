# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""int8 post-training quantization of an exported model, calibrated on
the config's own images.

    python tools/quantize.py CONFIG MODEL.onnx --out MODEL_int8.onnx
        [--num-images 32] [--split train] [--seed 0]
        [--method minmax|percentile|entropy] [--skip-depthwise]
        [--compare 8]

MODEL.onnx is a file of ``tools/export_onnx.py`` for CONFIG's model (or
``--backbone``). ``--num-images`` images of the config's ``--split``
dataset (default: the training set, so that the images the model is
evaluated on stay unseen), drawn at random with ``--seed``, go through the
config's test pipeline into the file; onnxruntime's quantizer records the
range of every convolution's input and writes the file with int8 weights
(per output channel) and uint8 activations around each convolution
(``van_mm.export.quantize``). The int8 file keeps the fp32 file's
metadata: ``tools/test.py``, ``tools/demo.py`` and ``tools/benchmark.py``
run it with ``--backend onnxruntime``, ``openvino`` or ``openvino-bf16``
(int8 convolutions, the rest in fp32 or bf16).

Before it ends, the tool runs both files in onnxruntime on ``--compare``
images of the validation split and prints how far apart they are; the
accuracy to expect is measured in docs/engines.md (evaluate yours with
``tools/test.py CONFIG MODEL_int8.onnx --backend ...``).
"""
import argparse
import os.path as osp

from van_mm.apis import load_config
from van_mm.cli.common import require_file


def parse_args(argv=None):
    from van_mm.export.quantize import METHODS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file of the model')
    parser.add_argument('model', help='.onnx file of tools/export_onnx.py')
    parser.add_argument('--out', required=True, help='the int8 .onnx file')
    parser.add_argument('--num-images', type=int, default=32,
                        help='calibration images (32)')
    parser.add_argument('--split', default='train',
                        choices=['train', 'val', 'test'],
                        help="the config's dataset to calibrate on (train)")
    parser.add_argument('--seed', type=int, default=0,
                        help='which images are drawn (0)')
    parser.add_argument('--method', default='minmax', choices=METHODS,
                        help='how the activation ranges are set from the '
                        'calibration (minmax)')
    parser.add_argument('--skip-depthwise', action='store_true',
                        help='leave the depth-wise convolutions in float')
    parser.add_argument('--compare', type=int, default=8, metavar='N',
                        help='compare the int8 file with MODEL on N '
                        'validation images (8; 0: not)')
    args = parser.parse_args(argv)
    if args.num_images < 1:
        parser.error('--num-images must be at least 1')
    return args


def main(argv=None):
    args = parse_args(argv)
    require_file(args.model, 'Exported model')
    cfg = load_config(args.config)
    try:
        from van_mm.export.quantize import (
            calibration_feeds,
            compare_files,
            quantize_file,
        )
        calib = calibration_feeds(cfg, args.model, args.num_images,
                                  args.split, args.seed)
    except (ImportError, ValueError) as e:
        raise SystemExit(str(e))
    resized = f', {calib.resized} of them resized to the file\'s input ' \
        'size' if calib.resized else ''
    print(f'Calibrating on {len(calib.feeds)} images of the {args.split} '
          f'set (test pipeline){resized}.')
    if len(calib.feeds) < args.num_images:
        print(f'  the {args.split} set has {len(calib.feeds)} images, not '
              f'{args.num_images}.')
    try:
        report = quantize_file(
            args.model, args.out, calib.feeds, args.method,
            args.skip_depthwise, dict(calibration=(
                f'{len(calib.feeds)} images of the {args.split} set of '
                f'{osp.basename(args.config)}, seed {args.seed}')))
    except ValueError as e:
        raise SystemExit(f'--method {args.method}: {e}')
    print(f'int8 file written in {report.seconds:.0f} s: {args.out} '
          f'({osp.getsize(args.out) / 2**20:.1f} MiB; fp32 '
          f'{osp.getsize(args.model) / 2**20:.1f} MiB): {report.convs} '
          f'convolutions int8 (weights per channel, activations uint8, '
          f'{args.method} ranges), {report.float_convs} left in float.')
    if not args.compare:
        return
    split = 'val' if args.split != 'val' else 'test'
    try:
        held_out = calibration_feeds(
            cfg, args.model, args.compare, split, args.seed,
            skip=calib.indices if split == args.split else ())
    except ValueError as e:
        print(f'Not compared with the fp32 file: {e}')
        return
    agreement = compare_files(args.model, args.out, held_out.feeds,
                              held_out.originals)
    print(f'int8 vs fp32 file in onnxruntime on {agreement.images} images '
          f'of the {split} set:')
    if agreement.detections:
        from van_mm.export.quantize import COMPARE
        print('  (detections matched with IoU >= {iou}, scores within '
              '{score_tol}; those above {min_score} + {score_tol} '
              'compared)'.format(**COMPARE))
        for i, text in enumerate(agreement.detections):
            print(f'  image {i}: {text}')
        return
    text = f'  max relative error {agreement.max_error:.2e}'
    if agreement.labels_equal is not None:
        text += f', labels equal at {100 * agreement.labels_equal:.2f}% ' \
            'of pixels'
    print(text)
