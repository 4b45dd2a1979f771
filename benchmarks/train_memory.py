# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Resident memory of a training run over its iterations: does it stay flat
after warm-up?

    python benchmarks/train_memory.py [--iters 300] [--interval 10]
        [--warmup 50] [--workers 2] [--work-dir DIR] [--cfg-options ...]

Writes the generated scenes (ADE20K layout, 40 training images) to a
temporary folder, trains Semantic FPN VAN-B0 (configs/scenes) from scratch
the way ``tools/train.py`` does (van_mm's safeguard hooks and guarded
datasets included; validation and interval checkpoints off) with
``van_mm.analysis.profiling.MemorySamplerHook`` sampling ``VmRSS`` of the
training process and of its data-loader workers, and prints the samples
and, after warm-up, the first and last values and the least-squares slope
in MiB per 100 iterations.
"""
import argparse
import json
import os
import os.path as osp
import tempfile

from mmengine.config import DictAction

import van_mm.analysis.profiling  # noqa: F401  (registers MemorySamplerHook)
from van_mm.apis import load_config
from van_mm.cli.common import train
from van_mm.synthetic import make_ade_scenes

CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs',
                  'scenes', 'fpn_van_b0_scenes.py')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iters', type=int, default=300)
    parser.add_argument('--interval', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=50,
                        help='iterations left out of the trend')
    parser.add_argument('--workers', type=int, default=2,
                        help='data-loader workers')
    parser.add_argument('--work-dir', help='default: a temporary folder')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def slope_per_100(xs, ys) -> float:
    """Least-squares slope of ys over xs, times 100."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx)**2 for x in xs)
    return 100 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var


def summarize(samples, warmup: int) -> dict:
    after = [s for s in samples if s['iter'] > warmup]
    xs = [s['iter'] for s in after]
    summary = {}
    for key in ('main_mib', 'workers_mib'):
        ys = [s[key] for s in after]
        summary[key] = dict(first=round(ys[0], 1), last=round(ys[-1], 1),
                            max=round(max(ys), 1),
                            slope_per_100_iters=round(slope_per_100(xs, ys),
                                                      2))
    return summary


def main():
    args = parse_args()
    root = tempfile.mkdtemp(prefix='van_mm_memory_')
    make_ade_scenes(osp.join(root, 'data', 'scenes'), num_train=40,
                    num_val=2, seed=0)
    work_dir = osp.abspath(args.work_dir or osp.join(root, 'work'))
    os.chdir(root)
    cfg = load_config(CONFIG, args.cfg_options, work_dir)
    cfg.merge_from_dict({
        'train_cfg.max_iters': args.iters,
        'train_cfg.val_interval': args.iters + 1,
        'default_hooks.checkpoint.interval': args.iters,
        'train_dataloader.num_workers': args.workers,
        'train_dataloader.persistent_workers': args.workers > 0,
        'param_scheduler.0.end': args.iters,
    })
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
        dict(type='van_mm.MemorySamplerHook', interval=args.interval)]
    train(cfg)
    with open(osp.join(work_dir, 'memory.json')) as f:
        samples = json.load(f)
    for s in samples:
        print(f"iter {s['iter']:4d}  main {s['main_mib']:8.1f} MiB  "
              f"workers {s['workers_mib']:8.1f} MiB")
    print(json.dumps(summarize(samples, args.warmup), indent=1))


if __name__ == '__main__':
    main()
