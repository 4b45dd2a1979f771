"""What many tests share, made once per session: a workspace of generated
datasets (as a user lays them out), one trained segmentor and one trained
detector, checkpoints of a randomly initialised one of each, an
official-layout VAN-B0 file, and a wheel of van_mm installed in a fresh
virtual environment. Plain helpers are in ``helpers.py`` (this
folder is on ``sys.path`` for them).

``scripts/test.sh`` runs the suite in two processes (pytest-xdist), each
with one thread. Each process makes the fixtures it needs; the tests of
one expensive fixture go to one process, which makes it once (below)."""
import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))

# In a worker of a parallel run, one thread: the workers share the cores.
# Tools run as processes inherit it, so a process and the worker's own
# runs compute alike.
if os.environ.get('PYTEST_XDIST_WORKER'):
    os.environ['OMP_NUM_THREADS'] = '1'
    torch.set_num_threads(1)

from helpers import (  # noqa: E402
    DET_CONFIG,
    DET_LIGHT,
    NO_VAL,
    PANOPTIC,
    REPO,
    SCENES,
    SEG_CONFIG,
    SHAPES,
    fresh_venv,
    iters,
    mmpretrain_van,
    official_checkpoint,
    ok,
    pip_into,
    random_checkpoint,
    run,
    script_ok,
    segmentor_run,
)

# A test that uses one of these fixtures (directly or through another)
# runs in the process that made it (the first match names the process).
# The expensive fixtures of test modules are session-scoped for the same
# reason: a module's tests run interleaved with others', and a module
# fixture would be made again each time its module comes back.
ONE_PROCESS_FIXTURES = {
    'newcomer_python': 'newcomer', 'van_mm_wheel': 'newcomer',
    'trained_segmentor': 'segmentor', 'trained_detector': 'detector',
    'retinanet': 'retinanet', 'published': 'published',
    'exported_segmentor': 'exported_segmentor',
    'official_segmentor': 'official_segmentor',
}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        for fixture, group in ONE_PROCESS_FIXTURES.items():
            if fixture in item.fixturenames:
                item.add_marker(pytest.mark.xdist_group(group))
                break


@pytest.fixture(scope='session')
def workspace(tmp_path_factory) -> Path:
    """A folder holding data/shapes/ (COCO format) and data/scenes/
    (ADE20K layout), what the shapes and scenes configs' data roots name.
    Tests that change data copy it first."""
    from van_mm.synthetic import make_ade_scenes, make_coco_shapes
    root = tmp_path_factory.mktemp('workspace')
    make_coco_shapes(str(root / 'data' / 'shapes'), **SHAPES)
    make_ade_scenes(str(root / 'data' / 'scenes'), **SCENES)
    return root


@pytest.fixture(scope='session')
def panoptic_data(workspace) -> Path:
    """data/shapes_panoptic/ in the workspace, written by
    tools/make_synthetic_data.py run as a user runs it (its one run as a
    process)."""
    script_ok(['tools/make_synthetic_data.py', 'panoptic',
               os.path.join('data', 'shapes_panoptic'),
               '--num-train', PANOPTIC['num_train'],
               '--num-val', PANOPTIC['num_val'],
               '--seed', PANOPTIC['seed']], cwd=workspace)
    return workspace / 'data' / 'shapes_panoptic'


@pytest.fixture(scope='session')
def det_ckpt(workspace) -> str:
    """A randomly initialised Mask R-CNN VAN-B0 of ``DET_CONFIG`` (the
    shapes' classes), saved as the runner saves it."""
    from van_mm.synthetic import SHAPE_CLASSES
    return random_checkpoint(DET_CONFIG, SHAPE_CLASSES,
                             workspace / 'random_det.pth')


@pytest.fixture(scope='session')
def seg_ckpt(workspace) -> str:
    """A randomly initialised Semantic FPN VAN-B0 of ``SEG_CONFIG`` (the
    scenes' classes), saved as the runner saves it."""
    from van_mm.synthetic import SCENE_CLASSES
    return random_checkpoint(SEG_CONFIG, SCENE_CLASSES,
                             workspace / 'random_seg.pth')


@dataclass
class Trained:
    """A training run of the session: its work dir and log."""
    work_dir: Path
    log: str

    def checkpoint(self, iteration: int) -> Path:
        return self.work_dir / f'iter_{iteration}.pth'


