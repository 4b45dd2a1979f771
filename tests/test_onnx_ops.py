"""The pieces of a whole-detector export, each against what it reproduces,
without exporting a model: van_mm's NMS and RoIAlign (PyTorch and their
ONNX translations, run operator by operator in onnxruntime) against
mmcv's; the torch-free runner's resize, mask pasting and logit resizing
against OpenCV, mmdet and PyTorch; the parts a whole detector cannot
export refused by name."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import lighten, load, to_tiny_b0
from van_mm.apis import build_from_config
from van_mm.export.runner import paste_mask, resize_bilinear, resize_logits

pytest.importorskip('onnxscript', reason='deploy extra not installed')

from van_mm.export.detection_graph import (  # noqa: E402
    UnsupportedDetector,
    WholeDetectorGraph,
    batched_nms,
)
from van_mm.export.onnx_ops import nms_onnx, roi_align_onnx  # noqa: E402


def crafted_boxes():
    """Boxes, scores and labels whose overlaps are known: in class 0 a
    100x100 box and shifted copies at IoU 0.82 and 0.6 (suppressed at 0.5)
    and 0.33 (kept); the same cluster in class 1, shifted onto class 0's
    (never suppressed across classes); one box twice, in classes 0 and 2;
    a pair at IoU exactly 0.5 (kept: suppression is IoU > threshold)."""
    rows = []
    for label in (0, 1):
        x = 10 * label
        rows += [([x, 0, x + 100, 100], 0.9, label),
                 ([x + 10, 0, x + 110, 100], 0.8, label),
                 ([x + 25, 0, x + 125, 100], 0.7, label),
                 ([x + 50, 0, x + 150, 100], 0.6, label)]
    rows += [([300, 300, 340, 340], 0.5, 0), ([300, 300, 340, 340], 0.5, 2),
             ([500, 0, 620, 100], 0.55, 0), ([540, 0, 660, 100], 0.54, 0)]
    boxes, scores, labels = zip(*rows)
    return (torch.tensor(boxes, dtype=torch.float32), torch.tensor(scores),
            torch.tensor(labels))


def random_boxes(n, classes, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 600
    wh = torch.rand(n, 2, generator=g) * 120 + 2
    return (torch.cat([xy, xy + wh], 1), torch.rand(n, generator=g),
            torch.randint(0, classes, (n, ), generator=g))


@pytest.mark.parametrize('case', ['crafted', 'random 3000 boxes, 80 classes',
                                  'random 12000 boxes, 5 classes'])
def test_nms_keeps_the_boxes_mmcv_keeps(case):
    """Per-class NMS by mmcv's offset trick, then ``van_mm::nms``: eagerly
    and as ONNX ``NonMaxSuppression`` in onnxruntime, the boxes mmcv's
    ``batched_nms`` keeps, in its order (from 10000 boxes mmcv loops over
    the classes and re-sorts: ties among equal scores may come in another
    order, the scores' order is the same)."""
    from mmcv.ops import batched_nms as mmcv_batched_nms
    boxes, scores, labels = crafted_boxes() if case == 'crafted' else \
        random_boxes(*{'random 3000 boxes, 80 classes': (3000, 80, 1),
                       'random 12000 boxes, 5 classes': (12000, 5, 2)}[case])
    _, ref = mmcv_batched_nms(boxes, scores, labels,
                              dict(type='nms', iou_threshold=0.5))
    ref = ref.numpy()
    largest = boxes.max()
    shifted = boxes + (labels.float() * (largest + 1))[:, None]
    in_onnx = nms_onnx(shifted.numpy(), scores.numpy(), 0.5).value
    for got in (in_onnx, batched_nms(boxes, scores, labels, 0.5).numpy()):
        assert sorted(got.tolist()) == sorted(ref.tolist())
        assert np.array_equal(scores.numpy()[got], scores.numpy()[ref])
    if case == 'crafted':
        assert sorted(ref.tolist()) == [0, 3, 4, 7, 8, 9, 10, 11]
        assert in_onnx.tolist() == ref.tolist()


@pytest.mark.parametrize('scale,size,ratio', [(1 / 4, 7, 0), (1 / 32, 14, 0),
                                              (1 / 4, 7, 2)])
def test_roi_align_equals_mmcv(scale, size, ratio):
    """``van_mm::roi_align`` eagerly and as ONNX ``RoiAlign``
    (``half_pixel``) in onnxruntime against mmcv's ``RoIAlign(aligned=
    True)``, adaptive sampling or 2x2 points per bin, on RoIs inside,
    across and outside the map, an empty and a tiny one."""
    from mmcv.ops import RoIAlign
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(1, 8, 40, 56, generator=g)
    extent = torch.tensor([56 / scale, 40 / scale])
    xy = torch.rand(48, 2, generator=g) * extent * 1.2 - extent * 0.1
    wh = torch.rand(48, 2, generator=g) * extent * 0.6
    rois = torch.cat([torch.zeros(48, 1), xy, xy + wh], 1)
    rois[0, 3:] = rois[0, 1:3]  # empty
    rois[1, 3:] = rois[1, 1:3] + 0.3  # tiny
    rois[2, 1:] = torch.tensor([-50., -50., -10., -10.])  # outside
    ref = RoIAlign(size, scale, ratio, aligned=True)(feats, rois)
    args = (size, size, scale, ratio, True)
    in_onnx = roi_align_onnx(feats.numpy(), rois.numpy(), *args).value
    eager = torch.ops.van_mm.roi_align(feats, rois, *args)
    assert np.abs(in_onnx - ref.numpy()).max() < 1e-5
    assert (eager - ref).abs().max() < 1e-4


def test_runner_resize_is_bit_exact_against_opencv():
    """The runner's numpy resize equals the installed ``cv2.resize``
    (INTER_LINEAR, uint8) on random images: up, down, exact halves and
    mmdet-like factors, one and three channels."""
    cv2 = pytest.importorskip('cv2')
    rng = np.random.default_rng(1)
    for i in range(60):
        h, w = (int(v) for v in rng.integers(1, 300, 2))
        nh, nw = (int(v) for v in rng.integers(1, 600, 2))
        if i % 3 == 0:
            nh, nw = int(h * 2.56 + 0.5), int(w * 2.56 + 0.5)
        if i % 7 == 0:
            h, w = 2 * (h // 2 + 1), 2 * (w // 2 + 1)
            nh, nw = h // 2, w // 2
        image = rng.integers(0, 256, (h, w) if i % 2 else (h, w, 3),
                             dtype=np.uint8)
        ref = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        assert np.array_equal(resize_bilinear(image, nw, nh), ref), \
            f'{h}x{w} -> {nh}x{nw}'


def test_runner_pastes_masks_as_mmdet():
    """``paste_mask`` equals mmdet's CPU ``_do_paste_mask`` (one box at a
    time, thresholded at 0.5) for boxes inside, across the border, tiny
    and of one pixel."""
    from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
    g = torch.Generator().manual_seed(0)
    height, width = 90, 130
    boxes = torch.tensor([[10.3, 5.7, 60.2, 70.9], [-8.0, 40.5, 30.0, 99.0],
                          [100.2, 10.1, 140.0, 30.0], [50.0, 50.0, 50.6, 51.0],
                          [20.0, 20.0, 21.0, 21.0]])
    masks = torch.rand(len(boxes), 28, 28, generator=g)
    for mask, box in zip(masks, boxes):
        ref = torch.zeros(height, width, dtype=torch.bool)
        chunk, where = _do_paste_mask(mask[None, None], box[None], height,
                                      width, skip_empty=True)
        ref[where] = chunk[0] >= 0.5
        got = paste_mask(mask.numpy(), box.numpy(), height, width, 0.5)
        assert np.array_equal(got, ref.numpy()), box


@pytest.mark.parametrize('align_corners', [False, True])
def test_runner_resizes_logits_as_pytorch(align_corners):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 23, 31, generator=g)
    for size in [(97, 131), (12, 15)]:
        ref = F.interpolate(logits[None], size, mode='bilinear',
                            align_corners=align_corners)[0]
        got = resize_logits(logits.numpy(), *size, align_corners)
        assert np.abs(got - ref.numpy()).max() < 1e-5


def tiny_detector(config, edit):
    cfg = lighten(to_tiny_b0(load(config)))
    edit(cfg.model)
    return build_from_config(cfg)


@pytest.mark.parametrize('config,edit,message', [
    ('retinanet_van_b0_1x.py',
     lambda m: m.test_cfg.update(nms=dict(type='soft_nms',
                                          iou_threshold=0.5)),
     r"bbox_head\.test_cfg\.nms is \{'type': 'soft_nms'.*exports "
     r"type='nms'"),
    ('maskrcnn_van_b0_1x.py',
     lambda m: m.roi_head.mask_head.update(class_agnostic=True),
     r'roi_head\.mask_head\[0\] is FCNMaskHead \(class agnostic True\)'),
    ('retinanet_van_b0_1x.py',
     lambda m: m.test_cfg.update(nms_pre=-1),
     r'bbox_head\.test_cfg\.nms_pre is -1; set a positive top-k'),
])
def test_parts_a_whole_detector_cannot_export_are_named(config, edit,
                                                        message):
    with pytest.raises(UnsupportedDetector, match=message):
        WholeDetectorGraph(tiny_detector(config, edit))



def test_runner_names_a_missing_file(tmp_path):
    """A missing model or image is named (not onnxruntime's or Pillow's
    traceback); the command line exits with that message."""
    from van_mm.export.runner import read_image
    from van_mm.export.runner.__main__ import main
    with pytest.raises(SystemExit,
                       match=r"ONNX file not found: '.*nope\.onnx'"):
        main([str(tmp_path / 'nope.onnx'), str(tmp_path / 'a.jpg')])
    with pytest.raises(FileNotFoundError,
                       match=r"Image not found: '.*a\.jpg'"):
        read_image(str(tmp_path / 'a.jpg'))
