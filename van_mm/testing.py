# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Helpers for tests and benchmarks that compare models with the same
weights."""
import torch
import torch.nn as nn


def randomize(model: nn.Module, seed: int = 0,
              std: float = 0.1) -> nn.Module:
    """Random weights (normal, ``std``), BN statistics and layer scales
    (uniform in [0.1, 1]), in eval mode: every tensor then matters to the
    outputs (the defaults are near-identity: layer scale 1e-2, BN mean 0 /
    var 1). For equality tests and benchmarks with the same weights."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith('num_batches_tracked'):
                continue
            if 'running_var' in name or 'layer_scale' in name:
                t.copy_(torch.rand(t.shape, generator=g) * 0.9 + 0.1)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * std)
    model.eval()  # not chained: some backbones' train() returns None
    return model
