# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Save a few training samples, after the training pipeline, with their
annotations drawn: a check of the dataset before a long run.

    python tools/browse_dataset.py CONFIG [--out-dir DIR] [--num N]
        [--cfg-options k=v ...]

Boxes, masks and labels are drawn by mmdet's ``DetLocalVisualizer``,
segmentation maps by mmseg's ``SegLocalVisualizer``.
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument('--out-dir', default='browse_dataset',
                        help='output folder (default: browse_dataset/)')
    parser.add_argument('--num', type=int, default=8,
                        help='number of samples (default: 8)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, xxx=yyy format')
    return parser.parse_args(argv)


def plain_instances(instances):
    """Box and mask types as DetLocalVisualizer draws them (tensors and
    boolean arrays), as mmdet's own browse_dataset does."""
    from mmdet.models.utils import mask2ndarray
    from mmdet.structures.bbox import BaseBoxes
    if isinstance(instances.get('bboxes'), BaseBoxes):
        instances.bboxes = instances.bboxes.tensor
    if instances.get('masks') is not None:
        instances.masks = mask2ndarray(instances.masks).astype(bool)


def main(argv=None):
    args = parse_args(argv)
    from mmengine.registry import DATASETS, init_default_scope

    from van_mm.apis import load_config
    from van_mm.visualization import build_visualizer
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.default_scope)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    visualizer = build_visualizer(cfg, 'van_mm_browse_dataset',
                                  dataset.metainfo)
    os.makedirs(args.out_dir, exist_ok=True)
    for i in range(min(args.num, len(dataset))):
        item = dataset[i]
        sample = item['data_samples']
        if 'gt_instances' in sample:
            plain_instances(sample.gt_instances)
        image = item['inputs'].permute(1, 2, 0).numpy()[..., ::-1]  # RGB
        name = osp.splitext(osp.basename(sample.img_path))[0]
        out = osp.join(args.out_dir, f'{i:03d}_{name}.png')
        visualizer.add_datasample(name, image.copy(), data_sample=sample,
                                  draw_gt=True, draw_pred=False, show=False,
                                  out_file=out)
        print(f'{sample.img_path} -> {out}')
