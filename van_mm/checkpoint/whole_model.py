# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Whole detector and segmentor checkpoints whose backbone is in any VAN
layout: their keys mapped onto a model's, and the check that they fit it.

A whole-model file holds the backbone under ``backbone.`` beside ``neck.``,
``decode_head.``, ``auxiliary_head.``, ``rpn_head.``, ``roi_head.``...: an
official VAN-Segmentation segmentor (mmsegmentation 0.x), an mmseg 1.x
``projects/van`` segmentor, or a van_mm training checkpoint.
:func:`convert_whole_model` maps the backbone keys to van_mm's
(:mod:`van_mm.checkpoint.keys`) and keeps every other key as it is: the
necks and heads these files hold have the same module names in
mmsegmentation 0.x and 1.x (``FPN``, ``FPNHead``, ``UPerHead``,
``FCNHead``: same submodules, compared with mmseg 0.24's sources) and in
mmdetection 2.x and 3.x (``FPN``), so no head key needs renaming.
:func:`fit_to_model` maps the backbone keys only where the model's
backbone is van_mm's VAN (its keys in the ``van_mm`` layout); a model with
another backbone (mmpretrain's ``VAN`` swapped into a config, say) takes
the file's keys as they are. It refuses a checkpoint that does not cover
the model exactly, naming the layout and the keys, unless a partial load is
asked for; :func:`load_whole_model` reads a file and does both. The runner's
``load_from`` goes through :func:`fit_to_model` too
(:class:`van_mm.engine.CheckpointFitHook`), which lets a training run
fine-tune on other classes: the keys that differ only in their number of
classes (:mod:`van_mm.checkpoint.class_outputs`) keep the model's new
initialisation.

Nothing here builds or imports a model: the functions take the model they
load into.
"""
import logging
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

from van_mm.checkpoint.class_outputs import (
    ClassCountChange,
    class_count_change,
    model_class_counts,
)
from van_mm.checkpoint.files import CheckpointError, load_file
from van_mm.checkpoint.keys import (
    convert_state_dict,
    detect_layout,
    export_state_dict,
    unwrap,
)
from van_mm.checkpoint.layouts import LAYOUTS, Layout, get_layout
from van_mm.checkpoint.loading import infer_arch

BACKBONE = 'backbone.'
# The option that loads what fits and skips the rest: a top-level config
# setting (next to ``load_from``) and, with dashes, the tools' flag.
PARTIAL_OPTION = 'allow_partial_load'
SHOWN = 3  # keys named per kind in a refusal


@dataclass
class WholeModel:
    """A whole-model state dict under van_mm's keys.

    Attributes:
        state_dict: Backbone keys in van_mm's layout under ``backbone.``,
            every other key as in the file.
        layout: The layout the backbone was found in, or None if the file
            has no VAN backbone under ``backbone.``.
        ln_eps: LayerNorm epsilon the backbone was trained with, where the
            file (``meta['ln_eps']``) or its layout says; None for van_mm's
            own training checkpoints, whose config states it.
        meta: The file's ``meta`` (class names, palette, versions), or {}.
        mapped: Whether the backbone keys went through the layout mapping
            (a model whose backbone is van_mm's VAN); False: the file's
            keys as they are.
    """
    state_dict: Dict[str, torch.Tensor]
    layout: Optional[Layout]
    ln_eps: Optional[float] = None
    meta: Dict = field(default_factory=dict)
    mapped: bool = True

    def describe(self) -> str:
        """``'backbone layout official_seg: official VAN-Segmentation
        ...'``."""
        if not self.mapped:
            return ("keys as saved: the model's backbone is not van_mm's "
                    'VAN, so no layout is mapped')
        if self.layout is None:
            return 'backbone in no known VAN layout'
        return f'backbone layout {self.layout.name}: {self.layout.description}'


def convert_whole_model(checkpoint, source: str = '<checkpoint>'
                        ) -> WholeModel:
    """Map a whole-model checkpoint (a file's contents or a state dict) onto
    van_mm's backbone keys, keeping the other keys.

    Raises:
        CheckpointError: The checkpoint holds no state dict, or it is a bare
            backbone or classifier (no ``backbone.`` keys), which belongs in
            the backbone's ``init_cfg`` instead.
    """
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    state_dict = unwrap(checkpoint, source)
    rest = {k: v for k, v in state_dict.items()
            if not k.startswith(BACKBONE)}
    if len(rest) == len(state_dict):
        try:
            found = f'layout {detect_layout(state_dict).name}'
        except CheckpointError:
            found = 'no known layout'
        raise CheckpointError(
            f'{source} has no backbone.* keys, so it is not a whole detector '
            f'or segmentor ({found}; first keys: {list(state_dict)[:SHOWN]})'
            '. A bare VAN backbone or classifier belongs in the backbone\'s '
            "init_cfg=dict(type='Pretrained', checkpoint=...).")
    try:
        converted = convert_state_dict(state_dict, BACKBONE)
    except CheckpointError:  # not a VAN: keys kept, the fit check reports
        return WholeModel(dict(state_dict), None, None, meta)
    mapped = {BACKBONE + k: v for k, v in converted.state_dict.items()}
    # keys under backbone. that the layout ignores (a classifier) are kept
    # under their names, so that the fit check names them
    mapped.update({BACKBONE + k: state_dict[BACKBONE + k]
                   for k in converted.dropped if BACKBONE + k in state_dict})
    mapped.update(rest)
    ln_eps = meta.get('ln_eps')
    if ln_eps is None and converted.layout.name != 'van_mm':
        ln_eps = converted.layout.ln_eps
    return WholeModel(mapped, converted.layout,
                      None if ln_eps is None else float(ln_eps), meta)


def export_whole_model(state_dict: Dict[str, torch.Tensor],
                       layout: Union[str, Layout]) -> Dict[str, torch.Tensor]:
    """A van_mm whole-model state dict with its backbone keys in another
    layout (the inverse of :func:`convert_whole_model`); other keys are
    kept.

    Raises:
        CheckpointError: ``layout`` has no whole-model files
            (:attr:`Layout.whole_model`).
    """
    if isinstance(layout, str):
        layout = get_layout(layout)
    if not layout.whole_model:
        raise CheckpointError(
            f'The {layout.name} layout holds no detectors or segmentors; '
            'whole models go to '
            f'{[lay.name for lay in LAYOUTS if lay.whole_model]}.',
            option='to')
    backbone = {k[len(BACKBONE):]: v for k, v in state_dict.items()
                if k.startswith(BACKBONE)}
    out = {BACKBONE + k[len(layout.prefix):]: v
           for k, v in export_state_dict(backbone, layout).items()}
    out.update({k: v for k, v in state_dict.items()
                if not k.startswith(BACKBONE)})
    return out


def compare_keys(own: Dict[str, torch.Tensor],
                 state_dict: Dict[str, torch.Tensor]
                 ) -> Tuple[List[str], List[str], List[str]]:
    """The model's keys missing from ``state_dict``, the keys of
    ``state_dict`` the model lacks, and the keys whose shapes differ."""
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    reshaped = [k for k in state_dict
                if k in own and own[k].shape != state_dict[k].shape]
    return missing, unexpected, reshaped


def misfit_message(whole: WholeModel, own: Dict[str, torch.Tensor],
                   source: str, archs: Dict = None) -> Optional[str]:
    """What does not fit when ``whole`` is loaded into a model with state
    dict ``own``, or None if it fits exactly; the arch of ``archs`` (the
    model's backbone's ``arch_zoo``) the checkpoint's backbone has, if
    any."""
    missing, unexpected, reshaped = compare_keys(own, whole.state_dict)
    if not (missing or unexpected or reshaped):
        return None
    parts = []
    if missing:
        parts.append(f'{len(missing)} model keys are missing from it '
                     f'(first: {missing[:SHOWN]})')
    if unexpected:
        parts.append(f'{len(unexpected)} of its keys are not in the model '
                     f'(first: {unexpected[:SHOWN]})')
    if reshaped:
        shapes = ', '.join(
            f'{k!r} {tuple(whole.state_dict[k].shape)} in the checkpoint, '
            f'{tuple(own[k].shape)} in the model' for k in reshaped[:SHOWN])
        parts.append(f'{len(reshaped)} keys have other shapes ({shapes})')
    backbone = {k[len(BACKBONE):]: v for k, v in whole.state_dict.items()
                if k.startswith(BACKBONE)}
    arch = infer_arch(backbone, archs or {}) \
        if whole.layout is not None else None
    hint = f'; its backbone looks like VAN arch {arch!r}' if arch else ''
    return (f'{source} does not fit the model ({whole.describe()}): '
            f'{"; ".join(parts)}{hint}')


def set_backbone_ln_eps(model: nn.Module, ln_eps: float) -> List[float]:
    """Set the epsilon of the LayerNorms in ``model.backbone`` (VAN's stage
    norms); return the values they had."""
    norms = [m for m in model.backbone.modules()
             if isinstance(m, nn.LayerNorm)]
    before = sorted({m.eps for m in norms})
    for m in norms:
        m.eps = ln_eps
    return before


def _honour_ln_eps(model: nn.Module, whole: WholeModel, source: str) -> None:
    """Give the backbone's stage norms the epsilon the weights were trained
    with, saying so when that changes the model."""
    if whole.ln_eps is None or not hasattr(model, 'backbone'):
        return
    before = set_backbone_ln_eps(model, whole.ln_eps)
    if before and before != [whole.ln_eps]:
        print_log(
            f'{source}: the {whole.layout.name} weights were trained with '
            f'LayerNorm eps {whole.ln_eps:g}; the backbone\'s stage norms '
            f'now use it (the config built them with {before}).',
            logger='current', level=logging.WARNING)


def maps_backbone(model: nn.Module) -> bool:
    """Whether checkpoints are mapped onto ``model``'s backbone: it is
    van_mm's VAN, recognised by its keys (the ``van_mm`` layout), as this
    package imports no model."""
    backbone = getattr(model, 'backbone', None)
    if not isinstance(backbone, nn.Module):
        return False
    try:
        return detect_layout(backbone.state_dict()).name == 'van_mm'
    except CheckpointError:
        return False


def as_saved(checkpoint, source: str = '<checkpoint>') -> WholeModel:
    """A checkpoint's state dict with its keys as they are (no mapping)."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    return WholeModel(unwrap(checkpoint, source), None, None,
                      meta if isinstance(meta, dict) else {}, mapped=False)


def checkpoint_class_count(whole: WholeModel) -> Optional[int]:
    """The number of classes the checkpoint's meta names, or None."""
    classes = (dataset_meta(whole.meta) or {}).get('classes')
    return len(classes) if classes else None


def class_outputs_only(whole: WholeModel, own: Dict[str, torch.Tensor],
                       model: nn.Module) -> Optional[ClassCountChange]:
    """The change if the checkpoint differs from the model only in the
    class outputs of its heads (every key present on both sides, the
    reshaped ones explained by one pair of class counts), else None."""
    missing, unexpected, reshaped = compare_keys(own, whole.state_dict)
    if missing or unexpected or not reshaped:
        return None
    return class_count_change(whole.state_dict, own, reshaped,
                              model_class_counts(model),
                              checkpoint_class_count(whole))


def fit_to_model(checkpoint, model: nn.Module, source: str = '<checkpoint>',
                 allow_partial: bool = False,
                 new_classes: bool = False) -> WholeModel:
    """Map ``checkpoint`` (a file's contents or a state dict) onto
    ``model``'s keys and check that it covers the model exactly.

    Where the model's backbone is van_mm's VAN (:func:`maps_backbone`), the
    backbone keys are mapped from their layout and the backbone's
    LayerNorm epsilon is set to the one the weights were trained with; any
    other model takes the keys as they are. With ``new_classes``
    (fine-tuning), keys whose shapes differ only because the model has
    another number of classes than the checkpoint
    (:func:`~van_mm.checkpoint.class_outputs.class_count_change`) take the
    model's own values (its new initialisation), named in one warning;
    every other key must fit. With ``allow_partial``, keys the model lacks
    and keys whose shapes differ are dropped from the returned state dict
    and listed in a warning (e.g. fine-tuning from a COCO detector with a
    new head).

    Raises:
        CheckpointError: The checkpoint leaves model keys uncovered, has
            keys the model lacks or other shapes (unless ``allow_partial``,
            or ``new_classes`` and only the class outputs differ); its
            ``option`` names :data:`PARTIAL_OPTION`.
    """
    whole = convert_whole_model(checkpoint, source) if maps_backbone(model) \
        else as_saved(checkpoint, source)
    own = model.state_dict()
    archs = getattr(getattr(model, 'backbone', None), 'arch_zoo', None)
    message = misfit_message(whole, own, source, archs)
    change = class_outputs_only(whole, own, model) if message else None
    if message and change is not None and new_classes and \
            not allow_partial:
        print_log(
            f'{source}: fine-tuning from {change.counts()}: '
            f'{len(change.keys)} keys of the heads\' class outputs keep '
            f'their new initialisation ({change.shapes(whole.state_dict, own)}'
            f'); the other {len(own) - len(change.keys)} keys are loaded '
            f'({whole.describe()}).', logger='current',
            level=logging.WARNING)
        for key in change.keys:
            whole.state_dict[key] = own[key].detach().clone()
    elif message and not allow_partial:
        if change is not None:
            raise CheckpointError(
                f'{message}. These are the class outputs of the heads: the '
                f'checkpoint was trained on {change.counts()}. To test, '
                'resume or run it, use a config with the checkpoint\'s '
                'classes; to fine-tune on the config\'s classes, train with '
                'load_from set to it (tools/train.py CONFIG --cfg-options '
                'load_from=...): the class outputs then start anew.',
                option=PARTIAL_OPTION)
        raise CheckpointError(
            f'{message}. Check that the config is the checkpoint\'s (task, '
            'backbone arch, classes); to load only the keys that fit (e.g. '
            f'to fine-tune with a new head), set {PARTIAL_OPTION}=True.',
            option=PARTIAL_OPTION)
    elif message:
        _, unexpected, reshaped = compare_keys(own, whole.state_dict)
        skipped = set(unexpected) | set(reshaped)
        whole.state_dict = {k: v for k, v in whole.state_dict.items()
                            if k not in skipped}
        print_log(f'{message}. {PARTIAL_OPTION}: loading the '
                  f'{len(whole.state_dict)} keys that fit.',
                  logger='current', level=logging.WARNING)
    else:
        print_log(f'{source} fits the model: all {len(own)} keys '
                  f'({whole.describe()}).', logger='current')
    if whole.mapped:
        _honour_ln_eps(model, whole, source)
    return whole


def load_whole_model(model: nn.Module, filename: str,
                     allow_partial: bool = False,
                     allow_pickle: bool = False) -> Dict:
    """Load a whole detector/segmentor checkpoint in any VAN layout into
    ``model`` (:func:`fit_to_model`); return the file's ``meta``."""
    whole = fit_to_model(load_file(filename, allow_pickle), model, filename,
                         allow_partial)
    model.load_state_dict(whole.state_dict, strict=not allow_partial)
    return whole.meta


def dataset_meta(meta: Dict) -> Optional[Dict]:
    """The classes and palette a checkpoint's ``meta`` records, in
    mmengine's ``dataset_meta`` form (lower-case keys): mmengine files'
    ``dataset_meta``, or mmdet 2.x / mmseg 0.x files' ``CLASSES`` and
    ``PALETTE``; None if it has neither."""
    if isinstance(meta.get('dataset_meta'), dict):
        return {k.lower(): v for k, v in meta['dataset_meta'].items()}
    if 'CLASSES' in meta:
        out = dict(classes=tuple(meta['CLASSES']))
        if meta.get('PALETTE') is not None:
            out['palette'] = [tuple(map(int, c)) for c in meta['PALETTE']]
        return out
    return None
