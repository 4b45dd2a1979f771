# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Run a detector or segmentor of this project on images and save the
pictures.

    python tools/demo.py IMAGE_OR_DIR CONFIG CHECKPOINT [--out FILE_OR_DIR]
        [--device cpu] [--score-thr 0.3] [--allow-partial-load]
        [--backend onnxruntime --onnx FILE]

A thin command line: everything is in :mod:`van_mm.cli.demo`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.demo import main

if __name__ == '__main__':
    sys.exit(main())
