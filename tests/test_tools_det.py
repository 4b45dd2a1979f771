"""tools/train.py, tools/test.py and the distributed launchers, end to end
on a generated COCO-format dataset."""
import glob
import os
import pickle
import re
import subprocess

import pytest

from helpers import CONFIGS, QUICK_RUN, REPO, iters, run_tool
from van_mm.synthetic import make_coco_shapes

pytestmark = pytest.mark.slow  # each test trains or tests a model

CONFIG = os.path.join(CONFIGS, 'shapes', 'maskrcnn_van_b0_shapes.py')
# Fewer proposals and RoIs than the config, so each iteration is quick.
LIGHT = [
    'model.train_cfg.rpn_proposal.max_per_img=50',
    'model.train_cfg.rcnn.sampler.num=32',
    'model.test_cfg.rpn.max_per_img=50',
    'model.test_cfg.rcnn.max_per_img=20',
    *QUICK_RUN,
]


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """A folder holding data/shapes/ (what the config's data_root names)."""
    root = tmp_path_factory.mktemp('det_ws')
    make_coco_shapes(str(root / 'data' / 'shapes'), num_train=8, num_val=4,
                     seed=1)
    return root


def test_generated_coco_is_valid(workspace):
    from pycocotools.coco import COCO
    coco = COCO(str(workspace / 'data/shapes/annotations/'
                    'instances_train2017.json'))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == [
        'circle', 'square', 'triangle'
    ]
    assert len(coco.getImgIds()) == 8 and len(coco.getAnnIds()) >= 8
    ann = coco.loadAnns(coco.getAnnIds()[0])[0]
    mask = coco.annToMask(ann)
    assert abs(mask.sum() - ann['area']) / ann['area'] < 0.15


def test_train_test_and_resume(workspace):
    work = workspace / 'work'
    log = run_tool(['tools/train.py', CONFIG, '--work-dir', work,
                    '--cfg-options', *LIGHT, *iters(2)], cwd=workspace)
    assert 'Iter(train) [2/2]' in log and 'loss_mask' in log
    assert (work / 'iter_2.pth').is_file()

    out = workspace / 'results.pkl'
    show = workspace / 'show'
    log = run_tool(['tools/test.py', CONFIG, work / 'iter_2.pth',
                    '--work-dir', work, '--out', out, '--show-dir', show,
                    '--cfg-options', *LIGHT], cwd=workspace)
    assert re.search(r'coco/bbox_mAP: \d\.\d+', log)
    assert re.search(r'coco/segm_mAP: \d\.\d+', log)
    with open(out, 'rb') as f:
        results = pickle.load(f)
    assert len(results) == 4 and 'pred_instances' in results[0]
    assert len(glob.glob(f'{work}/*/{show.name}/*.jpg') +
               glob.glob(f'{show}/*.jpg')) == 4

    # --resume continues from the saved iteration.
    log = run_tool(['tools/train.py', CONFIG, '--work-dir', work, '--resume',
                    '--cfg-options', *LIGHT, *iters(3, 1)], cwd=workspace)
    assert 'resumed epoch: 0, iter: 2' in log
    assert 'Iter(train) [3/3]' in log and 'Iter(train) [1/3]' not in log
    assert (work / 'iter_3.pth').is_file()


def test_dist_train_and_test_two_processes(workspace):
    work = workspace / 'dist'
    log = run_tool(['tools/dist_train.sh', CONFIG, 2, '--work-dir', work,
                    '--cfg-options', *LIGHT, *iters(2)], cwd=workspace,
                   env=dict(PORT='29611', OMP_NUM_THREADS='1'))
    assert 'distributed training on CPU with gloo' in log
    assert (work / 'iter_2.pth').is_file()
    # mmengine logs the world size as "GPU number" whatever the device.
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    log = run_tool(['tools/dist_test.sh', CONFIG, work / 'iter_2.pth', 2,
                    '--work-dir', work, '--cfg-options', *LIGHT],
                   cwd=workspace, env=dict(PORT='29612',
                                           OMP_NUM_THREADS='1'))
    assert re.search(r'coco/bbox_mAP: \d\.\d+', log)


def test_multi_node_variables(workspace):
    """Two one-process "nodes" on 127.0.0.1 (NNODES=2, NODE_RANK=0/1)."""
    work = workspace / 'nodes'
    procs = []
    for rank in (0, 1):
        env = dict(os.environ, NNODES='2', NODE_RANK=str(rank),
                   MASTER_ADDR='127.0.0.1', PORT='29613',
                   OMP_NUM_THREADS='1')
        cmd = ['bash', os.path.join(REPO, 'tools/dist_train.sh'), CONFIG,
               '1', '--work-dir', str(work), '--cfg-options', *LIGHT,
               *iters(2)]
        procs.append(subprocess.Popen(cmd, cwd=workspace, env=env,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    logs = [p.communicate(timeout=900)[0] for p in procs]
    for rank, (proc, log) in enumerate(zip(procs, logs)):
        assert proc.returncode == 0, f'node {rank}:\n{log[-3000:]}'
    assert 'Iter(train) [2/2]' in logs[0]
    assert 'GPU number: 2' in logs[0]
    assert (work / 'iter_2.pth').is_file()
