# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Parameters and FLOPs of configs, counted by mmengine's analyzer.

    python tools/get_flops.py CONFIG [CONFIG ...] [--shape H W] [--markdown]

A thin command line: everything is in :mod:`van_mm.cli.get_flops`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.get_flops import main

if __name__ == '__main__':
    sys.exit(main())
