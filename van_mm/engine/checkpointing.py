# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Checkpoints that survive a kill, and finding the one to resume from.

mmengine 0.10.7 writes a checkpoint in place (``open(path, 'wb')``) and then
``last_checkpoint`` the same way, so a process killed during the save (a
full disk, Slurm's SIGKILL after the grace period, an OOM kill) leaves a
truncated file under the checkpoint's name, and ``--resume`` dies on it
with torch's ``PytorchStreamReader failed reading zip archive`` although
the previous checkpoint is intact.

* :class:`AtomicLocalBackend`: mmengine's local file backend whose writes
  go to a temporary file that is renamed into place once complete
  (:func:`van_mm.fileio.atomic_write`).
* :class:`AtomicCheckpointHook`: mmengine's ``CheckpointHook`` that saves
  through that backend, writes ``last_checkpoint`` the same way, and
  deletes outdated checkpoints (``max_keep_ckpts``) only after the new one
  is complete (mmengine deletes first).
* :func:`find_resumable_checkpoint`: the newest checkpoint of a work
  directory that can be read, with the reasons the newer ones cannot.
  mmengine resumes from what ``last_checkpoint`` names, which may be
  truncated, and in a copied work directory is the original's file.
"""
import os
import os.path as osp
import re
import zipfile
from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook

from van_mm.fileio import atomic_write, partial_files
from van_mm.registry import HOOKS, register

ATOMIC_BACKEND = 'van_mm_atomic_local'
# Names the Runner's CheckpointHook gives its files (and the preemption
# save, van_mm.engine.preemption).
CHECKPOINT_NAME = re.compile(r'^(iter|epoch)_(\d+)\.pth$')


class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` whose ``put``/``put_text`` never leave a
    partial file under the target name: the bytes go to a temporary file in
    the same folder, are flushed to disk and renamed into place."""

    def put(self, obj: bytes, filepath) -> None:
        with atomic_write(str(filepath)) as tmp:
            with open(tmp, 'wb') as f:
                f.write(obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        with atomic_write(str(filepath)) as tmp:
            with open(tmp, 'w', encoding=encoding) as f:
                f.write(obj)


register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)


def write_last_checkpoint(work_dir: str, checkpoint: str) -> None:
    """Point ``WORK_DIR/last_checkpoint`` (what mmengine's resume reads) at
    ``checkpoint``, atomically."""
    with atomic_write(osp.join(work_dir, 'last_checkpoint')) as tmp:
        with open(tmp, 'w') as f:
            f.write(checkpoint)


@register(HOOKS)
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments) whose files are
    complete or absent, never truncated.

    Local checkpoints (no ``backend_args``, no URL prefix) are written
    through :class:`AtomicLocalBackend`; remote ones as mmengine writes them
    (object stores publish an object only once it is complete).
    ``last_checkpoint`` is replaced atomically after the checkpoint it names
    is complete, and with ``max_keep_ckpts`` the outdated checkpoint is
    removed after that, so a kill at any moment leaves a readable
    checkpoint. Temporary files left by a killed save are removed (and
    named in the log) when training starts.
    """

    def before_train(self, runner) -> None:
        out_dir = str(self.out_dir or runner.work_dir)
        if (self.backend_args is None and self.file_client_args is None
                and '://' not in out_dir):
            self.backend_args = dict(backend=ATOMIC_BACKEND)
        super().before_train(runner)
        if is_main_process() and '://' not in str(self.out_dir):
            for path in partial_files(str(self.out_dir)):
                runner.logger.warning(
                    f'Removing {path}: an interrupted checkpoint save left '
                    'it (the checkpoints themselves are complete).')
                os.remove(path)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        outdated = None
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        write_last_checkpoint(runner.work_dir, self.last_ckpt)
        if outdated is not None:
            self._remove(self.filename_tmpl.format(outdated))

    def _remove(self, filename: str) -> None:
        path = self.file_backend.join_path(self.out_dir, filename)
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # deepspeed's are folders
            self.file_backend.rmtree(path)


class UnreadableCheckpoint(ValueError):
    """A checkpoint file that cannot be resumed from; the message says
    why."""


@dataclass
class CheckpointInfo:
    """What a checkpoint's ``meta`` says about the run that saved it."""
    path: str
    iteration: int
    epoch: int
    seed: Optional[int]


def read_checkpoint_info(path: str, verify: bool = True) -> CheckpointInfo:
    """The iteration, epoch and seed a runner checkpoint was saved at.

    Reads the archive's index and the pickled metadata (the tensors are
    mapped, not read); with ``verify`` also checks every stored record
    against its CRC, which reads the whole file once.

    Raises:
        UnreadableCheckpoint: the file is missing, truncated, corrupt, or
            not a runner checkpoint.
    """
    if not osp.isfile(path):
        raise UnreadableCheckpoint(f'{path}: not found')
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip() if verify else None
    except (zipfile.BadZipFile, OSError) as e:
        raise UnreadableCheckpoint(
            f'{path}: truncated or not a checkpoint ({e})') from e
    if bad is not None:
        raise UnreadableCheckpoint(
            f'{path}: corrupt (CRC mismatch in record {bad!r})')
    try:
        data = torch.load(path, map_location='cpu', mmap=True,
                          weights_only=True)
    except Exception as e:  # torch raises several types for bad archives
        first = str(e).splitlines()[0] if str(e) else ''
        raise UnreadableCheckpoint(
            f'{path}: cannot be loaded ({type(e).__name__}: {first})') from e
    meta = data.get('meta') if isinstance(data, dict) else None
    del data  # the mapped tensors
    if not isinstance(meta, dict) or 'iter' not in meta:
        raise UnreadableCheckpoint(
            f'{path}: not a runner checkpoint (no meta.iter); pass it to '
            'load_from to start a new run from its weights')
    return CheckpointInfo(path, int(meta['iter']), int(meta.get('epoch', 0)),
                          meta.get('seed'))


def _candidates(folders: List[str]) -> List[str]:
    """The ``iter_N.pth`` / ``epoch_N.pth`` files in ``folders``."""
    return sorted({
        osp.join(osp.abspath(d), n) for d in folders if osp.isdir(d)
        for n in os.listdir(d) if CHECKPOINT_NAME.match(n)
    })


def find_resumable_checkpoint(
        work_dir: str,
        out_dir: Optional[str] = None
) -> Tuple[Optional[CheckpointInfo], List[str]]:
    """The newest readable checkpoint of a run (by the iteration it was
    saved at), and why each unreadable one was passed over.

    The checkpoints are looked for in ``work_dir`` and in ``out_dir`` (where
    the checkpoint hook saves when its ``out_dir`` is set), not where
    ``last_checkpoint`` points: in a copied or moved work directory it
    names the files of the original. Newest first, each checkpoint is
    checked completely (see :func:`read_checkpoint_info`) until one
    passes; files whose metadata cannot even be read are reported whatever
    their age.

    Returns:
        ``(info, reasons)``: ``info`` is None when no checkpoint can be
        resumed from; ``reasons`` holds one line per skipped file.
    """
    infos, reasons = [], []
    for path in _candidates([work_dir] + ([out_dir] if out_dir else [])):
        try:
            infos.append(read_checkpoint_info(path, verify=False))
        except UnreadableCheckpoint as e:
            reasons.append(str(e))
    infos.sort(key=lambda i: (i.iteration, i.epoch, os.stat(i.path).st_mtime),
               reverse=True)
    for info in infos:
        try:
            return read_checkpoint_info(info.path), reasons
        except UnreadableCheckpoint as e:
            reasons.append(str(e))
    return None, reasons

