# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Run the VAN backbone on an image and print its multi-scale feature maps.

    python tools/backbone_demo.py [IMAGE] [--arch b0] [--checkpoint PATH]

Without IMAGE a built-in synthetic picture is used, so the demo needs no
data. Images are normalised with the ImageNet mean/std of the dense
prediction configs.
"""
import argparse
import time

import torch

from van_mm.cli.common import read_image
from van_mm.images import to_input
from van_mm.models import VAN
from van_mm.synthetic import synthetic_picture


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('image', nargs='?', help='image file (default: a '
                        'built-in synthetic 480x640 picture)')
    parser.add_argument('--arch', default='b0', help='VAN arch (b0-b6)')
    parser.add_argument('--checkpoint', help='VAN weights in any supported '
                        'layout (e.g. the official .pth.tar)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    img = read_image(args.image) if args.image else synthetic_picture()
    init_cfg = dict(type='Pretrained', checkpoint=args.checkpoint) \
        if args.checkpoint else None
    model = VAN(arch=args.arch, init_cfg=init_cfg)
    model.init_weights()
    model.eval()
    x = to_input(img)
    start = time.perf_counter()
    with torch.no_grad():
        outs = model(x)
    ms = (time.perf_counter() - start) * 1e3
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f'VAN-{args.arch} ({params:.2f}M params) on a '
          f'{img.shape[0]}x{img.shape[1]} image, forward {ms:.0f} ms:')
    for i, out in zip(model.out_indices, outs):
        print(f'  stage {i + 1} (stride {2**(i + 2):2d}): '
              f'{tuple(out.shape)}  mean {out.mean():+.3f} '
              f'std {out.std():.3f}')
