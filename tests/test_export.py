"""ONNX export: what onnxruntime computes from an exported backbone or
segmentor equals PyTorch's at several input sizes, and what the host adds
gives ``test_step``'s predictions; a detector exported whole gives
``test_step``'s detections, NMS included; an export that differs is not
written."""
import json

import pytest
import torch

from helpers import lighten, load, to_tiny_b0
from van_mm import VAN
from van_mm.apis import build_from_config, data_sample
from van_mm.synthetic import scene_picture
from van_mm.testing import plant_scores, randomize

pytest.importorskip('onnxruntime', reason='deploy extra not installed')

from van_mm.export import (  # noqa: E402
    ExportCheckError,
    OnnxRuntimeModel,
    export_onnx,
)
from van_mm.export.exporter import (  # noqa: E402
    example_input,
    file_detections,
    reference_detections,
)
from van_mm.export.parity import (  # noqa: E402
    compare_detections,
    recorded_nms,
    suppressed_in_top,
)
from van_mm.export.runtime import inference_session  # noqa: E402

pytestmark = pytest.mark.slow  # each test exports a model (10-60 s)

RTOL = 1e-4


def relative_error(a, b):
    return ((a - b).abs().max() / a.abs().max()).item()


def tiny_model(config, **test_cfg):
    """The config's model with a randomised VAN-B0, in eval mode."""
    cfg = to_tiny_b0(load(config))
    lighten(cfg)
    for key, value in test_cfg.items():
        node = cfg.model.test_cfg
        for part in key.split('.')[:-1]:
            node = node[part]
        node[key.split('.')[-1]] = value
    model = build_from_config(cfg)
    randomize(model.backbone)
    return cfg, model.eval()


def test_backbone_export_equals_pytorch_at_three_sizes(tmp_path):
    model = randomize(VAN(arch='b0'))
    path = tmp_path / 'van_b0.onnx'
    report = export_onnx(model, str(path), (64, 96), dynamic=True)
    assert report.kind == 'backbone'
    shapes = list(report.errors)  # (batch, H, W)
    assert len(shapes) == 3 and (1, 64, 96) in shapes
    assert any(b == 2 for b, _, _ in shapes)
    assert any(h % 32 and w % 32 for _, h, w in shapes)
    assert report.max_error <= RTOL
    session = inference_session(str(path))
    for shape in [(1, 3, 96, 96), (3, 3, 45, 70)]:  # sizes not checked yet
        x = torch.randn(*shape)
        with torch.no_grad():
            ref = model(x)
        outs = session.run(None, {'input': x.numpy()})
        assert len(outs) == 4
        for a, b in zip(ref, outs):
            assert relative_error(a, torch.from_numpy(b)) <= RTOL


def test_an_export_that_differs_is_refused_and_nothing_written(tmp_path):
    """BN folding changes the float rounding (about 1e-7): a tolerance of
    1e-12 refuses it, with the error, and the file there stays as it
    was."""
    path = tmp_path / 'van_b0.onnx'
    path.write_bytes(b'previous export')
    with pytest.raises(ExportCheckError, match=r'not written: at input '
                       r'\(1, 64, 64\) .* differs from PyTorch by '
                       r'\d\.\d+e-\d+ .*more than 1e-12'):
        export_onnx(randomize(VAN(arch='b0')), str(path), (64, 64),
                    rtol=1e-12)
    assert path.read_bytes() == b'previous export'
    assert [p.name for p in tmp_path.iterdir()] == ['van_b0.onnx']


def test_segmentor_in_onnxruntime_gives_test_step_predictions(tmp_path):
    """The exported Semantic FPN (normalisation, logits resized to the
    input, arg-max in the graph) equals PyTorch's graph at three sizes, and
    ``test_step`` through onnxruntime gives mmseg's logits and labels, at
    the original size when the image was resized."""
    cfg, model = tiny_model('fpn_van_b0_ade20k_40k.py')
    path = str(tmp_path / 'fpn.onnx')
    report = export_onnx(model, path, (64, 96), dynamic=True)
    assert report.max_error <= RTOL
    assert min(report.label_agreement.values()) > 0.999
    onnx_model = OnnxRuntimeModel(model, path)
    for (h, w), ori in [((64, 96), (64, 96)), ((77, 123), (100, 150))]:
        def data():
            sample = data_sample(cfg, h, w)
            sample.set_metainfo(dict(ori_shape=ori))
            image = example_input('segmentor', 1, h, w, seed=7)[0]
            return dict(inputs=[image], data_samples=[sample])
        with torch.no_grad():
            ref = model.test_step(data())[0]
        got = onnx_model.test_step(data())[0]
        assert got.seg_logits.shape == ref.seg_logits.shape == ori
        assert relative_error(ref.seg_logits.data,
                              got.seg_logits.data) <= RTOL
        same = (ref.pred_sem_seg.data == got.pred_sem_seg.data).float()
        assert same.mean() > 0.999


def scene(height, width, seed):
    """A generated scene as a test pipeline gives it: uint8 (3, H, W)."""
    return torch.from_numpy(scene_picture(height, width, seed)).permute(
        2, 0, 1).contiguous()


