# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Write a small synthetic dataset in COCO or ADE20K layout.

    python tools/make_synthetic_data.py coco data/shapes [--num-train 160]
    python tools/make_synthetic_data.py ade data/scenes [--num-train 160]
    python tools/make_synthetic_data.py panoptic data/shapes_panoptic

A thin command line: everything is in :mod:`van_mm.cli.make_synthetic_data`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.make_synthetic_data import main

if __name__ == '__main__':
    sys.exit(main())
