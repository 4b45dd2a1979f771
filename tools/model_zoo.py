# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Regenerate the model zoo: ``configs/metafile.yml`` and README's tables.

    python tools/model_zoo.py                  # print README's model zoo
    python tools/model_zoo.py --write-readme   # update both README tables
    python tools/model_zoo.py --write-metafile # recount params and FLOPs of
                                               # every config (minutes)
    python tools/model_zoo.py --write-metafile --new-only
                                               # count new configs only
    python tools/model_zoo.py --check          # exit 1 if README is stale

A thin command line: everything is in :mod:`van_mm.cli.model_zoo`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.model_zoo import main

if __name__ == '__main__':
    sys.exit(main())
