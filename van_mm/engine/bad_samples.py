# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Unreadable samples: skipped and counted in training, named in evaluation.

mmcv's ``LoadImageFromFile`` fails on a corrupt image with ``AssertionError:
failed to load image``, mmseg's ``LoadAnnotations`` on a corrupt label map
with Pillow's ``cannot identify image file <_io.BytesIO ...>`` (no path),
and either ends a training run whenever the sampler reaches the file,
possibly days in.

* :class:`GuardedDataset` wraps a dataset. In training
  (``skip_unreadable=True``) a sample whose files cannot be read is replaced
  by the next readable one, and the replacement carries the skipped file and
  the reason in its data sample's metainfo. Otherwise the error names the
  file. Any other error in a sample gets a note naming the sample's files.
* :class:`UnreadableSampleHook` reads those marks from each batch in the
  main process, so the count is right whatever ``num_workers`` (workers are
  separate processes) and summed over ranks; it warns once per file and
  stops training once more distinct files than ``max_skipped`` were
  skipped. The files skipped so far are kept in the checkpoints (the
  runner's message hub), so the count goes on after a resume.

Evaluation never skips: a metric over fewer images than the split would not
be the metric the paper and the model zoo report. ``tools/test.py`` fails
naming the file, and ``tools/check_dataset.py`` lists every bad file of a
split at once.
"""
import logging
import re
from typing import List, Tuple

import cv2
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import DATASETS as MMENGINE_DATASETS

from van_mm.engine.distributed import gather_lists, sum_over_ranks
from van_mm.registry import DATASETS, HOOKS, register

# metainfo key of a data sample that replaced skipped ones
SKIPPED_KEY = 'skipped_unreadable'
INFO_KEY = 'unreadable_samples'  # message hub: {file: reason}
CHECK_HINT = ('List every unreadable file of the dataset with: python '
              'tools/check_dataset.py CONFIG')
_FAILED_TO_LOAD = re.compile(r'failed to load image: (.+)$')


class UnreadableSample(OSError):
    """A sample's image or annotation file cannot be read; the message names
    it."""


class TooManyUnreadableSamples(RuntimeError):
    """Training skipped more unreadable files than its limit."""


def unreadable_file(error: Exception, files: List[str]) -> Tuple[str, str]:
    """``(file, reason)`` if ``error`` means that one of the sample's
    ``files`` cannot be read (missing, empty, truncated, not an image), else
    ``('', '')``."""
    reason = f'{type(error).__name__}: {error}'.splitlines()[0]
    if isinstance(error, AssertionError):
        match = _FAILED_TO_LOAD.search(str(error))
        return (match.group(1), 'cannot be decoded') if match else ('', '')
    if isinstance(error, FileNotFoundError):
        return str(error.filename or ' / '.join(files)), 'file not found'
    if isinstance(error, (OSError, cv2.error)):
        named = getattr(error, 'filename', None)
        return (str(named) if named else ' / '.join(files)), reason
    return '', ''


def sample_files(dataset, idx: int) -> List[str]:
    """The image and annotation files of sample ``idx``, for messages."""
    try:
        info = dataset.get_data_info(idx)
    except Exception:  # a wrapper that cannot tell
        return []
    return [str(info[k]) for k in ('img_path', 'seg_map_path')
            if info.get(k)]


@register(DATASETS)
class GuardedDataset:
    """A dataset wrapper that names the files of a sample that fails and, in
    training, skips unreadable samples (see the module's documentation).

    Length, ``metainfo``, ``get_data_info`` and every other attribute are
    the wrapped dataset's.

    Args:
        dataset (dict | Dataset): The dataset or its config.
        skip_unreadable (bool): Replace an unreadable sample by the next
            readable one (training) instead of failing (evaluation).
        max_consecutive (int): Fail when this many samples in a row cannot
            be read: the data root or the files are wrong, not a few files.
    """

    def __init__(self, dataset, skip_unreadable: bool = False,
                 max_consecutive: int = 50):
        if isinstance(dataset, dict):
            dataset = MMENGINE_DATASETS.build(dataset)
        self.dataset = dataset
        self.skip_unreadable = skip_unreadable
        self.max_consecutive = max_consecutive

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def full_init(self) -> None:
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(idx)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str):
        if name.startswith('__') or name == 'dataset':
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, idx: int):
        skipped = []
        for _ in range(self.max_consecutive):
            try:
                data = self.dataset[idx]
            except Exception as e:
                files = sample_files(self.dataset, idx)
                path, reason = unreadable_file(e, files)
                if not path:
                    e.add_note(f'in sample {idx}: {", ".join(files)}')
                    raise
                if not self.skip_unreadable:
                    raise UnreadableSample(
                        f'Cannot read {path}: {reason}. {CHECK_HINT}') from e
                skipped.append([path, reason])
                idx = (idx + 1) % len(self.dataset)
                continue
            if skipped:
                _mark(data, skipped)
            return data
        raise UnreadableSample(
            f'{self.max_consecutive} samples in a row cannot be read, e.g. '
            f'{skipped[0][0]} ({skipped[0][1]}): check the data root and the '
            f'annotation file. {CHECK_HINT}')


def _mark(data, skipped: List[List[str]]) -> None:
    """Attach the skipped files to the sample that replaced them."""
    sample = data.get('data_samples') if isinstance(data, dict) else None
    if hasattr(sample, 'set_metainfo'):
        sample.set_metainfo({SKIPPED_KEY: skipped})
        return
    for path, reason in skipped:  # cannot travel: say it here at least
        print_log(f'Skipped unreadable sample {path} ({reason}); it is not '
                  'counted: the pipeline does not end in a data sample.',
                  logger='current', level=logging.WARNING)


def skipped_in(data_batch) -> List[List[str]]:
    """The ``[file, reason]`` pairs marked in a batch's data samples."""
    samples = data_batch.get('data_samples', []) if isinstance(
        data_batch, dict) else []
    return [pair for s in samples or []
            for pair in getattr(s, 'metainfo', {}).get(SKIPPED_KEY, [])]


@register(HOOKS)
class UnreadableSampleHook(Hook):
    """Warn about every unreadable training file that was skipped, and stop
    training once more than ``max_skipped`` distinct files were.

    Args:
        max_skipped (int): The most distinct unreadable files a run may
            skip; one more stops it. 0 stops at the first.

    Raises:
        TooManyUnreadableSamples: naming the files and the limit.
    """

    priority = 'NORMAL'

    def __init__(self, max_skipped: int = 10):
        self.max_skipped = max_skipped

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        found = skipped_in(data_batch)
        if sum_over_ranks(len(found)) == 0:
            return
        seen = dict(runner.message_hub.get_info(INFO_KEY, None) or {})
        for path, reason in gather_lists(found):
            if path in seen:
                continue
            seen[path] = reason
            runner.logger.warning(
                f'Skipped unreadable training sample {path} ({reason}); '
                f'{len(seen)} skipped so far, the limit is '
                f'{self.max_skipped}.')
        runner.message_hub.update_info(INFO_KEY, seen)
        if len(seen) > self.max_skipped:
            files = '\n'.join(f'  {p} ({r})' for p, r in seen.items())
            raise TooManyUnreadableSamples(
                f'Training stopped at iteration {runner.iter + 1}: '
                f'{len(seen)} unreadable files skipped, more than the limit '
                f'of {self.max_skipped} (UnreadableSampleHook max_skipped):'
                f'\n{files}\n{CHECK_HINT}')
