"""tools/export_onnx.py and the onnxruntime backend of tools/demo.py,
tools/benchmark.py and tools/web_demo.py, end to end on generated data: the
file is written with its check against PyTorch, and onnxruntime paints the
picture PyTorch paints."""
import glob
import json
import os
import re

import mmcv
import numpy as np
import pytest

from helpers import (
    CONFIGS,
    DET_CONFIG,
    SEG_CONFIG,
    run,
    script_ok,
)

pytest.importorskip('onnxruntime', reason='deploy extra not installed')
pytestmark = pytest.mark.slow  # each test exports a model (10-60 s)


def export(workspace, config, checkpoint, out, *args, process=False):
    """tools/export_onnx.py (in this process, or as a user runs it); the
    log and the relative errors it printed."""
    args = [config, checkpoint, '--out', out, *args]
    if process:
        log = script_ok(['tools/export_onnx.py', *args], cwd=workspace)
    else:
        result = run('export_onnx', *args, cwd=workspace)
        log = result.log
        assert result.code == 0, log[-3000:]
    assert os.path.isfile(out)
    errors = [float(e) for e in re.findall(
        r'max relative error vs PyTorch (\d\.\de[-+]\d+)', log)]
    return log, errors


def test_segmentor_export_demo_and_benchmark(workspace, seg_ckpt,
                                             tmp_path):
    """--dynamic: checked at three sizes; the demo through onnxruntime
    paints PyTorch's picture (an image of another size than the export's);
    the benchmark times the file; the demo page's model runs it."""
    ckpt = seg_ckpt
    onnx = tmp_path / 'seg.onnx'
    log, errors = export(workspace, SEG_CONFIG, ckpt, onnx, '--shape', 96,
                         128, '--dynamic', process=True)
    assert 'segmentor exported' in log and len(errors) == 3
    assert max(errors) <= 1e-4
    assert 'labels equal at' in log

    image = sorted(glob.glob(str(workspace / 'data/scenes/images/'
                                 'validation/*.jpg')))[0]
    pictures = {}
    for backend in ('pytorch', 'onnxruntime'):
        out = tmp_path / f'demo_{backend}.png'
        extra = ['--backend', backend, '--onnx', onnx] \
            if backend == 'onnxruntime' else []
        result = run('demo', image, SEG_CONFIG, ckpt, '--out', out, *extra,
                     cwd=workspace)
        assert result.code == 0, result.log[-3000:]
        assert f'({backend}: ' in result.log
        pictures[backend] = mmcv.imread(str(out)).astype(int)
    differ = np.abs(pictures['pytorch'] - pictures['onnxruntime']) > 2
    assert differ.any(axis=2).mean() < 0.001

    result_file = tmp_path / 'bench.json'
    result = run('benchmark', SEG_CONFIG, '--backend', 'onnxruntime',
                 '--onnx', onnx, '--shape', 96, 128, '--repeat', 2,
                 '--warmup', 1, '--json', result_file, cwd=workspace)
    assert result.code == 0, result.log[-3000:]
    assert 'onnxruntime' in result.log and 'latency median' in result.log
    assert json.loads(result_file.read_text())['flags'] == ['onnxruntime']

    web_demo_on_onnx(image, ckpt, onnx)


def web_demo_on_onnx(image_path, ckpt, onnx):
    """The demo page's model (tools/web_demo.py) with the network from the
    ONNX file: with the checkpoint beside it, the attention map comes from
    the checkpoint; from the file alone, there is none; the classes
    predicted are PyTorch's."""
    from van_mm.webdemo import DemoModel, read_upload
    with open(image_path, 'rb') as f:
        image, _ = read_upload(f.read())
    outs = {}
    for name, args in (('pytorch', (ckpt, )), ('both', (ckpt, str(onnx))),
                       ('alone', (str(onnx), ))):
        demo = DemoModel(SEG_CONFIG, *args)
        assert demo.backend == ('pytorch' if name == 'pytorch' else
                                'onnxruntime')
        assert demo.stages == (0 if name == 'alone' else 4)
        outs[name] = demo.predict(image, None if name == 'alone' else 3)
    assert outs['both']['attention'] == outs['pytorch']['attention']
    assert outs['alone']['attention'] is None
    names = {k: [i['name'] for i in out['legend']['items']]
             for k, out in outs.items()}
    assert names['pytorch'] == names['both'] == names['alone']


def test_detector_export_and_demo(workspace, det_ckpt, tmp_path):
    """A static export at the size the config's pipeline gives the images,
    and the demo through it. (The detections equal PyTorch's: see
    test_export.py; the painted text itself differs from run to run.)"""
    ckpt = det_ckpt
    onnx = tmp_path / 'det.onnx'
    log, errors = export(workspace, DET_CONFIG, ckpt, onnx, '--shape', 192,
                         256)
    assert 'detector exported' in log and len(errors) == 1
    assert errors[0] <= 1e-4
    image = glob.glob(str(workspace / 'data/shapes/val2017/*.jpg'))[0]
    out = tmp_path / 'det.png'
    result = run('demo', image, DET_CONFIG, ckpt, '--out', out,
                 '--score-thr', 0.0, '--backend', 'onnxruntime', '--onnx',
                 onnx, cwd=workspace)
    assert result.code == 0, result.log[-3000:]
    assert '(onnxruntime: ' in result.log
    painted, plain = (mmcv.imread(str(p)).astype(int) for p in (out, image))
    assert painted.shape == plain.shape
    assert (np.abs(painted - plain).max(axis=2) > 30).mean() > 0.01


def test_backbone_benchmark_exports_on_the_fly(workspace, official_b0_file,
                                               tmp_path):
    """--backend onnxruntime without --onnx exports the model first;
    --backbone export takes any VAN checkpoint; PyTorch-only flags and a
    missing file are refused with the flag's name."""
    config = os.path.join(CONFIGS, 'fpn_van_b0_ade20k_40k.py')
    result = run('benchmark', config, '--backbone', '--backend',
                 'onnxruntime', '--shape', 64, 96, '--repeat', 2,
                 '--warmup', 1, cwd=workspace)
    assert result.code == 0, result.log[-3000:]
    assert 'backbone' in result.log and 'onnxruntime' in result.log
    log, errors = export(workspace, config, official_b0_file,
                         tmp_path / 'b0.onnx', '--backbone', '--shape', 64,
                         64)
    assert 'backbone exported' in log and errors[0] <= 1e-4
    result = run('benchmark', config, '--backend', 'onnxruntime',
                 '--deploy', cwd=workspace)
    assert result.code != 0
    assert '--deploy: PyTorch options' in result.err
    result = run('export_onnx', config, 'missing.pth', '--out',
                 tmp_path / 'x.onnx', cwd=workspace)
    assert result.code != 0
    assert "Checkpoint not found: 'missing.pth'" in result.err
