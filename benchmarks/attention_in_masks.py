# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""How much of VAN's attention falls on the objects: the share of the LKA
map and of the Grad-CAM mass inside the ground-truth object masks, against
the masks' share of the image area (the paper's Grad-CAM claim, measured on
generated data).

    python benchmarks/attention_in_masks.py CONFIG CHECKPOINT
        [--data data/shapes] [--num 20] [--stage 0 1 2 3]

For each of the first ``--num`` validation images of a COCO-format dataset:
the maps of ``tools/visualize_attention.py`` (:mod:`van_mm.analysis.attention`;
upsampled to the image, scaled to [0, 1]) are read as mass distributions;
the printed figure is the mean over images of (mass inside the union of the
GT masks) / (total mass), next
to the mean area share of the masks. A map that ignored the objects would
put about the area share inside them.
"""
import argparse
import os.path as osp

import numpy as np

from van_mm.analysis.attention import attention_maps, config_targets
from van_mm.images import read_image


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--data', default='data/shapes')
    parser.add_argument('--num', type=int, default=20)
    parser.add_argument('--stage', type=int, nargs='+', default=[0, 1, 2, 3])
    args = parser.parse_args()
    from pycocotools.coco import COCO
    coco = COCO(osp.join(args.data, 'annotations',
                         'instances_val2017.json'))
    targets = config_targets(args.config, args.checkpoint)  # built once
    inside = {m: [] for m in ('lka', 'gradcam')}
    area = []
    for img_id in sorted(coco.getImgIds())[:args.num]:
        info = coco.loadImgs(img_id)[0]
        mask = np.zeros((info['height'], info['width']), bool)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img_id)):
            mask |= coco.annToMask(ann).astype(bool)
        area.append(mask.mean())
        image = read_image(osp.join(args.data, 'val2017',
                                        info['file_name']))
        for method in inside:
            maps = attention_maps(targets, image, method, args.stage)
            inside[method].append(
                [m[mask].sum() / max(m.sum(), 1e-12) for m in maps])
    print(f'{len(area)} validation images of {args.data}; objects cover '
          f'{100 * np.mean(area):.1f}% of the image area on average.\n')
    print('| map | ' + ' | '.join(f'stage {s}' for s in args.stage) + ' |')
    print('|---|' + '---|' * len(args.stage))
    for method, values in inside.items():
        share = 100 * np.mean(values, axis=0)
        print(f'| {method} mass inside the masks (%) | ' +
              ' | '.join(f'{v:.1f}' for v in share) + ' |')
    print('| masks\' share of the area (%) | ' +
          ' | '.join(f'{100 * np.mean(area):.1f}' for _ in args.stage) +
          ' |')


if __name__ == '__main__':
    main()
