# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Exporting a backbone, a segmentor or a whole detector to ONNX, checked
against PyTorch in onnxruntime before the file is written.

The graph exported is the one onnxruntime runs fastest
(:data:`ONNX_DEPLOY`); the reference it is checked against is the model
as given, so the check covers the folding too. Backbones and segmentors
are compared output by output (largest relative error); a detector by
its detections against ``test_step``'s
(:func:`van_mm.export.parity.compare_detections`) at two sizes, one no
multiple of 32, each from an original image of another size.

The check runs in onnxruntime, and in any other engine of
:data:`~van_mm.export.backends.BACKENDS` asked for (``engines``), each
within the tolerance of the precision it computes in
(:func:`van_mm.export.parity.tolerance`); :func:`check_file` runs the same
check on a file already written.

Besides what it holds (``van_mm.kind``, ``config``, ``checkpoint``,
``version``), a file's metadata says what the torch-free runner
(:mod:`van_mm.export.runner`) needs: the test pipeline's resizing
(``test_resize``, :func:`test_resize`), the class names, a detector's
``mask_thr_binary``, a segmentor's ``align_corners`` and ``threshold``.
"""
import copy
import dataclasses
import json
import logging
import os.path as osp
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from van_mm.export.backends import (
    DeployedModel,
    backend_class,
    deployed_model,
    kind_of,
)
from van_mm.export.detection_graph import WholeDetectorGraph, mask_threshold
from van_mm.export.graphs import SegmentorGraph, traceable_upsampling
from van_mm.export.onnx_ops import TRANSLATIONS
from van_mm.export.parity import (
    FP32,
    Parity,
    Tolerance,
    compare_detections,
    nms_figures,
    recorded_nms,
    tolerance,
)
from van_mm.export.runner.models import META_PREFIX, detections
from van_mm.export.runtime import import_onnxruntime
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
class EngineCheck:
    """A file checked in one engine against PyTorch: for a backbone or
    segmentor the largest relative error (and the share of equal labels)
    at each checked input shape (batch, height, width); for a detector the
    comparison of its detections with ``test_step``'s for each checked
    case ((h, w) of the image, (H, W) of the original); the tolerance."""
    engine: str
    tolerance: Tolerance
    errors: Dict[Tuple[int, int, int], float] = field(default_factory=dict)
    label_agreement: Dict[Tuple[int, int, int], float] = field(
        default_factory=dict)
    detections: Dict[Tuple[Tuple[int, int], Tuple[int, int]], Parity] = \
        field(default_factory=dict)

    @property
    def max_error(self) -> float:
        return max(self.errors.values())


@dataclass
class ExportReport:
    """What :func:`export_onnx` did: the file, the kind of model, the
    export time, the check in onnxruntime (``errors``,
    ``label_agreement``, ``detections`` as in :class:`EngineCheck`), the
    checks in every engine (``checks``, onnxruntime's first) and for a
    detector how often the file holds ``NonMaxSuppression`` and
    ``RoiAlign``."""
    path: str
    kind: str
    seconds: float
    errors: Dict[Tuple[int, int, int], float] = field(default_factory=dict)
    label_agreement: Dict[Tuple[int, int, int], float] = field(
        default_factory=dict)
    detections: Dict[Tuple[Tuple[int, int], Tuple[int, int]], Parity] = \
        field(default_factory=dict)
    operators: Dict[str, int] = field(default_factory=dict)
    checks: Dict[str, EngineCheck] = field(default_factory=dict)

    @property
    def max_error(self) -> float:
        return max(self.errors.values())

    @property
    def nms_tested(self) -> Optional[bool]:
        """Whether in some checked case PyTorch's NMS removed candidates
        that would otherwise have been among the detections, so that a
        file without a working NMS would have failed the check; None for
        a detector without NMS (Sparse R-CNN) or another kind of model."""
        figures = [p.nms for p in self.detections.values() if p.nms]
        if not figures:
            return None
        return any(suppressed > 0 for _, _, suppressed in figures)


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


def detector_cases(height: int, width: int
                   ) -> List[Tuple[Tuple[int, int], Tuple[int, int]]]:
    """What an exported detector is checked on: (size of the image it
    gets, size of the original image), the image resized as a test
    pipeline would: the export's size from twice its size, and a size no
    multiple of 32 from an original about 2.6 times as large (width and
    height scaled by slightly different factors, as rounding gives)."""
    h, w = height + 13, width + 27
    return [((height, width), (2 * height, 2 * width)),
            ((h, w), (int(h / 0.39 + 0.5), int(w / 0.39 + 0.5)))]


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
    """The module that is exported for ``model``: a
    :class:`~van_mm.export.graphs.SegmentorGraph`, a
    :class:`~van_mm.export.detection_graph.WholeDetectorGraph`, or the
    backbone itself."""
    if kind == 'segmentor':
        return SegmentorGraph(model).eval()
    if kind == 'detector':
        return WholeDetectorGraph(model).eval()
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


# Test-pipeline steps that change the image's geometry in ways the runner
# does not reproduce.
_UNREPRODUCED = ('RandomResize', 'RandomChoiceResize', 'FixShapeResize',
                 'Pad', 'RandomFlip', 'MultiScaleFlipAug', 'TestTimeAug',
                 'RandomCrop', 'CenterCrop', 'RandomChoice')


def test_pipeline(cfg) -> list:
    """The config's test pipeline (its test dataset's, else
    ``test_pipeline``)."""
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    return dataset.get('pipeline', cfg.get('test_pipeline')) or []


def test_resize(cfg) -> List[dict]:
    """The test pipeline's resizing steps as the torch-free runner
    reproduces them (:func:`van_mm.export.runner.resize_steps`): mmcv's
    ``Resize(scale, keep_ratio)`` (mmdet's and mmseg's) and mmseg's
    ``ResizeToMultiple(size_divisor)``, bilinear with OpenCV.

    Raises:
        ValueError: The pipeline has a step the runner cannot reproduce
            (named).
    """
    steps = []
    for step in test_pipeline(cfg):
        kind = str(step.get('type', '')).split('.')[-1]
        if kind in ('Resize', 'ResizeToMultiple') and (
                (step.get('interpolation') or 'bilinear') != 'bilinear' or
                step.get('backend', 'cv2') != 'cv2'):
            raise ValueError(
                f'the test pipeline\'s {dict(step)} does not resize '
                'bilinearly with OpenCV, as the runner does')
        if kind == 'Resize':
            scale = step.get('scale')
            if scale is None or step.get('scale_factor') is not None:
                raise ValueError(
                    f'the test pipeline\'s {dict(step)} is not '
                    'Resize(scale=..., keep_ratio=...), which the runner '
                    'reproduces')
            scale = [scale, scale] if isinstance(scale, int) else \
                [int(v) for v in scale]
            steps.append(dict(type='Resize', scale=scale,
                              keep_ratio=bool(step.get('keep_ratio',
                                                       False))))
        elif kind == 'ResizeToMultiple':
            steps.append(dict(type='ResizeToMultiple', size_divisor=int(
                step.get('size_divisor', 32))))
        elif kind in _UNREPRODUCED:
            raise ValueError(f'the test pipeline has {kind}, which the '
                             'runner does not reproduce')
    return steps


def runner_metadata(model: nn.Module, kind: str, cfg=None,
                    classes: Optional[Sequence[str]] = None
                    ) -> Dict[str, str]:
    """The metadata the torch-free runner reads (module docstring)."""
    meta: Dict[str, str] = {}
    if kind == 'backbone':
        return meta
    classes = classes or (getattr(model, 'dataset_meta', None) or
                          {}).get('classes')
    if classes:
        meta['classes'] = json.dumps([str(c) for c in classes])
    if cfg is not None:
        try:
            meta['test_resize'] = json.dumps(test_resize(cfg))
        except ValueError as e:
            meta['test_resize_unsupported'] = str(e)
    if kind == 'detector':
        threshold = mask_threshold(model)
        if threshold is not None:
            meta['mask_thr_binary'] = repr(threshold)
    else:
        head = model.decode_head
        meta['align_corners'] = json.dumps(bool(head.align_corners))
        meta['threshold'] = repr(float(getattr(head, 'threshold', None)
                                       or 0.3))
    return meta


def output_names(graph: nn.Module, kind: str,
                 outputs: Sequence[torch.Tensor]) -> List[str]:
    if kind == 'segmentor':
        return list(SegmentorGraph.output_names)
    if kind == 'detector':
        return graph.output_names
    return [f'stage_{i}' for i in range(len(outputs))]


def _as_tuple(outs) -> Tuple[torch.Tensor, ...]:
    return tuple(outs) if isinstance(outs, (list, tuple)) else (outs, )


def to_onnx(graph: nn.Module, inputs: Dict[str, torch.Tensor], path: str,
            names: List[str], dynamic_shapes, metadata: Dict[str, str],
            opset: Optional[int] = None) -> None:
    """``torch.onnx.export`` (the ``torch.export`` based exporter) of
    ``graph`` on the example ``inputs`` (by name) to ``path``, with
    van_mm's NMS and RoIAlign as ONNX operators
    (:data:`~van_mm.export.onnx_ops.TRANSLATIONS`), weights inside the
    file, ``metadata`` in its metadata properties."""
    logging.getLogger('torch.onnx').setLevel(logging.ERROR)
    with torch.no_grad(), warnings.catch_warnings():
        # torch 2.13's exporter copies its own pytree specs the way it
        # deprecates (a FutureWarning per export, nothing to act on)
        warnings.filterwarnings(
            'ignore', r'`isinstance\(treespec, LeafSpec\)` is deprecated',
            FutureWarning)
        program = torch.onnx.export(
            graph, tuple(inputs.values()), dynamo=True, verbose=False,
            input_names=list(inputs), output_names=names,
            dynamic_shapes=dynamic_shapes, opset_version=opset,
            custom_translation_table=TRANSLATIONS, external_data=False)
    props = program.model.metadata_props
    props.update({META_PREFIX + k: v for k, v in metadata.items()})
    program.save(path, external_data=False)


def onnx_operators(path: str) -> Dict[str, int]:
    """How often each operator occurs in the file's main graph."""
    import onnx
    counts: Dict[str, int] = {}
    for node in onnx.load(path, load_external_data=False).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def engine_io(engine) -> Tuple[Callable[[Dict[str, np.ndarray]],
                                          Dict[str, np.ndarray]], List[str],
                                 str]:
    """How to run ``engine``, an onnxruntime session or a
    :class:`~van_mm.export.backends.DeployedModel`: its function from
    feeds to outputs by name (in the file's order), its input names and
    its name for messages."""
    if isinstance(engine, DeployedModel):
        return engine.infer, list(engine.inputs), engine.backend_name
    names = [o.name for o in engine.get_outputs()]
    return (lambda feeds: dict(zip(names, engine.run(None, feeds))),
            [i.name for i in engine.get_inputs()], 'onnxruntime')


