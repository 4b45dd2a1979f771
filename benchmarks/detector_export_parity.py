# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Whole-detector ONNX export of every detection framework of the configs,
checked against PyTorch: the operators that carry NMS and RoIAlign, and
the file's detections (onnxruntime) against ``test_step``'s.

    python benchmarks/detector_export_parity.py [--configs NAME ...]
        [--ablate-nms] [--keep DIR]
    python benchmarks/detector_export_parity.py --config CONFIG
        --checkpoint CKPT --images DIR [--keep DIR]

Without ``--checkpoint``: each config's model with a random VAN-B0
(``van_mm.testing.to_tiny_b0``, ``lighten``) and planted scores
(``van_mm.testing.plant_scores``: few clustered detections of two
classes, so that NMS has to suppress), exported by
``van_mm.export.export_onnx`` at 128x160 (which checks it at two sizes
before writing), then compared on four more cases: generated scenes of
128x160 resized from 256x320 and of 117x203 from 300x521, seeds 0 and 1.
Each case prints how many candidates mmdet's last NMS got and kept and
how many of the best-scoring candidates it removed (boxes a graph without
NMS would output). ``--ablate-nms`` also exports each graph with NMS
replaced by "keep every box" and shows that the comparison fails.

With ``--checkpoint`` (a trained model, e.g. the quick-start's): the
export at the config's test size, then the torch-free runner
(``van_mm.export.runner.OnnxDetector``: reading, test resize, file, mask
pasting) against mmdet's ``inference_detector`` (what tools/demo.py runs)
on every image of ``--images``, as they are and cropped to 150x230 (so
that the test resize gives a size no multiple of 32).

The criterion (``van_mm.export.parity``): every detection matched with
the same label at IoU >= 0.99, scores within 1e-3, the same count, masks
pasted at the original size 99.9% equal.
"""
import argparse
import glob
import os
import os.path as osp
import tempfile
import time

import numpy as np
import torch
from mmengine.config import Config

from van_mm.apis import build_from_config, init_model, load_config
from van_mm.export import detection_graph, export_onnx
from van_mm.export.exporter import (
    file_detections,
    reference_detections,
    test_resize,
)
from van_mm.export.parity import (
    compare_detections,
    nms_figures,
    recorded_nms,
)
from van_mm.export.runner import OnnxDetector, read_image
from van_mm.export.runtime import inference_session
from van_mm.synthetic import scene_picture
from van_mm.testing import (
    lighten,
    plant_scores,
    randomize,
    to_tiny_b0,
)

HERE = osp.dirname(osp.abspath(__file__))
CONFIGS = osp.join(osp.dirname(HERE), 'configs')

# config -> plant_scores arguments (None: not planted)
DETECTORS = {
    'retinanet_van_b0_1x.py': dict(gain=15, shift=-10, active=2),
    'maskrcnn_van_b0_1x.py': dict(gain=4, active=2),
    'faster_rcnn_van_b0_1x.py': dict(gain=4, active=2),
    'atss_van_b2_3x.py': dict(gain=15, shift=-9, active=2),
    'gfl_van_b2_3x.py': dict(gain=15, shift=-9, active=2),
    'cascade_maskrcnn_van_b2_3x.py': dict(gain=6, quantile=0.8, active=2),
    'sparsercnn_van_b2_3x.py': None,
}
CASES = [((128, 160), (256, 320)), ((117, 203), (300, 521))]


def scene(height, width, seed):
    return torch.from_numpy(scene_picture(height, width, seed)).permute(
        2, 0, 1).contiguous()


def tiny_detector(name: str):
    """The config's detector with a random VAN-B0, its heads' scores
    planted (Sparse R-CNN: its learned proposals set to boxes inside the
    image)."""
    cfg = lighten(to_tiny_b0(Config.fromfile(osp.join(CONFIGS, name))))
    torch.manual_seed(0)
    model = build_from_config(cfg)
    randomize(model.backbone, seed=0)
    rpn = getattr(model, 'rpn_head', None)
    if type(rpn).__name__ == 'EmbeddingRPNHead':
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            n = rpn.init_proposal_bboxes.weight.shape[0]
            rpn.init_proposal_bboxes.weight.copy_(torch.cat([
                torch.rand(n, 2, generator=g) * 0.6 + 0.2,
                torch.rand(n, 2, generator=g) * 0.5 + 0.1], 1))
    planting = DETECTORS.get(name)
    if planting:
        plant_scores(model, scene(128, 160, 99), **planting)
    return cfg, model.eval()


def check_cases(model, path, label=''):
    session = inference_session(path)
    threshold = detection_graph.mask_threshold(model)
    ok = True
    for size, original in CASES:
        for seed in (0, 1):
            image = scene(*size, seed)
            with recorded_nms() as calls:
                ref = reference_detections(model, image, original)
            got = file_detections(session, image, original, threshold)
            parity = compare_detections(ref, got)
            parity.nms = nms_figures(calls, len(ref['scores']))
            ok &= parity.ok()
            print(f'  {label}{size[0]}x{size[1]} from {original[0]}x'
                  f'{original[1]}, seed {seed}: {parity} -> '
                  f'{"PASS" if parity.ok() else "FAIL"}', flush=True)
    return ok


def export(model, path, cfg, shape=(128, 160)):
    start = time.perf_counter()
    report = export_onnx(model, path, shape, cfg=cfg)
    print(f'  exported in {time.perf_counter() - start:.0f} s, '
          f'{osp.getsize(path) / 2**20:.0f} MiB; ONNX operators: '
          + ', '.join(f'{k} x{v}' for k, v in report.operators.items()),
          flush=True)
    for (size, original), parity in report.detections.items():
        print(f'  export check {size[0]}x{size[1]} from {original[0]}x'
              f'{original[1]}: {parity}')
    return report


def random_models(args, folder):
    results = {}
    for name in args.configs:
        print(f'{name} (VAN-B0, random, planted '
              f'{DETECTORS.get(name)}):', flush=True)
        cfg, model = tiny_detector(name)
        path = osp.join(folder, name.replace('.py', '.onnx'))
        try:
            report = export(model, path, cfg)
        except Exception as e:  # what stops the export, printed
            print(f'  NOT EXPORTED: {type(e).__name__}: {str(e)[:1500]}')
            results[name] = False
            continue
        results[name] = check_cases(model, path)
        if args.ablate_nms and report.nms_tested is None:
            print('  NMS ablation: the detector has no NMS')
        elif args.ablate_nms:
            original = detection_graph.batched_nms
            detection_graph.batched_nms = \
                lambda boxes, scores, groups, iou: scores.argsort(
                    descending=True)
            try:
                ablated = osp.join(folder, 'no_nms.onnx')
                try:
                    export(model, ablated, cfg)
                    print('  NMS ablated: the export check passed: '
                          'NOT DETECTED')
                except Exception as e:
                    print(f'  NMS ablated: export refused: {str(e)[:300]}')
            finally:
                detection_graph.batched_nms = original
    print('\nsummary:', ', '.join(f'{k} {"PASS" if v else "FAIL"}'
                                  for k, v in results.items()))


def trained_model(args, folder):
    cfg = load_config(args.config)
    model = init_model(cfg, args.checkpoint)
    steps = test_resize(cfg)
    width, height = steps[0]['scale'] if steps else (256, 192)
    shape = (min(width, height), max(width, height))
    print(f'{args.config} + {args.checkpoint}: export at {shape}')
    path = osp.join(folder, 'trained.onnx')
    export(model, path, cfg, shape)
    runner = OnnxDetector(path)
    images = sorted(glob.glob(osp.join(args.images, '*.jpg')) +
                    glob.glob(osp.join(args.images, '*.png')))
    from mmdet.apis import inference_detector
    ok, counts = True, []
    for crop in (None, (150, 230)):
        for image_path in images:
            bgr = read_image(image_path)
            if crop:
                bgr = np.ascontiguousarray(bgr[:crop[0], :crop[1]])
            with recorded_nms() as calls, torch.no_grad():
                pred = inference_detector(model, bgr).pred_instances
            ref = dict(boxes=pred.bboxes.numpy(), scores=pred.scores.numpy(),
                       labels=pred.labels.numpy(), masks=pred.masks.numpy())
            got = runner(bgr)
            parity = compare_detections(ref, got)
            parity.nms = nms_figures(calls, len(ref['scores']))
            ok &= parity.ok()
            counts.append(len(ref['scores']))
            resized = runner.preprocess(bgr)[0].shape[2:]
            print(f'  {osp.basename(image_path)} {bgr.shape[0]}x'
                  f'{bgr.shape[1]} (file input {resized[0]}x{resized[1]}):'
                  f' {parity} -> {"PASS" if parity.ok() else "FAIL"}',
                  flush=True)
    print(f'\n{len(counts)} images, {sum(counts)} detections: '
          f'{"ALL PASS" if ok else "SOME FAIL"}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--configs', nargs='+', default=list(DETECTORS),
                        help='configs of configs/ (default: all of them)')
    parser.add_argument('--ablate-nms', action='store_true')
    parser.add_argument('--config', help='with --checkpoint: its config')
    parser.add_argument('--checkpoint', help='a trained detector')
    parser.add_argument('--images', help='with --checkpoint: held-out '
                        'images')
    parser.add_argument('--keep', help='folder to keep the files in')
    args = parser.parse_args()
    folder = args.keep or tempfile.mkdtemp()
    os.makedirs(folder, exist_ok=True)
    if args.checkpoint:
        trained_model(args, folder)
    else:
        random_models(args, folder)


if __name__ == '__main__':
    main()
