"""ONNX export: what onnxruntime computes from an exported backbone,
segmentor or detector equals PyTorch's, at several input sizes, and what
the host adds gives ``test_step``'s predictions; an export that differs
is not written."""
import pytest
import torch

from helpers import lighten, load, to_tiny_b0
from van_mm import VAN
from van_mm.apis import build_from_config, data_sample
from van_mm.testing import randomize

pytest.importorskip('onnxruntime', reason='deploy extra not installed')

from van_mm.export import (  # noqa: E402
    ExportCheckError,
    OnnxRuntimeModel,
    export_onnx,
)
from van_mm.export.exporter import example_input  # noqa: E402
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


@pytest.mark.parametrize('config,test_cfg', [
    ('retinanet_van_b0_1x.py', {'score_thr': 0.}),
    ('maskrcnn_van_b0_1x.py', {'rcnn.score_thr': 0.}),
])
def test_detector_in_onnxruntime_gives_test_step_detections(
        config, test_cfg, tmp_path):
    """Backbone, neck and dense head in onnxruntime, anchors, NMS and RoI
    heads in mmdet on the host: the same boxes, scores, labels (and masks)
    as PyTorch's ``test_step``, at a size that needs padding."""
    cfg, model = tiny_model(config, **test_cfg)
    path = str(tmp_path / 'det.onnx')
    report = export_onnx(model, path, (64, 96), dynamic=True)
    assert report.kind == 'detector' and report.max_error <= RTOL
    onnx_model = OnnxRuntimeModel(model, path)
    h, w = 77, 123

    def data():
        image = example_input('detector', 1, h, w, seed=3)[0]
        return dict(inputs=[image], data_samples=[data_sample(cfg, h, w)])
    with torch.no_grad():
        ref = model.test_step(data())[0].pred_instances
    got = onnx_model.test_step(data())[0].pred_instances
    assert len(ref) > 5 and len(got) == len(ref)
    torch.testing.assert_close(got.scores, ref.scores, rtol=1e-4,
                               atol=1e-5)
    torch.testing.assert_close(got.bboxes, ref.bboxes, rtol=1e-4,
                               atol=1e-3)
    assert torch.equal(got.labels, ref.labels)
    if 'masks' in ref:
        assert (got.masks == ref.masks).float().mean() > 0.999


def test_onnx_file_of_another_kind_is_named(tmp_path):
    """A backbone file given for a whole model says what it holds."""
    cfg, model = tiny_model('fpn_van_b0_ade20k_40k.py')
    path = str(tmp_path / 'backbone.onnx')
    export_onnx(model.backbone, path, (64, 64))
    with pytest.raises(ValueError, match='holds an exported backbone.*'
                       'config builds a segmentor'):
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
