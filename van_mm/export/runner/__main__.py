# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Run an exported detector or segmentor on an image, without torch.

    python -m van_mm.export.runner MODEL.onnx IMAGE [--out PICTURE]
        [--score-thr 0.3] [--save DETECTIONS.npz] [--threads N]

Prints the detections at ``--score-thr`` or above (class, score, box in
the image's pixels) or the classes of the label map; ``--out`` draws
them, ``--save`` writes every detection (boxes, scores, labels, masks) or
the label map to a ``.npz`` file.
"""
import argparse
import sys

import numpy as np

from .models import draw, load, read_image


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog='python -m van_mm.export.runner',
        description=__doc__.splitlines()[0])
    parser.add_argument('model', help='.onnx file of tools/export_onnx.py')
    parser.add_argument('image', help='image file')
    parser.add_argument('--out', help='picture to write')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detections printed and drawn from this '
                        'score on (0.3)')
    parser.add_argument('--save', help='.npz file for the results')
    parser.add_argument('--threads', type=int,
                        help="onnxruntime's intra-op threads")
    args = parser.parse_args(argv)
    try:
        model = load(args.model, args.threads)
        image = read_image(args.image)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(str(e))
    result = model(image)
    classes = model.classes
    if isinstance(result, np.ndarray):
        present = np.unique(result)
        names = [classes[i] if classes else str(i) for i in present]
        print(f'{args.image}: label map {result.shape[0]}x{result.shape[1]}'
              f', classes present: {", ".join(names)}')
        if args.save:
            np.savez_compressed(args.save, label=result)
    else:
        keep = np.flatnonzero(result['scores'] >= args.score_thr)
        print(f'{args.image}: {len(result["scores"])} detections, '
              f'{len(keep)} at score >= {args.score_thr}')
        for i in keep:
            label = int(result['labels'][i])
            name = classes[label] if classes else str(label)
            box = ', '.join(f'{v:.1f}' for v in result['boxes'][i])
            print(f'  {name} {result["scores"][i]:.3f} [{box}]')
        if args.save:
            np.savez_compressed(args.save, **result)
    if args.out:
        draw(image, result, classes, args.score_thr, args.out)
        print(f'drawn: {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
