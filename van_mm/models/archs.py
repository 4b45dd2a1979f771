# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""The VAN architectures b0-b6: one table, and lookups by name or by shape.

Widths, depths and MLP ratios are Table 5 of the paper (Guo et al., "Visual
Attention Network", https://arxiv.org/abs/2202.09741) and the official
VAN-Classification code; ``tiny``/``small``/``base``/``large`` are the
official names of b0-b3, ``t``/``s``/``b``/``l`` mmpretrain's.
:func:`resolve_arch` combines an ``arch`` with the top-level widths and
depths of mmseg's ``projects/van``. This module is data: it imports nothing
heavy, so the checkpoint code and the config checks can use it without
importing the model.
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
# b0-b3 under the official names and mmpretrain's one-letter ones
ALIASES = {'tiny': 'b0', 't': 'b0', 'small': 'b1', 's': 'b1',
           'base': 'b2', 'b': 'b2', 'large': 'b3', 'l': 'b3'}
KEYS = ('embed_dims', 'depths', 'mlp_ratios')
# mmpretrain's name for mlp_ratios in a custom arch dict
FFN_RATIOS = 'ffn_ratios'
# What mmseg projects/van's VAN uses where only embed_dims and depths are
# given; the same for every VAN arch.
DEFAULT_MLP_RATIOS = [8, 8, 4, 4]


def parse_arch(arch) -> Dict[str, List]:
    """``embed_dims``/``depths``/``mlp_ratios`` of an arch name (``'b0'``-
    ``'b6'`` or an alias of :data:`ALIASES`) or of a custom dict with the
    keys ``embed_dims``, ``depths`` and ``mlp_ratios`` (or mmpretrain's
    ``ffn_ratios``)."""
    if isinstance(arch, str):
        name = ALIASES.get(arch.lower(), arch.lower())
        if name not in ARCHS:
            raise KeyError(f'Unknown VAN arch {arch!r}; choose one of '
                           f'{sorted([*ARCHS, *ALIASES])} or pass a dict '
                           'with embed_dims, depths and mlp_ratios.')
        return {k: list(v) for k, v in ARCHS[name].items()}
    if isinstance(arch, dict) and FFN_RATIOS in arch and \
            'mlp_ratios' not in arch:
        arch = {('mlp_ratios' if k == FFN_RATIOS else k): v
                for k, v in arch.items()}
    if not isinstance(arch, dict) or set(arch) != set(KEYS):
        raise KeyError('A custom VAN arch must be a dict with exactly the '
                       f'keys {sorted(KEYS)} (mlp_ratios may be called '
                       f'{FFN_RATIOS}, as in mmpretrain), got {arch!r}.')
    if len({len(v) for v in arch.values()}) != 1:
        raise ValueError('embed_dims, depths and mlp_ratios of a custom '
                         f'VAN arch must have equal lengths: {arch!r}')
    return {k: list(arch[k]) for k in KEYS}


def resolve_arch(arch=None,
                 embed_dims: Optional[Sequence[int]] = None,
                 depths: Optional[Sequence[int]] = None,
                 mlp_ratios: Optional[Sequence[float]] = None,
                 num_stages: Optional[int] = None) -> Dict[str, List]:
    """The arch a VAN is built with, from ``arch`` and the top-level
    ``embed_dims``/``depths``/``mlp_ratios``/``num_stages`` that mmseg's
    ``projects/van`` takes.

    * Without them: ``arch`` (default ``'b0'``).
    * Without ``arch``: ``embed_dims`` and ``depths`` define the arch
      (both needed); ``mlp_ratios`` defaults to ``[8, 8, 4, 4]``.
    * With ``arch``: each one given must equal the arch's.
    * ``num_stages``: the first ``num_stages`` stages of the arch are built
      (mmseg's meaning); it cannot exceed the arch's stages.

    Raises:
        KeyError: An unknown arch name or a malformed arch dict.
        ValueError: The top-level keys and ``arch`` disagree, one of
            ``embed_dims``/``depths`` is missing, or ``num_stages`` is out of
            range; the message says what to write.
    """
    given = {k: list(v) for k, v in zip(KEYS, (embed_dims, depths,
                                                mlp_ratios))
             if v is not None}
    if arch is not None:
        settings = parse_arch(arch)
        for key, value in given.items():
            if value != settings[key]:
                raise ValueError(
                    f'VAN: {key}={value} disagrees with arch={arch!r}, whose '
                    f'{key} are {settings[key]}. Give one of the two: arch '
                    'alone, or embed_dims and depths (and mlp_ratios) '
                    'without arch for a custom arch.')
    elif given:
        lacking = [k for k in KEYS[:2] if k not in given]
        if lacking:
            raise ValueError(
                f'VAN: {", ".join(sorted(given))} given without '
                f'{" and ".join(lacking)}: without arch, embed_dims and '
                'depths define the arch together (mmseg projects/van\'s '
                'style). Write both, or name an arch (arch=\'b0\', '
                f'{sorted(ARCHS)}).')
        if 'mlp_ratios' not in given:
            if len(given['depths']) != len(DEFAULT_MLP_RATIOS):
                raise ValueError(
                    f'VAN: depths={given["depths"]} has '
                    f'{len(given["depths"])} stages; give mlp_ratios for '
                    f'them (the default {DEFAULT_MLP_RATIOS} has 4).')
            given['mlp_ratios'] = list(DEFAULT_MLP_RATIOS)
        settings = parse_arch(given)
    else:
        settings = parse_arch('b0')
    if num_stages is not None:
        total = len(settings['depths'])
        if isinstance(num_stages, bool) or not isinstance(num_stages, int) \
                or not 1 <= num_stages <= total:
            raise ValueError(
                f'VAN: num_stages={num_stages!r}, but the arch has {total} '
                f'stages: write 1..{total} (the first num_stages are '
                'built), or leave it out.')
        settings = {k: v[:num_stages] for k, v in settings.items()}
    return settings


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
