"""tools/export_onnx.py, the exported files evaluated by tools/test.py and
run by tools/demo.py and tools/benchmark.py through onnxruntime, and the
torch-free runner, end to end on generated data: the file is written with
its check against PyTorch, and what it gives is what the checkpoint
gives."""
import glob
import json
import os
import pickle
import re
import subprocess
import sys

import mmcv
import numpy as np
import pytest
import torch

from helpers import (
    CONFIGS,
    DET_CONFIG,
    QUICK_RUN,
    REPO,
    SEG_CONFIG,
    SHAPES,
    ok,
    run,
)
from van_mm.synthetic import SHAPE_CLASSES, scene_picture

pytest.importorskip('onnxruntime', reason='deploy extra not installed')
pytestmark = pytest.mark.slow  # each test exports a model (10-60 s)

from van_mm.export.parity import (  # noqa: E402
    compare_detections,
    recorded_nms,
    suppressed_in_top,
)


def export(workspace, config, checkpoint, out, *args):
    """tools/export_onnx.py in this process; the log and the relative
    errors it printed."""
    result = run('export_onnx', config, checkpoint, '--out', out, *args,
                 cwd=workspace)
    log = result.log
    assert result.code == 0, log[-3000:]
    assert os.path.isfile(out)
    errors = [float(e) for e in re.findall(
        r'max relative error vs PyTorch (\d\.\de[-+]\d+)', log)]
    return log, errors


def metrics(log):
    """The metrics tools/test.py printed last: {'bbox_mAP': 0.1, ...}."""
    found = re.findall(r'(?:coco/)?(\w+): (-?\d+\.\d+)', log.split(
        'Iter(test)')[-1].splitlines()[0])
    return {k: float(v) for k, v in found if not k.endswith('time')}


def test_segmentor_export_test_demo_benchmark_and_runner(
        workspace, seg_ckpt, exported_segmentor, tmp_path):
    """--dynamic: checked at three sizes; tools/test.py evaluates the file
    as the checkpoint (same mIoU); the demo through onnxruntime paints
    PyTorch's picture; the torch-free runner gives mmseg's label map of an
    image file; the benchmark times the file; the demo page's model runs
    it."""
    ckpt = seg_ckpt
    onnx, log = exported_segmentor
    errors = [float(e) for e in re.findall(
        r'  input \d+x3x\d+x\d+: max relative error vs PyTorch '
        r'(\d\.\de[-+]\d+)', log)]  # onnxruntime's (other engines' name them)
    assert 'segmentor exported' in log and len(errors) == 3
    assert max(errors) <= 1e-4
    assert 'labels equal at' in log

    scores = {}
    for name, model, extra in [('checkpoint', ckpt, []),
                               ('file', onnx, ['--backend', 'onnxruntime'])]:
        log = run('test', SEG_CONFIG, model, '--work-dir', tmp_path / name,
                  '--cfg-options', *QUICK_RUN, *extra, cwd=workspace).log
        scores[name] = metrics(log)
    assert 'mIoU' in scores['file']
    assert scores['file'] == scores['checkpoint']

    images = sorted(glob.glob(str(workspace / 'data/scenes/images/'
                                  'validation/*.jpg')))
    pictures = {}
    for backend in ('pytorch', 'onnxruntime'):
        out = tmp_path / f'demo_{backend}.png'
        extra = ['--backend', backend, '--onnx', onnx] \
            if backend == 'onnxruntime' else []
        result = run('demo', images[0], SEG_CONFIG, ckpt, '--out', out,
                     *extra, cwd=workspace)
        assert result.code == 0, result.log[-3000:]
        assert f'({backend}: ' in result.log
        pictures[backend] = mmcv.imread(str(out)).astype(int)
    differ = np.abs(pictures['pytorch'] - pictures['onnxruntime']) > 2
    assert differ.any(axis=2).mean() < 0.001

    from mmseg.apis import inference_model

    from van_mm.apis import init_model, load_config
    from van_mm.export.runner import OnnxSegmentor
    model = init_model(load_config(SEG_CONFIG), ckpt)
    with torch.no_grad():
        ref = inference_model(model, images[1]).pred_sem_seg.data[0].numpy()
    got = OnnxSegmentor(str(onnx))(images[1])
    assert got.shape == ref.shape and (got == ref).mean() > 0.999

    result_file = tmp_path / 'bench.json'
    result = run('benchmark', SEG_CONFIG, '--backend', 'onnxruntime',
                 '--onnx', onnx, '--shape', 96, 128, '--repeat', 2,
                 '--warmup', 1, '--json', result_file, cwd=workspace)
    assert result.code == 0, result.log[-3000:]
    assert 'onnxruntime' in result.log and 'latency median' in result.log
    assert json.loads(result_file.read_text())['flags'] == ['onnxruntime']

    web_demo_on_onnx(images[0], ckpt, onnx)


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


