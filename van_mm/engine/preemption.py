# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Stopping on SIGTERM/SIGINT with a checkpoint of the current iteration.

Clusters stop jobs with SIGTERM and kill them a grace period later (Slurm
preemption, ``scancel --signal=TERM``, a time limit reached with
``--signal=TERM@SECONDS``); a user stops one with Ctrl-C (SIGINT). Without
this, everything since the last interval checkpoint is lost.

:class:`StopOnSignalHook` catches the signals and lets the current
iteration finish; then all ranks agree to stop, rank 0 saves
``iter_N.pth`` (N: iterations completed) through the run's checkpoint hook
and points ``last_checkpoint`` at it, every rank waits for the save, and
training ends with :class:`TrainingInterrupted`, which the tools turn into
exit code :data:`STOP_EXIT_CODE` (75, ``EX_TEMPFAIL``: "try again"), so a
requeue script can tell it from a failure (1) and from success (0).
``--resume`` continues at iteration N + 1. A signal during a validation
inside training saves at the iterations completed and ends the validation.

Data-loader workers are forked processes and receive a cluster's SIGTERM
too (Slurm signals every process of a job step; Ctrl-C reaches the whole
process group). PyTorch's workers die on a SIGTERM not sent by their parent,
and the main process then fails with "DataLoader worker exited
unexpectedly" in the middle of an iteration. While the hook is active,
processes that ``multiprocessing`` forks therefore leave SIGINT and SIGTERM
to their parent: a thread takes them, ends the process on a SIGTERM from its
parent (how the parent shuts workers down) and ignores the others.
"""
import multiprocessing.util
import os
import signal
import threading
import time
from typing import Dict, Optional, Sequence

from mmengine.dist import barrier, is_main_process
from mmengine.hooks import CheckpointHook, Hook

from van_mm.engine.checkpointing import ATOMIC_BACKEND, write_last_checkpoint
from van_mm.engine.distributed import any_rank
from van_mm.registry import HOOKS, register

# sysexits.h EX_TEMPFAIL: a temporary failure, the user is invited to retry.
STOP_EXIT_CODE = 75
# A repeated signal within this many seconds of the first is ignored (a
# launcher forwards the same Ctrl-C the processes already got); a later one
# stops the process the default way, for a run stuck before a save point.
REPEAT_GRACE_S = 10.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class TrainingInterrupted(Exception):
    """Training stopped on a signal after saving a checkpoint.

    Attributes:
        signal_name: ``'SIGTERM'``, ``'SIGINT'``, or a note that another
            rank received it.
        iteration: Iterations completed (and saved).
        checkpoint: The checkpoint saved (or found saved) at that point.
    """

    def __init__(self, signal_name: str, iteration: int, checkpoint: str):
        self.signal_name = signal_name
        self.iteration = iteration
        self.checkpoint = checkpoint
        super().__init__(
            f'{signal_name}: training stopped after iteration {iteration} '
            f'and saved {checkpoint}; run the same command with --resume '
            f'to continue at iteration {iteration + 1} '
            f'(exit code {STOP_EXIT_CODE}).')


class _ChildGuard:
    """Whether processes forked now leave stop signals to their parent."""
    active = False


_CHILD_GUARD = _ChildGuard()


def _take_stop_signals(parent: int) -> None:
    """In a guarded child: end on SIGTERM from the parent, ignore the
    rest."""
    while True:
        info = signal.sigwaitinfo(set(STOP_SIGNALS))
        if info.si_signo == signal.SIGTERM and info.si_pid == parent:
            os._exit(0)


def _guard_child(_guard: _ChildGuard) -> None:
    """Run by ``multiprocessing`` in each process it forks."""
    if not _guard.active:
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, set(STOP_SIGNALS))
    threading.Thread(target=_take_stop_signals, args=(os.getppid(), ),
                     name='van_mm-stop-signals', daemon=True).start()


multiprocessing.util.register_after_fork(_CHILD_GUARD, _guard_child)


def _checkpoint_hook(runner) -> Optional[CheckpointHook]:
    return next((h for h in runner.hooks if isinstance(h, CheckpointHook)),
                None)


def save_now(runner, iteration: int) -> str:
    """Save a checkpoint of ``iteration`` completed iterations as
    ``iter_{iteration}.pth`` where the run's checkpoint hook saves, point
    ``last_checkpoint`` at it, and return its path (rank 0 writes)."""
    hook = _checkpoint_hook(runner)
    meta = dict(epoch=runner.epoch, iter=iteration)
    if hook is not None and not hook.by_epoch:
        hook._save_checkpoint_with_step(runner, iteration, meta)
        return hook.last_ckpt
    out_dir = hook.out_dir if hook is not None else runner.work_dir
    backend_args = hook.backend_args if hook is not None else None
    if backend_args is None and '://' not in str(out_dir):
        backend_args = dict(backend=ATOMIC_BACKEND)
    filename = f'iter_{iteration}.pth'
    path = os.path.join(str(out_dir), filename)
    runner.message_hub.update_info('last_ckpt', path)
    runner.save_checkpoint(
        out_dir, filename,
        save_optimizer=hook.save_optimizer if hook else True,
        save_param_scheduler=hook.save_param_scheduler if hook else True,
        meta=meta, by_epoch=False, backend_args=backend_args)
    if is_main_process():
        write_last_checkpoint(runner.work_dir, path)
    return path


@register(HOOKS)
class StopOnSignalHook(Hook):
    """Save and stop training at the end of the iteration in which a stop
    signal arrived (see the module's documentation).

    The handlers are installed when the hook is built (the Runner builds its
    hooks before its data loaders start their workers) and the previous ones
    are restored after the run.

    Args:
        signals: Names of the signals that stop training.
    """

    # after the checkpoint hook (VERY_LOW), which may just have saved
    priority = 'LOWEST'

    def __init__(self, signals: Sequence[str] = ('SIGTERM', 'SIGINT')):
        self.signals = [signal.Signals[name] for name in signals]
        self._received = None  # (signal number, monotonic time)
        self._previous: Dict[int, object] = {}
        self._in_training = False
        self._saved_iteration = None
        self._install()

    def _install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # Python runs signal handlers in the main thread only
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        _CHILD_GUARD.active = True

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum,
                          signal.SIG_DFL if handler is None else handler)
        self._previous = {}
        _CHILD_GUARD.active = False

    def _on_signal(self, signum: int, frame) -> None:
        now = time.monotonic()
        if self._received is None:
            self._received = (signum, now)
        elif now - self._received[1] > REPEAT_GRACE_S:
            self._restore()
            os.kill(os.getpid(), signum)

    def before_train(self, runner) -> None:
        self._in_training = True

    def after_train(self, runner) -> None:
        self._in_training = False

    def after_run(self, runner) -> None:
        self._restore()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self._saved_iteration = checkpoint['meta'].get('iter')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        self._stop_if_signalled(runner, runner.iter + 1)

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs=None) -> None:
        if self._in_training:  # runner.iter: iterations completed
            self._stop_if_signalled(runner, runner.iter)

    def _stop_if_signalled(self, runner, iteration: int) -> None:
        if not any_rank(self._received is not None):
            return
        name = (signal.Signals(self._received[0]).name if self._received
                else 'a stop signal on another rank')
        runner.logger.warning(
            f'{name} received: saving a checkpoint after iteration '
            f'{iteration}, then stopping.')
        if self._saved_iteration == iteration:
            path = runner.message_hub.get_info('last_ckpt')
        else:
            path = save_now(runner, iteration)
        barrier()  # no rank leaves before rank 0's file is complete
        raise TrainingInterrupted(name, iteration, path)
