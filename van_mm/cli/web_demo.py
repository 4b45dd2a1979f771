# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Serve a local page where you drop an image and see the model's
prediction beside the LKA attention map of a chosen stage.

    python tools/web_demo.py CONFIG CHECKPOINT [--port 8000] [--onnx FILE]
        [--host 127.0.0.1] [--device cpu] [--score-thr 0.3]
        [--allow-partial-load] [--cfg-options KEY=VALUE ...]

Open the address it prints (http://127.0.0.1:PORT/). Detectors show their
boxes, masks and labels, segmentors their label map with a legend, both
with the inference time. CHECKPOINT loads as in ``tools/demo.py``; with
``--onnx FILE`` (``tools/export_onnx.py``) the network runs in onnxruntime
and the attention map still comes from CHECKPOINT. CHECKPOINT may be an
ONNX file itself (the whole model): then there is no attention map.
``--port 0`` takes
a free port. Bad uploads (not an image, too large, 16-bit, CMYK, palette,
transparent) get a message on the page; see :mod:`van_mm.webdemo`.
"""
import argparse

from mmengine.config import DictAction

from van_mm.checkpoint import CheckpointError
from van_mm.cli.common import add_partial_load_flag, cli_message
from van_mm.webdemo import DemoModel, make_server, serve


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file of the model')
    parser.add_argument('checkpoint', help='checkpoint of the model, or an '
                        'ONNX file of tools/export_onnx.py (no attention '
                        'map then)')
    parser.add_argument('--port', type=int, default=8000,
                        help='port to serve on (8000; 0: any free one)')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to serve on (127.0.0.1: this machine '
                        'only)')
    parser.add_argument('--onnx', help='run the network from this ONNX file '
                        'in onnxruntime (the attention map from CHECKPOINT)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda:0')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detections below this score are not drawn')
    add_partial_load_flag(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, xxx=yyy format')
    return parser.parse_args(argv)


def load(args) -> DemoModel:
    """The model of the command line, or an exit with what is wrong."""
    try:
        return DemoModel(args.config, args.checkpoint, args.onnx,
                         args.device, args.score_thr,
                         args.allow_partial_load, args.cfg_options)
    except CheckpointError as e:
        raise SystemExit(cli_message(e))
    except (FileNotFoundError, ImportError, ValueError, RuntimeError) as e:
        raise SystemExit(str(e))


def main(argv=None):
    args = parse_args(argv)
    # bound first: a port in use is said at once, not after the model loads
    server = make_server(args.host, args.port)
    try:
        server.attach(load(args))
    except BaseException:
        server.server_close()
        raise
    serve(server)
