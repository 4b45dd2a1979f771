# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Running exported models without torch, mmcv or OpenCV: numpy, Pillow
and onnxruntime only.

* :class:`OnnxDetector`: a detector exported whole by
  ``tools/export_onnx.py``: an image in, boxes, scores, labels (and masks
  pasted into the image) out;
* :class:`OnnxSegmentor`: an exported segmentor: an image in, its label
  map out;
* :func:`load`: either, by the file's metadata; :func:`draw` draws their
  results; :func:`read_image` reads an image as mmcv does.

The image is resized as the config's test pipeline resizes it, with
OpenCV's arithmetic (:mod:`van_mm.export.runner.resize`), from the
file's metadata. From the command line::

    python -m van_mm.export.runner MODEL.onnx IMAGE [--out PICTURE]
        [--score-thr 0.3] [--save DETECTIONS.npz] [--threads N]

This package imports nothing of the training stack, and neither does
``van_mm`` itself where PyTorch is not installed, so
``pip install --no-deps van-mm numpy pillow onnxruntime`` serves a model.
"""
from .models import (
    OnnxDetector,
    OnnxSegmentor,
    detections,
    draw,
    load,
    paste_mask,
    read_image,
    resize_logits,
)
from .resize import resize_bilinear, resize_steps

__all__ = ['OnnxDetector', 'OnnxSegmentor', 'load', 'draw', 'read_image',
           'detections', 'paste_mask', 'resize_logits', 'resize_bilinear',
           'resize_steps']
