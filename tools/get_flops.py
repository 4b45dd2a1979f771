# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Parameters and FLOPs of configs, counted by mmengine's analyzer.

    python tools/get_flops.py CONFIG [CONFIG ...] [--shape H W] [--markdown]

FLOPs are multiply-adds (mmengine/fvcore convention, as the paper's), for
one image through the network in ``tensor`` mode (no pre-processing, no
NMS or mask pasting). Default input: 800x1280 for detectors (the paper's
1280x800), 512x2048 for UperNet (the paper's 2048x512), 512x512 for other
segmentors; ``--shape`` sets one size for all.
"""
import argparse

import torch
import torch.nn as nn

from van_mm.benchmark import build_from_config
from van_mm.tools import data_sample, load_config, task_of


class TensorForward(nn.Module):
    """``model(inputs, data_samples, mode='tensor')`` as a one-argument
    module, for the FLOP counter's tracer."""

    def __init__(self, model, data_samples):
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs):
        return self.model(inputs, self.data_samples, mode='tensor')


def default_shape(cfg):
    if task_of(cfg) == 'det':
        return 800, 1280
    if cfg.model.decode_head.type == 'UPerHead':
        return 512, 2048
    return 512, 512


def count(config: str, shape=None):
    """``(params, flops, (H, W))`` of a config's model."""
    from mmengine.analysis import FlopAnalyzer
    from mmengine.logging import MMLogger
    cfg = load_config(config)
    cfg.model.backbone.init_cfg = None  # no download; random backbone
    model = build_from_config(cfg)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('WARNING')  # init_weights logs every parameter
    try:
        model.init_weights()  # e.g. Sparse R-CNN's initial proposal boxes
    finally:
        logger.setLevel(level)
    h, w = shape or default_shape(cfg)
    sample = data_sample(cfg, h, w)
    sample.set_metainfo(dict(batch_input_shape=(h, w)))
    if task_of(cfg) == 'det':
        # Sparse R-CNN's tensor-mode forward unpacks (empty) ground truth.
        from mmengine.structures import InstanceData
        sample.gt_instances = InstanceData(
            bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long))
    wrapped = TensorForward(model, [sample])
    with torch.no_grad():
        analyzer = FlopAnalyzer(wrapped, torch.rand(1, 3, h, w))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        flops = analyzer.total()
    params = sum(p.numel() for p in model.parameters())
    return params, flops, (h, w)


def main():
    parser = argparse.ArgumentParser(description='Count params and FLOPs')
    parser.add_argument('configs', nargs='+', help='config file paths')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input size for all configs')
    parser.add_argument('--markdown', action='store_true',
                        help='print a Markdown table')
    args = parser.parse_args()
    if args.markdown:
        print('| config | params (M) | FLOPs (G) | input (H×W) |')
        print('|---|---|---|---|')
    for config in args.configs:
        params, flops, (h, w) = count(config, args.shape)
        if args.markdown:
            print(f'| {config} | {params / 1e6:.2f} | {flops / 1e9:.1f} | '
                  f'{h}×{w} |')
        else:
            print(f'{config}: {params / 1e6:.2f} M params, '
                  f'{flops / 1e9:.1f} GFLOPs at {h}x{w}')


if __name__ == '__main__':
    main()
