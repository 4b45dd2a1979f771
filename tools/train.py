# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Train a detector (mmdet config) or a segmentor (mmseg config).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [PATH]] [--amp]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

The interface of mmdet's and mmseg's ``tools/train.py``; the task follows
from the config's ``default_scope``.
"""
from van_mm.apis import load_config
from van_mm.cli import (
    build_runner,
    close_distributed,
    parse_tool_args,
    tool_parser,
)


def parse_args():
    parser = tool_parser('Train a VAN detector or segmentor')
    parser.add_argument(
        '--amp', action='store_true',
        help='enable automatic-mixed-precision training (CUDA only)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or without a value from the '
        'latest checkpoint in the work directory')
    return parse_tool_args(parser)


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, args.work_dir,
                      args.launcher)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    build_runner(cfg).train()
    close_distributed()


if __name__ == '__main__':
    main()
