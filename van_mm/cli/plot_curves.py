# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Plot training curves from mmengine's ``vis_data/scalars.json``.

    python tools/plot_curves.py WORK_DIR [WORK_DIR ...] [--keys loss mIoU]
        --out curves.png

Each key gets a panel; keys are matched as suffixes, so ``bbox_mAP`` finds
``coco/bbox_mAP`` and ``mIoU`` finds ``mIoU``. Training values are plotted
against the iteration, validation metrics against the iteration they were
computed at. Several work dirs are overlaid, labelled by folder name.
"""
import argparse
import glob
import json
import os.path as osp


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dirs', nargs='+', help='training work dirs')
    parser.add_argument('--keys', nargs='+', default=['loss'],
                        help='scalars to plot (default: loss)')
    parser.add_argument('--out', required=True, help='output image file')
    return parser.parse_args(argv)


def read_scalars(work_dir):
    """Records of the newest run in ``work_dir``: a list of dicts."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not files:
        raise SystemExit(f'No */vis_data/scalars.json under {work_dir!r}: '
                         'is it a work dir of tools/train.py?')
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def series(records, key):
    """(steps, values) of the first scalar whose name ends with ``key``."""
    steps, values = [], []
    last_step = 0
    for rec in records:
        last_step = rec.get('iter', rec.get('step', last_step))
        for name, value in rec.items():
            if name == key or name.endswith('/' + key):
                steps.append(rec.get('step', last_step)
                             if 'iter' not in rec else rec['iter'])
                values.append(value)
                break
    return steps, values


def main(argv=None):
    args = parse_args(argv)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    runs = {osp.basename(osp.normpath(d)): read_scalars(d)
            for d in args.work_dirs}
    fig, axes = plt.subplots(1, len(args.keys),
                             figsize=(4.5 * len(args.keys), 3.4),
                             squeeze=False)
    for ax, key in zip(axes[0], args.keys):
        found = False
        for name, records in runs.items():
            steps, values = series(records, key)
            if values:
                found = True
                ax.plot(steps, values, marker='o' if len(values) < 20
                        else None, label=name)
        if not found:
            raise SystemExit(f'No scalar named {key!r} in '
                             f'{list(runs)}; available: '
                             f'{sorted({k for r in runs.values() for x in r for k in x})}')  # noqa
        ax.set_title(key)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
        if len(runs) > 1:
            ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f'wrote {args.out}')