def compare(reference: nn.Module, engine, kind: str,
            shape: Tuple[int, int, int]) -> Tuple[float, Optional[float]]:
    """Largest ``max|a - b| / max|a|`` over the outputs of ``reference``
    (PyTorch) and ``engine`` (an onnxruntime session or a
    :class:`~van_mm.export.backends.DeployedModel`) on generated pictures
    of ``shape``; for a segmentor also the share of equal labels."""
    infer, inputs, name = engine_io(engine)
    x = example_input(kind, *shape, seed=sum(shape))
    with torch.no_grad():
        ref = _as_tuple(reference(x))
    try:
        got = list(infer({inputs[0]: x.numpy()}).values())
    except Exception as e:  # the engine's own exception types
        raise ExportCheckError(f'{name} fails: {e}') from e
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


def reference_detections(detector: nn.Module, image: torch.Tensor,
                         original: Tuple[int, int]) -> Dict[str, np.ndarray]:
    """``detector.test_step`` on ``image`` (uint8 (3, h, w), as the test
    pipeline gives it) resized from an image of size ``original``: its
    detections in the original image, as numpy arrays."""
    from mmdet.structures import DetDataSample
    h, w = image.shape[1:]
    sample = DetDataSample(metainfo=dict(
        img_shape=(h, w), ori_shape=tuple(original), pad_shape=(h, w),
        scale_factor=(w / original[1], h / original[0])))
    with torch.no_grad():
        pred = detector.test_step(dict(inputs=[image],
                                       data_samples=[sample]))
    pred = pred[0].pred_instances
    out = dict(boxes=pred.bboxes.numpy(), scores=pred.scores.numpy(),
               labels=pred.labels.numpy())
    if 'masks' in pred:
        out['masks'] = pred.masks.numpy().astype(bool)
    return out


