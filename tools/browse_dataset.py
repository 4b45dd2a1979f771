# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Save a few training samples, after the training pipeline, with their
annotations drawn: a check of the dataset before a long run.

    python tools/browse_dataset.py CONFIG [--out-dir DIR] [--num N]
        [--cfg-options k=v ...]

A thin command line: everything is in :mod:`van_mm.cli.browse_dataset`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.browse_dataset import main

if __name__ == '__main__':
    sys.exit(main())
