# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Check every image and annotation of a config's datasets before a long
run, and list every problem at once.

    python tools/check_dataset.py CONFIG [--split train val test]
        [--workers N] [--cfg-options k=v ...]

A thin command line: everything is in :mod:`van_mm.cli.check_dataset`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.check_dataset import main

if __name__ == '__main__':
    sys.exit(main())