def file_detections(engine, image: torch.Tensor,
                    original: Tuple[int, int], mask_thr: Optional[float]
                    ) -> Dict[str, np.ndarray]:
    """What the exported detector gives for the same image as
    :func:`reference_detections` in ``engine`` (an onnxruntime session or
    a :class:`~van_mm.export.backends.DeployedModel`), masks pasted as the
    runner pastes them."""
    infer, _, _ = engine_io(engine)
    h, w = image.shape[1:]
    scale = np.array([w / original[1], h / original[0]], np.float32)
    outs = infer(dict(image=image[None].numpy(), scale_factor=scale))
    return detections(outs, *original, mask_thr)


def max_per_image(model: nn.Module) -> Optional[int]:
    """The detector's ``max_per_img`` (its last stage's), if it has
    one."""
    for head in ('roi_head', 'bbox_head'):
        cfg = getattr(getattr(model, head, None), 'test_cfg', None)
        if cfg is not None and cfg.get('max_per_img'):
            return int(cfg['max_per_img'])
    return None


def tolerance_text(tol: Tolerance, kind: str) -> str:
    """What ``tol`` needs, in words, for a model of ``kind``."""
    if kind != 'detector':
        return f'largest relative error {tol.rtol:g}'
    which = 'every detection' if tol.min_score is None else (
        f'every detection scored above {tol.min_score:g} (and clear of the '
        f'top-k cut) by more than {tol.score_tol:g}')
    return (f'{which} matched with the same label, IoU >= {tol.iou:g}, '
            f'scores within {tol.score_tol:g}, masks '
            f'{100 * tol.mask_tol:g}% equal')


