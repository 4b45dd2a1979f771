# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""What VAN looks at: LKA attention maps or Grad-CAM, one panel per stage.

    python tools/visualize_attention.py IMAGE (--config CFG | --arch ARCH)
        [--checkpoint CKPT] [--stage 0 1 2 3] [--method lka|gradcam]
        [--size H W] --out FILE.png

A thin command line: everything is in :mod:`van_mm.cli.visualize_attention`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.visualize_attention import main

if __name__ == '__main__':
    sys.exit(main())
