"""Shared fixtures: official-layout VAN weights written to temporary files.

Plain helpers (tiny inputs, config loading, running a tool) are in
``helpers.py``; this folder is on ``sys.path`` for them and for
``official_van.py``."""
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))

import official_van  # noqa: E402
from van_mm.testing import randomize  # noqa: E402


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
