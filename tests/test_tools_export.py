"""tools/export_onnx.py and the onnxruntime backend of tools/demo.py and
tools/benchmark.py, end to end on generated data: the file is written with
its check against PyTorch, and onnxruntime paints the picture PyTorch
paints."""
import glob
import json
import os
import re

import mmcv
import numpy as np
import pytest

from helpers import CONFIGS, random_checkpoint, run_script, run_tool
from van_mm.synthetic import (
    SCENE_CLASSES,
    SHAPE_CLASSES,
    make_ade_scenes,
    make_coco_shapes,
)

pytest.importorskip('onnxruntime', reason='deploy extra not installed')
pytestmark = pytest.mark.slow  # each test exports a model (10-60 s)

SEG_CONFIG = os.path.join(CONFIGS, 'scenes', 'fpn_van_b0_scenes.py')
DET_CONFIG = os.path.join(CONFIGS, 'shapes', 'maskrcnn_van_b0_shapes.py')


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp('export_ws')
    make_ade_scenes(str(root / 'data' / 'scenes'), num_train=1, num_val=2,
                    seed=3)
    make_coco_shapes(str(root / 'data' / 'shapes'), num_train=1, num_val=1,
                     seed=3)
    return root


def export(workspace, config, checkpoint, out, *args):
    log = run_tool(['tools/export_onnx.py', config, checkpoint, '--out', out,
                    *args], cwd=workspace)
    assert os.path.isfile(out)
    errors = [float(e) for e in re.findall(
        r'max relative error vs PyTorch (\d\.\de[-+]\d+)', log)]
    return log, errors


def test_segmentor_export_demo_and_benchmark(workspace):
    """--dynamic: checked at three sizes; the demo through onnxruntime
    paints PyTorch's picture (an image of another size than the export's);
    the benchmark times the file."""
    ckpt = random_checkpoint(SEG_CONFIG, SCENE_CLASSES,
                             workspace / 'seg.pth')
    onnx = workspace / 'seg.onnx'
    log, errors = export(workspace, SEG_CONFIG, ckpt, onnx, '--shape', 96,
                         128, '--dynamic')
    assert 'segmentor exported' in log and len(errors) == 3
    assert max(errors) <= 1e-4
    assert 'labels equal at' in log

    image = sorted(glob.glob(str(workspace / 'data/scenes/images/'
                                 'validation/*.jpg')))[0]
    pictures = {}
    for backend in ('pytorch', 'onnxruntime'):
        out = workspace / f'demo_{backend}.png'
        extra = ['--backend', backend, '--onnx', onnx] \
            if backend == 'onnxruntime' else []
        log = run_tool(['tools/demo.py', image, SEG_CONFIG, ckpt, '--out',
                        out, *extra], cwd=workspace)
        assert f'({backend}: ' in log
        pictures[backend] = mmcv.imread(str(out)).astype(int)
    differ = np.abs(pictures['pytorch'] - pictures['onnxruntime']) > 2
    assert differ.any(axis=2).mean() < 0.001

    result = workspace / 'bench.json'
    log = run_tool(['tools/benchmark.py', SEG_CONFIG, '--backend',
                    'onnxruntime', '--onnx', onnx, '--shape', 96, 128,
                    '--repeat', 2, '--warmup', 1, '--json', result],
                   cwd=workspace)
    assert 'onnxruntime' in log and 'latency median' in log
    assert json.loads(result.read_text())['flags'] == ['onnxruntime']


def test_detector_export_and_demo(workspace):
    """A static export at the size the config's pipeline gives the images,
    and the demo through it. (The detections equal PyTorch's: see
    test_export.py; the painted text itself differs from run to run.)"""
    ckpt = random_checkpoint(DET_CONFIG, SHAPE_CLASSES,
                             workspace / 'det.pth')
    onnx = workspace / 'det.onnx'
    log, errors = export(workspace, DET_CONFIG, ckpt, onnx, '--shape', 192,
                         256)
    assert 'detector exported' in log and len(errors) == 1
    assert errors[0] <= 1e-4
    image = glob.glob(str(workspace / 'data/shapes/val2017/*.jpg'))[0]
    out = workspace / 'det.png'
    log = run_tool(['tools/demo.py', image, DET_CONFIG, ckpt, '--out', out,
                    '--score-thr', 0.0, '--backend', 'onnxruntime', '--onnx',
                    onnx], cwd=workspace)
    assert '(onnxruntime: ' in log
    painted, plain = (mmcv.imread(str(p)).astype(int) for p in (out, image))
    assert painted.shape == plain.shape
    assert (np.abs(painted - plain).max(axis=2) > 30).mean() > 0.01


def test_backbone_benchmark_exports_on_the_fly(workspace, official_b0_file):
    """--backend onnxruntime without --onnx exports the model first;
    --backbone export takes any VAN checkpoint; PyTorch-only flags and a
    missing file are refused with the flag's name."""
    config = os.path.join(CONFIGS, 'fpn_van_b0_ade20k_40k.py')
    log = run_tool(['tools/benchmark.py', config, '--backbone', '--backend',
                    'onnxruntime', '--shape', 64, 96, '--repeat', 2,
                    '--warmup', 1], cwd=workspace)
    assert 'backbone' in log and 'onnxruntime' in log
    log, errors = export(workspace, config, official_b0_file,
                         workspace / 'b0.onnx', '--backbone', '--shape', 64,
                         64)
    assert 'backbone exported' in log and errors[0] <= 1e-4
    out = run_script(['tools/benchmark.py', config, '--backend',
                      'onnxruntime', '--deploy'], cwd=workspace)
    assert out.returncode != 0 and '--deploy: PyTorch options' in out.stderr
    out = run_script(['tools/export_onnx.py', config, 'missing.pth', '--out',
                      workspace / 'x.onnx'], cwd=workspace)
    assert out.returncode != 0
    assert "Checkpoint not found: 'missing.pth'" in out.stderr
