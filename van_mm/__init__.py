# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""van-mm: the Visual Attention Network (VAN) for OpenMMLab dense prediction.

``custom_imports=dict(imports=['van_mm'])`` in an mmdet / mmseg / mmpretrain
config registers the ``VAN`` backbone, the configs' TensorBoard backend and
the hooks that check checkpoints and keep training safe
(:mod:`van_mm.engine`) and the bfloat16 ``AutocastOptimWrapper``, and
applies van_mm's compatibility fixes for the installed stack
(:mod:`van_mm.compat`).
"""
from . import compat
from .engine import AutocastOptimWrapper, CheckpointFitHook
from .models import VAN
from .version import __version__
from .visualization import TensorboardIfInstalledVisBackend

compat.apply()

__all__ = [
    'VAN', 'AutocastOptimWrapper', 'CheckpointFitHook',
    'TensorboardIfInstalledVisBackend', '__version__'
]
