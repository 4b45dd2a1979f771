# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Resuming continues the run that was saved, not a similar one.

mmengine 0.10.7 restores weights, optimizer, schedulers and counters, and an
iteration-based loop replays the data loader up to the saved iteration
(same data order, and workers' augmentation streams replayed alike). What it
does not restore:

* the random state of the training process (dropout, drop path, RoI
  sampling; augmentation too when ``num_workers=0``): after a resume these
  draw from a freshly seeded generator;
* the position inside an epoch: an epoch-based loop restarts the epoch of a
  mid-epoch checkpoint (one saved on a stop signal) from its first batch,
  training those batches twice.

Validation draws from the training process's generator too (each data
loader iterator takes a seed from it), so a run stopped and saved just
before a validation would go on differently from one that validated.

:class:`ResumeStateHook` stores both in every checkpoint
(``checkpoint['resume_state']``) and, when a run resumes, skips the batches
of the epoch that were already trained and then restores the random state,
just before the first new batch is loaded. It also leaves the random state
after a validation as it was before, so that validating never changes the
training run. With deterministic settings and one process, an interrupted
and resumed run then ends with the weights of an uninterrupted one
(tests/test_faults.py). With several processes, every rank restores rank
0's random state (rank 0 writes the checkpoint).
"""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from van_mm.registry import HOOKS, register


def capture_random_state() -> dict:
    """The random state of this process: Python's, NumPy's legacy global
    generator, torch's CPU and (if initialised) CUDA generators; plain
    containers and tensors, loadable with ``weights_only=True``."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=random.getstate(),
        numpy=[kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_random_state(state: dict) -> None:
    """Undo :func:`capture_random_state`'s snapshot into this process."""
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state(
        (kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


class _RestoreAfter:
    """Iterator proxy: passes ``count`` items through, then calls
    ``on_done`` once before fetching the next one."""

    def __init__(self, iterator, count: int, on_done):
        self._iterator = iterator
        self._left = count
        self._on_done = on_done

    def __iter__(self):
        return self

    def __next__(self):
        if self._left == 0 and self._on_done is not None:
            self._on_done()
            self._on_done = None
        self._left -= 1
        return next(self._iterator)

    def __getattr__(self, name):
        if name.startswith('__') or name == '_iterator':
            raise AttributeError(name)
        return getattr(self._iterator, name)


class _SkipBatches:
    """Data-loader proxy for one epoch: loads and drops the first ``count``
    batches (as mmengine's iteration-based loop does when it resumes), then
    calls ``on_done`` and yields the rest. Length and attributes are the
    data loader's."""

    def __init__(self, dataloader, count: int, on_done):
        self.dataloader = dataloader
        self._count = count
        self._on_done = on_done

    def __iter__(self):
        iterator = iter(self.dataloader)
        for _ in range(self._count):
            next(iterator)
        self._on_done()
        return iterator

    def __len__(self):
        return len(self.dataloader)

    def __getattr__(self, name):
        if name.startswith('__') or name == 'dataloader':
            raise AttributeError(name)
        return getattr(self.dataloader, name)


@register(HOOKS)
class ResumeStateHook(Hook):
    """Store the random state and the position in the epoch in every
    checkpoint, and restore both when training resumes (see the module's
    documentation)."""

    priority = 'VERY_HIGH'  # counts batches before CheckpointHook saves

    def __init__(self):
        self._epoch_batches = 0  # batches trained in the current epoch
        self._pending: Optional[dict] = None  # state read from a checkpoint
        self._loader = None  # the epoch loop's own loader while skipping
        self._before_val = None  # random state when validation started

    def before_val(self, runner) -> None:
        self._before_val = capture_random_state()

    def after_val(self, runner) -> None:
        state, self._before_val = self._before_val, None
        if state is not None:
            restore_random_state(state)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['resume_state'] = dict(
            random=capture_random_state(), epoch_batches=self._epoch_batches)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get('resume_state')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        self._epoch_batches += 1

    def after_train_epoch(self, runner) -> None:
        self._epoch_batches = 0
        if self._loader is not None:
            runner.train_loop.dataloader = self._loader
            self._loader = None

    def before_train_epoch(self, runner) -> None:
        pending, self._pending = self._pending, None
        if pending is None or runner.iter == 0:
            return  # a new run, or weights loaded with load_from
        loop = runner.train_loop

        def restore():
            restore_random_state(pending['random'])
            print_log('Restored the random state saved at iteration '
                      f'{runner.iter}.', logger='current')

        if not isinstance(loop, EpochBasedTrainLoop):
            # mmengine replays `runner.iter` batches after this hook
            loop.dataloader_iterator = _RestoreAfter(
                loop.dataloader_iterator, runner.iter, restore)
            return
        done = pending.get('epoch_batches', 0)
        if done == 0:
            restore()
            return
        print_log(f'Resuming inside epoch {runner.epoch + 1}: skipping its '
                  f'first {done} batches, already trained.',
                  logger='current')
        self._epoch_batches = done
        self._loader = loop.dataloader
        loop.dataloader = _SkipBatches(loop.dataloader, done, restore)
