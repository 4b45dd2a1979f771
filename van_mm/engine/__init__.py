# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""What keeps a long training run alive and honest: checkpoints that fit
the model (:class:`CheckpointFitHook`), atomic checkpoints and resuming
from the newest readable one, saving on SIGTERM/SIGINT, resuming the exact
run, stopping on a non-finite loss, and skipping (and counting) unreadable
samples, and class ids the model cannot have stopped where the samples are
read (:class:`LabelCheckHook`). The tools add all of it to every config
(:mod:`van_mm.engine.safeguards`); the hooks and the dataset wrapper are in
van_mm's registries for configs that list them themselves. Also the
optimizer wrapper for bfloat16 training on a CPU
(:mod:`van_mm.engine.mixed_precision`)."""
from .bad_samples import (
    GuardedDataset,
    TooManyUnreadableSamples,
    UnreadableSample,
    UnreadableSampleHook,
)
from .checkpoint_fit import CheckpointFitHook
from .checkpointing import (
    AtomicCheckpointHook,
    AtomicLocalBackend,
    CheckpointInfo,
    UnreadableCheckpoint,
    find_resumable_checkpoint,
    read_checkpoint_info,
)
from .divergence import DivergenceError, NonFiniteLossHook
from .label_check import LabelCheckHook, LabelOutsideClasses
from .mixed_precision import AutocastOptimWrapper
from .preemption import STOP_EXIT_CODE, StopOnSignalHook, TrainingInterrupted
from .resume_state import ResumeStateHook
from .safeguards import add_test_safeguards, add_training_safeguards

__all__ = [
    'AtomicCheckpointHook', 'AtomicLocalBackend', 'AutocastOptimWrapper',
    'CheckpointFitHook',
    'CheckpointInfo',
    'DivergenceError', 'GuardedDataset', 'LabelCheckHook',
    'LabelOutsideClasses', 'NonFiniteLossHook',
    'ResumeStateHook', 'STOP_EXIT_CODE', 'StopOnSignalHook',
    'TooManyUnreadableSamples', 'TrainingInterrupted', 'UnreadableCheckpoint',
    'UnreadableSample', 'UnreadableSampleHook', 'add_test_safeguards',
    'add_training_safeguards', 'find_resumable_checkpoint',
    'read_checkpoint_info'
]
