# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Loading converted VAN weights into a backbone, strictly: weights that
do not fit the model's arch are refused, naming the first key that differs
and the arch the weights look like (from the model's own arch table,
``model.arch_zoo``: this package imports no model).
"""
import logging
import re
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log

from van_mm.checkpoint.files import CheckpointError
from van_mm.checkpoint.keys import Converted, read_converted


def widths_and_depths(state_dict: Dict[str, torch.Tensor]
                      ) -> Tuple[List[int], List[int]]:
    """Stage widths and depths of a van_mm state dict."""
    dims, depths = [], []
    i = 0
    while f'stages.{i}.norm.weight' in state_dict:
        dims.append(state_dict[f'stages.{i}.norm.weight'].shape[0])
        blocks = {
            int(m[1])
            for k in state_dict
            for m in [re.match(rf'stages\.{i}\.blocks\.(\d+)\.', k)] if m
        }
        depths.append(len(blocks))
        i += 1
    return dims, depths


def infer_arch(state_dict: Dict[str, torch.Tensor],
               archs: Dict[str, Dict[str, List[int]]]) -> Optional[str]:
    """Name of the arch in ``archs`` (a table like
    :data:`van_mm.models.archs.ARCHS`) whose widths and depths match a
    van_mm state dict, or None."""
    dims, depths = widths_and_depths(state_dict)
    return next((name for name, arch in archs.items()
                 if arch['embed_dims'] == dims and arch['depths'] == depths),
                None)


def check_compatible(model: torch.nn.Module,
                     state_dict: Dict[str, torch.Tensor],
                     source: str) -> None:
    """Raise :class:`CheckpointError` unless ``state_dict`` has exactly the
    model's keys with the model's shapes; the message names the first key
    that differs."""
    own = model.state_dict()

    def hint():
        found = infer_arch(state_dict, getattr(model, 'arch_zoo', {}))
        return (f'the checkpoint looks like arch {found!r}' if found else
                'the checkpoint matches no built-in arch')

    arch = getattr(model, 'arch_settings', None)
    for key, value in state_dict.items():
        if key in own and own[key].shape != value.shape:
            raise CheckpointError(
                f'{source}: shape of {key!r} is {tuple(value.shape)} in the '
                f'checkpoint but {tuple(own[key].shape)} in the model '
                f'({arch}); {hint()}. Set the backbone arch to match it.')
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    if missing or unexpected:
        raise CheckpointError(
            f'{source}: {len(missing)} model keys are missing from the '
            f'checkpoint (first: {missing[:3]}) and {len(unexpected)} '
            f'checkpoint keys are not in the model (first: {unexpected[:3]});'
            f' {hint()}. Set the backbone arch to match it.')


def load_pretrained(model: torch.nn.Module,
                    filename: str,
                    prefix: Optional[str] = None,
                    allow_pickle: bool = False) -> Converted:
    """Load VAN weights in any known layout into a van_mm ``VAN`` backbone.

    Logs the detected layout and the dropped keys; raises
    :class:`CheckpointError` naming the first offending key if the weights
    do not fit the model's arch. Warns when the model's LayerNorm epsilon
    differs from the one the weights were trained with.
    """
    converted = read_converted(filename, prefix, allow_pickle)
    check_compatible(model, converted.state_dict, filename)
    model.load_state_dict(converted.state_dict, strict=True)
    ln_eps = {m.eps for m in model.modules()
              if isinstance(m, torch.nn.LayerNorm)}
    msg = (f'Loaded VAN weights from {filename} (layout: '
           f'{converted.layout.name}, {converted.layout.description}); '
           f'{len(converted.state_dict)} tensors, {len(converted.dropped)} '
           'non-backbone keys ignored')
    if converted.dropped:
        msg += f' (e.g. {converted.dropped[:3]})'
    print_log(msg + '.', logger='current')
    if ln_eps != {converted.ln_eps}:
        print_log(
            f'The {converted.layout.name} weights were trained with '
            f'LayerNorm eps {converted.ln_eps}; the model uses '
            f'{sorted(ln_eps)}. Set ln_eps={converted.ln_eps} in the '
            'backbone config to reproduce their outputs exactly.',
            logger='current', level=logging.WARNING)
    return converted
