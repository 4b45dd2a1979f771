"""tools/train.py, tools/test.py and dist_train.sh with a segmentation
config, end to end on a generated ADE20K-layout dataset."""
import glob
import os
import re

import cv2
import numpy as np
import pytest

from helpers import CONFIGS, QUICK_RUN, iters, run_tool
from van_mm.synthetic import SCENE_CLASSES, make_ade_scenes

pytestmark = pytest.mark.slow  # each test trains or tests a model

CONFIG = os.path.join(CONFIGS, 'scenes', 'fpn_van_b0_scenes.py')


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """A folder holding data/scenes/ (what the config's data_root names)."""
    root = tmp_path_factory.mktemp('seg_ws')
    make_ade_scenes(str(root / 'data' / 'scenes'), num_train=6, num_val=3,
                    seed=2)
    return root


def test_generated_ade_layout(workspace):
    data = workspace / 'data' / 'scenes'
    for split, num in (('training', 6), ('validation', 3)):
        images = sorted(glob.glob(f'{data}/images/{split}/*.jpg'))
        labels = sorted(glob.glob(f'{data}/annotations/{split}/*.png'))
        assert len(images) == len(labels) == num
        assert [os.path.basename(p)[:-4] for p in images] == \
            [os.path.basename(p)[:-4] for p in labels]
    label = cv2.imread(labels[0], cv2.IMREAD_UNCHANGED)
    assert label.dtype == np.uint8 and label.ndim == 2
    values = set(np.unique(label))
    assert 0 in values  # unlabelled seams, ignored by reduce_zero_label
    assert values <= set(range(len(SCENE_CLASSES) + 1)) and len(values) > 2


def test_train_then_test_prints_miou(workspace):
    work = workspace / 'work'
    log = run_tool(['tools/train.py', CONFIG, '--work-dir', work,
                    '--cfg-options', *QUICK_RUN, *iters(2)], cwd=workspace)
    assert 'Iter(train) [2/2]' in log and 'decode.loss_ce' in log
    assert (work / 'iter_2.pth').is_file()

    show, out = workspace / 'show', workspace / 'pred'
    log = run_tool(['tools/test.py', CONFIG, work / 'iter_2.pth',
                    '--work-dir', work, '--show-dir', show, '--out', out,
                    '--cfg-options', *QUICK_RUN], cwd=workspace)
    for metric in ('aAcc', 'mIoU', 'mAcc'):
        assert re.search(rf'{metric}: \d+\.\d+', log), metric
    painted = glob.glob(f'{work}/*/{show.name}/**/*.png', recursive=True) + \
        glob.glob(f'{show}/**/*.png', recursive=True)
    assert len(painted) == 3
    assert cv2.imread(painted[0]).ndim == 3
    assert len(glob.glob(f'{out}/*.png')) == 3


def test_train_amp_on_cpu_trains_in_bfloat16(workspace):
    work = workspace / 'amp'
    log = run_tool(['tools/train.py', CONFIG, '--work-dir', work, '--amp',
                    '--cfg-options', *QUICK_RUN, *iters(2)], cwd=workspace)
    assert "type='AutocastOptimWrapper'" in log and "dtype='bfloat16'" in log
    assert 'Iter(train) [2/2]' in log and (work / 'iter_2.pth').is_file()


def test_dist_train_two_processes(workspace):
    work = workspace / 'dist'
    log = run_tool(['tools/dist_train.sh', CONFIG, 2, '--work-dir', work,
                    '--cfg-options', *QUICK_RUN, *iters(2)], cwd=workspace,
                   env=dict(PORT='29621', OMP_NUM_THREADS='1'))
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    assert 'distributed training on CPU with gloo' in log
    assert re.search(r'mIoU: \d+\.\d+', log)
    assert (work / 'iter_2.pth').is_file()
