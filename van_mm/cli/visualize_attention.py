# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""What VAN looks at: LKA attention maps or Grad-CAM, one panel per stage.

    python tools/visualize_attention.py IMAGE (--config CFG | --arch ARCH)
        [--checkpoint CKPT] [--stage 0 1 2 3] [--method lka|gradcam]
        [--size H W] --out FILE.png

``lka``: the channel mean of the last block's LKA map in each stage.
``gradcam``: Grad-CAM on each stage's output, for the top detection of a
two-stage detector (``--config``), the most frequent class of a segmentor
(``--config``) or the top class of a classifier (``--arch`` with a
checkpoint that has a linear head, e.g. an official ``.pth.tar``); see
:mod:`van_mm.analysis.attention`. Maps are upsampled to the image and
drawn over it with matplotlib; the PNG is the image followed by one panel
per stage, each the image's size.
"""
import argparse

from van_mm.analysis.attention import (
    arch_targets,
    attention_maps,
    config_targets,
)
from van_mm.checkpoint import CheckpointError
from van_mm.cli.common import cli_message, read_image, require_file


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('image', help='image file')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--config', help='a detector/segmentor config')
    source.add_argument('--arch', help='a VAN arch (b0-b6)')
    parser.add_argument('--checkpoint', help='weights: a model checkpoint '
                        'for --config, any VAN layout for either')
    parser.add_argument('--stage', type=int, nargs='+', default=[0, 1, 2, 3],
                        help='stages to show (default: all four)')
    parser.add_argument('--method', choices=['lka', 'gradcam'],
                        default='lka')
    parser.add_argument('--size', type=int, nargs=2, metavar=('H', 'W'),
                        help='resize the image first (default: as it is)')
    parser.add_argument('--out', required=True, help='output PNG')
    return parser.parse_args(argv)


def save_panel(image, maps, titles, out, dpi=100):
    """The image and one overlay per map side by side, each panel the
    image's size in pixels."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    h, w = image.shape[:2]
    n = len(maps) + 1
    fig = plt.figure(figsize=(n * w / dpi, h / dpi), dpi=dpi)
    for k in range(n):
        ax = fig.add_axes([k / n, 0, 1 / n, 1])
        ax.imshow(image)
        if k:
            ax.imshow(maps[k - 1], cmap='jet', alpha=0.5, vmin=0, vmax=1)
        ax.text(0.02, 0.98, titles[k], transform=ax.transAxes, va='top',
                color='white', fontsize=max(6, h // 24),
                bbox=dict(facecolor='black', alpha=0.5, pad=1))
        ax.set_axis_off()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    image = read_image(args.image, args.size)
    if args.checkpoint:
        require_file(args.checkpoint, 'Checkpoint')
    try:
        targets = (config_targets(args.config, args.checkpoint)
                   if args.config else arch_targets(args.arch,
                                                    args.checkpoint))
    except CheckpointError as e:  # a checkpoint that does not fit
        raise SystemExit(cli_message(e))
    try:
        maps = attention_maps(targets, image, args.method, args.stage)
    except ValueError as e:  # no score for Grad-CAM, stages out of range
        raise SystemExit(f'--method {args.method} --stage '
                         f'{" ".join(map(str, args.stage))}: {e}')
    titles = ['input'] + [f'{args.method} stage {i}' for i in args.stage]
    save_panel(image, maps, titles, args.out)
    print(f'{args.image} -> {args.out} ({args.method}, stages '
          f'{args.stage})')
