# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""int8 post-training quantization of an exported model, calibrated on
the config's own images.

    python tools/quantize.py CONFIG MODEL.onnx --out MODEL_int8.onnx
        [--num-images 32] [--split train] [--method minmax]
        [--skip-depthwise] [--compare 8]

A thin command line: everything is in :mod:`van_mm.cli.quantize`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.quantize import main

if __name__ == '__main__':
    sys.exit(main())
