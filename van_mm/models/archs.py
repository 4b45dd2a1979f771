# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""The VAN architectures b0-b6: one table, and lookups by name or by shape.

Widths, depths and MLP ratios are Table 5 of the paper (Guo et al., "Visual
Attention Network", https://arxiv.org/abs/2202.09741) and the official
VAN-Classification code; ``tiny``/``small``/``base``/``large`` are the
official names of b0-b3. This module is data: it imports nothing heavy, so
the checkpoint code can use it without importing the model.
"""
from typing import Dict, List, Optional, Sequence

ARCHS: Dict[str, Dict[str, List[int]]] = {
    'b0': dict(embed_dims=[32, 64, 160, 256], depths=[3, 3, 5, 2],
               mlp_ratios=[8, 8, 4, 4]),
    'b1': dict(embed_dims=[64, 128, 320, 512], depths=[2, 2, 4, 2],
               mlp_ratios=[8, 8, 4, 4]),
    'b2': dict(embed_dims=[64, 128, 320, 512], depths=[3, 3, 12, 3],
               mlp_ratios=[8, 8, 4, 4]),
    'b3': dict(embed_dims=[64, 128, 320, 512], depths=[3, 5, 27, 3],
               mlp_ratios=[8, 8, 4, 4]),
    'b4': dict(embed_dims=[64, 128, 320, 512], depths=[3, 6, 40, 3],
               mlp_ratios=[8, 8, 4, 4]),
    'b5': dict(embed_dims=[96, 192, 480, 768], depths=[3, 3, 24, 3],
               mlp_ratios=[8, 8, 4, 4]),
    'b6': dict(embed_dims=[96, 192, 384, 768], depths=[6, 6, 90, 6],
               mlp_ratios=[8, 8, 4, 4]),
}  # yapf: disable
ALIASES = {'tiny': 'b0', 'small': 'b1', 'base': 'b2', 'large': 'b3'}
KEYS = ('embed_dims', 'depths', 'mlp_ratios')


def parse_arch(arch) -> Dict[str, List]:
    """``embed_dims``/``depths``/``mlp_ratios`` of an arch name (``'b0'``-
    ``'b6'`` or an alias) or of a custom dict with exactly those keys."""
    if isinstance(arch, str):
        name = ALIASES.get(arch.lower(), arch.lower())
        if name not in ARCHS:
            raise KeyError(f'Unknown VAN arch {arch!r}; choose one of '
                           f'{sorted([*ARCHS, *ALIASES])} or pass a dict '
                           'with embed_dims, depths and mlp_ratios.')
        return {k: list(v) for k, v in ARCHS[name].items()}
    if not isinstance(arch, dict) or set(arch) != set(KEYS):
        raise KeyError('A custom VAN arch must be a dict with exactly the '
                       f'keys {sorted(KEYS)}, got {arch!r}.')
    if len({len(v) for v in arch.values()}) != 1:
        raise ValueError('embed_dims, depths and mlp_ratios of a custom '
                         f'VAN arch must have equal lengths: {arch!r}')
    return {k: list(v) for k, v in arch.items()}


def arch_name(embed_dims: Sequence[int],
              depths: Sequence[int]) -> Optional[str]:
    """The arch with these stage widths and depths, or None."""
    for name, arch in ARCHS.items():
        if arch['embed_dims'] == list(embed_dims) and \
                arch['depths'] == list(depths):
            return name
    return None


def closest_arch(embed_dims: Sequence[int], depths: Sequence[int]) -> str:
    """The arch with the most stage widths and depths in common with these:
    the one to compare a checkpoint against when none fits, so that an
    error can name the first key that differs."""

    def agreement(name):
        arch = ARCHS[name]
        return (sum(map(int.__eq__, arch['embed_dims'], embed_dims)) +
                sum(map(int.__eq__, arch['depths'], depths)))

    return max(ARCHS, key=agreement)
