# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Export a config's model, or its backbone, to ONNX for onnxruntime.

    python tools/export_onnx.py CONFIG [CHECKPOINT] --out FILE
        [--shape H W] [--dynamic] [--backbone] [--rtol 1e-4] [--opset N]

A thin command line: everything is in :mod:`van_mm.cli.export_onnx`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.export_onnx import main

if __name__ == '__main__':
    sys.exit(main())