def _check_detector(model: nn.Module, engine, shape: Tuple[int, int],
                    check: EngineCheck, path: str, action: str) -> None:
    """Compare the file's detections in ``engine`` with
    ``model.test_step``'s on generated scenes (:func:`detector_cases`);
    raise :class:`ExportCheckError` at the first case that fails."""
    threshold = mask_threshold(model)
    tol = check.tolerance
    for size, original in detector_cases(*shape):
        image = torch.from_numpy(scene_picture(*size, seed=sum(size))
                                 ).permute(2, 0, 1).contiguous()
        with recorded_nms() as calls:
            ref = reference_detections(model, image, original)
        try:
            got = file_detections(engine, image, original, threshold)
        except Exception as e:  # the engine's own exception types
            raise ExportCheckError(f'{path} {action}: {check.engine} fails '
                                   f'at input {size}: {e}') from e
        parity = compare_detections(ref, got, tol.iou, tol.score_tol,
                                    tol.min_score, max_per_image(model))
        parity.nms = nms_figures(calls, len(ref['scores']))
        check.detections[(size, original)] = parity
        if not parity.within(tol):
            raise ExportCheckError(
                f'{path} {action}: on a {size[0]}x{size[1]} image '
                f'resized from {original[0]}x{original[1]} the exported '
                f'detector in {check.engine} differs from PyTorch: '
                f'{parity} (needed: {tolerance_text(tol, "detector")}).')


