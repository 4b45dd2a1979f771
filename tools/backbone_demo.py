# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Run the VAN backbone on an image and print its multi-scale feature maps.

    python tools/backbone_demo.py [IMAGE] [--arch b0] [--checkpoint PATH]

Without IMAGE a built-in synthetic picture is used, so the demo needs no
data. Images are normalised with the ImageNet mean/std of the dense
prediction configs.
"""
import argparse
import time

import numpy as np
import torch

from van_mm import VAN

MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('image', nargs='?', help='image file (default: a '
                        'built-in synthetic 480x640 picture)')
    parser.add_argument('--arch', default='b0', help='VAN arch (b0-b6)')
    parser.add_argument('--checkpoint', help='VAN weights in any supported '
                        'layout (e.g. the official .pth.tar)')
    return parser.parse_args()


def synthetic_image(h=480, w=640):
    """A picture of a few shapes on a gradient, RGB uint8 (h, w, 3)."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 / w, yy * 255 / h, np.full((h, w), 96)], -1)
    img[(yy - 150)**2 + (xx - 200)**2 < 80**2] = (230, 40, 40)
    img[300:420, 380:560] = (40, 200, 60)
    return img.astype(np.uint8)


def load_image(path):
    import mmcv
    try:
        img = mmcv.imread(path, channel_order='rgb')
    except Exception as e:  # mmcv raises for missing files
        raise SystemExit(f'Cannot read image {path!r}: {e}')
    if img is None:
        raise SystemExit(f'Cannot read image {path!r}: not an image file.')
    return img


def main():
    args = parse_args()
    img = load_image(args.image) if args.image else synthetic_image()
    init_cfg = dict(type='Pretrained', checkpoint=args.checkpoint) \
        if args.checkpoint else None
    model = VAN(arch=args.arch, init_cfg=init_cfg)
    model.init_weights()
    model.eval()
    x = torch.from_numpy((img.astype(np.float32) - MEAN) / STD)
    x = x.permute(2, 0, 1)[None].contiguous()
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


if __name__ == '__main__':
    main()
