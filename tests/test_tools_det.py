"""tools/train.py and tools/test.py with a detection config, end to end on
a generated COCO-format dataset."""
import glob
import pickle
import re
import shutil

import pytest

from helpers import DET_CONFIG, DET_LIGHT, NO_VAL, SHAPES, iters, ok

pytestmark = pytest.mark.slow  # each test trains or tests a model


def test_generated_coco_is_valid(workspace):
    from pycocotools.coco import COCO
    coco = COCO(str(workspace / 'data/shapes/annotations/'
                    'instances_train2017.json'))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == [
        'circle', 'square', 'triangle'
    ]
    assert len(coco.getImgIds()) == SHAPES['num_train']
    assert len(coco.getAnnIds()) >= SHAPES['num_train']
    ann = coco.loadAnns(coco.getAnnIds()[0])[0]
    mask = coco.annToMask(ann)
    assert abs(mask.sum() - ann['area']) / ann['area'] < 0.15


def test_training_logs_every_loss_and_saves(trained_detector):
    log = trained_detector.log
    assert 'Iter(train) [2/2]' in log and 'loss_mask' in log
    assert 'loss_rpn_cls' in log and 'loss_bbox' in log
    assert trained_detector.checkpoint(2).is_file()


def test_test_prints_coco_ap_dumps_and_paints(trained_detector, workspace,
                                             tmp_path):
    out, show = tmp_path / 'results.pkl', tmp_path / 'show'
    log = ok('test', DET_CONFIG, trained_detector.checkpoint(2),
             '--work-dir', tmp_path / 'work', '--out', out, '--show-dir',
             show, '--cfg-options', *DET_LIGHT, cwd=workspace)
    assert re.search(r'coco/bbox_mAP: \d\.\d+', log)
    assert re.search(r'coco/segm_mAP: \d\.\d+', log)
    with open(out, 'rb') as f:
        results = pickle.load(f)
    assert len(results) == SHAPES['num_val']
    assert 'pred_instances' in results[0]
    assert len(glob.glob(f'{show}/*.jpg')) == SHAPES['num_val']


def test_resume_continues_from_the_saved_iteration(trained_detector,
                                                  workspace, tmp_path):
    work = tmp_path / 'work'
    shutil.copytree(trained_detector.work_dir, work)
    log = ok('train', DET_CONFIG, '--work-dir', work, '--resume',
             '--cfg-options', *DET_LIGHT, *NO_VAL, *iters(3, 1),
             cwd=workspace)
    assert 'resumed epoch: 0, iter: 2' in log
    assert 'Iter(train) [3/3]' in log and 'Iter(train) [1/3]' not in log
    assert (work / 'iter_3.pth').is_file()
