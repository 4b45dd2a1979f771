# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Exported models run by an inference engine where the tools run the
PyTorch model (``--backend`` of ``tools/test.py``, ``tools/demo.py`` and
``tools/benchmark.py``).

A :class:`DeployedModel` is a file written by ``tools/export_onnx.py``
with the config's PyTorch model as its host: its ``test_step`` takes and
returns what the PyTorch model's does, so mmengine's test loop, mmdet's
``inference_detector``, mmseg's ``inference_model`` and
:func:`van_mm.analysis.profiling.make_inputs` run it unchanged. The
engine runs the file; the host does what the file leaves out: for a
detector, pasting the mask head's maps into the image (the torch-free
runner's :func:`~van_mm.export.runner.detections`, so the tools check
what the runner serves); for a segmentor, mmseg's ``postprocess_result``
(logits resized to the original image, arg-max).

An engine is one subclass that opens a file and runs it on numpy arrays
(:meth:`DeployedModel.open`, :meth:`DeployedModel.infer`), named in
:data:`BACKENDS`, with the precision it computes in
(:attr:`DeployedModel.precision`), which sets how close to PyTorch its
outputs must be (:func:`van_mm.export.parity.tolerance`).
"""
import importlib
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn as nn

from van_mm.export.runner import detections
from van_mm.export.runner.models import dense_heads_only

# --backend NAME -> the DeployedModel subclass that runs files in it
BACKENDS = {
    'onnxruntime': 'van_mm.export.runtime.OnnxRuntimeModel',
    'openvino': 'van_mm.export.openvino_runtime.OpenVinoModel',
    'openvino-bf16': 'van_mm.export.openvino_runtime.OpenVinoBf16Model',
}
INSTALL_HINT = ("pip install 'van-mm[deploy]' (onnx, onnxruntime, "
                'onnxscript)')


def backend_names() -> List[str]:
    """``--backend`` choices: ``pytorch`` and the engines of
    :data:`BACKENDS`."""
    return ['pytorch', *BACKENDS]


def backend_class(backend: str) -> type:
    """The :class:`DeployedModel` subclass of ``backend``.

    Raises:
        ValueError: An unknown backend.
        ImportError: The engine is not installed.
    """
    if backend not in BACKENDS:
        raise ValueError(f'backend {backend!r} is not one of '
                         f'{", ".join(BACKENDS)}.')
    module, _, name = BACKENDS[backend].rpartition('.')
    return getattr(importlib.import_module(module), name)


def deployed_model(host: nn.Module, path: str, backend: str = 'onnxruntime',
                   device: str = 'cpu') -> 'DeployedModel':
    """The exported file ``path`` run by ``backend`` with ``host`` (the
    config's model) around it.

    Raises:
        ValueError: An unknown backend, or a file that does not hold the
            host's kind of model.
        ImportError: The engine is not installed.
        RuntimeError: The engine cannot run here as asked (a device it
            does not run on; bf16 on a CPU without it).
    """
    return backend_class(backend)(host, path, device)


def kind_of(model: nn.Module) -> str:
    """``'segmentor'`` (an mmseg model: a decode head), ``'detector'``
    (another model with a backbone: an mmdet one) or ``'backbone'``."""
    if hasattr(model, 'decode_head'):
        return 'segmentor'
    if hasattr(model, 'backbone') or hasattr(model, 'rpn_head') or \
            hasattr(model, 'bbox_head'):
        return 'detector'
    return 'backbone'


class DeployedModel(nn.Module):
    """An exported model in an inference engine, called as its PyTorch
    host is.

    Args:
        host (nn.Module): The config's model (or backbone) in eval mode:
            it supplies ``cfg``, ``dataset_meta``, the data pre-processor
            and a segmentor's post-processing; its weights are not used.
        path (str): A file written by ``tools/export_onnx.py``.
        device (str): ``'cpu'`` or ``'cuda'``. Defaults to ``'cpu'``.
    """
    # what the engine computes in: 'fp32' or 'bf16' (an int8 file's
    # convolutions run in int8 whatever this says)
    precision = 'fp32'
    backend_name = ''  # its name in BACKENDS

    def __init__(self, host: nn.Module, path: str, device: str = 'cpu'):
        super().__init__()
        self.host = host
        self.path = path
        self.device = torch.device('cuda' if str(device).startswith('cuda')
                                   else 'cpu')
        self.meta, self.inputs = self.open(path, str(device))
        self.kind = self.meta.get('kind')
        if self.kind != kind_of(host):
            raise ValueError(
                f'{path!r} holds an exported {self.kind or "unknown model"} '
                f'(metadata van_mm.kind), the config builds a '
                f'{kind_of(host)}: export it with tools/export_onnx.py for '
                'this config' + (' and --backbone' if kind_of(host) ==
                                 'backbone' else '') + '.')
        if self.kind == 'detector' and 'scale_factor' not in self.inputs:
            raise ValueError(dense_heads_only(path))
        thr = self.meta.get('mask_thr_binary')
        self.mask_thr = None if thr is None else float(thr)

    # ------------------------------------------------ what an engine adds

    def open(self, path: str, device: str
             ) -> Tuple[Dict[str, str], Dict[str, list]]:
        """Load ``path`` for ``device``; its ``van_mm.*`` metadata (prefix
        removed) and its inputs' shapes by name (a dynamic axis as
        None)."""
        raise NotImplementedError

    def infer(self, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """The file's outputs by name for its inputs ``feeds``."""
        raise NotImplementedError

    # ---------------------------------------------------- the host's part

    @property
    def cfg(self):
        return self.host.cfg

    @property
    def dataset_meta(self):
        return getattr(self.host, 'dataset_meta', None)

    @property
    def data_preprocessor(self):
        return self.host.data_preprocessor

    def run(self, name: str, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The outputs for the batch ``x`` (a tensor on any device) as
        input ``name``, as tensors on the model's device."""
        fixed = self.inputs[name]
        if any(d is not None and d != n for d, n in zip(fixed, x.shape)):
            raise ValueError(
                f'{self.path!r} was exported for inputs of shape {fixed} '
                f'only, got {tuple(x.shape)}: export it with --dynamic.')
        outs = self.infer({name: x.cpu().numpy()})
        return {k: torch.from_numpy(np.ascontiguousarray(v)).to(self.device)
                for k, v in outs.items()}

    def forward(self, x: torch.Tensor) -> tuple:
        """An exported backbone's stage outputs."""
        return tuple(self.run('input', x).values())

    @torch.no_grad()
    def test_step(self, data: dict) -> list:
        """``test_step`` of the host, with the file run by the engine."""
        images, samples = data['inputs'], data['data_samples']
        for image in images:
            if image.dtype != torch.uint8:
                raise TypeError('The exported model takes uint8 images, got '
                                f'{image.dtype}.')
        if self.kind == 'detector':
            return [self._detect(image, sample)
                    for image, sample in zip(images, samples)]
        if len({tuple(i.shape) for i in images}) > 1:  # one at a time
            return [self.test_step(dict(inputs=[i], data_samples=[s]))[0]
                    for i, s in zip(images, samples)]
        logits = self.run('image', torch.stack(list(images)))['seg_logits']
        return self.host.postprocess_result(logits, samples)

    def _detect(self, image: torch.Tensor, sample):
        """One image's detections, as mmdet's ``predict`` with
        ``rescale=True`` sets them: in the original image."""
        from mmengine.structures import InstanceData
        meta = sample.metainfo
        scale = np.asarray(meta.get('scale_factor', (1., 1.)), np.float32)
        height, width = meta['ori_shape'][:2]
        outs = self.infer(dict(image=image[None].cpu().numpy(),
                               scale_factor=scale))
        result = detections(outs, height, width, self.mask_thr)
        pred = InstanceData()
        for key, name in (('boxes', 'bboxes'), ('scores', 'scores'),
                          ('labels', 'labels'), ('masks', 'masks')):
            if key in result:
                pred[name] = torch.from_numpy(result[key]).to(self.device)
        sample.pred_instances = pred
        return sample
