"""The launchers, as a cluster runs them: tools/dist_train.sh across two
"nodes" and tools/dist_test.sh with two processes, on CPU (gloo). Each
process imports the stack, so these are few; a dying worker is in
test_faults.py (dist_train.sh with two processes on one node)."""
import os
import re
import subprocess
import sys

import pytest

from helpers import (
    DET_CONFIG,
    DET_LIGHT,
    QUICK_RUN,
    REPO,
    SCENES,
    SEG_CONFIG,
    SEG_ITERS,
    iters,
    script_ok,
)

pytestmark = pytest.mark.slow


def test_two_nodes_train_and_validate(workspace):
    """NNODES=2, NODE_RANK=0/1 on 127.0.0.1, one process each: Mask R-CNN
    trains on both ranks and validates across them (COCO AP)."""
    work = workspace / 'nodes'
    procs = []
    for rank in (0, 1):
        env = dict(os.environ, NNODES='2', NODE_RANK=str(rank),
                   MASTER_ADDR='127.0.0.1', PORT='29613',
                   OMP_NUM_THREADS='1', PYTHON=sys.executable)
        cmd = ['bash', os.path.join(REPO, 'tools/dist_train.sh'), DET_CONFIG,
               '1', '--work-dir', str(work), '--cfg-options', *DET_LIGHT,
               *iters(2)]
        procs.append(subprocess.Popen(cmd, cwd=workspace, env=env,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    logs = [p.communicate(timeout=900)[0] for p in procs]
    for rank, (proc, log) in enumerate(zip(procs, logs)):
        assert proc.returncode == 0, f'node {rank}:\n{log[-3000:]}'
    assert 'distributed training on CPU with gloo' in logs[0]
    # mmengine logs the world size as "GPU number" whatever the device.
    assert 'Distributed training: True' in logs[0]
    assert 'GPU number: 2' in logs[0]
    assert 'Iter(train) [2/2]' in logs[0]
    assert re.search(r'coco/bbox_mAP: \d\.\d+', logs[0])
    assert (work / 'iter_2.pth').is_file()


def test_dist_test_two_processes(trained_segmentor, workspace):
    """tools/test.py as two processes: each tests half of the validation
    images (rounded up) and the metric is gathered across them."""
    log = script_ok(['tools/dist_test.sh', SEG_CONFIG,
                     trained_segmentor.checkpoint(SEG_ITERS), 2,
                     '--work-dir', workspace / 'dist_test', '--cfg-options',
                     *QUICK_RUN], cwd=workspace,
                    env=dict(PORT='29612', OMP_NUM_THREADS='1'))
    assert re.search(r'mIoU: \d+\.\d+', log)
    half = -(-SCENES['num_val'] // 2)
    assert f'Iter(test) [{half}/{half}]' in log
