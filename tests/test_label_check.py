"""Class ids checked where the samples are read (LabelCheckHook): a mask
value past the classes stops training before any loss, and evaluation,
naming the file and the values; a COCO category id the file does not
define stops the run naming the file; categories the config's classes
leave out are dropped as mmdet drops them, counted once."""
import json
import os
import re
import shutil
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from helpers import CONFIGS, NO_VAL, QUICK_RUN, SEG_CONFIG, iters, run
from van_mm.engine import GuardedDataset, LabelCheckHook, LabelOutsideClasses
from van_mm.engine.label_check import values_outside

SHAPES_CONFIG = os.path.join(CONFIGS, 'shapes', 'maskrcnn_van_b0_shapes.py')


def copy_data(workspace, tmp_path, name):
    """A copy of the workspace's data/NAME in tmp_path/data/NAME."""
    shutil.copytree(workspace / 'data' / name, tmp_path / 'data' / name)
    return tmp_path / 'data' / name


def test_a_mask_value_past_the_classes_stops_training_before_the_loss(
        workspace, tmp_path):
    """One training mask of the scenes holds 7 (6 after
    reduce_zero_label; the model has 5 classes): tools/train.py stops at
    the first batch with the file, the values and the class count, before
    a loss is computed or a checkpoint saved."""
    data = copy_data(workspace, tmp_path, 'scenes')
    masks = sorted((data / 'annotations' / 'training').glob('*.png'))
    mask = cv2.imread(str(masks[0]), cv2.IMREAD_UNCHANGED)
    mask[:] = 7  # whatever the random crop keeps
    cv2.imwrite(str(masks[0]), mask)
    # batch of all training images: the bad one is in the first batch
    result = run('train', SEG_CONFIG, '--work-dir', tmp_path / 'work',
                 '--cfg-options', *QUICK_RUN, *NO_VAL, *iters(1),
                 f'train_dataloader.batch_size={len(masks)}',
                 f'train_dataloader.dataset.data_root={data}',
                 cwd=tmp_path)
    assert result.code == 1
    assert f'{masks[0]}: label values [6] (stored in the file: [7]) are ' \
        'not classes: the model has 5 classes (0..4) and ignores 255, ' \
        'after reduce_zero_label=True. Add the missing classes' in result.log
    assert 'tools/check_dataset.py CONFIG' in result.log
    assert 'Iter(train)' not in result.log and 'loss: ' not in result.log
    assert not list((tmp_path / 'work').glob('*.pth'))


def fake_runner(dataset=None, model=None):
    """What the hook reads of a runner: its model, data loaders and
    logger (the messages it logs are kept in ``.said``)."""
    said = []
    loader = SimpleNamespace(dataset=dataset)
    return SimpleNamespace(
        model=model, train_dataloader=loader, val_dataloader=loader,
        test_dataloader=loader, said=said,
        logger=SimpleNamespace(info=said.append))


def seg_batch(label, path='masks/a.png'):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    sample = SegDataSample(metainfo=dict(seg_map_path=path,
                                         reduce_zero_label=False))
    sample.gt_sem_seg = PixelData(data=torch.as_tensor(label)[None])
    return dict(inputs=[torch.zeros(3, *label.shape)],
                data_samples=[sample])


@pytest.mark.parametrize('stage', ['val', 'test'])
def test_evaluation_batches_are_checked_too(stage):
    """before_val_iter / before_test_iter check as training does (mmseg's
    IoUMetric would drop the values silently); a test-time-augmented batch
    (a list of views per image) as well."""
    model = SimpleNamespace(decode_head=SimpleNamespace(num_classes=3,
                                                        ignore_index=255))
    hook = LabelCheckHook()
    runner = fake_runner(model=model)
    label = np.zeros((4, 5), np.int64)
    call = getattr(hook, f'before_{stage}_iter')
    call(runner, 0, seg_batch(label))  # fine
    label[1, 1], label[2, 2] = 255, 3
    with pytest.raises(LabelOutsideClasses,
                       match=r'masks/a.png: label values \[3\] are not '
                       r'classes: the model has 3 classes \(0..2\)'):
        call(runner, 0, seg_batch(label))
    views = seg_batch(label)
    views['data_samples'] = [views['data_samples']]
    with pytest.raises(LabelOutsideClasses):
        call(runner, 0, views)


