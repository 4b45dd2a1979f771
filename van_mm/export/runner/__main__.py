# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Run an exported detector or segmentor on images, without torch.

    python -m van_mm.export.runner MODEL.onnx IMAGE [IMAGE ...]
        [--out PICTURE_OR_DIR] [--score-thr 0.3] [--save NPZ_OR_DIR]
        [--threads N]

Prints each image's detections at ``--score-thr`` or above (class, score,
box in the image's pixels) or the classes of its label map; ``--out``
draws them, ``--save`` writes every detection (boxes, scores, labels,
masks) or the label map to a ``.npz`` file. With several images
``--out`` and ``--save`` are folders: one file per image, named after it.
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np

from .models import draw, load, read_image


def print_result(path: str, result, classes, score_thr: float) -> None:
    if isinstance(result, np.ndarray):
        present = np.unique(result)
        names = [classes[i] if classes else str(i) for i in present]
        print(f'{path}: label map {result.shape[0]}x{result.shape[1]}, '
              f'classes present: {", ".join(names)}')
        return
    keep = np.flatnonzero(result['scores'] >= score_thr)
    print(f'{path}: {len(result["scores"])} detections, {len(keep)} at '
          f'score >= {score_thr}')
    for i in keep:
        label = int(result['labels'][i])
        name = classes[label] if classes else str(label)
        box = ', '.join(f'{v:.1f}' for v in result['boxes'][i])
        print(f'  {name} {result["scores"][i]:.3f} [{box}]')


def destination(target, image: str, several: bool, ext: str):
    """Where an image's picture or results go: ``target`` itself for one
    image, a file named after the image in the folder ``target`` for
    several."""
    if not target or not several:
        return target
    os.makedirs(target, exist_ok=True)
    return osp.join(target, osp.splitext(osp.basename(image))[0] + ext)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog='python -m van_mm.export.runner',
        description=__doc__.splitlines()[0])
    parser.add_argument('model', help='.onnx file of tools/export_onnx.py')
    parser.add_argument('images', nargs='+', metavar='IMAGE',
                        help='image files')
    parser.add_argument('--out', help='picture to write (a folder for '
                        'several images)')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detections printed and drawn from this '
                        'score on (0.3)')
    parser.add_argument('--save', help='.npz file for the results (a '
                        'folder for several images)')
    parser.add_argument('--threads', type=int,
                        help="onnxruntime's intra-op threads")
    args = parser.parse_args(argv)
    several = len(args.images) > 1
    try:
        model = load(args.model, args.threads)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(str(e))
    for path in args.images:
        try:
            image = read_image(path)
        except (FileNotFoundError, ValueError) as e:
            raise SystemExit(str(e))
        result = model(image)
        print_result(path, result, model.classes, args.score_thr)
        save = destination(args.save, path, several, '.npz')
        if save:
            np.savez_compressed(save, **(
                dict(label=result) if isinstance(result, np.ndarray)
                else result))
        out = destination(args.out, path, several, '.png')
        if out:
            draw(image, result, model.classes, args.score_thr, out)
            print(f'drawn: {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