def export_onnx(model: nn.Module, path: str, shape: Tuple[int, int] = (
        512, 512), dynamic: bool = False, rtol: float = RTOL,
                metadata: Optional[Dict[str, str]] = None,
                opset: Optional[int] = None, batch: int = 1, cfg=None,
                classes: Optional[Sequence[str]] = None,
                engines: Sequence[str] = ()) -> ExportReport:
    """Export ``model`` (a backbone, an mmseg segmentor or an mmdet
    detector, in eval mode, on the CPU) to ONNX at ``path``.

    A backbone or segmentor (:mod:`van_mm.export.graphs`) is run in
    onnxruntime on generated pictures at the shapes of
    :func:`check_shapes` and compared with ``model`` in PyTorch; above
    ``rtol`` nothing is written. A detector is exported whole
    (:class:`~van_mm.export.detection_graph.WholeDetectorGraph`: one
    image, any height and width, detections in the original image) and
    its detections are compared with ``model.test_step``'s on the cases
    of :func:`detector_cases`; if any differs nothing is written. Then the
    same in each of ``engines``, within the tolerance of its precision.
    Either way :class:`ExportCheckError` says how it differed; otherwise
    the file replaces ``path`` in one step.

    Args:
        model (nn.Module): The model, as ``van_mm.apis.build_from_config``
            builds it.
        path (str): Where to write the ``.onnx`` file.
        shape (tuple[int, int]): Example input (H, W). Defaults to
            (512, 512).
        dynamic (bool): Batch, height and width dynamic; otherwise the
            graph takes exactly ``shape`` and ``batch``. A detector's
            height and width are always dynamic, its batch 1.
        rtol (float): Largest relative error accepted (backbones and
            segmentors) in fp32 engines. Defaults to 1e-4.
        metadata (dict, optional): More ``van_mm.*`` metadata entries.
        opset (int, optional): ONNX opset; torch's default if None.
        batch (int): Batch size of the example input. Defaults to 1.
        cfg (Config, optional): The model's config: its test pipeline's
            resizing goes into the metadata for the torch-free runner.
        classes (list[str], optional): Class names for the metadata
            (default: ``model.dataset_meta``'s, if any).
        engines (list[str]): More engines of
            :data:`~van_mm.export.backends.BACKENDS` to check the file in
            (onnxruntime always is, first).
    """
    import_onnxruntime()
    engines = ['onnxruntime'] + [e for e in engines if e != 'onnxruntime']
    for engine in engines:
        backend_class(engine)  # unknown or not installed: before exporting
    start = time.perf_counter()
    kind = kind_of(model)
    if kind == 'detector' and batch != 1:
        raise ValueError(f'batch {batch}: a detector is exported for one '
                         'image at a time (batch 1).')
    if dynamic:
        require_dynamic_shapes(model)
    model = model.eval()
    graph = graph_of(prepare_for_onnx(model), kind)
    meta = dict(kind=kind, version=__version__,
                **runner_metadata(model, kind, cfg, classes),
                **(metadata or {}))
    example = example_input(kind, batch, *shape)
    dims = torch.export.Dim.DYNAMIC
    if kind == 'detector':
        inputs = dict(image=example, scale_factor=torch.ones(2))
        shapes = ({2: dims, 3: dims}, None)
        names = graph.output_names
    else:
        inputs = {'image' if kind == 'segmentor' else 'input': example}
        shapes = ({0: dims, 2: dims, 3: dims}, ) if dynamic else None
        with torch.no_grad():
            names = output_names(graph, kind, _as_tuple(graph(example)))
    report = ExportReport(path, kind, 0.)
    with atomic_write(path) as tmp:
        to_onnx(graph, inputs, tmp, names, shapes, meta, opset)
        if kind == 'detector':
            ops = onnx_operators(tmp)
            report.operators = {op: ops.get(op, 0) for op in (
                'NonMaxSuppression', 'RoiAlign')}
        for engine in engines:
            report.checks[engine] = _check(
                model, tmp, engine, shape, dynamic, batch, rtol,
                path, 'not written')
    first = report.checks['onnxruntime']
    report.errors, report.label_agreement, report.detections = \
        first.errors, first.label_agreement, first.detections
    report.seconds = time.perf_counter() - start
    return report


