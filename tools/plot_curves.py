# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Plot training curves from mmengine's ``vis_data/scalars.json``.

    python tools/plot_curves.py WORK_DIR [WORK_DIR ...] [--keys loss mIoU]
        --out curves.png

A thin command line: everything is in :mod:`van_mm.cli.plot_curves`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.plot_curves import main

if __name__ == '__main__':
    sys.exit(main())
