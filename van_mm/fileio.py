# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Writing files so that no reader ever sees half of one."""
import contextlib
import os
import os.path as osp
import secrets
from typing import Iterator, List

# What the temporary files of atomic_write end with. A process killed while
# writing (SIGKILL, a node failure) leaves one behind: never a file under
# the final name.
PARTIAL_SUFFIX = '.partial'


@contextlib.contextmanager
def atomic_write(path: str) -> Iterator[str]:
    """Yield a temporary path next to ``path``; once the block completes,
    the file written there is flushed to disk (``fsync``) and replaces
    ``path`` in one step (``os.replace``).

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
    tmp = _new_partial(path)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(folder)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def _new_partial(path: str) -> str:
    """Create an empty temporary file next to ``path`` (permissions as
    ``open`` would give ``path``: 0666 less the umask) and return its
    name."""
    while True:
        tmp = f'{path}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}'
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                             0o666))
            return tmp
        except FileExistsError:
            continue


def _fsync(path: str) -> None:
    """Flush a file's (or a folder's entries') data to disk, so that the
    rename of a complete file survives a crash of the machine, not only of
    the process. File systems that cannot sync a folder are left as they
    are."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def partial_files(folder: str) -> List[str]:
    """The temporary files that interrupted :func:`atomic_write` calls left
    in ``folder`` (sorted)."""
    if not osp.isdir(folder):
        return []
    return sorted(
        osp.join(folder, name) for name in os.listdir(folder)
        if name.endswith(PARTIAL_SUFFIX))
