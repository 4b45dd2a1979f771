"""OpenVINO (fp32, and bf16 where the CPU has it) and int8 files run
where the tools run the PyTorch model: each engine's outputs are checked
against PyTorch within the tolerance of its precision, for a backbone, a
segmentor and a whole detector; tools/quantize.py writes an int8 file
calibrated on the config's own images that every engine runs."""
import json
import re

import numpy as np
import pytest
import torch

from helpers import DET_CONFIG, SEG_CONFIG, run

pytest.importorskip('onnxruntime', reason='deploy extra not installed')
pytest.importorskip('openvino', reason='openvino extra not installed')

from van_mm.export import openvino_runtime as ovr  # noqa: E402
from van_mm.export import parity  # noqa: E402

BF16 = ovr.cpu_has_bf16()
# without bf16 on this CPU the bf16 engine is checked to refuse instead
ENGINES = ['openvino'] + (['openvino-bf16'] if BF16 else [])


def dets(boxes, scores, labels):
    return dict(boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
                scores=np.asarray(scores, np.float32),
                labels=np.asarray(labels, np.int64))


def test_reduced_precision_compares_the_detections_rounding_cannot_move():
    """bf16's tolerance: near-equal low scores may swap which detections
    are kept; a confident detection (score above 0.3 + 0.02) that is
    missing or moved fails, and so does one only the engine has."""
    tol = parity.BF16
    box = [10, 10, 50, 50]
    ref = dets([box, [60, 60, 90, 90], [0, 0, 5, 5]], [0.9, 0.11, 0.10],
               [1, 0, 2])
    swapped = dets([box, [70, 0, 80, 9]], [0.895, 0.105], [1, 2])

    def check(got, max_count=None):
        return parity.compare_detections(ref, got, tol.iou, tol.score_tol,
                                         tol.min_score, max_count)
    result = check(swapped)
    assert result.within(tol)
    assert not parity.compare_detections(ref, swapped).within(parity.FP32)
    assert (result.compared_ref, result.compared_got) == (1, 1)
    assert 'compared above score 0.320' in str(result)

    moved = dets([[11, 10, 51, 50]], [0.9], [1])  # IoU 0.95 passes
    assert check(moved).within(tol)
    for bad in (dets([[20, 10, 60, 50]], [0.9], [1]),  # IoU 0.6
                dets([box], [0.8], [1]),  # score off by 0.1
                dets([box], [0.9], [0]),  # another class
                dets([box, [60, 0, 90, 30]], [0.9, 0.5], [1, 1])):  # extra
        assert not check(bad).within(tol), bad
    # with max_count kept, the lowest kept score sets the floor: a
    # detection just above it may fall out of the engine's top k
    full = dets([box, [60, 60, 90, 90]], [0.9, 0.6], [1, 0])
    cut = dets([box, [0, 60, 30, 90]], [0.9, 0.595], [1, 2])
    result = parity.compare_detections(full, cut, tol.iou, tol.score_tol,
                                       tol.min_score, max_count=2)
    assert result.within(tol) and result.floor == pytest.approx(0.62)
    result = parity.compare_detections(full, cut, tol.iou, tol.score_tol,
                                       tol.min_score)
    assert not result.within(tol)


def test_bf16_is_refused_on_a_cpu_without_it(monkeypatch, tmp_path):
    """What runs on a CPU without bf16 is said, not swapped in: fp32 under
    --backend openvino, int8 files in int8."""
    monkeypatch.setattr(ovr, 'cpu_capabilities', lambda: ['FP32', 'INT8'])
    with pytest.raises(RuntimeError, match=r'no bf16 .* offers FP32, INT8\)'
                       r': --backend openvino runs fp32 here'):
        ovr.compile_model(str(tmp_path / 'any.onnx'), 'bf16')


@pytest.mark.slow
def test_backbone_file_in_openvino_fp32_and_bf16(tmp_path):
    """A backbone checked by the export in OpenVINO at three sizes: fp32
    within 1e-4; bf16 above it (so bf16 really ran) and within its
    tolerance."""
    from van_mm import VAN
    from van_mm.export import export_onnx
    from van_mm.testing import randomize
    small = dict(embed_dims=[16, 32, 64, 128], depths=[1, 1, 2, 1],
                 mlp_ratios=[8, 8, 4, 4])  # every kind of layer, quick
    report = export_onnx(randomize(VAN(arch=small)),
                         str(tmp_path / 'van.onnx'), (32, 64), dynamic=True,
                         engines=ENGINES)
    assert list(report.checks) == ['onnxruntime', *ENGINES]
    errors = report.checks['openvino'].errors
    assert len(errors) == 3 and max(errors.values()) <= 1e-4
    if BF16:
        errors = report.checks['openvino-bf16'].errors.values()
        assert 1e-4 < min(errors) and max(errors) <= parity.BF16.rtol


def test_a_calls_outputs_survive_the_next_call(tmp_path):
    """OpenVINO reuses its output tensors from call to call; what a call
    returned keeps its values after the next one (a segmentor's data
    sample keeps its logits)."""
    from van_mm import VAN
    from van_mm.export import export_onnx
    from van_mm.testing import randomize
    model = randomize(VAN(arch=dict(embed_dims=[8, 8, 8, 8],
                                    depths=[1, 1, 1, 1],
                                    mlp_ratios=[2, 2, 2, 2])))
    path = str(tmp_path / 'van.onnx')
    export_onnx(model, path, (32, 32))
    deployed = ovr.OpenVinoModel(model, path)
    first = deployed.infer(dict(input=np.zeros((1, 3, 32, 32), np.float32)))
    kept = {name: out.copy() for name, out in first.items()}
    second = deployed.infer(dict(input=np.ones((1, 3, 32, 32), np.float32)))
    assert len(first) == len(second) == 4
    for name, out in first.items():
        assert not np.array_equal(second[name], kept[name])
        np.testing.assert_array_equal(out, kept[name])


