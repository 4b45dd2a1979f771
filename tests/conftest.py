"""Shared fixtures: official-layout VAN weights written to temporary files."""
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))

import official_van  # noqa: E402


def randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights, BN statistics and layer scales, so that every tensor
    of a checkpoint matters to the outputs (the defaults are near-identity:
    layer scale 1e-2, BN mean 0 / var 1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith('num_batches_tracked'):
                continue
            if 'running_var' in name or 'layer_scale' in name:
                t.copy_(torch.rand(t.shape, generator=g) * 0.9 + 0.1)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
    model.eval()  # some backbones' train() returns None
    return model


@pytest.fixture(scope='session')
def official_b0():
    """A randomly initialised official VAN-B0 (with its 1000-class head)."""
    return randomize(official_van.van_b0())


@pytest.fixture(scope='session')
def official_b0_file(official_b0, tmp_path_factory):
    """``official_b0`` saved as the official files are: {'state_dict': ...}."""
    path = tmp_path_factory.mktemp('ckpt') / 'van_tiny_754.pth.tar'
    torch.save({'state_dict': official_b0.state_dict()}, path)
    return str(path)
