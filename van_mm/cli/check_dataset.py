# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Check every image and annotation of a config's datasets before a long
run, and list every problem at once.

    python tools/check_dataset.py CONFIG [--split train val test]
        [--workers N] [--cfg-options k=v ...]

Decodes each image and label map as the training pipeline would and reads
the annotations as stored: missing and unreadable files, label maps or
masks whose size differs from the image, labels outside the classes, boxes
that cannot be used, and (as warnings) empty annotations and COCO
categories the classes leave out
(:mod:`van_mm.checks.dataset`). Exit code 1 if any error was found.
"""
import argparse
import os

from mmengine.config import DictAction

from van_mm.apis import load_config
from van_mm.checks.config import data_problems
from van_mm.checks.dataset import check_splits


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Check every file of a config\'s datasets')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--split', nargs='+', choices=['train', 'val', 'test'],
        default=['train', 'val'], help='which data loaders\' datasets')
    parser.add_argument(
        '--workers', type=int, default=os.cpu_count() or 1,
        help='processes decoding files (default: one per core)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, xxx=yyy format')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    loaders = [f'{s}_dataloader' for s in args.split
               if cfg.get(f'{s}_dataloader')]
    missing = data_problems(cfg, loaders)
    if missing:
        raise SystemExit('Cannot check the data:\n' +
                         '\n'.join(f'- {p}' for p in missing))
    if check_splits(cfg, args.split, args.workers):
        raise SystemExit(1)
