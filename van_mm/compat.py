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
* mmcv 2.1's CPU kernels of ``nms`` and ``RoIAlign`` take float32 only, so
  bfloat16 autocast on a CPU (``tools/train.py --amp``) stopped two-stage
  detectors at their first RPN step (``expected scalar type Float but
  found BFloat16``). Under CPU autocast the two run in float32 on bfloat16
  inputs and hand bfloat16 back, as autocast does for its own fp32 ops
  (applied by ``AutocastOptimWrapper``, not on import).
* torch's CPU kernel of a dilated depth-wise convolution computes wrong
  weight gradients in bfloat16 for channels_last inputs (relative error
  about 1 from 32x32 maps on, sometimes NaN; the forward and the input
  gradients are right): :data:`DILATED_DWCONV_BF16_GRAD_BUG` says whether
  the installed torch is one where this was seen, and VAN's LKA then runs
  that convolution in the contiguous layout (the check is
  ``tests/test_mixed_precision.py``).

* mmengine formats a config's text with yapf each time it prints, dumps
  or saves it: at the runner's start, into the work dir, for each
  visualizer backend and into every checkpoint's meta, eight times (0.8 s
  each) in a one-iteration training run with one evaluation. The
  formatting is memoised on the text it formats (the same text gives the
  same result), so a run formats its config once.
* mmengine looks up every ``mmdet::``/``mmseg::`` base of a config by first
  reading all of the package's model metafiles (``.mim/model-index.yml``
  and the ~70 ``metafile.yml`` it imports, 0.4 s), only to find that a
  ``_base_/...`` file is not a model and take its plain path; a VAN config
  has three or four such bases. The metafiles' index of model configs is
  read once per package and process, so that a config loads in about a
  third of the time; what a lookup returns or raises is unchanged.

Not patched here: mmengine 0.10.7 finds the packages of ``mmdet::`` and
``mmseg::`` config bases through ``pkg_resources``, which setuptools 81
removed. ``setuptools<81`` is a declared requirement of van_mm (and
installed by ``scripts/install.sh``), so that configs load before anything
imports van_mm, as in mmdet's and mmseg's own tools;
:data:`PKG_RESOURCES_MISSING` is what van_mm's tools say where it is
missing anyway. mmengine imports and reloads ``pkg_resources`` for every
such base, and setuptools 80 warns each time that its API is deprecated:
once van_mm is imported that one warning is not shown again.
"""
import functools
import logging
import warnings

import numpy as np
import torch

_applied = False

# The torch releases whose CPU kernel gets the weight gradient of a dilated
# depth-wise convolution wrong in bfloat16 channels_last (seen in 2.13.0).
_TORCH = tuple(int(v) for v in torch.__version__.split('+')[0].split('.')[:2])
DILATED_DWCONV_BF16_GRAD_BUG = (2, 13) <= _TORCH < (2, 14)

PKG_RESOURCES_MISSING = (
    'mmengine 0.10.7 finds the packages of mmdet:: and mmseg:: config bases '
    "through pkg_resources, which setuptools 81 removed: pip install "
    "'setuptools<81' (a requirement of van_mm; scripts/install.sh installs "
    'it).')


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


def _memoised_format_code(format_code):
    """yapf's ``FormatCode`` remembering its last results, keyed on the
    text, the style dict and the options (it is a pure function of them);
    other calls go through unchanged."""

    @functools.lru_cache(maxsize=8)
    def cached(text, style, options):
        return format_code(text, style_config=dict(style), **dict(options))

    @functools.wraps(format_code)
    def wrapper(text, style_config=None, **kwargs):
        if isinstance(style_config, dict):
            key = (tuple(sorted(style_config.items())),
                   tuple(sorted(kwargs.items())))
            try:
                hash(key)
            except TypeError:
                pass
            else:
                return cached(text, *key)
        return format_code(text, style_config=style_config, **kwargs)

    wrapper.cache_info = cached.cache_info
    return wrapper


@functools.lru_cache(maxsize=None)
def _model_configs(package_path: str, index_mtime: float) -> dict:
    """``{config name: its metafile entry}`` for the model configs of an
    installed OpenMMLab package (the first entry of each name, as mmengine
    takes it), read from the metafiles its model index lists."""
    import os.path as osp

    from mmengine.fileio import load
    mim = osp.join(package_path, '.mim')
    found = {}
    for metafile in load(osp.join(mim, 'model-index.yml'))['Import']:
        for entry in load(osp.join(mim, metafile))['Models']:
            if 'Config' in entry:
                found.setdefault(entry['Config'].partition('/')[-1], entry)
    return found


def _indexed_cfg_metainfo(package_path: str, cfg_path: str) -> dict:
    """mmengine's ``_get_cfg_metainfo`` on the cached index: the entry of
    the model config ``cfg_path``; ``ValueError`` where there is none (a
    base config), as mmengine raises it."""
    import os
    import os.path as osp
    index = osp.join(package_path, '.mim', 'model-index.yml')
    found = _model_configs(package_path, os.stat(index).st_mtime)
    if cfg_path not in found:
        raise ValueError(f'{cfg_path} is not a model config of '
                         f'{package_path} (its metafiles list '
                         f'{len(found)})')
    return found[cfg_path]


def apply() -> None:
    """Apply the fixes above; calling it again does nothing."""
    global _applied
    if _applied:
        return
    _applied = True

    warnings.filterwarnings('ignore', 'pkg_resources is deprecated as an API',
                            UserWarning)

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

    import mmengine.config.config as config_module
    config_module.FormatCode = _memoised_format_code(config_module.FormatCode)
    import mmengine.config.utils as config_utils
    _indexed_cfg_metainfo.replaces = config_utils._get_cfg_metainfo
    config_utils._get_cfg_metainfo = _indexed_cfg_metainfo
