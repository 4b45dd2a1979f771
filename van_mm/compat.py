# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Fixes for the stack van_mm runs on (mmengine 0.10.7, mmcv 2.1, torch>=2.6).

Everything that adapts the installed OpenMMLab stack lives here and is
applied once, by :func:`apply`, when ``van_mm`` is imported (the last one
by :func:`mmcv_ops_under_cpu_autocast`, when bfloat16 training starts):

* torch >= 2.6 unpickles with ``weights_only=True`` by default, and
  mmengine 0.10.7 calls ``torch.load`` without the argument, so checkpoints
  that mmengine's Runner saved (they hold a ``HistoryBuffer`` and numpy
  arrays in ``message_hub``) could not be resumed or tested (mmengine issue
  1655). The few classes those files hold are allow-listed for the safe
  unpickler instead of turning safety off, and ``HistoryBuffer`` pickles
  as its constructor arguments (by default its statistics methods are
  pickled through ``getattr``, which no safe unpickler may allow).
* Distributed runs on machines without CUDA (gloo): mmengine always calls
  ``torch.cuda.set_device``, wraps the model in DDP with ``device_ids=[rank]``
  (rejected for CPU modules) and keeps SyncBN layers (which need CUDA). On
  such machines the init skips ``set_device`` and the model wrapper reverts
  SyncBN to BN and passes ``device_ids=None``. Nothing changes where CUDA is
  available.
