# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Running exported models in onnxruntime as the PyTorch models run.

:class:`OnnxRuntimeModel` wraps an ONNX file written by
:func:`van_mm.export.export_onnx` with the config's PyTorch model as its
host: its ``test_step`` takes and returns what the PyTorch model's does
(so ``mmdet.apis.inference_detector``, ``mmseg.apis.inference_model`` and
:func:`van_mm.analysis.profiling.make_inputs` run it unchanged), the
network runs in onnxruntime and the host does what the graph leaves out
with mmdet's and mmseg's own code: resizing logits to the original image
and the arg-max (segmentors), anchors, box decoding, NMS and the RoI heads
(detectors).
"""
import json
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn

from van_mm.export.graphs import split_detector_outputs

INSTALL_HINT = ("pip install 'van-mm[deploy]' (onnx, onnxruntime, "
                'onnxscript)')
META_PREFIX = 'van_mm.'


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


def read_metadata(session) -> Dict[str, str]:
    """The ``van_mm.*`` entries of the model's metadata, prefix removed."""
    meta = session.get_modelmeta().custom_metadata_map
    return {k[len(META_PREFIX):]: v for k, v in meta.items()
            if k.startswith(META_PREFIX)}


def kind_of(model: nn.Module) -> str:
    """``'backbone'``, ``'segmentor'`` or ``'detector'``."""
    if hasattr(model, 'decode_head'):
        return 'segmentor'
    if hasattr(model, 'rpn_head') or hasattr(model, 'bbox_head'):
        return 'detector'
    return 'backbone'


class OnnxRuntimeModel(nn.Module):
    """An exported model in onnxruntime, called as its PyTorch host is.

    Args:
        host (nn.Module): The config's model (or backbone) in eval mode: it
            supplies ``cfg``, ``dataset_meta`` and the post-processing. A
            two-stage detector's RoI heads run in it, so it needs the
            checkpoint's weights; the rest of its weights are not used.
        path (str): An ONNX file written by ``tools/export_onnx.py``.
        device (str): ``'cpu'`` or ``'cuda'``. Defaults to ``'cpu'``.
    """

    def __init__(self, host: nn.Module, path: str, device: str = 'cpu'):
        super().__init__()
        self.host = host
        self.path = path
        self.device = torch.device('cuda' if device.startswith('cuda')
                                   else 'cpu')
        self.session = inference_session(path, device)
        self.meta = read_metadata(self.session)
        self.kind = self.meta.get('kind')
        if self.kind != kind_of(host):
            raise ValueError(
                f'{path!r} holds an exported {self.kind or "unknown model"} '
                f'(metadata van_mm.kind), the config builds a '
                f'{kind_of(host)}: export it with tools/export_onnx.py for '
                'this config' + (' and --backbone' if kind_of(host) ==
                                 'backbone' else '') + '.')
        self.input = self.session.get_inputs()[0]
        self.layout = json.loads(self.meta.get('layout', '{}'))

    @property
    def cfg(self):
        return self.host.cfg

    @property
    def dataset_meta(self):
        return getattr(self.host, 'dataset_meta', None)

    @property
    def data_preprocessor(self):
        return self.host.data_preprocessor

    def run(self, x: torch.Tensor) -> List[torch.Tensor]:
        """The graph's outputs for a batch ``x`` (a tensor on any device),
        on the model's device."""
        fixed = [d if isinstance(d, int) else None for d in self.input.shape]
        if any(d is not None and d != n for d, n in zip(fixed, x.shape)):
            raise ValueError(
                f'{self.path!r} was exported for inputs of shape {fixed} '
                f'only, got {tuple(x.shape)}: export it with --dynamic.')
        outs = self.session.run(None, {self.input.name: x.cpu().numpy()})
        return [torch.from_numpy(np.ascontiguousarray(o)).to(self.device)
                for o in outs]

    def forward(self, x: torch.Tensor) -> tuple:
        """An exported backbone's stage outputs."""
        return tuple(self.run(x))

    @torch.no_grad()
    def test_step(self, data: dict) -> list:
        """``test_step`` of the host, with the network in onnxruntime."""
        images = data['inputs']
        if isinstance(images, (list, tuple)):
            if len({tuple(i.shape) for i in images}) > 1:
                raise ValueError('The exported model takes a batch of '
                                 'images of one size.')
            images = torch.stack(list(images))
        if images.dtype != torch.uint8:
            raise TypeError(f'The exported model takes uint8 images, got '
                            f'{images.dtype}.')
        samples = data['data_samples']
        outs = self.run(images)
        if self.kind == 'segmentor':
            return self.host.postprocess_result(outs[0], samples)
        return self._detect(outs, samples, images.shape[2:])

    def _detect(self, outs: Sequence[torch.Tensor], samples: list,
                size: Sequence[int]) -> list:
        """mmdet's ``predict`` after the dense head, on the host."""
        det = self.host
        d = det.data_preprocessor.pad_size_divisor
        padded = tuple(-(-s // d) * d for s in size)
        for sample in samples:  # as the data pre-processor records them
            sample.set_metainfo(dict(batch_input_shape=padded,
                                     pad_shape=padded))
        metas = [s.metainfo for s in samples]
        feats, head_outs = split_detector_outputs(outs, self.layout)
        if self.layout['features']:
            proposals = det.rpn_head.predict_by_feat(
                *head_outs, batch_img_metas=metas, rescale=False)
            results = det.roi_head.predict(tuple(feats), proposals, samples,
                                           rescale=True)
        else:
            results = det.bbox_head.predict_by_feat(
                *head_outs, batch_img_metas=metas, rescale=True)
        return det.add_pred_to_datasample(samples, results)
