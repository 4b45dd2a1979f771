# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Train a detector (mmdet config) or a segmentor (mmseg config).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [PATH]] [--amp]
        [--amp-dtype float16|bfloat16] [--allow-partial-load]
        [--cfg-options k=v ...]
        [--launcher none|pytorch|slurm|mpi]

A thin command line: everything is in :mod:`van_mm.cli.train`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.train import main

if __name__ == '__main__':
    sys.exit(main())