def check_file(model: nn.Module, path: str, engine: str = 'onnxruntime',
               shape: Tuple[int, int] = (512, 512), dynamic: bool = False,
               batch: int = 1, rtol: float = RTOL) -> EngineCheck:
    """The check of :func:`export_onnx` for the file ``path`` (written
    from ``model``) in ``engine``, within the tolerance of the engine's
    precision (``rtol`` for fp32 tensors).

    Raises:
        ExportCheckError: The file's outputs in ``engine`` differ from
            PyTorch's, or the engine fails on it.
    """
    return _check(model.eval(), path, engine, shape, dynamic, batch, rtol,
                  path, 'fails the check')


def _check(model: nn.Module, file: str, engine: str, shape: Tuple[int, int],
           dynamic: bool, batch: int, rtol: float, path: str,
           action: str) -> EngineCheck:
    """``file`` in ``engine`` against ``model``; messages name ``path``
    and what happens to it (``action``)."""
    kind = kind_of(model)
    try:
        run = deployed_model(model, file, engine)
    except (ValueError, RuntimeError) as e:
        raise ExportCheckError(f'{path} {action}: {engine} cannot run it: '
                               f'{e}') from e
    tol = tolerance(run.precision)
    if tol.rtol == FP32.rtol:
        tol = dataclasses.replace(tol, rtol=rtol)
    check = EngineCheck(engine, tol)
    if kind == 'detector':
        _check_detector(model, run, shape, check, path, action)
    else:
        _check_tensors(graph_of(model, kind), run, kind, shape, dynamic,
                       batch, check, path, action)
    return check


def _check_tensors(reference: nn.Module, engine, kind: str,
                   shape: Tuple[int, int], dynamic: bool, batch: int,
                   check: EngineCheck, path: str, action: str) -> None:
    """Compare a backbone's or segmentor's outputs with PyTorch's at the
    shapes of :func:`check_shapes`; raise :class:`ExportCheckError` above
    the tolerance."""
    rtol = check.tolerance.rtol
    where = '' if check.engine == 'onnxruntime' else f' in {check.engine}'
    for size in check_shapes(*shape, dynamic, batch):
        try:
            error, agreement = compare(reference, engine, kind, size)
        except ExportCheckError as e:
            raise ExportCheckError(f'{path} {action}: at input '
                                   f'{size}: {e}') from e
        check.errors[size] = error
        if agreement is not None:
            check.label_agreement[size] = agreement
        if not error <= rtol:
            raise ExportCheckError(
                f'{path} {action}: at input {size} the exported '
                f'model{where} differs from PyTorch by {error:.2e} (largest '
                f'relative error), more than {rtol:g}.')


def engine_model(model: nn.Module, backend: str = 'onnxruntime',
                 path: Optional[str] = None,
                 shape: Tuple[int, int] = (512, 512), batch: int = 1,
                 device: str = 'cpu') -> DeployedModel:
    """``model`` in ``backend``: from the exported file ``path``, or
    exported for inputs of ``batch`` x ``shape`` into a temporary file
    first (checked as :func:`export_onnx` checks, in onnxruntime and in
    ``backend``; a detector for any size, one image at a time)."""
    if path is not None:
        return deployed_model(model, path, backend, device)
    with tempfile.TemporaryDirectory() as tmp:
        file = osp.join(tmp, 'model.onnx')
        detector = kind_of(model) == 'detector'
        export_onnx(model, file, shape, batch=1 if detector else batch,
                    engines=[backend])
        return deployed_model(model, file, backend, device)


def onnxruntime_model(model: nn.Module, path: Optional[str] = None,
                      shape: Tuple[int, int] = (512, 512), batch: int = 1,
                      device: str = 'cpu') -> DeployedModel:
    """:func:`engine_model` in onnxruntime."""
    return engine_model(model, 'onnxruntime', path, shape, batch, device)
