# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Run a detector or segmentor of this project on images and save the
pictures.

    python tools/demo.py IMAGE_OR_DIR CONFIG CHECKPOINT [--out FILE_OR_DIR]
        [--device cpu] [--score-thr 0.3] [--allow-partial-load]
        [--backend onnxruntime|openvino|openvino-bf16 --onnx FILE]
        [--print] [--save]

The checkpoint loads as in ``tools/test.py`` (its backbone in any VAN
layout, refused unless it fits the config's model; ``--allow-partial-load``
loads what fits). Detectors then go through mmdet's ``inference_detector``
and are drawn by ``DetLocalVisualizer`` (boxes, masks, labels); segmentors
go through mmseg's ``inference_model`` and are drawn by
``SegLocalVisualizer`` (colour-blended classes). For a folder, one picture
per image is written into the ``--out`` folder. With ``--backend`` the
model runs in an inference engine (onnxruntime, OpenVINO in fp32 or bf16)
from the file of ``tools/export_onnx.py`` or ``tools/quantize.py`` (a
detector whole: the host only pastes masks; CHECKPOINT gives the class
names), for the same picture; each image's inference time is printed,
and with ``--print`` a detector's detections at ``--score-thr`` or above.
``--save`` writes each image's predictions beside its picture (``.npz``:
a detector's ``boxes``, ``scores``, ``labels`` and ``masks``, a
segmentor's ``label`` map), as ``python -m van_mm.export.runner --save``
does, so that the two compare.
"""
import argparse
import os
import os.path as osp
import time

from van_mm.apis import init_model, load_config, task_of
from van_mm.checkpoint import CheckpointError
from van_mm.cli.common import (
    add_backend_flag,
    add_partial_load_flag,
    cli_message,
    deployed_model,
    read_image,
    require_file,
)
from van_mm.visualization import build_visualizer

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('image', help='image file or folder of images')
    parser.add_argument('config', help='config file of the model')
    parser.add_argument('checkpoint', help='checkpoint of the model')
    parser.add_argument('--out', default='demo_out',
                        help='output file (one image) or folder '
                        '(default: demo_out/)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda:0')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detections below this score are not drawn')
    add_partial_load_flag(parser)
    add_backend_flag(parser, 'the file of --onnx')
    parser.add_argument('--onnx', help='with --backend: the model exported '
                        'by tools/export_onnx.py')
    parser.add_argument('--print', action='store_true',
                        help="print a detector's detections (class, score, "
                        'box) at --score-thr or above')
    parser.add_argument('--save', action='store_true',
                        help='also write each image\'s predictions to a '
                        '.npz file beside its picture (every detection, or '
                        'the label map)')
    args = parser.parse_args(argv)
    if (args.backend != 'pytorch') != bool(args.onnx):
        parser.error('--backend (other than pytorch) and --onnx FILE go '
                     'together')
    return args


def list_images(path):
    if osp.isdir(path):
        images = sorted(
            osp.join(path, name) for name in os.listdir(path)
            if name.lower().endswith(IMAGE_EXTS))
        if not images:
            raise SystemExit(f'No images ({", ".join(IMAGE_EXTS)}) in '
                             f'{path!r}.')
        return images
    return [require_file(path, 'Image')]


def build(config, checkpoint, device, allow_partial=False, onnx=None,
          backend='onnxruntime'):
    """The task, the model (run by ``backend`` from the file ``onnx`` if
    given), its inference function and a visualizer."""
    cfg = load_config(config)
    require_file(checkpoint, 'Checkpoint')
    if onnx:
        require_file(onnx, 'ONNX file')
    if task_of(cfg) == 'det':
        from mmdet.apis import inference_detector as infer
    else:
        from mmseg.apis import inference_model as infer
    try:
        model = init_model(cfg, checkpoint, device, allow_partial)
    except CheckpointError as e:
        raise SystemExit(cli_message(e))
    if onnx:
        model = deployed_model(model, onnx, backend, device, '--onnx')
    visualizer = build_visualizer(cfg, 'van_mm_demo', model.dataset_meta)
    return task_of(cfg), model, infer, visualizer


def main(argv=None):
    args = parse_args(argv)
    images = list_images(args.image)
    task, model, infer, visualizer = build(
        args.config, args.checkpoint, args.device, args.allow_partial_load,
        args.onnx, args.backend)
    single = len(images) == 1 and not osp.isdir(args.image) and \
        args.out.lower().endswith(IMAGE_EXTS)
    if not single:
        os.makedirs(args.out, exist_ok=True)
    for path in images:
        image = read_image(path)
        start = time.perf_counter()
        result = infer(model, image[..., ::-1].copy())  # models take BGR
        seconds = time.perf_counter() - start
        out = args.out if single else osp.join(
            args.out, osp.splitext(osp.basename(path))[0] + '.png')
        kwargs = (dict(pred_score_thr=args.score_thr) if task == 'det'
                  else dict(with_labels=True))
        visualizer.add_datasample(
            osp.basename(path), image, data_sample=result, draw_gt=False,
            show=False, out_file=out, **kwargs)
        print(f'{path} -> {out} ({args.backend}: {1000 * seconds:.0f} ms)')
        if args.print and task == 'det':
            print_detections(result.pred_instances, model.dataset_meta,
                             args.score_thr)
        if args.save:
            save_predictions(result, osp.splitext(out)[0] + '.npz')


def save_predictions(result, path: str) -> None:
    """A data sample's predictions as the torch-free runner's ``--save``
    writes them: ``boxes``, ``scores``, ``labels`` (and ``masks`` (N, H,
    W) bool) in the image's pixels, or the ``label`` map (H, W)."""
    import numpy as np
    if 'pred_instances' in result:
        pred = result.pred_instances
        arrays = dict(boxes=pred.bboxes, scores=pred.scores,
                      labels=pred.labels)
        if 'masks' in pred:
            arrays['masks'] = pred.masks.bool()
        arrays = {k: v.cpu().numpy() for k, v in arrays.items()}
    else:
        arrays = dict(label=result.pred_sem_seg.data[0].cpu().numpy())
    np.savez_compressed(path, **arrays)
    print(f'  saved: {path}')


def print_detections(pred, meta, score_thr: float) -> None:
    """One line per detection at ``score_thr`` or above: class, score,
    box in the image's pixels."""
    classes = (meta or {}).get('classes')
    keep = (pred.scores >= score_thr).nonzero().flatten().tolist()
    print(f'  {len(pred.scores)} detections, {len(keep)} at score >= '
          f'{score_thr}')
    for i in keep:
        label = int(pred.labels[i])
        name = classes[label] if classes else str(label)
        box = ', '.join(f'{v:.1f}' for v in pred.bboxes[i].tolist())
        print(f'  {name} {float(pred.scores[i]):.3f} [{box}]')
