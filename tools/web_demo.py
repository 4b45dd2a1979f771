# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Serve a local page where you drop an image and see the model's
prediction beside the LKA attention map of a chosen stage.

    python tools/web_demo.py CONFIG CHECKPOINT [--port 8000] [--onnx FILE]
        [--host 127.0.0.1] [--device cpu] [--score-thr 0.3]
        [--allow-partial-load] [--cfg-options KEY=VALUE ...]

A thin command line: everything is in :mod:`van_mm.cli.web_demo`
(``--help`` lists the options).
"""
import sys

from van_mm.cli.web_demo import main

if __name__ == '__main__':
    sys.exit(main())
