# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Is an interrupted and resumed run the same run as an uninterrupted one?

    python benchmarks/resume_equivalence.py [--iters 8] [--stop-after 2]
        [--workers 1] [--epoch-based]

Semantic FPN VAN-B0 on generated scenes (6 training images, batch 2), seed
0 and ``randomness.deterministic=True``, with ``tools/train.py``:

1. an uninterrupted run of ``--iters`` iterations;
2. the same run, stopped by SIGTERM to its process group once iteration
   ``--stop-after`` is logged, then resumed with ``--resume``;
3. the stopped run's checkpoint without ``resume_state`` (what van_mm's
   ResumeStateHook adds), resumed: how mmengine alone resumes.

Prints the iteration each run stopped at, the seconds from the signal to
the exit, and the largest absolute difference of the final weights and
buffers from the uninterrupted run's (and where it is). ``--epoch-based``
trains two epochs of 3 iterations with ``EpochBasedTrainLoop`` (the
detection configs' loop) instead; ``--stop-after`` is then 4 or 5.
"""
import argparse
import os
import os.path as osp
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import torch

import van_mm  # noqa: F401  (torch.load of runner checkpoints)
from van_mm.synthetic import make_ade_scenes

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'scenes', 'fpn_van_b0_scenes.py')
EPOCHS = """
_base_ = {config!r}
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=2,
                 val_interval=2)
train_dataloader = dict(sampler=dict(type='DefaultSampler', shuffle=True))
default_hooks = dict(checkpoint=dict(by_epoch=True, interval=1))
log_processor = dict(by_epoch=True)
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0., begin=0,
                        end=6, by_epoch=False)]
"""


def command(args, config, work, resume=False):
    options = [
        'train_dataloader.batch_size=2',
        f'train_dataloader.num_workers={args.workers}',
        f'train_dataloader.persistent_workers={args.workers > 0}',
        'randomness.seed=0', 'randomness.deterministic=True',
        'default_hooks.logger.interval=1', 'val_cfg=None',
        'val_dataloader=None', 'val_evaluator=None'
    ]
    if not args.epoch_based:
        options += [f'train_cfg.max_iters={args.iters}',
                    f'default_hooks.checkpoint.interval={args.iters // 2}']
    return [sys.executable, osp.join(REPO, 'tools', 'train.py'), config,
            '--work-dir', work, *(['--resume'] if resume else []),
            '--cfg-options', *options]


def run(cmd, cwd, stop_pattern=None):
    """(exit code, log, seconds from the signal to the exit)."""
    proc = subprocess.Popen(cmd, cwd=cwd, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            start_new_session=True)
    lines, sent = [], None
    for line in proc.stdout:
        lines.append(line)
        if stop_pattern and sent is None and re.search(stop_pattern, line):
            os.killpg(proc.pid, signal.SIGTERM)
            sent = time.monotonic()
    code = proc.wait()
    return code, ''.join(lines), time.monotonic() - sent if sent else None


def final_weights(work):
    with open(osp.join(work, 'last_checkpoint')) as f:
        path = f.read().strip()
    return torch.load(path, map_location='cpu', weights_only=True)


def max_diff(a, b):
    """(largest absolute difference over the state dict, its key)."""
    return max(((a['state_dict'][k].double() - v.double()).abs().max().item(),
                k) for k, v in b['state_dict'].items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iters', type=int, default=8)
    parser.add_argument('--stop-after', type=int, default=2)
    parser.add_argument('--workers', type=int, default=1)
    parser.add_argument('--epoch-based', action='store_true')
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix='van_mm_resume_')
    make_ade_scenes(osp.join(root, 'data', 'scenes'), num_train=6, num_val=2,
                    seed=2)
    config = CONFIG
    pattern = rf'Iter\(train\)\s+\[\s*{args.stop_after}/'
    if args.epoch_based:
        config = osp.join(root, 'epochs.py')
        with open(config, 'w') as f:
            f.write(EPOCHS.format(config=CONFIG))
        pattern = rf'Epoch\(train\)\s+\[2\]\[\s*{args.stop_after - 3}/'

    code, log, _ = run(command(args, config, 'straight'), root)
    assert code == 0, log[-3000:]
    reference = final_weights(osp.join(root, 'straight'))

    code, log, seconds = run(command(args, config, 'stopped'), root, pattern)
    assert code == 75, log[-3000:]
    stop = re.search(r'saved (\S+\.pth)', log).group(1)
    print(f'stopped after iteration {torch.load(stop)["meta"]["iter"]}, '
          f'exit {seconds:.1f} s after SIGTERM')
    shutil.copytree(osp.join(root, 'stopped'), osp.join(root, 'stripped'))
    stripped = osp.join(root, 'stripped', osp.basename(stop))
    state = torch.load(stripped, map_location='cpu', weights_only=True)
    del state['resume_state']
    torch.save(state, stripped)

    for name in ('stopped', 'stripped'):
        code, log, _ = run(command(args, config, name, resume=True), root)
        assert code == 0, log[-3000:]
        diff, key = max_diff(final_weights(osp.join(root, name)), reference)
        print(f'{name} + resumed: max |weight - uninterrupted| = {diff:.3g}'
              + (f' ({key})' if diff else ''))
    shutil.rmtree(root)


if __name__ == '__main__':
    main()
