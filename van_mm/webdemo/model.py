# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""The model behind the demo page: :class:`DemoModel` loads a config's
detector or segmentor (from a checkpoint, from a checkpoint and an exported
ONNX file, or from an ONNX file alone) and gives, for an image, what the
page shows: the prediction drawn as ``tools/demo.py`` draws it, the LKA
attention map of a stage, a legend and the times."""
import base64
import os.path as osp
import threading
import time
from typing import Dict, Optional

import numpy as np

from .uploads import MAX_BYTES, MAX_SIDE

# Larger images are scaled down to this side (mmdet's COCO test scale)
# before they run: the models resize to their own test scale anyway, while
# masks, label maps and the pictures sent back are at the image's size
# (Mask R-CNN pastes its 100 masks there: 1.7 GB at 4096x4096; at 1600x1200
# a random-weight Mask R-CNN B0 took 12 s on 2 cores, and drawing 9 s more).
RUN_SIDE = 1333
LEGEND_DETECTIONS = 20  # detections listed beside the picture, best first


def png_data_url(rgb: np.ndarray) -> str:
    """An RGB uint8 image as a ``data:image/png;base64,...`` URL."""
    import cv2
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise RuntimeError('OpenCV could not encode the picture as PNG.')
    return 'data:image/png;base64,' + base64.b64encode(buf).decode('ascii')


def overlay(rgb: np.ndarray, heat: np.ndarray, alpha: float = 0.5):
    """A map in [0, 1] of the image's size drawn over it in the jet colour
    map (blue low, red high)."""
    import cv2
    colour = cv2.applyColorMap(np.uint8(np.clip(heat, 0, 1) * 255),
                               cv2.COLORMAP_JET)[..., ::-1]
    mixed = (1 - alpha) * rgb.astype(np.float32) + alpha * colour
    return mixed.round().astype(np.uint8)


class DemoModel:
    """A config's detector or segmentor, ready for the demo page.

    Args:
        config (str): An mmdet or mmseg config of this project.
        checkpoint (str): A checkpoint of the whole model (any VAN layout,
            as ``tools/demo.py`` loads them), or an ONNX file of
            ``tools/export_onnx.py``, the whole model (then there is no
            attention map).
        onnx (str, optional): An ONNX file of the same model: the network
            runs in onnxruntime, the attention map comes from
            ``checkpoint``.
        device (str): ``'cpu'`` or ``'cuda:0'``.
        score_thr (float): Detections below this score are not drawn.
        allow_partial (bool): Load the checkpoint keys that fit the model
            and skip the rest.
        cfg_options (dict, optional): Config settings to override.

    Raises:
        FileNotFoundError: The config, checkpoint or ONNX file is missing.
        ValueError: The files do not go together (see above).
        van_mm.checkpoint.CheckpointError: The checkpoint does not fit.
    """

    def __init__(self, config: str, checkpoint: str,
                 onnx: Optional[str] = None, device: str = 'cpu',
                 score_thr: float = 0.3, allow_partial: bool = False,
                 cfg_options: Optional[Dict] = None):
        from mmengine.registry import init_default_scope

        from van_mm.apis import (
            build_from_config,
            config_dataset_meta,
            init_model,
            load_config,
            task_of,
        )
        from van_mm.visualization import build_visualizer
        self.cfg = cfg = load_config(config, cfg_options)
        self.config_name = osp.basename(config)
        self.task = task_of(cfg)
        self.score_thr = score_thr
        for path, what in ((checkpoint, 'Checkpoint'), (onnx, 'ONNX file')):
            if path and not osp.isfile(path):
                raise FileNotFoundError(f'{what} not found: {path!r}')
        onnx_only = checkpoint.lower().endswith('.onnx')
        if onnx_only and onnx:
            raise ValueError('CHECKPOINT is an ONNX file already: give a '
                             'PyTorch checkpoint with --onnx.')
        init_default_scope(cfg.default_scope)
        if onnx_only:  # the host (random weights) pre-processes, pastes masks
            onnx, host = checkpoint, build_from_config(cfg)
            host.dataset_meta = config_dataset_meta(cfg)
            host.cfg = cfg
            host = host.to(device)
        else:
            host = init_model(cfg, checkpoint, device, allow_partial)
        self.host = host
        self.model = host
        self.backend = 'pytorch'
        self.warnings = []
        if onnx:
            from van_mm.export import deployed_model
            self.model = deployed_model(host, onnx, 'onnxruntime', device)
            self.backend = 'onnxruntime'
            image_input = next(iter(self.model.inputs.values()))
            fixed = image_input[2:]
            if all(isinstance(d, int) for d in fixed):
                self.warnings.append(
                    f'{osp.basename(onnx)} takes {fixed[0]}x{fixed[1]} '
                    'inputs only (exported without --dynamic): images the '
                    'pipeline resizes to another size are refused.')
        self.backbone = None if onnx_only else host.backbone
        if self.task == 'det':
            from mmdet.apis import inference_detector as infer
        else:
            from mmseg.apis import inference_model as infer
        self._infer = infer
        self.visualizer = build_visualizer(cfg, f'van_mm_web_demo_{id(self)}',
                                           self.model.dataset_meta)
        meta = self.visualizer.dataset_meta
        self.classes = list(meta.get('classes', []))
        self.palette = [tuple(int(v) for v in c)
                        for c in meta.get('palette', [])]
        self.lock = threading.Lock()  # one image at a time

    @property
    def stages(self) -> int:
        """Number of backbone stages with an attention map (0 if none)."""
        return len(self.backbone.stages) if self.backbone is not None else 0

    def info(self) -> Dict:
        """What the page shows about the model."""
        return dict(config=self.config_name, task=self.task,
                    backend=self.backend, stages=self.stages,
                    classes=self.classes, score_thr=self.score_thr,
                    warnings=self.warnings,
                    max_bytes=MAX_BYTES, max_side=MAX_SIDE)

    def predict(self, image: np.ndarray, stage: Optional[int]) -> Dict:
        """What the page shows for an RGB uint8 image: the prediction
        drawn over it, the LKA map of ``stage`` over it (None without a
        PyTorch checkpoint, or with ``stage`` None), the legend and the
        times in milliseconds."""
        if stage is not None and not 0 <= stage < self.stages:
            raise ValueError(f'stage must be 0..{self.stages - 1}, got '
                             f'{stage}' if self.stages else
                             'No attention map: the model runs from an ONNX '
                             'file alone.')
        notes = []
        height, width = image.shape[:2]
        if max(height, width) > RUN_SIDE:
            import mmcv
            image = mmcv.imrescale(image, RUN_SIDE / max(height, width),
                                   interpolation='area')
            notes.append(f'Scaled down from {width}x{height} to '
                         f'{image.shape[1]}x{image.shape[0]} pixels (the '
                         f'demo runs on up to {RUN_SIDE} a side).')
        with self.lock:
            start = time.perf_counter()
            result = self._infer(self.model, image[..., ::-1].copy())
            seconds = time.perf_counter() - start
            out = dict(task=self.task, backend=self.backend,
                       inference_ms=round(1000 * seconds, 1),
                       size=[int(image.shape[1]), int(image.shape[0])],
                       prediction=png_data_url(self._draw(image, result)),
                       legend=self._legend(result), attention=None,
                       attention_ms=None, stage=stage, notes=notes)
            if stage is not None:
                start = time.perf_counter()
                heat, size = self._attention(image, result, stage)
                out['attention_ms'] = round(
                    1000 * (time.perf_counter() - start), 1)
                out['attention'] = png_data_url(overlay(image, heat))
                out['attention_size'] = size
        return out

    def _draw(self, image, result):
        kwargs = (dict(pred_score_thr=self.score_thr) if self.task == 'det'
                  else dict(with_labels=True))
        self.visualizer.add_datasample(
            'upload', image, data_sample=result, draw_gt=False, show=False,
            **kwargs)
        return self.visualizer.get_image()

    def _colour(self, label: int) -> str:
        if label < len(self.palette):
            return '#%02x%02x%02x' % self.palette[label]
        return '#888888'

    def _name(self, label: int) -> str:
        return self.classes[label] if label < len(self.classes) else \
            f'class {label}'

    def _legend(self, result) -> Dict:
        """Segmentor: the classes predicted, largest area first;
        detector: the detections drawn, best first."""
        if self.task == 'seg':
            labels = result.pred_sem_seg.data[0].cpu().numpy()
            ids, counts = np.unique(labels, return_counts=True)
            order = np.argsort(-counts)
            return dict(kind='classes', items=[
                dict(name=self._name(int(ids[i])),
                     colour=self._colour(int(ids[i])),
                     share=round(float(counts[i]) / labels.size, 4))
                for i in order])
        inst = result.pred_instances
        keep = inst.scores > self.score_thr
        scores = inst.scores[keep].cpu().numpy()
        labels = inst.labels[keep].cpu().numpy()
        order = np.argsort(-scores)
        return dict(kind='detections', total=int(keep.sum()),
                    score_thr=self.score_thr, items=[
                        dict(name=self._name(int(labels[i])),
                             colour=self._colour(int(labels[i])),
                             score=round(float(scores[i]), 3))
                        for i in order[:LEGEND_DETECTIONS]])

    def _attention(self, image, result, stage):
        """The stage's LKA map on the image as the test pipeline resized
        it, without the data preprocessor's padding, upsampled to the
        image: (map in [0, 1], [width, height] it ran at)."""
        import mmcv

        from van_mm.analysis.attention import (
            Target,
            crop_padding,
            lka_maps,
            model_input,
            to_image_size,
        )
        height, width = image.shape[:2]
        h, w = result.metainfo.get('img_shape', (height, width))[:2]
        resized = image if (h, w) == (height, width) else \
            mmcv.imresize(image, (w, h))
        inputs, _ = model_input(self.host, self.cfg, resized)
        heat = lka_maps(Target(self.backbone, inputs), [stage])[0]
        heat = crop_padding(heat, h, w, *inputs.shape[2:])
        return to_image_size(heat.cpu(), height, width), [int(w), int(h)]
