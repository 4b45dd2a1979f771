# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Stopping a run whose loss is no longer a number.

A NaN or infinite loss (VAN users report them with large models and fp16)
poisons the weights at the next optimizer step, and every checkpoint after
it; mmengine trains on. :class:`NonFiniteLossHook` checks every loss term
after each iteration, before the checkpoint hook may save, and stops with
the iteration, the terms and the last checkpoint saved before it.
"""
import math
import os.path as osp
from typing import Dict, List

import torch
from mmengine.hooks import Hook

from van_mm.engine.distributed import any_rank
from van_mm.registry import HOOKS, register

CLIP_HINT = ('lower the learning rate, or clip gradients with '
             '--cfg-options optim_wrapper.clip_grad.max_norm=1.0 (in a '
             'config: optim_wrapper = dict(clip_grad=dict(max_norm=1.0)))')


class DivergenceError(FloatingPointError):
    """A loss term became NaN or infinite; the message names the iteration,
    the terms and the last checkpoint."""


def non_finite_terms(outputs: Dict) -> Dict[str, float]:
    """The loss terms of a ``train_step`` output (keys containing
    ``'loss'``) that are NaN or infinite, with their values."""
    bad = {}
    for name, value in (outputs or {}).items():
        if 'loss' not in name:
            continue
        number = float(value.detach().float().mean()) if isinstance(
            value, torch.Tensor) else float(value)
        if not math.isfinite(number):
            bad[name] = number
    return bad


@register(HOOKS)
class NonFiniteLossHook(Hook):
    """Stop training at the first iteration whose loss terms are not all
    finite, before anything is saved from it. All ranks agree, so every
    process stops with the same message.

    Raises:
        DivergenceError: naming the iteration, the loss terms and the last
            good checkpoint.
    """

    priority = 'ABOVE_NORMAL'  # before LoggerHook and CheckpointHook

    def __init__(self):
        self._last_good = None  # the checkpoint this run resumed from or
        # saved last (the path stored in a resumed checkpoint's message hub
        # is where that file was written, which a moved work dir changes)

    def before_train(self, runner) -> None:
        if runner.cfg.get('resume') and runner.cfg.get('load_from'):
            self._last_good = runner.cfg.load_from

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self._last_good = runner.message_hub.get_info('last_ckpt')

    def _last_checkpoint(self, runner) -> str:
        path = self._last_good or runner.message_hub.get_info('last_ckpt')
        if path and ('://' in str(path) or osp.isfile(path)):
            return f'{path} (resume from it with --resume)'
        return 'none saved yet in this run'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        bad = non_finite_terms(outputs)
        if not any_rank(bool(bad)):
            return
        parts = {k: v for k, v in bad.items() if k != 'loss'} or bad
        terms: List[str] = [f'{k}={v}' for k, v in parts.items()]
        where = ', '.join(terms) if terms else 'terms on another rank'
        raise DivergenceError(
            f'Training diverged at iteration {runner.iter + 1}: loss '
            f'{where}. Nothing of this iteration was saved; last good '
            f'checkpoint: {self._last_checkpoint(runner)}. To go on, '
            f'{CLIP_HINT}.')
