# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Test (and evaluate) a detector or segmentor checkpoint.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE|DIR]
        [--show-dir DIR] [--tta] [--allow-partial-load]
        [--cfg-options k=v ...] [--launcher ...]

A thin command line: everything is in :mod:`van_mm.cli.test`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.test import main

if __name__ == '__main__':
    sys.exit(main())
