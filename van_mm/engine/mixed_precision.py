# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Mixed-precision training: bfloat16 autocast on a CPU or a GPU, float16
with loss scaling on a GPU (mmengine's ``AmpOptimWrapper``).

``tools/train.py --amp`` sets the config's optimizer wrapper with
:func:`amp_optim_wrapper`; a config can also name
``type='AutocastOptimWrapper'`` itself.
"""
import contextlib
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.device import get_device
from mmengine.optim import OptimWrapper

from van_mm.compat import mmcv_ops_under_cpu_autocast
from van_mm.registry import OPTIM_WRAPPERS, register

AMP_DTYPES = ('float16', 'bfloat16')


@register(OPTIM_WRAPPERS)
class AutocastOptimWrapper(OptimWrapper):
    """An ``OptimWrapper`` whose forward passes run under ``torch.autocast``
    on the device the runner trains on (CPU or GPU), without loss scaling.

    bfloat16 keeps float32's exponent range, so gradients do not underflow
    and need no scaler (float16 does: use mmengine's ``AmpOptimWrapper``).
    mmengine's ``AmpOptimWrapper`` refuses to run on a CPU. mmcv's CPU
    ``nms`` and ``RoIAlign`` run in float32 inside the autocast region
    (:func:`van_mm.compat.mmcv_ops_under_cpu_autocast`).

    Args:
        dtype (str | torch.dtype): Autocast dtype. Defaults to
            ``'bfloat16'``.
        **kwargs: ``OptimWrapper``'s arguments (``optimizer``,
            ``clip_grad``, ``accumulative_counts``).
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16',
                 **kwargs):
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype) if isinstance(dtype, str) \
            else dtype
        if self.cast_dtype != torch.bfloat16:
            raise ValueError(
                f'AutocastOptimWrapper runs bfloat16 (no loss scaling), got '
                f'dtype={dtype!r}; float16 needs AmpOptimWrapper.')
        mmcv_ops_under_cpu_autocast()  # mmcv's nms/RoIAlign on bf16 (CPU)

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module):
        from mmengine.runner.amp import autocast
        with super().optim_context(model), autocast(dtype=self.cast_dtype):
            yield


def amp_optim_wrapper(optim_wrapper: ConfigDict,
                      dtype: Optional[str] = None,
                      device: Optional[str] = None) -> ConfigDict:
    """The config's ``optim_wrapper`` for mixed-precision training.

    Args:
        optim_wrapper (ConfigDict): The config's, of type ``OptimWrapper``.
        dtype (str, optional): ``'float16'`` (GPU only, mmengine's
            ``AmpOptimWrapper`` with dynamic loss scaling) or
            ``'bfloat16'`` (:class:`AutocastOptimWrapper`). Defaults to
            float16 on a GPU and bfloat16 on a CPU.
        device (str, optional): ``'cuda'``, ``'cpu'``...; defaults to the
            device the runner will train on (``mmengine.device``).
    """
    device = device or get_device()
    dtype = dtype or ('bfloat16' if device == 'cpu' else 'float16')
    if dtype not in AMP_DTYPES:
        raise ValueError(f'amp dtype must be one of {AMP_DTYPES}, got '
                         f'{dtype!r}')
    kind = optim_wrapper.get('type', 'OptimWrapper')
    if kind != 'OptimWrapper':
        raise ValueError(
            'mixed precision replaces optim_wrapper.type OptimWrapper, the '
            f'config has {kind!r}')
    out = ConfigDict(optim_wrapper)
    if dtype == 'float16':
        if device == 'cpu':
            raise ValueError(
                'float16 training needs a GPU (loss scaling with '
                "torch.cuda's GradScaler); on the CPU use bfloat16")
        out.update(type='AmpOptimWrapper', dtype='float16',
                   loss_scale='dynamic')
    else:
        out.update(type='AutocastOptimWrapper', dtype='bfloat16')
    return out