* mmpretrain's registries import ``mmpretrain.models`` (and datasets,
  metrics) before building anything, and those import torchvision, which
  has no CPU build for current torch. Without torchvision the import error
  is logged once per registry instead of failing every build: the modules
  registered before the failing import (all of mmpretrain's backbones, and
  van_mm's models) stay buildable.
* mmengine 0.10.7 finds installed packages (the ``mmdet::``/``mmseg::``
  prefixes of ``_base_`` configs) through ``pkg_resources``, which
  setuptools >= 81 no longer ships (``No module named 'pkg_resources'``)
  and older setuptools deprecate with a warning on every import. The three
  functions involved (``is_installed``, ``get_installed_path``,
  ``package2module``) are replaced by ``importlib.metadata`` equivalents,
  with the same results (:mod:`van_mm_startup`). Installed van_mm does it
  from interpreter start-up (``van_mm_startup.pth``), so configs load
  before anything imports van_mm too (mmdet's own ``tools/train.py``);
  ``import van_mm`` does it where the ``.pth`` file is missing.
* mmcv 2.1's CPU kernels of ``nms`` and ``RoIAlign`` take float32 only, so
  bfloat16 autocast on a CPU (``tools/train.py --amp``) stopped two-stage
  detectors at their first RPN step (``expected scalar type Float but
  found BFloat16``). Under CPU autocast the two run in float32 on bfloat16
  inputs and hand bfloat16 back, as autocast does for its own fp32 ops
  (applied by ``AutocastOptimWrapper``, not on import).
"""
import functools
import logging
import os.path as osp

import numpy as np
import torch

_applied = False


def _history_buffer_reduce(self):
    """Pickle a ``HistoryBuffer`` as ``HistoryBuffer(logs, counts, max)``."""
    return (type(self), (self._log_history, self._count_history,
                         self.max_length))


def _runner_checkpoint_globals() -> list:
    """Classes (besides tensors and containers) in mmengine Runner files."""
    from mmengine.logging.history_buffer import HistoryBuffer
    multiarray = np._core.multiarray if hasattr(np, '_core') \
        else np.core.multiarray
    dtypes = {type(np.dtype(t)) for t in np.sctypeDict.values()}
    return [
        HistoryBuffer, np.ndarray, np.dtype, multiarray._reconstruct,
        multiarray.scalar, *sorted(dtypes, key=str)
    ]


def _init_dist_pytorch_cpu(original):
    """mmengine's ``_init_dist_pytorch`` without ``torch.cuda.set_device``
    when CUDA is unavailable (backend forced to gloo)."""

    @functools.wraps(original)
    def init(backend, init_backend='torch', **kwargs):
        if torch.cuda.is_available():
            return original(backend, init_backend=init_backend, **kwargs)
        import torch.distributed as torch_dist
        torch_dist.init_process_group(backend='gloo', **kwargs)

    return init


def _wrap_model_cpu(original):
    """``Runner.wrap_model`` for distributed runs without CUDA."""

    @functools.wraps(original)
    def wrap_model(self, model_wrapper_cfg, model):
        if torch.cuda.is_available() or not self.distributed:
            return original(self, model_wrapper_cfg, model)
        from mmengine.model import (
            MMDistributedDataParallel,
            revert_sync_batchnorm,
        )
        self.logger.info('No CUDA: distributed training on CPU with gloo; '
                         'SyncBN layers are reverted to BN.')
        model = revert_sync_batchnorm(model)
        return MMDistributedDataParallel(
            module=model,
            device_ids=None,
            broadcast_buffers=False,
            find_unused_parameters=self.cfg.get('find_unused_parameters',
                                                False))

    return wrap_model


def _import_from_location_without_torchvision(original):
    """``Registry.import_from_location`` that survives a missing
    torchvision."""

    @functools.wraps(original)
    def import_from_location(self):
        try:
            original(self)
        except ModuleNotFoundError as e:
            if not (e.name or '').startswith('torchvision'):
                raise
            self._imported = True
            from mmengine.logging import print_log
            print_log(
                f'{self.scope} {self.name} registry: importing '
                f'{self._locations} needs torchvision, which is not '
                'installed; only the modules registered before that import '
                'are available.',
                logger='current', level=logging.WARNING)

    return import_from_location


def _float32_under_cpu_autocast(function):
    """``function`` run in float32 when CPU autocast gives it bfloat16
    tensors; its floating-point outputs go back to bfloat16."""

    def cast(value, dtype):
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return value.to(dtype)
        return value

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if not (torch.is_autocast_enabled('cpu') and any(
                isinstance(a, torch.Tensor) and a.dtype == torch.bfloat16
                for a in args)):
            return function(*args, **kwargs)
        args = [cast(a, torch.float32) for a in args]
        with torch.autocast('cpu', enabled=False):
            out = function(*args, **kwargs)
        if isinstance(out, tuple):
            return tuple(cast(o, torch.bfloat16) for o in out)
        return cast(out, torch.bfloat16)

    return wrapper


_mmcv_ops_wrapped = False


def mmcv_ops_under_cpu_autocast() -> None:
    """Wrap mmcv's float32-only CPU ops (if mmcv has compiled ops); once.
    Called by ``AutocastOptimWrapper``, so that importing van_mm does not
    load mmcv's compiled ops."""
    global _mmcv_ops_wrapped
    if _mmcv_ops_wrapped:
        return
    import importlib
    try:
        ops = importlib.import_module('mmcv.ops')
        nms = importlib.import_module('mmcv.ops.nms')
        roi_align = importlib.import_module('mmcv.ops.roi_align')
    except ImportError:
        return
    _mmcv_ops_wrapped = True
    # batched_nms looks ``nms`` up in its module when it runs
    nms.nms = ops.nms = _float32_under_cpu_autocast(nms.nms)
    roi_align.RoIAlign.forward = _float32_under_cpu_autocast(
        roi_align.RoIAlign.forward)


def _replace_package_utils() -> None:
    """mmengine's package lookup without ``pkg_resources``
    (:mod:`van_mm_startup`): also where mmengine was imported before van_mm
    and its modules hold mmengine's functions by name, and from now on
    where the interpreter started without ``van_mm_startup.pth``."""
    import sys

    import mmengine.config.config  # noqa: F401  (these import them by name)
    import mmengine.hub.hub  # noqa: F401

    startup = _startup_module()
    startup.install()
    for name in ('mmengine.utils.package_utils', 'mmengine.utils',
                 'mmengine.config.config', 'mmengine.hub.hub'):
        if name in sys.modules:
            startup.replace_in(sys.modules[name])


def _startup_module():
    """:mod:`van_mm_startup`; from the checkout beside this package where
    an editable install made before the module existed does not map it
    (``git pull`` without reinstalling)."""
    import importlib.util
    import sys
    try:
        import van_mm_startup
        return van_mm_startup
    except ModuleNotFoundError:
        path = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                        'van_mm_startup.py')
        spec = importlib.util.spec_from_file_location('van_mm_startup', path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules['van_mm_startup'] = module
        return module


def apply() -> None:
    """Apply the fixes above; calling it again does nothing."""
    global _applied
    if _applied:
        return
    _applied = True

    _replace_package_utils()

    from mmengine.logging.history_buffer import HistoryBuffer
    HistoryBuffer.__reduce__ = _history_buffer_reduce
    torch.serialization.add_safe_globals(_runner_checkpoint_globals())

    import mmengine.dist.utils as dist_utils
    from mmengine.registry import Registry
    from mmengine.runner import Runner
    Registry.import_from_location = _import_from_location_without_torchvision(
        Registry.import_from_location)
    dist_utils._init_dist_pytorch = _init_dist_pytorch_cpu(
        dist_utils._init_dist_pytorch)
    Runner.wrap_model = _wrap_model_cpu(Runner.wrap_model)
