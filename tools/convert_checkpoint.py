# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Convert a VAN checkpoint in any published layout to van_mm's (or back).

    python tools/convert_checkpoint.py SRC DST [--arch ARCH] [--to LAYOUT]
        [--with-head | --whole-model] [--allow-pickle]

A thin command line: everything is in :mod:`van_mm.cli.convert_checkpoint`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.convert_checkpoint import main

if __name__ == '__main__':
    sys.exit(main())
