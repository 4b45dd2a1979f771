# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Which keys of a checkpoint differ from a model's only because the two
were made for another number of classes: the class outputs of the heads.

Fine-tuning a trained detector or segmentor on data with other classes
(``load_from`` in a config whose heads have another ``num_classes``) meets
a few keys with other shapes. Which ones is decided from the shapes and
the two class counts, never from key names: a key whose first dimension
is ``a`` rows in the checkpoint and ``b`` in the model (every other
dimension equal) is a class output when, for one ``k >= 1`` and one ``o``
in {0, 1},

    a == k * (checkpoint classes + o)   and   b == k * (model classes + o)

which covers every output a head has per class:

* ``k=1, o=0``: sigmoid classifiers, mask and segmentation logits
  (mmdet's ``FCNMaskHead.conv_logits``, mmseg's ``conv_seg`` of the decode
  and auxiliary heads);
* ``k=1, o=1``: softmax classifiers with a background class (mmdet's RoI
  ``fc_cls``, Mask2Former's ``cls_embed``);
* ``k=4, o=0``: class-specific box regression (``fc_reg`` with
  ``reg_class_agnostic=False``);
* ``k=A``: dense heads with A anchors per position (RetinaNet's
  ``retina_cls``: 9 x num_classes).

The checkpoint's class count is the one its ``meta`` names (mmengine's
``dataset_meta`` or mmdet 2.x / mmseg 0.x ``CLASSES``): it must explain
every such key. A file without one gives each key the counts that would
explain it, and one count must explain them all. The model's counts are
the ``num_classes`` of its modules (a two-stage detector's RPN head has 1,
which explains no changed key).
"""
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Set, Tuple

import torch
import torch.nn as nn

OFFSETS = (0, 1)  # num_classes outputs, or num_classes + 1 (background)


def model_class_counts(model: nn.Module) -> Set[int]:
    """The ``num_classes`` of ``model``'s modules (its heads, and a
    segmentor itself)."""
    return {m.num_classes for m in model.modules()
            if type(getattr(m, 'num_classes', None)) is int}


def count_pairs(checkpoint_shape: Tuple[int, ...],
                model_shape: Tuple[int, ...],
                model_counts: Iterable[int]) -> Set[Tuple[int, int]]:
    """``(checkpoint classes, model classes)`` pairs that make a tensor of
    ``checkpoint_shape`` the same output as one of ``model_shape`` for
    another number of classes; empty if the shapes differ otherwise."""
    if len(checkpoint_shape) != len(model_shape) or not model_shape or \
            tuple(checkpoint_shape[1:]) != tuple(model_shape[1:]):
        return set()
    a, b = checkpoint_shape[0], model_shape[0]
    found = set()
    for n_model in model_counts:
        for offset in OFFSETS:
            if n_model + offset <= 0 or b % (n_model + offset):
                continue
            k = b // (n_model + offset)
            if a % k:
                continue
            n = a // k - offset
            if n >= 1 and n != n_model:
                found.add((n, n_model))
    return found


@dataclass
class ClassCountChange:
    """Keys that differ only in the number of classes.

    Attributes:
        keys: The keys, in the checkpoint's order.
        checkpoint_classes: The checkpoint's class count (its meta's), or
            the counts its shapes allow (several only where the shapes
            cannot tell them apart, e.g. 9 anchors x 80 = 6 x 120).
        model_classes: The model's class counts these keys have.
        from_meta: Whether the checkpoint's count is its meta's.
    """
    keys: List[str]
    checkpoint_classes: Tuple[int, ...]
    model_classes: Tuple[int, ...]
    from_meta: bool

    def counts(self) -> str:
        """``'80 classes (its meta) to the model's 2'``."""
        where = 'its meta' if self.from_meta else 'inferred from its shapes'
        return (f'{" or ".join(map(str, self.checkpoint_classes))} classes '
                f'({where}) to the model\'s '
                f'{" / ".join(map(str, self.model_classes))}')

    def shapes(self, checkpoint: Dict[str, torch.Tensor],
               own: Dict[str, torch.Tensor]) -> str:
        """``"'roi_head.bbox_head.fc_cls.weight' (81, 1024) -> (3, 1024),
        ..."``."""
        return ', '.join(
            f'{k!r} {tuple(checkpoint[k].shape)} -> {tuple(own[k].shape)}'
            for k in self.keys)


def class_count_change(checkpoint: Dict[str, torch.Tensor],
                       own: Dict[str, torch.Tensor],
                       keys: List[str],
                       model_counts: Iterable[int],
                       checkpoint_classes: Optional[int] = None
                       ) -> Optional[ClassCountChange]:
    """Whether the reshaped ``keys`` differ only because the number of
    classes differs.

    Args:
        checkpoint / own: The checkpoint's and the model's state dicts.
        keys: The keys whose shapes differ (none may be missing from
            either).
        model_counts: The model's class counts (:func:`model_class_counts`).
        checkpoint_classes: The checkpoint's class count from its meta, or
            None to infer it from the shapes.

    Returns:
        The change if one checkpoint class count explains every key, else
        None.
    """
    model_counts = sorted(set(model_counts))
    if not keys or not model_counts:
        return None
    pairs = {k: count_pairs(tuple(checkpoint[k].shape), tuple(own[k].shape),
                            model_counts) for k in keys}
    allowed = [{n for n, _ in p} for p in pairs.values()]
    common = set.intersection(*allowed)
    if checkpoint_classes is not None:
        common &= {checkpoint_classes}
    if not common:
        return None
    used = {m for p in pairs.values() for n, m in p if n in common}
    return ClassCountChange(list(keys), tuple(sorted(common)),
                            tuple(sorted(used)),
                            checkpoint_classes is not None)
