# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""int8 files: post-training static quantization of an exported ``.onnx``
file, calibrated on images of the config's own dataset
(``tools/quantize.py``).

* :func:`calibration_feeds`: images of a split of the config's dataset
  (the training split by default, so that the images a model is evaluated
  on stay unseen) through the config's *test* pipeline, as the exported
  file takes them;
* :func:`quantize_file`: onnxruntime's ``quantize_static`` in the QDQ
  format: int8 weights per output channel, uint8 activations with the
  calibration's ranges (min-max by default), around every convolution
  (``--skip-depthwise``: the depth-wise ones left in float); the rest of
  the graph stays float. The file keeps the ``van_mm.*`` metadata and adds
  ``van_mm.quantization``, so the tools run it as they run the fp32 file:
  onnxruntime runs the convolutions with its int8 kernels, OpenVINO
  (``--backend openvino``/``openvino-bf16``) with its own, the rest in
  fp32/bf16;
* :func:`compare_files`: the int8 file against the fp32 file on images
  of another split.

Why onnxruntime's quantizer and not OpenVINO's NNCF: docs/engines.md (the
same accuracy and, run in OpenVINO, the same speed, measured; one file for
both engines; no further dependency).
"""
import copy
import json
import os.path as osp
import tempfile
import time
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np

from van_mm.export.exporter import test_pipeline
from van_mm.export.runner.models import META_PREFIX, detections
from van_mm.export.runner.resize import resize_bilinear
from van_mm.fileio import atomic_write

METHODS = ('minmax', 'percentile', 'entropy')
# how the int8 file's detections are matched to the fp32 file's in the
# report (not a pass/fail check): int8 moves scores by a few hundredths
COMPARE = dict(iou=0.8, score_tol=0.1, min_score=0.3)


@dataclass
class Calibration:
    """Images of a config's dataset as an exported file's inputs."""
    split: str
    indices: List[int]
    feeds: List[Dict[str, np.ndarray]]
    originals: List[tuple]  # (H, W) of each image before the pipeline
    resized: int = 0  # images resized to a static file's input size


def file_inputs(path: str):
    """An ONNX file's ``van_mm.*`` metadata and its inputs' shapes by name
    (a dynamic axis as None)."""
    import onnx
    model = onnx.load(path, load_external_data=False)
    meta = {p.key[len(META_PREFIX):]: p.value for p in model.metadata_props
            if p.key.startswith(META_PREFIX)}
    inits = {i.name for i in model.graph.initializer}
    inputs = {i.name: [d.dim_value if d.HasField('dim_value') else None
                       for d in i.type.tensor_type.shape.dim]
              for i in model.graph.input if i.name not in inits}
    return meta, inputs


def _leaf_dataset(ds_cfg: dict) -> dict:
    """The dataset that reads the files, inside wrappers
    (``RepeatDataset``, ``ClassBalancedDataset``; the first of a
    ``ConcatDataset``)."""
    while 'pipeline' not in ds_cfg:
        if 'dataset' in ds_cfg:
            ds_cfg = ds_cfg['dataset']
        elif ds_cfg.get('datasets'):
            ds_cfg = ds_cfg['datasets'][0]
        else:
            break
    return ds_cfg


def calibration_feeds(cfg, path: str, num: int = 32, split: str = 'train',
                      seed: int = 0, skip: Sequence[int] = ()
                      ) -> Calibration:
    """``num`` images of the config's ``split`` dataset, drawn at random
    with ``seed`` (leaving out ``skip``), through the config's test
    pipeline (what the model sees at inference), as the inputs of the
    exported file ``path``: a segmentor's or detector's uint8 BGR image
    (1, 3, H, W) (a detector's with its ``scale_factor``), a backbone's
    image normalised as the data pre-processor normalises it. For a file
    of fixed size, images of another size are resized to it (counted in
    ``resized``).

    Raises:
        ValueError: The config has no such split, or the file is not
            van_mm's.
    """
    from mmengine.registry import DATASETS, init_default_scope
    meta, inputs = file_inputs(path)
    kind = meta.get('kind')
    if kind not in ('backbone', 'segmentor', 'detector'):
        raise ValueError(f'{path!r} holds no model exported by van_mm '
                         '(metadata van_mm.kind).')
    loader = cfg.get(f'{split}_dataloader') or {}
    if not loader.get('dataset'):
        raise ValueError(f'the config has no {split}_dataloader.dataset to '
                         'calibrate with.')
    init_default_scope(cfg.get('default_scope'))
    ds_cfg = copy.deepcopy(_leaf_dataset(loader['dataset']))
    ds_cfg['pipeline'] = copy.deepcopy(test_pipeline(cfg))
    dataset = DATASETS.build(ds_cfg)
    order = [int(i) for i in np.random.default_rng(seed).permutation(
        len(dataset)) if int(i) not in set(skip)][:num]
    name = next(iter(inputs))
    fixed = inputs[name][2:]
    result = Calibration(split, order, [], [])
    for index in order:
        data = dataset[index]
        image = data['inputs'].numpy()  # uint8 (3, H, W), BGR
        sample = data['data_samples']
        result.originals.append(tuple(sample.metainfo['ori_shape'][:2]))
        if all(fixed) and tuple(image.shape[1:]) != tuple(fixed):
            image = resize_bilinear(image.transpose(1, 2, 0), fixed[1],
                                    fixed[0]).transpose(2, 0, 1)
            result.resized += 1
        feed = {name: np.ascontiguousarray(image[None])}
        if kind == 'detector':
            feed['scale_factor'] = np.asarray(
                sample.metainfo.get('scale_factor', (1., 1.)), np.float32)
        elif kind == 'backbone':
            feed[name] = _normalised(cfg, feed[name])
        result.feeds.append(feed)
    return result


def _normalised(cfg, image: np.ndarray) -> np.ndarray:
    """uint8 BGR (1, 3, H, W) as the data pre-processor gives it to the
    backbone."""
    pre = cfg.model.get('data_preprocessor') or {}
    mean = np.array(pre.get('mean', (0, 0, 0)), np.float32).reshape(
        1, 3, 1, 1)
    std = np.array(pre.get('std', (1, 1, 1)), np.float32).reshape(1, 3, 1, 1)
    if pre.get('bgr_to_rgb') or pre.get('rgb_to_bgr'):
        image = image[:, ::-1]
    return (image.astype(np.float32) - mean) / std


class _Reader:
    """onnxruntime's calibration data reader over a list of feeds."""

    def __init__(self, feeds: Sequence[Dict[str, np.ndarray]]):
        self.feeds = list(feeds)
        self.rewind()

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        return next(self.items, None)

    def rewind(self) -> None:
        self.items: Iterator = iter(self.feeds)


def depthwise_convs(model) -> List[str]:
    """Names of the grouped convolutions (groups > 1) of an ONNX model."""
    return [node.name for node in model.graph.node
            if node.op_type == 'Conv' and any(
                a.name == 'group' and a.i > 1 for a in node.attribute)]


@dataclass
class QuantizeReport:
    """What :func:`quantize_file` did."""
    path: str
    seconds: float
    convs: int  # convolutions quantized
    float_convs: int  # left in float
    settings: Dict[str, object] = field(default_factory=dict)


def quantize_file(src: str, out: str, feeds: Sequence[Dict[str, np.ndarray]],
                  method: str = 'minmax', skip_depthwise: bool = False,
                  extra_metadata: Optional[Dict[str, str]] = None
                  ) -> QuantizeReport:
    """The int8 file of the exported ``src`` at ``out`` (written in one
    step), calibrated on ``feeds``: onnxruntime's ``quantize_static``, QDQ
    format, per-channel int8 weights, uint8 activations, every
    convolution (but the depth-wise ones with ``skip_depthwise``).

    Raises:
        ValueError: No calibration images, or an unknown ``method``.
    """
    import onnx

    from van_mm.export.runtime import import_onnxruntime
    import_onnxruntime()
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    if not feeds:
        raise ValueError('no calibration images')
    if method not in METHODS:
        raise ValueError(f'calibration method {method!r} is not one of '
                         f'{", ".join(METHODS)}')
    start = time.perf_counter()
    model = onnx.load(src)
    meta = {p.key: p.value for p in model.metadata_props}
    convs = [n.name for n in model.graph.node if n.op_type == 'Conv']
    excluded = depthwise_convs(model) if skip_depthwise else []
    settings = dict(engine='onnxruntime quantize_static', format='QDQ',
                    weights='int8 per channel', activations='uint8',
                    method=method, images=len(feeds),
                    skip_depthwise=skip_depthwise)
    with tempfile.TemporaryDirectory() as tmp:
        quantized = osp.join(tmp, 'int8.onnx')
        try:
            quantize_static(
                src, quantized, _Reader(feeds),
                quant_format=QuantFormat.QDQ, op_types_to_quantize=['Conv'],
                per_channel=True, activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8, nodes_to_exclude=excluded,
                calibrate_method={
                    'minmax': CalibrationMethod.MinMax,
                    'percentile': CalibrationMethod.Percentile,
                    'entropy': CalibrationMethod.Entropy}[method],
                extra_options=dict(WeightSymmetric=True,
                                   ActivationSymmetric=False))
        except ValueError as e:
            if method == 'minmax' or 'inhomogeneous' not in str(e):
                raise
            raise ValueError(
                f'{method} calibration fails on {src!r}: onnxruntime stacks '
                'each tensor over the calibration images for its histogram, '
                'and some tensors change size from image to image (a '
                "detector's RoI heads): use the minmax method.") from e
        result = onnx.load(quantized)
    meta.update({META_PREFIX + k: v
                 for k, v in (extra_metadata or {}).items()})
    meta[META_PREFIX + 'quantization'] = json.dumps(settings)
    del result.metadata_props[:]
    for key, value in meta.items():
        result.metadata_props.add(key=key, value=value)
    with atomic_write(out) as tmp:
        onnx.save(result, tmp)
    return QuantizeReport(out, time.perf_counter() - start,
                          len(convs) - len(excluded), len(excluded),
                          settings)


@dataclass
class Agreement:
    """The int8 file's outputs against the fp32 file's on some images:
    largest relative error of a float output, share of equal labels
    (segmentors), detections matched (detectors)."""
    images: int = 0
    max_error: float = 0.
    labels_equal: Optional[float] = None
    detections: List[str] = field(default_factory=list)


def compare_files(fp32: str, int8: str,
                  feeds: Sequence[Dict[str, np.ndarray]],
                  originals: Sequence[tuple]) -> Agreement:
    """Run both files in onnxruntime on ``feeds`` and compare (a
    detector's detections as :func:`van_mm.export.parity.
    compare_detections` matches them, with :data:`COMPARE`)."""
    from van_mm.export.parity import compare_detections
    from van_mm.export.runtime import inference_session
    sessions = [inference_session(p) for p in (fp32, int8)]
    names = [o.name for o in sessions[0].get_outputs()]
    meta, _ = file_inputs(fp32)
    thr = meta.get('mask_thr_binary')
    result = Agreement()
    equal = total = 0
    for feed, (height, width) in zip(feeds, originals):
        ref, got = (dict(zip(names, s.run(None, feed))) for s in sessions)
        result.images += 1
        if meta.get('kind') == 'detector':
            parity = compare_detections(
                *(detections(o, height, width,
                             None if thr is None else float(thr))
                  for o in (ref, got)),
                **COMPARE)
            result.detections.append(str(parity))
            continue
        for name in names:
            if ref[name].dtype.kind == 'f':
                scale = max(float(np.abs(ref[name]).max()), 1e-12)
                result.max_error = max(result.max_error, float(
                    np.abs(ref[name] - got[name]).max()) / scale)
        if 'seg_label' in ref:
            equal += int((ref['seg_label'] == got['seg_label']).sum())
            total += ref['seg_label'].size
    if total:
        result.labels_equal = equal / total
    return result
