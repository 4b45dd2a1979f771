# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""The runner loads only checkpoints that fit its model.

:class:`CheckpointFitHook` puts every checkpoint the runner loads
(``load_from``, ``tools/test.py``'s CHECKPOINT, ``resume``) through
:func:`van_mm.checkpoint.whole_model.fit_to_model`: into a model whose
backbone is van_mm's VAN, a detector or segmentor whose backbone is in any
published VAN layout loads; a model with another backbone (mmpretrain's
``VAN`` swapped into a config) takes the file as it is saved; one that
does not fit the model is refused instead of being loaded in part, which
mmengine's non-strict loading does with one logged warning. A training
run's ``load_from`` may come from a model trained on other classes
(fine-tuning, as mmdet's and mmseg's docs teach it): the keys that differ
only in their number of classes keep their new initialisation, named in
one warning; testing and resuming still refuse them. van_mm's framework
bases list it in ``custom_hooks``; van_mm's tools add it to configs that
do not.
"""
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.optim import BaseOptimWrapper
from mmengine.runner import BaseLoop

from van_mm.checkpoint.whole_model import PARTIAL_OPTION, fit_to_model
from van_mm.registry import HOOKS, register


def is_fine_tuning(runner) -> bool:
    """Whether the runner loads ``load_from`` to train on (not to test,
    not to resume): mmengine builds the training loop and the optimizer
    before it loads the checkpoint, and only in ``Runner.train``."""
    return isinstance(getattr(runner, '_train_loop', None), BaseLoop) and \
        isinstance(getattr(runner, 'optim_wrapper', None),
                   BaseOptimWrapper) and not getattr(runner, '_resume', False)


@register(HOOKS)
class CheckpointFitHook(Hook):
    """Map a checkpoint the runner loads onto its model, refusing one that
    does not fit.

    mmengine calls ``after_load_checkpoint`` with the file's contents
    before it loads them into the model: this replaces the state dict by
    the mapped one (backbone keys from their layout where the backbone is
    van_mm's VAN, neck and head keys kept) and raises
    :class:`~van_mm.checkpoint.CheckpointError` if it leaves model keys
    uncovered, has keys the model lacks or other shapes.
    In training from ``load_from`` (:func:`is_fine_tuning`), keys that
    differ only in the number of classes keep the model's initialisation.
    The top-level config setting ``allow_partial_load=True`` loads what
    fits instead and logs the rest (fine-tuning with another head). The
    backbone's LayerNorm epsilon becomes the one the weights were trained
    with (:func:`~van_mm.checkpoint.whole_model.fit_to_model`).
    """

    priority = 'VERY_HIGH'  # before any other hook reads the state dict

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        if isinstance(model, BaseTTAModel):  # tools/test.py --tta
            model = model.module
        source = runner.cfg.get('load_from') or 'the checkpoint'
        whole = fit_to_model(checkpoint, model, source,
                             runner.cfg.get(PARTIAL_OPTION, False),
                             new_classes=is_fine_tuning(runner))
        # mmengine loads checkpoint['state_dict'] where there is one, else
        # the whole dict: a bare state dict or 'model' then go unused
        checkpoint['state_dict'] = whole.state_dict