def test_demo_page_runs_a_whole_detector_file_alone(
        exported_detector, trained_detector, workspace):
    """The demo page's model given the exported Mask R-CNN without its
    checkpoint (the whole model is in the file): the detections it lists
    are the checkpoint's, and there is no attention map."""
    from van_mm.webdemo import DemoModel, read_upload
    path = sorted((workspace / 'data/shapes/val2017').glob('*.jpg'))[0]
    image, _ = read_upload(path.read_bytes())
    outs = {name: DemoModel(DET_CONFIG, str(model), score_thr=0.).predict(
        image, 3 if name == 'checkpoint' else None)
        for name, model in (('checkpoint', trained_detector.checkpoint(2)),
                            ('file', exported_detector[0]))}
    assert outs['file']['attention'] is None
    ref, got = (outs[k]['legend'] for k in ('checkpoint', 'file'))
    assert got['total'] == ref['total'] > 0
    for a, b in list(zip(ref['items'], got['items']))[:5]:
        assert a['name'] == b['name'] and abs(a['score'] - b['score']) <= 2e-3


def test_detector_is_exported_whole_and_checked(exported_detector):
    """NMS as ONNX NonMaxSuppression (RPN and R-CNN), RoIAlign as RoiAlign
    (four levels, box and mask head); checked against test_step at the
    export's size and at one no multiple of 32, each resized from a
    larger image; what the runner needs in the metadata."""
    import onnx
    path, log = exported_detector
    assert 'detector exported' in log
    assert 'ONNX NonMaxSuppression x2, RoiAlign x8' in log
    checks = re.findall(r'image (\d+)x(\d+) from (\d+)x(\d+): (\d+)/(\d+) '
                        r'detections, (\d+) matched.*masks 1\.00000 equal',
                        log)
    assert len(checks) == 2, log[-2000:]
    assert any(int(h) % 32 and int(w) % 32 for h, w, *_ in checks)
    for h, w, oh, ow, got, ref, matched in checks:
        assert int(oh) > int(h) and int(ow) > int(w)
        assert int(ref) > 0 and got == ref == matched
    meta = {p.key: p.value for p in onnx.load(
        str(path), load_external_data=False).metadata_props}
    assert json.loads(meta['van_mm.classes']) == list(SHAPE_CLASSES)
    assert json.loads(meta['van_mm.test_resize']) == [
        dict(type='Resize', scale=[256, 192], keep_ratio=True)]
    assert meta['van_mm.mask_thr_binary'] == '0.5'


# Run by the runner's subprocess before anything else (sitecustomize): the
# training stack cannot be imported, as where it is not installed.
BLOCKER = '''
import atexit, importlib.abc, sys
BLOCKED = {'torch', 'mmcv', 'mmdet', 'mmengine', 'mmseg', 'cv2'}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition('.')[0] in BLOCKED:
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)
sys.meta_path.insert(0, Blocker())
atexit.register(lambda: print('blocked modules loaded:', sorted(
    m for m in sys.modules if m.partition('.')[0] in BLOCKED)))
'''


def runner_images(workspace, folder):
    """Image files for the runner, in ``folder``: a validation JPEG at the
    test size, a PNG the test resize shrinks to a size no multiple of 32,
    a JPEG it enlarges."""
    from PIL import Image
    folder.mkdir()
    val = sorted(glob.glob(str(workspace / 'data/shapes/val2017/*.jpg')))[0]
    Image.open(val).save(folder / 'val.jpg', quality=95)
    for name, (h, w), seed in [('large.png', (300, 521), 5),
                               ('small.jpg', (100, 140), 7)]:
        Image.fromarray(scene_picture(h, w, seed)[..., ::-1].copy()).save(
            folder / name, quality=90)
    return sorted(str(p) for p in folder.iterdir())


