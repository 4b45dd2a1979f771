# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Train a detector (mmdet config) or a segmentor (mmseg config).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [PATH]] [--amp]
        [--amp-dtype float16|bfloat16] [--allow-partial-load]
        [--cfg-options k=v ...]
        [--launcher none|pytorch|slurm|mpi]

The interface of mmdet's and mmseg's ``tools/train.py``; the task follows
from the config's ``default_scope``. The config is checked before anything
is built; checkpoints are saved atomically; SIGTERM/SIGINT save the current
iteration and exit with code 75 (docs/tools.md, "Long runs").
"""
from van_mm.apis import load_config
from van_mm.cli.common import (
    add_partial_load_flag,
    check_config_or_exit,
    parse_tool_args,
    resolve_resume,
    tool_parser,
    train,
)
from van_mm.engine.mixed_precision import AMP_DTYPES, amp_optim_wrapper


def parse_args(argv=None):
    parser = tool_parser('Train a VAN detector or segmentor')
    parser.add_argument(
        '--amp', action='store_true',
        help='mixed-precision training: float16 with loss scaling on a GPU, '
        'bfloat16 autocast on the CPU')
    parser.add_argument(
        '--amp-dtype', choices=AMP_DTYPES,
        help='the --amp dtype (bfloat16 on a GPU: autocast without loss '
        'scaling)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or without a value from the '
        'newest readable checkpoint in the work directory (none: start at '
        'iteration 0)')
    add_partial_load_flag(parser)
    return parse_tool_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.work_dir,
                      args.launcher)
    if args.amp_dtype and not args.amp:
        raise SystemExit('--amp-dtype is the dtype of --amp: add --amp.')
    if args.amp:
        try:
            cfg.optim_wrapper = amp_optim_wrapper(cfg.optim_wrapper,
                                                  args.amp_dtype)
        except ValueError as e:
            raise SystemExit(f'--amp: {e}')
    if args.allow_partial_load:
        cfg.allow_partial_load = True
    check_config_or_exit(cfg, 'train')
    resolve_resume(cfg, args.resume)
    train(cfg)
