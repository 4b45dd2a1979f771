# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""What LabelCheckHook costs per iteration.

    python benchmarks/label_check_cost.py [--iters 8] [--repeat 200]
        [--annotations 200000]

1. Segmentation, the check alone: ``before_train_iter`` on batches of
   label maps as the ADE20K pipeline packs them (int64, 512x512 crops;
   batch 4 = Semantic FPN's per-GPU batch, 16 = UperNet's 8 x 2 on one
   host): maps with ignored pixels (reduce_zero_label data: every
   unlabelled pixel is 255), maps without, and the loading pipeline of
   one such sample (load, reduce_zero_label, resize, crop, flip,
   photometric distortion, pack) for scale. Medians and 90th percentiles
   of ``--repeat`` calls.
2. Segmentation, in training: Semantic FPN VAN-B0 on generated scenes
   (configs/scenes/fpn_van_b0_scenes.py: batch 4, 192x256 crops, one data
   worker) for ``--iters`` iterations through mmengine's runner, the time
   spent in the hook's ``before_train_iter`` against the iterations'.
3. Detection: the once-per-file check (the COCO json read again and every
   annotation's category looked up) on a generated file of
   ``--annotations`` annotations, against mmdet's ``CocoDataset`` loading
   the same file.

Single-threaded torch (a data-loader worker's setting) for parts 1 and 3.
"""
import argparse
import json
import os.path as osp
import statistics
import tempfile
import time

import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SEG_CONFIG = osp.join(REPO, 'configs', 'scenes', 'fpn_van_b0_scenes.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iters', type=int, default=8,
                        help='training iterations of part 2 (8)')
    parser.add_argument('--repeat', type=int, default=200,
                        help='timed calls per case of part 1 (200)')
    parser.add_argument('--annotations', type=int, default=200000,
                        help='annotations in the COCO file of part 3')
    return parser.parse_args(argv)


def timed(fn, repeat):
    """(median, 90th percentile) in ms of ``repeat`` calls, after one."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return 1e3 * statistics.median(times), 1e3 * times[int(0.9 * repeat)]


def seg_batch(n, size, ignored, seed=0):
    """A batch as the hook sees it: n SegDataSamples with 150-class label
    maps, a fifth of each 255 when ``ignored``."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n):
        label = rng.integers(0, 150, size=(1, size, size))
        if ignored:
            label[:, :size // 5] = 255
        sample = SegDataSample(metainfo=dict(seg_map_path='x.png'))
        sample.gt_sem_seg = PixelData(data=torch.from_numpy(label))
        samples.append(sample)
    return dict(data_samples=samples)


def part_1(args, hook, runner):
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope

    from van_mm.synthetic import make_ade_scenes
    print('1. The check alone (ms per batch, median / p90)')
    for n in (4, 16):
        for ignored in (True, False):
            batch = seg_batch(n, 512, ignored)
            med, p90 = timed(
                lambda: hook.before_train_iter(runner, 0, batch),
                args.repeat)
            kind = 'with' if ignored else 'without'
            print(f'   batch {n:2d} x 512x512, {kind} ignored pixels: '
                  f'{med:.3f} / {p90:.3f}')
    init_default_scope('mmseg')
    pipeline = Compose([
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', reduce_zero_label=True),
        dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0),
             keep_ratio=True),
        dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion'),
        dict(type='PackSegInputs'),
    ])
    with tempfile.TemporaryDirectory() as root:
        make_ade_scenes(root, num_train=8, num_val=0, image_size=(512, 683),
                        seed=0)
        infos = [dict(img_path=f'{root}/images/training/'
                      f'ADE_training_{i:08d}.jpg',
                      seg_map_path=f'{root}/annotations/training/'
                      f'ADE_training_{i:08d}.png',
                      reduce_zero_label=True, label_map=None)
                 for i in range(8)]
        counter = iter(range(10 ** 9))
        med, p90 = timed(lambda: pipeline(
            dict(infos[next(counter) % 8], seg_fields=[])), 40)
    print(f'   for scale, loading one 683x512 sample (512 crop): '
          f'{med:.1f} / {p90:.1f}')


def part_2(args):
    from mmengine.runner import Runner

    from van_mm.apis import load_config
    from van_mm.engine import LabelCheckHook
    from van_mm.synthetic import make_ade_scenes
    spent = []
    original = LabelCheckHook.before_train_iter

    def measured(self, runner, batch_idx, data_batch=None):
        start = time.perf_counter()
        original(self, runner, batch_idx, data_batch)
        spent.append(time.perf_counter() - start)

    LabelCheckHook.before_train_iter = measured
    try:
        with tempfile.TemporaryDirectory() as root:
            make_ade_scenes(root, num_train=16, num_val=0, seed=0)
            cfg = load_config(SEG_CONFIG, work_dir=osp.join(root, 'work'))
            cfg.train_dataloader.dataset.data_root = root
            cfg.train_cfg.update(max_iters=args.iters, val_interval=10 ** 6)
            cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
            cfg.default_hooks.checkpoint.interval = 10 ** 6
            cfg.log_level = 'WARNING'  # no config dump
            runner = Runner.from_cfg(cfg)
            start = time.perf_counter()
            runner.train()
            total = time.perf_counter() - start
    finally:
        LabelCheckHook.before_train_iter = original
    print(f'2. In training: {args.iters} iterations of Semantic FPN VAN-B0, '
          f'batch 4 of 192x256, {total:.1f} s ({total / args.iters:.2f} s '
          f'per iteration); the hook: {1e3 * statistics.median(spent):.3f} '
          f'ms per iteration (median; max {1e3 * max(spent):.3f}), '
          f'{100 * sum(spent) / total:.4f}% of the run')


def part_3(args, hook):
    from types import SimpleNamespace

    from mmdet.datasets import CocoDataset
    rng = np.random.default_rng(0)
    n_images = max(1, args.annotations // 8)
    raw = dict(
        images=[dict(id=i, file_name=f'{i}.jpg', height=480, width=640)
                for i in range(n_images)],
        categories=[dict(id=i + 1, name=f'c{i}') for i in range(80)],
        annotations=[dict(id=i, image_id=int(rng.integers(n_images)),
                          category_id=int(rng.integers(1, 81)),
                          bbox=[10., 10., 50., 40.], area=2000., iscrowd=0)
                     for i in range(args.annotations)])
    with tempfile.TemporaryDirectory() as root:
        path = osp.join(root, 'ann.json')
        with open(path, 'w') as f:
            json.dump(raw, f)
        start = time.perf_counter()
        dataset = CocoDataset(
            ann_file=path, data_prefix=dict(img=root), pipeline=[],
            metainfo=dict(classes=tuple(f'c{i}' for i in range(60))))
        load = time.perf_counter() - start
        runner = SimpleNamespace(train_dataloader=SimpleNamespace(
            dataset=dataset), logger=SimpleNamespace(info=print))
        start = time.perf_counter()
        hook.before_train(runner)
        check = time.perf_counter() - start
    print(f'3. Detection, once per annotation file of {args.annotations} '
          f'annotations ({n_images} images, 60 of 80 categories trained): '
          f'the check {check:.2f} s, mmdet loading the file {load:.2f} s')


def main(argv=None):
    args = parse_args(argv)
    from types import SimpleNamespace

    import van_mm  # noqa: F401
    from van_mm.engine import LabelCheckHook
    model = SimpleNamespace(decode_head=SimpleNamespace(num_classes=150,
                                                        ignore_index=255))
    torch.set_num_threads(1)
    part_1(args, LabelCheckHook(), SimpleNamespace(model=model))
    part_3(args, LabelCheckHook())
    torch.set_num_threads(2)
    part_2(args)


if __name__ == '__main__':
    main()
