# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Write the config that trains a base config of this repository on your
data, after checking the data (docs/custom_data.md).

    python tools/config_for_data.py BASE --data-root DIR --out FILE
        (--ann FILE_OR_DIR --img DIR [--val-fraction 0.2]
         | --train-ann A --train-img I --val-ann A --val-img I)
        [--test-ann A --test-img I] [--classes FILE] [--ignore-zero]
        [--pretrained PATH|URL|none] [--iters N] [--batch-size N]
        [--short-side N] [--workers N]

A thin command line: everything is in :mod:`van_mm.cli.config_for_data`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.config_for_data import main

if __name__ == '__main__':
    sys.exit(main())