@pytest.fixture(scope='session')
def trained_segmentor(workspace) -> Trained:
    """Semantic FPN VAN-B0 trained by tools/train.py for 5 iterations on
    the scenes, deterministic (seed 0, one persistent data worker), with
    checkpoints at iterations 2, 4 and 5 and no validation: the run that
    interrupted and resumed runs are compared with."""
    work = workspace / 'seg_train'
    return Trained(work, ok('train', *segmentor_run(work), cwd=workspace))


@pytest.fixture(scope='session')
def trained_detector(workspace) -> Trained:
    """Mask R-CNN VAN-B0 (the shapes config with fewer proposals) trained
    by tools/train.py for 2 iterations on the shapes, no validation."""
    work = workspace / 'det_train'
    log = ok('train', DET_CONFIG, '--work-dir', work, '--cfg-options',
             *DET_LIGHT, *NO_VAL, *iters(2), cwd=workspace)
    return Trained(work, log)


@pytest.fixture(scope='session')
def exported_detector(workspace, trained_detector, tmp_path_factory):
    """``trained_detector`` exported whole (NMS, RoIAlign, mask head) by
    tools/export_onnx.py at 128x160, checked in onnxruntime: the file and
    the tool's log."""
    pytest.importorskip('onnxruntime', reason='deploy extra not installed')
    out = tmp_path_factory.mktemp('det_onnx') / 'maskrcnn.onnx'
    result = run('export_onnx', DET_CONFIG, trained_detector.checkpoint(2),
                 '--out', out, '--shape', 128, 160, cwd=workspace)
    assert result.code == 0 and out.is_file(), result.log[-3000:]
    return out, result.log


@pytest.fixture(scope='session')
def exported_segmentor(workspace, seg_ckpt, tmp_path_factory):
    """``seg_ckpt`` exported by tools/export_onnx.py run as a user runs it
    (its one run as a process), for any input size (``--dynamic``),
    checked at three sizes in onnxruntime and, where the openvino extra is
    installed, in OpenVINO fp32 and bf16 (if the CPU has it): the file and
    the tool's log."""
    pytest.importorskip('onnxruntime', reason='deploy extra not installed')
    engines = []
    if importlib.util.find_spec('openvino') is not None:
        from van_mm.export.openvino_runtime import cpu_has_bf16
        engines = ['openvino'] + (['openvino-bf16'] if cpu_has_bf16() else [])
    out = tmp_path_factory.mktemp('seg_onnx') / 'seg.onnx'
    log = script_ok(['tools/export_onnx.py', SEG_CONFIG, seg_ckpt, '--out',
                     out, '--shape', 96, 128, '--dynamic', '--check',
                     *engines], cwd=workspace)
    assert out.is_file(), log[-3000:]
    return out, log


@pytest.fixture(scope='session')
def official_b0():
    """An independent VAN-B0 with random weights: mmpretrain's, with the
    official classification code's LayerNorm epsilon (1e-6). What an
    official file made from it (``official_b0_file``) must compute."""
    return mmpretrain_van('tiny', ln_eps=1e-6)


@pytest.fixture(scope='session')
def official_b0_state(official_b0):
    """``official_b0``'s weights under the official module names, with a
    1000-class ``head`` as the official classifiers have."""
    return official_checkpoint(official_b0)['state_dict']


@pytest.fixture(scope='session')
def official_b0_file(official_b0_state, tmp_path_factory):
    """``official_b0_state`` saved as the official files are:
    ``van_tiny_754.pth.tar`` holding ``{'state_dict': ...}``."""
    path = tmp_path_factory.mktemp('ckpt') / 'van_tiny_754.pth.tar'
    torch.save({'state_dict': official_b0_state}, path)
    return str(path)


@pytest.fixture(scope='session')
def van_mm_wheel(tmp_path_factory) -> Path:
    """A wheel of this checkout, as ``pip install .`` builds it."""
    out = tmp_path_factory.mktemp('wheel')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
                    '--no-build-isolation', '--no-cache-dir', '-q', '-w',
                    str(out), REPO], check=True, capture_output=True)
    (wheel, ) = out.glob('van_mm-*.whl')
    return wheel


@pytest.fixture(scope='session')
def newcomer_python(van_mm_wheel, tmp_path_factory) -> str:
    """The interpreter of a fresh venv over the stack with van_mm installed
    from the wheel (not editable, not this checkout): a newcomer's."""
    python, _ = fresh_venv(tmp_path_factory.mktemp('newcomer'))
    out = pip_into(python, 'install', '-q', '--no-deps', '--no-cache-dir',
                   '--ignore-installed', str(van_mm_wheel))
    assert out.returncode == 0, out.stderr[-2000:]
    return python
