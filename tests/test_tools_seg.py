"""tools/train.py and tools/test.py with a segmentation config, end to end
on a generated ADE20K-layout dataset."""
import glob
import os
import re

import cv2
import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from helpers import (
    NO_VAL,
    QUICK_RUN,
    SCENES,
    SEG_CONFIG,
    SEG_ITERS,
    iters,
    ok,
)
from van_mm.synthetic import SCENE_CLASSES

pytestmark = pytest.mark.slow  # each test trains or tests a model


def test_generated_ade_layout(workspace):
    data = workspace / 'data' / 'scenes'
    for split, num in (('training', SCENES['num_train']),
                       ('validation', SCENES['num_val'])):
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


def test_training_logs_the_loss_and_saves(trained_segmentor):
    log = trained_segmentor.log
    assert f'Iter(train) [{SEG_ITERS}/{SEG_ITERS}]' in log
    assert 'decode.loss_ce' in log
    for iteration in (2, 4, SEG_ITERS):
        assert trained_segmentor.checkpoint(iteration).is_file()


def test_test_prints_miou_and_writes_label_maps(trained_segmentor,
                                                workspace, tmp_path):
    show, out = tmp_path / 'show', tmp_path / 'pred'
    log = ok('test', SEG_CONFIG, trained_segmentor.checkpoint(SEG_ITERS),
             '--work-dir', tmp_path / 'work', '--show-dir', show, '--out',
             out, '--cfg-options', *QUICK_RUN, cwd=workspace)
    for metric in ('aAcc', 'mIoU', 'mAcc'):
        assert re.search(rf'{metric}: \d+\.\d+', log), metric
    painted = glob.glob(f'{show}/**/*.png', recursive=True)
    assert len(painted) == SCENES['num_val']
    assert cv2.imread(painted[0]).ndim == 3
    maps = sorted(glob.glob(f'{out}/*.png'))
    assert len(maps) == SCENES['num_val']
    label = cv2.imread(maps[0], cv2.IMREAD_UNCHANGED)
    assert label.ndim == 2 and label.max() < len(SCENE_CLASSES)


@HOOKS.register_module(force=True)
class RecordDtypes(Hook):
    """What a convolution inside the backbone computes in, during the
    training iterations (a forward hook on one block's first 1x1 conv),
    and the dtype of the weights the optimizer updates."""
    seen = []

    def before_train(self, runner):
        model = getattr(runner.model, 'module', runner.model)
        conv = model.backbone.stages[1].blocks[0].attn.proj_1
        conv.register_forward_hook(
            lambda module, args, out: self.seen.append(
                ('conv output', out.dtype)))
        self.conv = conv

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.seen.append(('weight', self.conv.weight.dtype))


def test_train_amp_on_cpu_trains_in_bfloat16(workspace, tmp_path):
    """--amp on a CPU: the backbone's convolutions compute in bfloat16
    during the training steps, the weights stay float32."""
    RecordDtypes.seen.clear()
    work = tmp_path / 'amp'
    log = ok('train', SEG_CONFIG, '--work-dir', work, '--amp',
             '--cfg-options', *QUICK_RUN, *NO_VAL, *iters(2),
             'default_hooks.dtypes.type=RecordDtypes', cwd=workspace)
    assert 'Iter(train) [2/2]' in log and (work / 'iter_2.pth').is_file()
    assert RecordDtypes.seen == [('conv output', torch.bfloat16),
                                 ('weight', torch.float32)] * 2
