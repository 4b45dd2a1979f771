# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Reading checkpoint files safely: safetensors, or ``torch.load`` that
unpickles only tensors, plain containers and a short list of data-only
classes unless the caller allows more.
"""
import argparse
import os
import os.path as osp
import pickle
import re
import urllib.request
import zipfile
from typing import Dict, Optional, Union

import torch

from van_mm.checkpoint.pretrained import PRETRAINED

# Classes that published checkpoints hold beside their tensors and that
# carry data only (building them runs no code of the file's choosing).
# timm's training script, which wrote the official VAN-Classification
# weights, saves its command line as ``args``, an argparse.Namespace (next
# to ``epoch``, ``arch``, ``optimizer``, ``version``, ``metric`` and an AMP
# scaler's state, which are plain containers).
DATA_ONLY_GLOBALS = (argparse.Namespace, )


# The model-zoo schemes mmengine's checkpoint loader resolves
# (mmengine.runner.checkpoint); their tables (mmengine/hub/*.json) name
# ResNets, VGGs, RegNets and other classifiers, no VAN (a test checks).
# mmseg's fpn_r50.py base names 'open-mmlab://resnet50_v1c' as the
# segmentor's ``pretrained``.
MODEL_ZOO_SCHEMES = ('open-mmlab://', 'openmmlab://', 'torchvision://',
                     'modelzoo://', 'mmcls://')


def model_zoo_scheme(name) -> Optional[str]:
    """The scheme of mmengine's model zoo that checkpoint ``name`` starts
    with (``'open-mmlab://'``...), or None: a name with one is not VAN
    weights, which is known without downloading it."""
    if isinstance(name, str):
        for scheme in MODEL_ZOO_SCHEMES:
            if name.startswith(scheme):
                return scheme
    return None


class CheckpointError(ValueError):
    """A checkpoint that cannot be used as VAN weights.

    Attributes:
        option: The keyword argument that would change the outcome (e.g.
            ``'allow_pickle'``), for a command line to name its own flag.
    """

    def __init__(self, message: str, option: str = None):
        super().__init__(message)
        self.option = option


class NotVanCheckpoint(CheckpointError):
    """A checkpoint whose keys are in no VAN layout: another model's
    weights (a ResNet's, say)."""


def _load_safetensors(filename: str, is_url: bool) -> Dict:
    """A safetensors file as ``{'state_dict': ..., 'meta': ...}``; the
    converter stores ``ln_eps`` in the file's string metadata."""
    from safetensors import safe_open
    from safetensors.torch import load
    if is_url:
        with urllib.request.urlopen(filename) as f:
            return dict(state_dict=load(f.read()), meta={})
    with safe_open(osp.expanduser(filename), framework='pt') as f:
        meta = dict(f.metadata() or {})
        state_dict = {k: f.get_tensor(k) for k in f.keys()}
    if 'ln_eps' in meta:
        meta['ln_eps'] = float(meta['ln_eps'])
    return dict(state_dict=state_dict, meta=meta)


def _where_published(filename: str) -> str:
    """``' (published in FOLDER)'`` for a file of
    :data:`van_mm.checkpoint.pretrained.PRETRAINED` that is only published in a
    folder, else ``''``."""
    for weights in PRETRAINED.values():
        if weights.file is not None and \
                osp.basename(filename) == weights.file:
            return f' ({weights.file} is published in {weights.url})'
    return ''


def load_file(filename: Union[str, os.PathLike], allow_pickle: bool = False):
    """Read a checkpoint file or URL as it is stored (no unwrapping).

    ``.safetensors`` files are read with safetensors. Other files go through
    ``torch.load(weights_only=True)``, which unpickles only tensors, plain
    containers and the classes of :data:`DATA_ONLY_GLOBALS` (such as the
    ``args`` of timm's training script), unless ``allow_pickle`` is set:
    that runs arbitrary code from the file, so use it only for files you
    trust.

    Raises:
        FileNotFoundError: ``filename`` is neither an existing file nor a URL.
        CheckpointError: The file is truncated, not a checkpoint, or needs
            unpickling that is not allowed.
    """
    filename = os.fspath(filename)
    is_url = re.match(r'^https?://', filename) is not None
    path = filename if is_url else osp.expanduser(filename)
    if not is_url and not osp.isfile(path):
        raise FileNotFoundError(
            f'VAN checkpoint not found: {filename!r}. Check '
            "init_cfg=dict(type='Pretrained', checkpoint=...) or "
            f'download the file first{_where_published(filename)}.')
    try:
        if filename.endswith('.safetensors'):
            return _load_safetensors(filename, is_url)
        with torch.serialization.safe_globals(list(DATA_ONLY_GLOBALS)):
            if is_url:
                return torch.hub.load_state_dict_from_url(
                    filename, map_location='cpu',
                    weights_only=not allow_pickle)
            return torch.load(
                path, map_location='cpu', weights_only=not allow_pickle)
    except pickle.UnpicklingError as e:
        if not is_url and not zipfile.is_zipfile(path):
            # torch.save writes zip archives; this is some other file.
            raise CheckpointError(
                f'Cannot read checkpoint {filename!r}: it is truncated or '
                'not a PyTorch/safetensors file (not a zip archive).') from e
        raise CheckpointError(
            f'{filename!r} holds Python objects besides tensors; van_mm '
            'refuses to unpickle it by default because that can run '
            'arbitrary code. If you trust the file, allow it with '
            "allow_pickle=True (in the backbone's init_cfg). Original "
            f'error: {str(e).splitlines()[0]}',
            option='allow_pickle') from e
    except ImportError:
        raise
    except Exception as e:  # zip, safetensors and I/O errors differ by type
        raise CheckpointError(
            f'Cannot read checkpoint {filename!r}: it is truncated or not a '
            f'PyTorch/safetensors file ({type(e).__name__}: '
            f'{str(e).splitlines()[0] if str(e) else ""}).') from e
