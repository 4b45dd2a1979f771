# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""onnxruntime: sessions, and :class:`OnnxRuntimeModel`, an exported file
run by onnxruntime where the tools run the PyTorch model
(``--backend onnxruntime``; :mod:`van_mm.export.backends`)."""
from typing import Dict, Optional

import numpy as np
import torch

from van_mm.export.backends import INSTALL_HINT, DeployedModel
from van_mm.export.runner.models import metadata as read_metadata


def import_onnxruntime():
    """The ``onnxruntime`` module, or an ImportError that says how to get
    it."""
    try:
        import onnxruntime
    except ImportError as e:
        raise ImportError(f'onnxruntime is not installed: {INSTALL_HINT}') \
            from e
    return onnxruntime


def inference_session(path: str, device: str = 'cpu',
                      threads: Optional[int] = None):
    """An onnxruntime ``InferenceSession`` for ``path`` on ``device``
    (``'cpu'`` or ``'cuda'``), with as many intra-op threads as PyTorch
    uses unless ``threads`` is given, so that the two compare fairly."""
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.log_severity_level = 3  # errors only
    if device.startswith('cuda'):
        if 'CUDAExecutionProvider' not in ort.get_available_providers():
            raise RuntimeError(
                'onnxruntime has no CUDA execution provider here: install '
                'onnxruntime-gpu, or run on the CPU.')
        providers = ['CUDAExecutionProvider', 'CPUExecutionProvider']
    else:
        providers = ['CPUExecutionProvider']
    return ort.InferenceSession(path, options, providers=providers)


class OnnxRuntimeModel(DeployedModel):
    """An ONNX file run by onnxruntime, called as its PyTorch host is
    (:class:`~van_mm.export.backends.DeployedModel`)."""

    def open(self, path: str, device: str):
        self.session = inference_session(path, device)
        self.output_names = [o.name for o in self.session.get_outputs()]
        inputs = {i.name: [d if isinstance(d, int) else None
                           for d in i.shape]
                  for i in self.session.get_inputs()}
        return read_metadata(self.session), inputs

    def infer(self, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        return dict(zip(self.output_names, self.session.run(None, feeds)))
