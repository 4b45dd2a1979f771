# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Command-line plumbing shared by the scripts in ``tools/``: the arguments
every runner tool takes, the config checks and ``--resume`` resolved before
anything is built, the runner and how its known failures end the process,
distributed teardown and early "not found" checks. Library code does not
import this module."""
import argparse
import logging
import os
import os.path as osp
from typing import Optional

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


def parse_tool_args(parser: argparse.ArgumentParser,
                    argv=None) -> argparse.Namespace:
    args = parser.parse_args(argv)
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


def add_backend_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """``--backend``: ``pytorch`` or an inference engine of
    :data:`van_mm.export.backends.BACKENDS` that runs ``what`` (the file
    ``tools/export_onnx.py`` wrote)."""
    from van_mm.export.backends import backend_names
    parser.add_argument(
        '--backend', choices=backend_names(), default='pytorch',
        help=f'inference engine (pytorch); another one runs {what}: '
        'onnxruntime, OpenVINO in fp32 (openvino) or in bf16 on a CPU that '
        'has it (openvino-bf16)')


def deployed_model(host, path: str, backend: str, device: str = 'cpu',
                   flag: str = '--backend'):
    """The exported file ``path`` run by ``backend`` with ``host`` (the
    config's model) around it
    (:func:`van_mm.export.backends.deployed_model`); exit naming ``flag``
    if the file is missing, the engine is not installed or the file holds
    another model."""
    require_file(path, 'Exported model')
    try:
        from van_mm.export.backends import deployed_model as deploy
        return deploy(host, path, backend, device)
    except (ImportError, ValueError, RuntimeError) as e:
        raise SystemExit(f'{flag} {backend}: {e}')


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


# Hooks every run of the tools has (van_mm's framework bases list them;
# other configs get them in :func:`build_runner`).
RUN_HOOKS = ('CheckpointFitHook', 'LabelCheckHook')


def build_runner(cfg: Config):
    """mmengine's Runner, or the config's ``runner_type`` if it names one,
    with van_mm's :class:`~van_mm.engine.CheckpointFitHook` and
    :class:`~van_mm.engine.LabelCheckHook` among its hooks (van_mm's
    framework bases list them; other configs get them here)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    hooks = list(cfg.get('custom_hooks') or [])
    listed = {str(h.get('type')).rpartition('.')[2] for h in hooks}
    cfg.custom_hooks = hooks + [dict(type=name) for name in RUN_HOOKS
                                if name not in listed]
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


def check_config_or_exit(cfg: Config, mode: str) -> None:
    """:func:`van_mm.checks.config.check_config` for a ``'train'`` or
    ``'test'`` run; exit listing every problem, before any model or dataset
    is built."""
    from van_mm.checks.config import ConfigCheckError, check_config
    try:
        check_config(cfg, mode)
    except ConfigCheckError as e:
        raise SystemExit(
            f'{cfg.filename}: {len(e.problems)} setting(s) to fix before '
            f'{"training" if mode == "train" else "testing"} (in the config '
            f'or with --cfg-options KEY=VALUE):\n{e}')


def resolve_resume(cfg: Config, resume: Optional[str]) -> None:
    """Apply ``--resume`` (``'auto'``: the newest readable checkpoint of the
    work dir; else a path) to ``cfg``: ``resume``, ``load_from`` and, when
    the config sets no seed, the seed of the run that saved it (so that the
    data order and augmentation go on as they would have).

    Unreadable checkpoints are passed over with a warning naming each and
    why; an unreadable ``PATH`` exits naming it. With no checkpoint at all,
    training starts from iteration 0 (so that a requeued job can always pass
    ``--resume``).
    """
    from mmengine.logging import print_log

    from van_mm.engine import (
        UnreadableCheckpoint,
        find_resumable_checkpoint,
        read_checkpoint_info,
    )
    if resume is None:
        return
    if resume == 'auto':
        info, skipped = find_resumable_checkpoint(
            cfg.work_dir, _checkpoint_out_dir(cfg))
        for reason in skipped:
            print_log(f'--resume: skipping {reason}', logger='current',
                      level=logging.WARNING)
        if info is None and skipped:
            raise SystemExit(
                f'--resume: no readable checkpoint in {cfg.work_dir}. Remove '
                'the files above to start from iteration 0, or pass '
                '--resume PATH.')
        if info is None:
            print_log(f'--resume: no checkpoint in {cfg.work_dir}; '
                      'training starts from iteration 0.', logger='current')
            return
    elif '://' in resume:  # a URL: mmengine downloads it when resuming
        cfg.resume, cfg.load_from = True, resume
        return
    else:
        try:
            info = read_checkpoint_info(require_file(resume, 'Checkpoint'))
        except UnreadableCheckpoint as e:
            raise SystemExit(f'--resume: cannot resume from {e}')
    print_log(f'--resume: resuming from {info.path} (iteration '
              f'{info.iteration}).', logger='current')
    cfg.resume = True
    cfg.load_from = info.path
    randomness = dict(cfg.get('randomness') or {})
    if randomness.get('seed') is None and info.seed is not None:
        randomness['seed'] = info.seed
        cfg.randomness = randomness


def _checkpoint_out_dir(cfg: Config) -> Optional[str]:
    """Where the checkpoint hook saves when its ``out_dir`` is set (as
    mmengine's CheckpointHook derives it), else None."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint') or {}
    out_dir = hook.get('out_dir')
    if not out_dir or '://' in str(out_dir):
        return None
    return osp.join(out_dir, osp.basename(cfg.work_dir.rstrip(osp.sep)))


def _message(error: Exception) -> str:
    """An error's own message; for one re-raised from a data-loader worker,
    the original's last line instead of the worker's traceback."""
    text = str(error).strip()
    if 'Original Traceback' in text:
        text = text.splitlines()[-1].split(': ', 1)[-1]
    return text


def train(cfg: Config) -> None:
    """Train ``cfg`` with van_mm's safeguards
    (:func:`van_mm.engine.add_training_safeguards`). A stop signal exits
    with :data:`van_mm.engine.STOP_EXIT_CODE` after saving; divergence, bad
    data and class ids outside the classes exit with 1 and their message,
    without a traceback."""
    from van_mm.checkpoint import CheckpointError
    from van_mm.engine import (
        STOP_EXIT_CODE,
        DivergenceError,
        LabelOutsideClasses,
        TooManyUnreadableSamples,
        TrainingInterrupted,
        UnreadableSample,
        add_training_safeguards,
    )
    add_training_safeguards(cfg)
    runner = build_runner(cfg)
    try:
        runner.train()
    except TrainingInterrupted as e:
        runner.logger.warning(str(e))
        runner.call_hook('after_run')
        close_distributed()
        raise SystemExit(STOP_EXIT_CODE)
    except (DivergenceError, LabelOutsideClasses, TooManyUnreadableSamples,
            UnreadableSample) as e:
        runner.logger.error(_message(e))
        raise SystemExit(1)
    except CheckpointError as e:  # load_from that does not fit the model
        raise SystemExit(cli_message(e))
    close_distributed()


def build_test_runner(cfg: Config):
    """The runner for ``tools/test.py``: errors in the test data name the
    file (:func:`van_mm.engine.add_test_safeguards`)."""
    from van_mm.engine import add_test_safeguards
    add_test_safeguards(cfg)
    return build_runner(cfg)


def run_test(runner) -> None:
    """Test, then tear distributed down; an unreadable test file or one
    with class ids outside the classes exits naming it (evaluation never
    skips a file), a checkpoint that does not fit the model with the flag
    that allows it."""
    from van_mm.checkpoint import CheckpointError
    from van_mm.engine import LabelOutsideClasses, UnreadableSample
    try:
        runner.test()
    except (LabelOutsideClasses, UnreadableSample) as e:
        runner.logger.error(_message(e))
        raise SystemExit(1)
    except CheckpointError as e:
        raise SystemExit(cli_message(e))
    close_distributed()