@pytest.mark.slow
def test_segmentor_in_openvino_and_int8_through_the_tools(
        workspace, seg_ckpt, exported_segmentor, tmp_path):
    """export_onnx --check: the file checked in OpenVINO too (fp32 within
    1e-4, bf16 within 5e-2); tools/quantize.py: an int8 file calibrated on
    the training images, compared with the fp32 file on validation
    images; tools/test.py evaluates the int8 file in OpenVINO; the demo
    paints with OpenVINO, the benchmark times the int8 file in it."""
    ckpt = seg_ckpt
    fp32, log = exported_segmentor
    int8 = tmp_path / 'seg_int8.onnx'
    for engine, tol in (('openvino', 1e-4), ('openvino-bf16', 5e-2)):
        found = [float(e) for e in re.findall(
            rf'  {engine}, input \d+x3x\d+x\d+: max relative error vs '
            rf'PyTorch (\d\.\de[-+]\d+)', log)]
        assert len(found) == 3 * (engine in ENGINES), log[-2000:]
        assert all(e <= tol for e in found), found

    result = run('quantize', SEG_CONFIG, fp32, '--out', int8,
                 '--num-images', 4, '--compare', 2, cwd=workspace)
    assert result.code == 0, result.log[-3000:]
    assert 'Calibrating on 4 images of the train set' in result.log
    convs = int(re.search(r'(\d+) convolutions int8', result.log)[1])
    assert convs > 100
    agree = float(re.search(r'labels equal at (\d+\.\d+)%', result.log)[1])
    assert agree > 90
    import onnx
    model = onnx.load(str(int8))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta['van_mm.kind'] == 'segmentor'
    assert json.loads(meta['van_mm.quantization'])['images'] == 4
    ops = [n.op_type for n in model.graph.node]
    assert ops.count('DequantizeLinear') >= 2 * convs

    result = run('test', SEG_CONFIG, int8, '--backend', 'openvino',
                 '--work-dir', tmp_path / 'test', cwd=workspace)
    assert result.code == 0, result.log[-3000:]
    assert 'in openvino.' in result.log and 'mIoU:' in result.log

    image = sorted((workspace / 'data/scenes/images/validation').glob(
        '*.jpg'))[0]
    result = run('demo', image, SEG_CONFIG, ckpt, '--out',
                 tmp_path / 'demo.png', '--backend', ENGINES[-1], '--onnx',
                 fp32, cwd=workspace)
    assert result.code == 0, result.log[-3000:]
    assert f'({ENGINES[-1]}: ' in result.log

    out = tmp_path / 'bench.json'
    result = run('benchmark', SEG_CONFIG, '--backend', 'openvino', '--onnx',
                 int8, '--shape', 192, 256, '--repeat', 1, '--warmup', 0,
                 '--json', out, cwd=workspace)
    assert result.code == 0, result.log[-3000:]
    assert json.loads(out.read_text())['flags'] == ['openvino']


@pytest.mark.slow
def test_detector_in_openvino_gives_test_step_detections(
        exported_detector, trained_detector):
    """The whole Mask R-CNN file tools/export_onnx.py wrote (NMS, RoIAlign,
    mask head) in OpenVINO fp32: the export's check passes in OpenVINO at
    two sizes, and test_step at a third gives PyTorch's boxes, scores,
    labels and masks. Its int8 file runs in OpenVINO."""
    from van_mm.apis import data_sample, init_model, load_config
    from van_mm.export import check_file
    from van_mm.export.exporter import example_input
    from van_mm.export.quantize import quantize_file
    cfg = load_config(DET_CONFIG)
    model = init_model(cfg, trained_detector.checkpoint(2))
    path = str(exported_detector[0])
    checked = check_file(model, path, 'openvino', (128, 160)).detections
    assert len(checked) == 2
    for case, result in checked.items():
        assert result.ok() and result.count_ref > 5, (case, str(result))

    engine = ovr.OpenVinoModel(model, path)
    h, w = 83, 117

    def data():
        image = example_input('detector', 1, h, w, seed=5)[0]
        return dict(inputs=[image], data_samples=[data_sample(cfg, h, w)])

    def numpy(pred):
        return dict(boxes=pred.bboxes.numpy(), scores=pred.scores.numpy(),
                    labels=pred.labels.numpy(), masks=pred.masks.numpy())
    with torch.no_grad():
        ref = numpy(model.test_step(data())[0].pred_instances)
    got = numpy(engine.test_step(data())[0].pred_instances)
    result = parity.compare_detections(ref, got)
    assert result.ok() and result.count_ref > 5, str(result)

    int8 = path.replace('.onnx', '_int8.onnx')
    feeds = [dict(image=example_input('detector', 1, 64, 96, seed=s).numpy(),
                  scale_factor=np.ones(2, np.float32)) for s in range(2)]
    quantize_file(path, int8, feeds)
    got = ovr.OpenVinoModel(model, int8).test_step(data())[0]
    assert len(got.pred_instances) > 5
