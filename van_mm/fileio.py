# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Writing files so that no reader ever sees half of one."""
import contextlib
import os
import os.path as osp
import tempfile
from typing import Iterator


@contextlib.contextmanager
def atomic_write(path: str) -> Iterator[str]:
    """Yield a temporary path next to ``path``; once the block completes,
    the file written there replaces ``path`` in one step (``os.replace``).

    If the block raises, or the process dies in it, ``path`` is left as it
    was (absent, or the previous complete file) and the temporary file is
    removed where possible. The temporary file lies in the same folder, so
    the rename never crosses file systems.

    Example:
        >>> with atomic_write('model.pth') as tmp:
        ...     torch.save(state, tmp)
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=osp.basename(path) + '.',
                               suffix='.partial', dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
