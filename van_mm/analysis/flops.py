# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Parameters and FLOPs of a config's model, counted by mmengine's
``FlopAnalyzer`` (multiply-adds, the fvcore convention the paper uses)."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config

from van_mm.apis import build_from_config, data_sample, task_of


class TensorForward(nn.Module):
    """``model(inputs, data_samples, mode='tensor')`` as a one-argument
    module, for the FLOP counter's tracer."""

    def __init__(self, model, data_samples):
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs):
        return self.model(inputs, self.data_samples, mode='tensor')


def default_shape(cfg: Config) -> Tuple[int, int]:
    """The paper's input size for a config: 1280x800 for detectors,
    2048x512 for UperNet, 512x512 for other segmentors; as (H, W)."""
    if task_of(cfg) == 'det':
        return 800, 1280
    if cfg.model.decode_head.type == 'UPerHead':
        return 512, 2048
    return 512, 512


def count(cfg: Config, shape: Optional[Tuple[int, int]] = None):
    """``(params, flops, (H, W))`` of a config's model for one image through
    the network in ``tensor`` mode (no pre-processing, NMS or mask pasting),
    with random weights (the pretrained backbone is not downloaded)."""
    from mmengine.analysis import FlopAnalyzer
    from mmengine.logging import MMLogger
    cfg = cfg.copy()
    cfg.model.backbone.init_cfg = None
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
