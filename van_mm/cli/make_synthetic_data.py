# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Write a small synthetic dataset in COCO or ADE20K layout.

    python tools/make_synthetic_data.py coco data/shapes [--num-train 160]
    python tools/make_synthetic_data.py ade data/scenes [--num-train 160]
    python tools/make_synthetic_data.py panoptic data/shapes_panoptic

``coco``: circles, squares and triangles with instance polygons, the layout
of ``configs/shapes/``. ``ade``: layered outdoor scenes with label maps in
ADE20K's layout (0 = unlabelled). ``panoptic``: the shapes as things on sky
and grass as stuff, in COCO's panoptic layout (JSON and PNG segment maps,
the things' instance annotations beside them), the layout of
``configs/shapes/mask2former_van_b0_shapes_panoptic.py``. An existing
dataset with the same sizes is kept as it is.
"""
import argparse
import glob
import os.path as osp

from van_mm.synthetic import (
    make_ade_scenes,
    make_coco_panoptic_shapes,
    make_coco_shapes,
)

# kind: (writer, its folders of training and validation files, their glob)
KINDS = {
    'coco': (make_coco_shapes, 'train2017', 'val2017', '*.jpg'),
    'ade': (make_ade_scenes, 'images/training', 'images/validation',
            '*.jpg'),
    'panoptic': (make_coco_panoptic_shapes, 'annotations/panoptic_train2017',
                 'annotations/panoptic_val2017', '*.png'),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('kind', choices=list(KINDS))
    parser.add_argument('out_dir')
    parser.add_argument('--num-train', type=int, default=160)
    parser.add_argument('--num-val', type=int, default=40)
    parser.add_argument('--height', type=int, default=192)
    parser.add_argument('--width', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    make, train, val, pattern = KINDS[args.kind]
    counts = [len(glob.glob(osp.join(args.out_dir, d, pattern)))
              for d in (train, val)]
    if counts == [args.num_train, args.num_val]:
        print(f'{args.out_dir}: {counts[0]} train / {counts[1]} val images '
              'already there')
        return
    make(args.out_dir, args.num_train, args.num_val,
         (args.height, args.width), seed=args.seed)
    print(f'wrote {args.kind} dataset to {args.out_dir}: {args.num_train} '
          f'train / {args.num_val} val images')