def test_torch_free_runner_detects_as_demo(exported_detector,
                                           trained_detector, workspace,
                                           tmp_path):
    """``python -m van_mm.export.runner`` in a process where torch, mmcv,
    mmdet, mmengine, mmseg and cv2 cannot be imported reads each image,
    resizes it as the test pipeline does (down to a size no multiple of
    32, up, not at all), runs the file and pastes the masks: the
    detections tools/demo.py saves for the checkpoint (every one matched,
    same label, IoU >= 0.99, scores within 1e-3, masks 99.9% equal), on
    images where NMS removed boxes that would otherwise be among them."""
    path, _ = exported_detector
    images = runner_images(workspace, tmp_path / 'images')
    blocker = tmp_path / 'blocker'
    blocker.mkdir()
    (blocker / 'sitecustomize.py').write_text(BLOCKER)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(blocker), REPO, os.environ.get('PYTHONPATH', '')]))
    child = subprocess.run(
        [sys.executable, '-m', 'van_mm.export.runner', str(path), *images,
         '--save', str(tmp_path / 'runner'), '--out', str(tmp_path / 'runner'),
         '--threads', str(torch.get_num_threads())],
        capture_output=True, text=True, env=env, timeout=600)
    assert child.returncode == 0, child.stderr[-3000:]
    assert 'blocked modules loaded: []' in child.stdout
    assert child.stdout.count(' detections, ') == len(images)

    with recorded_nms() as calls:
        ok('demo', tmp_path / 'images', DET_CONFIG,
           trained_detector.checkpoint(2), '--out', tmp_path / 'demo',
           '--save', cwd=workspace)
    suppressed = 0
    for image, (scores, keep) in zip(images, calls):
        name = os.path.splitext(os.path.basename(image))[0] + '.npz'
        ref = dict(np.load(tmp_path / 'demo' / name))
        got = dict(np.load(tmp_path / 'runner' / name))
        parity = compare_detections(ref, got)
        assert parity.ok() and parity.count_ref > 0, (image, str(parity))
        assert parity.mask_agreement is not None
        suppressed += suppressed_in_top(scores, keep, parity.count_ref)
    assert len(calls) == len(images) and suppressed > 0


def test_test_py_evaluates_the_file_as_the_checkpoint(
        exported_detector, trained_detector, workspace, tmp_path):
    """tools/test.py CONFIG MODEL.onnx --backend onnxruntime: the
    config's test set and COCO metrics, the checkpoint's figures and
    detections; the demo through onnxruntime paints and prints them."""
    path, _ = exported_detector
    ckpt = trained_detector.checkpoint(2)
    results = {}
    for name, model, extra in [('checkpoint', ckpt, []),
                               ('file', path, ['--backend', 'onnxruntime'])]:
        out = tmp_path / f'{name}.pkl'
        log = run('test', DET_CONFIG, model, '--work-dir', tmp_path / name,
                  '--out', out, '--cfg-options', *QUICK_RUN, *extra,
                  cwd=workspace).log
        with open(out, 'rb') as f:
            results[name] = (metrics(log), pickle.load(f))
    (ref_metrics, ref), (got_metrics, got) = results.values()
    assert 'bbox_mAP' in got_metrics and 'segm_mAP' in got_metrics
    assert got_metrics == ref_metrics
    assert len(got) == len(ref) == SHAPES['num_val']
    for a, b in zip(ref, got):
        a, b = ({k: v.numpy() for k, v in r['pred_instances'].items()
                 if k in ('bboxes', 'scores', 'labels')} for r in (a, b))
        parity = compare_detections(
            dict(boxes=a['bboxes'], scores=a['scores'], labels=a['labels']),
            dict(boxes=b['bboxes'], scores=b['scores'], labels=b['labels']))
        assert parity.ok(), parity

    image = str(workspace / ref[0]['img_path'])  # relative to the cwd
    out = tmp_path / 'det.png'
    result = run('demo', image, DET_CONFIG, ckpt, '--out', out,
                 '--score-thr', 0.0, '--backend', 'onnxruntime', '--onnx',
                 path, '--print', cwd=workspace)
    assert result.code == 0, result.log[-3000:]
    assert '(onnxruntime: ' in result.log
    count = len(ref[0]['pred_instances']['scores'])
    assert f'  {count} detections, {count} at score >= 0.0' in result.log
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
    result = run('test', DET_CONFIG, 'missing.onnx', '--backend',
                 'onnxruntime', '--tta', cwd=workspace)
    assert result.code != 0
    assert '--tta: options of a checkpoint' in result.err
