# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Parameters and FLOPs of configs, counted by mmengine's analyzer.

    python tools/get_flops.py CONFIG [CONFIG ...] [--shape H W] [--markdown]

FLOPs are multiply-adds (mmengine/fvcore convention, as the paper's), for
one image through the network in ``tensor`` mode (no pre-processing, no
NMS or mask pasting). Default input: 800x1280 for detectors (the paper's
1280x800), 512x2048 for UperNet (the paper's 2048x512), 512x512 for other
segmentors; ``--shape`` sets one size for all. See
:mod:`van_mm.analysis.flops`.
"""
import argparse

from van_mm.analysis.flops import count
from van_mm.apis import load_config


def main(argv=None):
    parser = argparse.ArgumentParser(description='Count params and FLOPs')
    parser.add_argument('configs', nargs='+', help='config file paths')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input size for all configs')
    parser.add_argument('--markdown', action='store_true',
                        help='print a Markdown table')
    args = parser.parse_args(argv)
    if args.markdown:
        print('| config | params (M) | FLOPs (G) | input (H×W) |')
        print('|---|---|---|---|')
    for config in args.configs:
        params, flops, (h, w) = count(load_config(config), args.shape)
        if args.markdown:
            print(f'| {config} | {params / 1e6:.2f} | {flops / 1e9:.1f} | '
                  f'{h}×{w} |')
        else:
            print(f'{config}: {params / 1e6:.2f} M params, '
                  f'{flops / 1e9:.1f} GFLOPs at {h}x{w}')
