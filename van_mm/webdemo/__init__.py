# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""The demo page of ``tools/web_demo.py``: a local web page where a user
drops an image and sees a detector's or segmentor's prediction beside the
LKA attention map of a chosen stage.

Standard library only on the serving side (``http.server``, one HTML page
with a little JavaScript, no external resources):

* :mod:`van_mm.webdemo.uploads`: which uploads are taken
  (:func:`read_upload`) and the message for each one that is not
  (:class:`UploadError`); no model needed;
* :mod:`van_mm.webdemo.model`: :class:`DemoModel`, the config's model
  from a checkpoint, a checkpoint and an ONNX file, or an ONNX file alone,
  and what the page shows for an image;
* :mod:`van_mm.webdemo.server`: the page and the HTTP server.

Its layer is above :mod:`van_mm.export` and :mod:`van_mm.analysis`
(onnxruntime models, attention maps) and below :mod:`van_mm.cli`, whose
``web_demo`` module is its command line.
"""
from .model import DemoModel
from .server import DemoServer, make_server, serve
from .uploads import MAX_BYTES, MAX_SIDE, UploadError, read_upload

__all__ = ['DemoModel', 'DemoServer', 'make_server', 'serve', 'read_upload',
           'UploadError', 'MAX_BYTES', 'MAX_SIDE']
