# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""van-mm: the Visual Attention Network (VAN) for OpenMMLab dense prediction.

``custom_imports=dict(imports=['van_mm'])`` in an mmdet / mmseg / mmpretrain
config registers the ``VAN`` backbone, the configs' TensorBoard backend and
the hooks that check checkpoints and keep training safe
(:mod:`van_mm.engine`) and the bfloat16 ``AutocastOptimWrapper``, and
applies van_mm's compatibility fixes for the installed stack
(:mod:`van_mm.compat`).

Where PyTorch is not installed (a machine that serves exported models),
``van_mm`` holds only the torch-free runner, :mod:`van_mm.export.runner`.
"""
from .version import __version__

__all__ = [
    'VAN', 'AutocastOptimWrapper', 'CheckpointFitHook',
    'TensorboardIfInstalledVisBackend', '__version__'
]

try:
    import torch  # noqa: F401  (the training stack)
except ImportError:  # the runner's install: numpy, Pillow, onnxruntime

    def __getattr__(name):
        if name in __all__:
            raise ImportError(
                f'van_mm.{name} needs PyTorch and the OpenMMLab stack '
                '(scripts/install.sh); this environment has none, only '
                'van_mm.export.runner works here.')
        raise AttributeError(f"module 'van_mm' has no attribute {name!r}")
else:
    from . import compat
    from .engine import AutocastOptimWrapper, CheckpointFitHook
    from .models import VAN
    from .visualization import TensorboardIfInstalledVisBackend

    compat.apply()
