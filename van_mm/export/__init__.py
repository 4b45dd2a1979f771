# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""ONNX export and onnxruntime inference (the ``deploy`` extra:
``onnx``, ``onnxruntime``, ``onnxscript``).

* :func:`export_onnx`: a backbone, segmentor or detector to an ``.onnx``
  file, checked against PyTorch before it is written
  (:mod:`van_mm.export.exporter`);
* :mod:`van_mm.export.graphs`: what the exported graphs compute;
* :class:`OnnxRuntimeModel`: an exported model run as its PyTorch model is
  (:mod:`van_mm.export.runtime`).
"""
from .exporter import (
    ExportCheckError,
    ExportReport,
    export_onnx,
    onnxruntime_model,
)
from .runtime import OnnxRuntimeModel

__all__ = ['export_onnx', 'ExportReport', 'ExportCheckError',
           'OnnxRuntimeModel', 'onnxruntime_model']
