# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Command-line plumbing shared by the scripts in ``tools/``: the arguments
every runner tool takes, the runner, distributed teardown and early
"not found" checks. Library code does not import this module."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction


def tool_parser(description: str) -> argparse.ArgumentParser:
    """A parser with the arguments ``train.py`` and ``test.py`` share:
    CONFIG, ``--work-dir``, ``--cfg-options``, ``--launcher`` and the
    launcher's ``--local-rank``. The tool adds its own before calling
    :func:`parse_tool_args`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='the dir to save logs, models '
                        'and evaluation metrics')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, xxx=yyy format')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def parse_tool_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def require_file(path: str, what: str) -> str:
    """``path`` if it is a file; else exit with ``'{what} not found: path'``
    (e.g. ``what='Checkpoint'``), before any model is built."""
    if not osp.isfile(path):
        raise SystemExit(f'{what} not found: {path!r}')
    return path


def read_image(path: str, size=None):
    """:func:`van_mm.images.read_image`, exiting with its message if the
    image is missing or cannot be decoded."""
    from van_mm import images
    try:
        return images.read_image(path, size)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(str(e))


def add_partial_load_flag(parser: argparse.ArgumentParser) -> None:
    """``--allow-partial-load``: load the checkpoint keys that fit the
    model and skip the rest, instead of refusing the checkpoint."""
    parser.add_argument(
        '--allow-partial-load', action='store_true',
        help='load only the checkpoint keys that fit the model (logged), '
        'e.g. another head; by default a checkpoint that does not fit the '
        'config\'s model exactly is refused')


def cli_message(error: Exception) -> str:
    """An error's message with the flag for the option it names (a
    :class:`~van_mm.checkpoint.CheckpointError`'s ``option``)."""
    option = getattr(error, 'option', None)
    flag = f' (command line: --{option.replace("_", "-")})' if option \
        else ''
    return f'{error}{flag}'


def build_runner(cfg: Config):
    """mmengine's Runner, or the config's ``runner_type`` if it names one,
    with van_mm's :class:`~van_mm.hooks.CheckpointFitHook` among its hooks
    (van_mm's framework bases list it; other configs get it here)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(str(h.get('type')).endswith('CheckpointFitHook')
               for h in hooks):
        cfg.custom_hooks = hooks + [dict(type='CheckpointFitHook')]
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg \
        else RUNNERS.build(cfg)


def close_distributed() -> None:
    """Wait for every rank, then tear the process group down.

    Without this, a rank that finishes first (rank 1 skips the checkpoint
    save) exits with gloo's threads still alive and can abort with
    ``terminate called without an active exception``.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
