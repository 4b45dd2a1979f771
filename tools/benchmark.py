# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Inference latency of a config's model or of its backbone alone.

    python tools/benchmark.py CONFIG [--backbone] [--checkpoint CKPT]
        [--shape H W] [--batch N] [--deploy] [--channels-last] [--compile]
        [--bf16] [--backend pytorch|onnxruntime] [--onnx FILE] [--repeat N]
        [--warmup N] [--device cpu|cuda]

A thin command line: everything is in :mod:`van_mm.cli.benchmark`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.benchmark import main

if __name__ == '__main__':
    sys.exit(main())
