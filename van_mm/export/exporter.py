# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Exporting a backbone, segmentor or detector to ONNX, checked against
PyTorch in onnxruntime before the file is written.

The graph exported is the one onnxruntime runs fastest
(:data:`ONNX_DEPLOY`); the reference it is checked against is the model
as given, so the check covers the folding too.
"""
import copy
import logging
import os.path as osp
import tempfile
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from van_mm.export.graphs import (
    DetectorGraph,
    SegmentorGraph,
    traceable_upsampling,
)
from van_mm.export.runtime import (
    META_PREFIX,
    OnnxRuntimeModel,
    import_onnxruntime,
    inference_session,
    kind_of,
)
from van_mm.fileio import atomic_write
from van_mm.images import IMAGENET_MEAN, IMAGENET_STD
from van_mm.synthetic import scene_picture
from van_mm.version import __version__

# VAN's deploy mode for onnxruntime: BatchNorm and layer scale folded into
# the convolutions (onnxruntime folds only a BN that follows a conv; VAN's
# come before them), LKA's dilated conv kept whole and no row bands: both
# tricks pay in oneDNN, not in onnxruntime (docs/speed.md has the figures).
ONNX_DEPLOY = dict(phase_split=False, mlp_bands=None)
RTOL = 1e-4  # largest relative error accepted for fp32


class ExportCheckError(RuntimeError):
    """The exported model's outputs differ from PyTorch's."""


@dataclass
class ExportReport:
    """What :func:`export_onnx` did: the file, the kind of model, the
    export time and the largest relative error at each checked input
    shape (batch, height, width)."""
    path: str
    kind: str
    seconds: float
    errors: Dict[Tuple[int, int, int], float] = field(default_factory=dict)
    label_agreement: Dict[Tuple[int, int, int], float] = field(
        default_factory=dict)

    @property
    def max_error(self) -> float:
        return max(self.errors.values())


def check_shapes(height: int, width: int, dynamic: bool,
                 batch: int = 1) -> List[Tuple[int, int, int]]:
    """Input shapes (batch, H, W) the export is checked at: its own, and
    with ``dynamic`` also a batch of two at another size and a size that
    is no multiple of 32."""
    if not dynamic:
        return [(batch, height, width)]
    return [(1, height, width),
            (2, height + 64, width - 32 if width > 96 else width + 96),
            (1, height + 13, width + 27)]


def example_input(kind: str, batch: int, height: int,
                  width: int, seed: int = 0) -> torch.Tensor:
    """Generated scene pictures (:func:`van_mm.synthetic.scene_picture`) as
    the exported model takes them: uint8 BGR (B, 3, H, W) for a segmentor
    or detector, RGB normalised with the ImageNet mean and std for a bare
    backbone."""
    images = torch.stack([
        torch.from_numpy(scene_picture(height, width, seed + i)).permute(
            2, 0, 1) for i in range(batch)])
    if kind != 'backbone':
        return images
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (images.flip(1).float() - mean) / std


def graph_of(model: nn.Module, kind: str) -> nn.Module:
    """The module that is exported for ``model`` (see
    :mod:`van_mm.export.graphs`)."""
    if kind == 'segmentor':
        return SegmentorGraph(model).eval()
    if kind == 'detector':
        return DetectorGraph(model).eval()
    return model


def prepare_for_onnx(model: nn.Module) -> nn.Module:
    """A copy of ``model`` to export: a VAN backbone in the deploy mode
    that runs fastest in onnxruntime (:data:`ONNX_DEPLOY`; other backbones
    as they are), upsampling layers whose output size ``torch.export``
    keeps symbolic (:func:`~van_mm.export.graphs.traceable_upsampling`)."""
    model = copy.deepcopy(model).eval()
    backbone = getattr(model, 'backbone', model)
    if hasattr(backbone, 'switch_to_deploy'):
        backbone.switch_to_deploy(**ONNX_DEPLOY)
    return traceable_upsampling(model)


def require_dynamic_shapes(model: nn.Module) -> None:
    """Fail early for layers whose ONNX form holds the example's size:
    adaptive pooling to more than one cell (UperNet's pyramid pooling)."""
    for name, module in model.named_modules():
        if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            size = module.output_size
            if size not in (1, (1, 1)):
                raise ValueError(
                    f'{name} ({type(module).__name__}, output size {size}) '
                    'is exported for the example\'s input size only: export '
                    'without --dynamic, at the size the model will get.')


def output_names(graph: nn.Module, kind: str,
                 outputs: Sequence[torch.Tensor]) -> List[str]:
    if kind == 'segmentor':
        return list(SegmentorGraph.output_names)
    if kind == 'detector':
        return graph.output_names()
    return [f'stage_{i}' for i in range(len(outputs))]


def _as_tuple(outs) -> Tuple[torch.Tensor, ...]:
    return tuple(outs) if isinstance(outs, (list, tuple)) else (outs, )


def to_onnx(graph: nn.Module, example: torch.Tensor, path: str,
            names: List[str], dynamic: bool, metadata: Dict[str, str],
            opset: Optional[int] = None) -> None:
    """``torch.onnx.export`` (the ``torch.export`` based exporter) of
    ``graph`` to ``path``, batch, height and width dynamic if asked,
    weights inside the file, ``metadata`` in its metadata properties."""
    dims = torch.export.Dim.DYNAMIC
    shapes = ({0: dims, 2: dims, 3: dims}, ) if dynamic else None
    logging.getLogger('torch.onnx').setLevel(logging.ERROR)
    with torch.no_grad():
        program = torch.onnx.export(
            graph, (example, ), dynamo=True, verbose=False,
            input_names=['image' if example.dtype == torch.uint8 else
                         'input'],
            output_names=names, dynamic_shapes=shapes, opset_version=opset,
            external_data=False)
    props = program.model.metadata_props
    props.update({META_PREFIX + k: v for k, v in metadata.items()})
    program.save(path, external_data=False)


def compare(reference: nn.Module, session, kind: str,
            shape: Tuple[int, int, int]) -> Tuple[float, Optional[float]]:
    """Largest ``max|a - b| / max|a|`` over the outputs of ``reference``
    (PyTorch) and ``session`` (onnxruntime) on generated pictures of
    ``shape``; for a segmentor also the share of equal labels."""
    x = example_input(kind, *shape, seed=sum(shape))
    with torch.no_grad():
        ref = _as_tuple(reference(x))
    try:
        got = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    except Exception as e:  # onnxruntime's own exception types
        raise ExportCheckError(f'onnxruntime fails: {e}') from e
    if len(got) != len(ref):
        raise ExportCheckError(f'{len(got)} outputs, PyTorch has {len(ref)}')
    errors = []
    for a, b in zip(ref, got):
        b = torch.from_numpy(b)
        if a.shape != b.shape:
            raise ExportCheckError(f'output of shape {tuple(b.shape)}, '
                                   f'PyTorch {tuple(a.shape)}')
        if a.is_floating_point():
            scale = a.abs().max().clamp_min(1e-12)
            errors.append(((a - b).abs().max() / scale).item())
    agreement = None
    if kind == 'segmentor':
        agreement = (ref[1] == torch.from_numpy(got[1])).float().mean()
        agreement = agreement.item()
    return max(errors), agreement


def export_onnx(model: nn.Module, path: str, shape: Tuple[int, int] = (
        512, 512), dynamic: bool = False, rtol: float = RTOL,
                metadata: Optional[Dict[str, str]] = None,
                opset: Optional[int] = None, batch: int = 1) -> ExportReport:
    """Export ``model`` (a backbone, an mmseg segmentor or an mmdet
    detector, in eval mode, on the CPU) to ONNX at ``path``.

    The exported graph (:mod:`van_mm.export.graphs`) is run in onnxruntime
    on generated pictures at the shapes of :func:`check_shapes` and
    compared with ``model`` in PyTorch. Above ``rtol`` nothing is written
    and :class:`ExportCheckError` says by how much it differed; otherwise
    the file replaces ``path`` in one step.

    Args:
        model (nn.Module): The model, as ``van_mm.apis.build_from_config``
            builds it.
        path (str): Where to write the ``.onnx`` file.
        shape (tuple[int, int]): Example input (H, W). Defaults to
            (512, 512).
        dynamic (bool): Batch, height and width dynamic; otherwise the
            graph takes exactly ``shape`` and ``batch``.
        rtol (float): Largest relative error accepted. Defaults to 1e-4.
        metadata (dict, optional): More ``van_mm.*`` metadata entries.
        opset (int, optional): ONNX opset; torch's default if None.
        batch (int): Batch size of the example input. Defaults to 1.
    """
    import_onnxruntime()
    start = time.perf_counter()
    kind = kind_of(model)
    if dynamic:
        require_dynamic_shapes(model)
    model = model.eval()
    reference = graph_of(model, kind)
    graph = graph_of(prepare_for_onnx(model), kind)
    example = example_input(kind, batch, *shape)
    with torch.no_grad():
        outputs = _as_tuple(graph(example))
    meta = dict(kind=kind, version=__version__, **(metadata or {}))
    if kind == 'detector':
        meta['layout'] = graph.layout_json()
    report = ExportReport(path, kind, 0.)
    with atomic_write(path) as tmp:
        to_onnx(graph, example, tmp, output_names(graph, kind, outputs),
                dynamic, meta, opset)
        session = inference_session(tmp)
        for check in check_shapes(*shape, dynamic, batch):
            try:
                error, agreement = compare(reference, session, kind, check)
            except ExportCheckError as e:
                raise ExportCheckError(f'{path} not written: at input '
                                       f'{check}: {e}') from e
            report.errors[check] = error
            if agreement is not None:
                report.label_agreement[check] = agreement
            if not error <= rtol:
                raise ExportCheckError(
                    f'{path} not written: at input {check} the exported '
                    f'model differs from PyTorch by {error:.2e} (largest '
                    f'relative error), more than {rtol:g}.')
        del session
    report.seconds = time.perf_counter() - start
    return report


def onnxruntime_model(model: nn.Module, path: Optional[str] = None,
                      shape: Tuple[int, int] = (512, 512), batch: int = 1,
                      device: str = 'cpu') -> OnnxRuntimeModel:
    """``model`` in onnxruntime (:class:`OnnxRuntimeModel`): from the
    exported file ``path``, or exported for inputs of ``batch`` x
    ``shape`` into a temporary file first (checked as
    :func:`export_onnx` checks)."""
    if path is not None:
        return OnnxRuntimeModel(model, path, device)
    with tempfile.TemporaryDirectory() as tmp:
        file = osp.join(tmp, 'model.onnx')
        export_onnx(model, file, shape, batch=batch)
        return OnnxRuntimeModel(model, file, device)