@pytest.mark.parametrize('values,expected', [
    ([0, 1, 2], []),
    ([0, 2, 255], []),
    ([255, 255], []),
    ([0, 3, 255, 200], [3, 200]),
    ([-1, 0], [-1]),
])
def test_values_outside_the_classes(values, expected):
    labels = torch.tensor(values)
    assert values_outside(labels, num_classes=3, ignore_index=255) == \
        expected


def coco_dataset(data, classes=('circle', 'square', 'triangle')):
    """mmdet's CocoDataset on the shapes' training file, wrapped as the
    tools wrap it."""
    from mmdet.datasets import CocoDataset
    dataset = CocoDataset(
        data_root=str(data), ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'), metainfo=dict(classes=classes),
        pipeline=[])
    return GuardedDataset(dataset)


def test_an_undefined_category_id_stops_the_run_naming_the_file(
        workspace, tmp_path):
    data = copy_data(workspace, tmp_path, 'shapes')
    ann_file = data / 'annotations' / 'instances_train2017.json'
    coco = json.loads(ann_file.read_text())
    coco['annotations'][3]['category_id'] = 9
    ann_file.write_text(json.dumps(coco))
    runner = fake_runner(coco_dataset(data))
    with pytest.raises(LabelOutsideClasses) as err:
        LabelCheckHook().before_train(runner)
    bad = coco['annotations'][3]
    assert str(err.value).startswith(
        f'train_dataloader: {ann_file}: 1 annotations have a category_id '
        "that the file's categories ([1, 2, 3]) do not define, which mmdet "
        f'would drop without a word: annotation {bad["id"]} (image ')
    assert 'category_id 9)' in str(err.value)


def test_categories_the_classes_leave_out_are_counted_once(workspace):
    """A subset (circle, triangle) is trained: the squares' annotations
    are dropped as mmdet drops them, and said once per file, however often
    validation runs."""
    data = workspace / 'data' / 'shapes'
    coco = json.loads(
        (data / 'annotations' / 'instances_train2017.json').read_text())
    squares = sum(a['category_id'] == 2 for a in coco['annotations'])
    runner = fake_runner(coco_dataset(data, ('circle', 'triangle')))
    hook = LabelCheckHook()
    hook.before_train(runner)
    hook.before_val(runner)
    hook.before_val(runner)
    assert len(runner.said) == 1
    assert runner.said[0].endswith(
        f"{squares} annotations of 1 categories that the config's classes "
        "leave out are dropped, as mmdet drops them ('square' (id 2): "
        f'{squares}); 2 classes are trained.')


@pytest.mark.parametrize('classes,message', [
    (('circle', 'hexagon'), "the config's classes ['hexagon'] are not "
     'categories of the file'),
    (('triangle', 'circle'), "in another order than the file: mmdet "
     "numbers the labels in the file's order"),
], ids=['unknown-name', 'order'])
def test_classes_the_file_cannot_label_as_named_are_refused(
        workspace, classes, message):
    runner = fake_runner(coco_dataset(workspace / 'data' / 'shapes',
                                      classes))
    with pytest.raises(LabelOutsideClasses, match=re.escape(message)):
        LabelCheckHook().before_test(runner)


def test_check_dataset_warns_about_categories_left_out(workspace):
    """tools/check_dataset.py: categories left out are a warning (a
    subset is trained), not an error (undefined ids are errors:
    test_faults.py)."""
    result = run('check_dataset', SHAPES_CONFIG, '--split', 'train',
                 '--workers', '1', '--cfg-options',
                 'train_dataloader.dataset.metainfo.classes=[circle,square]',
                 cwd=workspace)
    assert result.code == 0, result.log[-2000:]
    assert 'train_dataloader.dataset: 8 samples checked, 0 error(s)' in \
        result.out
    assert "annotations of categories the classes leave out are dropped, " \
        "as mmdet drops them ('triangle' (id 3): " in result.out
