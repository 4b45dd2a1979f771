# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""What ``tools/train.py`` and ``tools/test.py`` add to every config so that
a long run survives kills, preemption and bad data:

* training: the checkpoint hook saves atomically
  (:class:`~van_mm.engine.checkpointing.AtomicCheckpointHook`), and
  :class:`~van_mm.engine.resume_state.ResumeStateHook`,
  :class:`~van_mm.engine.divergence.NonFiniteLossHook`,
  :class:`~van_mm.engine.bad_samples.UnreadableSampleHook` and
  :class:`~van_mm.engine.preemption.StopOnSignalHook` join the custom
  hooks;
* every dataset is wrapped in
  :class:`~van_mm.engine.bad_samples.GuardedDataset` (skipping unreadable
  samples in training only).

A hook the config already lists in ``custom_hooks`` keeps the config's
settings (e.g. ``dict(type='UnreadableSampleHook', max_skipped=100)``).
"""
from mmengine.config import Config

TRAINING_HOOKS = ('ResumeStateHook', 'NonFiniteLossHook',
                  'UnreadableSampleHook', 'StopOnSignalHook')
GUARD = 'van_mm.GuardedDataset'


def _bare(type_name) -> str:
    return str(type_name).rpartition('.')[2]


def _guard(loader, skip_unreadable: bool) -> None:
    """Wrap a data loader config's dataset (once)."""
    if not loader or 'dataset' not in loader:
        return
    if _bare(loader.dataset.get('type')) == _bare(GUARD):
        return
    loader.dataset = dict(type=GUARD, dataset=loader.dataset,
                          skip_unreadable=skip_unreadable)


def add_training_safeguards(cfg: Config) -> None:
    """Edit ``cfg`` in place for ``tools/train.py`` (see the module's
    documentation)."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if hook is not None and _bare(hook.get('type')) == 'CheckpointHook':
        hook.type = 'van_mm.AtomicCheckpointHook'
    hooks = list(cfg.get('custom_hooks') or [])
    listed = {_bare(h.get('type')) for h in hooks}
    hooks += [dict(type=f'van_mm.{name}') for name in TRAINING_HOOKS
              if name not in listed]
    cfg.custom_hooks = hooks
    _guard(cfg.get('train_dataloader'), skip_unreadable=True)
    _guard(cfg.get('val_dataloader'), skip_unreadable=False)


def add_test_safeguards(cfg: Config) -> None:
    """Edit ``cfg`` in place for ``tools/test.py``: errors in the test data
    name the file."""
    _guard(cfg.get('test_dataloader'), skip_unreadable=False)