@pytest.fixture(scope='session')
def retinanet(tmp_path_factory):
    """RetinaNet with a randomised VAN-B0 and planted scores (a trained
    detector's score map: few detections, of two classes, in clusters of
    overlapping boxes), exported whole once at 128x160."""
    torch.manual_seed(0)  # the heads' random weights
    cfg, model = tiny_model('retinanet_van_b0_1x.py')
    plant_scores(model, scene(128, 160, seed=99), gain=15, shift=-10,
                 active=2)
    path = str(tmp_path_factory.mktemp('retinanet') / 'retinanet.onnx')
    report = export_onnx(model, path, (128, 160), cfg=cfg,
                         classes=[f'class {i}' for i in range(80)])
    return model, path, report


def test_detector_is_exported_whole_and_checked_at_two_sizes(retinanet):
    """One image of any size and its resize factor in; boxes in the
    original image, scores and labels out; NMS as ONNX
    ``NonMaxSuppression``. Before writing, the file's detections were
    matched to ``test_step``'s at the export's size and at one no multiple
    of 32, each image resized from a larger one, where PyTorch's NMS
    removed candidates that would otherwise have been detections (a file
    without a working NMS would not have been written); the runner's
    metadata is in the file."""
    _, path, report = retinanet
    assert report.kind == 'detector'
    assert report.operators == {'NonMaxSuppression': 1, 'RoiAlign': 0}
    (size, original), (odd, odd_original) = report.detections
    assert size == (128, 160) and original == (256, 320)
    assert odd[0] % 32 and odd[1] % 32 and odd_original[0] > odd[0]
    for parity in report.detections.values():
        assert parity.ok() and parity.count_ref > 5
        candidates, kept, suppressed = parity.nms
        assert candidates > kept >= parity.count_ref and suppressed > 0
    assert report.nms_tested
    session = inference_session(path)
    inputs = {i.name: i.shape for i in session.get_inputs()}
    assert inputs['image'][:2] == [1, 3] and inputs['scale_factor'] == [2]
    assert all(isinstance(d, str) for d in inputs['image'][2:])  # dynamic
    assert [o.name for o in session.get_outputs()] == [
        'boxes', 'scores', 'labels']
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta['van_mm.test_resize']) == [
        dict(type='Resize', scale=[1333, 800], keep_ratio=True)]
    assert json.loads(meta['van_mm.classes'])[1] == 'class 1'


@pytest.mark.parametrize('size,original', [((128, 160), (256, 320)),
                                           ((117, 203), (300, 521))])
def test_whole_detector_gives_test_step_detections_nms_included(
        retinanet, size, original):
    """On scenes where NMS suppresses boxes that would otherwise be among
    the detections (so that a file without a working NMS cannot match),
    the file gives ``test_step``'s detections: each matched with the same
    label at IoU >= 0.99, scores within 1e-3, the same count (under the
    ``max_per_img`` cut)."""
    model, path, _ = retinanet
    session = inference_session(path)
    for seed in (0, 1):
        image = scene(*size, seed)
        with recorded_nms() as calls:
            ref = reference_detections(model, image, original)
        scores, keep = calls[-1]
        assert 0 < len(ref['scores']) < model.bbox_head.test_cfg.max_per_img
        assert suppressed_in_top(scores, keep, len(ref['scores'])) > 0
        got = file_detections(session, image, original, None)
        parity = compare_detections(ref, got)
        assert parity.ok(), parity


def test_onnx_file_of_another_kind_is_named(tmp_path):
    """A backbone file given for a whole model says what it holds."""
    cfg, model = tiny_model('fpn_van_b0_ade20k_40k.py')
    path = str(tmp_path / 'backbone.onnx')
    export_onnx(model.backbone, path, (64, 64))
    with pytest.raises(ValueError, match='holds an exported backbone.*'
                       'config builds a segmentor'):
        OnnxRuntimeModel(model, path)


def test_a_detector_file_of_the_dense_heads_only_is_named(tmp_path):
    """Earlier van_mm releases exported detectors up to their dense heads
    (input ``image`` only, outputs per level): the runner and the tools
    refuse such a file, saying to export it again."""
    import onnx
    from onnx import TensorProto, helper

    from van_mm.export.runner.models import load as load_runner
    image = helper.make_tensor_value_info('image', TensorProto.FLOAT,
                                          [1, 3, 8, 8])
    level = helper.make_tensor_value_info('cls_score_0', TensorProto.FLOAT,
                                          [1, 3, 8, 8])
    graph = helper.make_graph(
        [helper.make_node('Identity', ['image'], ['cls_score_0'])],
        'dense_heads', [image], [level])
    old = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    old.ir_version = 8
    helper.set_model_props(old, {'van_mm.kind': 'detector'})
    path = str(tmp_path / 'old_detector.onnx')
    onnx.save(old, path)
    with pytest.raises(ValueError, match='old_detector.onnx.*dense heads by '
                       'an earlier van_mm: export it again'):
        load_runner(path)
    _, model = tiny_model('retinanet_van_b0_1x.py')
    with pytest.raises(ValueError, match='dense heads by an earlier van_mm'):
        OnnxRuntimeModel(model, path)


def test_dynamic_export_of_pyramid_pooling_is_refused_early(tmp_path):
    """UperNet's adaptive pooling has no dynamic-size ONNX form: --dynamic
    is refused before exporting, naming the layer."""
    _, model = tiny_model('upernet_van_b0_ade20k_160k.py')
    with pytest.raises(ValueError, match=r'decode_head\.psp_modules\.1\.0 '
                       r'\(AdaptiveAvgPool2d, output size 2\).*without '
                       '--dynamic'):
        export_onnx(model, str(tmp_path / 'x.onnx'), (64, 64), dynamic=True)
    assert not list(tmp_path.iterdir())
