# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Run the VAN backbone on an image and print its multi-scale feature maps.

    python tools/backbone_demo.py [IMAGE] [--arch b0] [--checkpoint PATH]

A thin command line: everything is in :mod:`van_mm.cli.backbone_demo`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.backbone_demo import main

if __name__ == '__main__':
    sys.exit(main())
