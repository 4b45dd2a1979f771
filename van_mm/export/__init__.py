# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Deployment: ONNX export, and exported models run in PyTorch's place
(the ``deploy`` extra: ``onnx``, ``onnxruntime``, ``onnxscript``).

* :func:`export_onnx`: a backbone, a segmentor or a whole detector to an
  ``.onnx`` file, checked against PyTorch before it is written
  (:mod:`van_mm.export.exporter`);
* :mod:`van_mm.export.graphs` and :mod:`van_mm.export.detection_graph`:
  what the exported graphs compute; :mod:`van_mm.export.onnx_ops`: the NMS
  and RoIAlign operators that become ONNX ``NonMaxSuppression`` and
  ``RoiAlign``;
* :func:`deployed_model`: an exported file run by an inference engine
  (:data:`BACKENDS`) as its PyTorch model is run, for the tools
  (:mod:`van_mm.export.backends`, :class:`OnnxRuntimeModel`);
* :mod:`van_mm.export.runner`: exported models on images without torch.

The names are imported on first use, so that ``van_mm.export.runner``
loads without PyTorch.
"""
import importlib

_WHERE = {
    'export_onnx': 'exporter',
    'ExportReport': 'exporter',
    'ExportCheckError': 'exporter',
    'onnxruntime_model': 'exporter',
    'OnnxRuntimeModel': 'runtime',
    'BACKENDS': 'backends',
    'DeployedModel': 'backends',
    'deployed_model': 'backends',
    'UnsupportedDetector': 'detection_graph',
    'compare_detections': 'parity',
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        module = importlib.import_module(f'.{_WHERE[name]}', __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
