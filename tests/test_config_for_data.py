"""tools/config_for_data.py: the config it writes for a user's folder
(classes, every head's num_classes, splits, sizes, the schedule rule), and
what it refuses before writing anything, naming the files."""
import json
import os
import shutil

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from helpers import CONFIGS, run
from van_mm.cli.config_for_data import schedule
from van_mm.synthetic import make_coco_export, make_mask_folder


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    """A CVAT COCO export and a folder of images with index masks, 5
    images each (4 to train, 1 held out)."""
    root = tmp_path_factory.mktemp('user_data')
    make_coco_export(str(root / 'my_coco'), 5, seed=3)
    make_mask_folder(str(root / 'my_masks'), 5, seed=4)
    return root


def copy_of(folders, name, tmp_path):
    shutil.copytree(folders / name, tmp_path / name)
    return tmp_path / name


def write_config(base, data, *args, cwd):
    """Run the tool on ``data``; the written config (loaded) and the
    log."""
    out = cwd / 'configs' / 'custom' / 'mine.py'
    result = run('config_for_data', os.path.join(CONFIGS, base),
                 '--data-root', data, *args, '--pretrained', 'none',
                 '--out', out, '--workers', '1', cwd=cwd)
    assert result.code == 0, result.log[-3000:]
    import van_mm  # noqa: F401  (configs load as the tools load them)
    return Config.fromfile(str(out)), out.read_text(), result.log


def refused(base, data, *args, cwd):
    """Run the tool expecting a refusal: its message; nothing written."""
    out = cwd / 'mine.py'
    result = run('config_for_data', os.path.join(CONFIGS, base),
                 '--data-root', data, *args, '--pretrained', 'none',
                 '--out', out, '--workers', '1', cwd=cwd)
    assert result.code == 1, result.log[-3000:]
    assert not out.exists() and not list(cwd.glob('.mine.py*'))
    return result.err


def transforms(node):
    """Every transform of a pipeline, inside TestTimeAug too."""
    if isinstance(node, (list, tuple)):
        return [t for item in node for t in transforms(item)]
    if isinstance(node, dict) and 'type' in node:
        return [node] + transforms(node.get('transforms', []))
    return []


def test_a_cvat_export_for_mask_rcnn(folders, tmp_path):
    """The categories in the file's order, num_classes in both RoI heads,
    a seeded 4/1 split written beside the data, 1333x800 scaled to the
    images' short side, and the schedule rule: max(1000, 24 epochs x 2
    iterations) with Mask R-CNN's warm-up and steps at 8/12 and 11/12."""
    data = copy_of(folders, 'my_coco', tmp_path)
    cfg, text, log = write_config(
        'maskrcnn_van_b0_1x.py', data, '--ann',
        'annotations/instances_default.json', '--img', 'images',
        cwd=tmp_path)
    assert text.startswith('# Written by tools/config_for_data.py')
    assert "_base_ = '../../../" in text  # relative to the config
    classes = ('circle', 'square', 'triangle')
    assert cfg.metainfo.classes == classes
    assert cfg.model.roi_head.bbox_head.num_classes == 3
    assert cfg.model.roi_head.mask_head.num_classes == 3
    assert cfg.model.backbone.init_cfg is None  # --pretrained none
    train = json.loads((data / 'splits' / 'train.json').read_text())
    val = json.loads((data / 'splits' / 'val.json').read_text())
    assert (len(train['images']), len(val['images'])) == (4, 1)
    assert cfg.train_dataloader.dataset.ann_file == 'splits/train.json'
    assert cfg.val_evaluator.ann_file == f'{data}/splits/val.json'
    assert cfg.test_dataloader == cfg.val_dataloader
    resize = cfg.train_dataloader.dataset.pipeline[2]
    assert (resize.type, tuple(resize.scale)) == ('Resize', (320, 192))
    assert cfg.train_cfg == dict(type='IterBasedTrainLoop', max_iters=1000,
                                 val_interval=200)
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end) == ('LinearLR', 0, 100)
    assert steps.milestones == [667, 917] and steps.end == 1000
    assert cfg.default_hooks.checkpoint.save_best == 'coco/bbox_mAP'
    assert '1000 iterations = max(1000, 24 epochs x 2 iterations)' in text
    assert 'train split: 4 images' in log


def test_a_label_studio_export_with_a_subset_of_classes(folders, tmp_path):
    """Label Studio: category and image ids from 0, file names under
    images/ (--img .); --classes keeps the subset in the file's order, and
    the check of the written config counts what is left out."""
    data = copy_of(folders, 'my_coco', tmp_path)
    raw = json.loads(
        (data / 'annotations' / 'instances_default.json').read_text())
    for info in raw['images']:
        info['file_name'] = 'images/' + info['file_name']
        info['id'] -= 1
    for ann in raw['annotations']:
        ann['image_id'] -= 1
        ann['category_id'] -= 1
    for cat in raw['categories']:
        cat['id'] -= 1
    (data / 'result.json').write_text(json.dumps(raw))
    (tmp_path / 'subset.txt').write_text('triangle\ncircle\n')
    cfg, _, log = write_config(
        'retinanet_van_b0_1x.py', data, '--ann', 'result.json', '--img',
        '.', '--classes', tmp_path / 'subset.txt', cwd=tmp_path)
    assert cfg.metainfo.classes == ('circle', 'triangle')
    assert cfg.model.bbox_head.num_classes == 2
    assert cfg.train_dataloader.dataset.data_prefix.img == './'
    assert "categories the classes leave out are dropped, as mmdet drops " \
        "them ('square' (id 1): " in log


def test_what_mask_rcnn_cannot_train_on_is_refused(folders, tmp_path):
    """Boxes without polygons for a mask base, and a category id the file
    does not define: both named at once, nothing written."""
    data = copy_of(folders, 'my_coco', tmp_path)
    path = data / 'annotations' / 'instances_default.json'
    raw = json.loads(path.read_text())
    raw['annotations'][0]['segmentation'] = []
    raw['annotations'][1]['category_id'] = 9
    path.write_text(json.dumps(raw))
    err = refused('maskrcnn_van_b0_1x.py', data, '--ann',
                  'annotations/instances_default.json', '--img', 'images',
                  cwd=tmp_path)
    first, second = (raw['annotations'][i]['id'] for i in (0, 1))
    assert f'annotations {second} have a category_id that the file\'s ' \
        'categories ([1, 2, 3]) do not define' in err
    assert f'annotations {first} have none (boxes only): take a box ' \
        'detector as the base' in err


def test_masks_without_background_for_upernet(folders, tmp_path,
                                              monkeypatch):
    """--ignore-zero: reduce_zero_label in the dataset and in every
    LoadAnnotations (test-time augmentation too), num_classes in the
    decode and auxiliary heads, 512 crops scaled to the images' 192; the
    quick try's VAN_MM_MAX_ITERS caps the schedule and says so."""
    monkeypatch.setenv('VAN_MM_MAX_ITERS', '20')
    data = copy_of(folders, 'my_masks', tmp_path)
    cfg, text, log = write_config(
        'upernet_van_b0_ade20k_160k.py', data, '--img', 'images', '--ann',
        'masks', '--classes', data / 'classes.txt', '--ignore-zero',
        cwd=tmp_path)
    assert cfg.metainfo.classes == ('sky', 'grass', 'water', 'road',
                                    'building')
    assert cfg.model.decode_head.num_classes == 5
    assert cfg.model.auxiliary_head.num_classes == 5
    dataset = cfg.train_dataloader.dataset
    assert (dataset.type, dataset.reduce_zero_label) == ('BaseSegDataset',
                                                         True)
    assert dataset.ann_file == 'splits/train.txt'
    assert len((data / 'splits' / 'train.txt').read_text().split()) == 4
    loads = [t for part in (dataset.pipeline, cfg.tta_pipeline)
             for t in transforms(part) if t['type'] == 'LoadAnnotations']
    assert len(loads) == 2
    assert all(t['reduce_zero_label'] is True for t in loads)
    assert tuple(cfg.model.data_preprocessor.size) == (192, 192)
    assert cfg.train_cfg.max_iters == 20
    warmup, poly = cfg.param_scheduler
    assert (warmup.begin, warmup.end, poly.begin, poly.end) == (0, 2, 2, 20)
    assert '20 iterations (VAN_MM_MAX_ITERS=20; the rule gives 1000)' in \
        text
    assert cfg.default_hooks.checkpoint.save_best == 'mIoU'


def test_mask_problems_are_named_by_file(folders, tmp_path):
    """A mask value the classes file lacks, a colour mask, an image
    without its mask: every one named, nothing written."""
    data = copy_of(folders, 'my_masks', tmp_path)
    masks = sorted((data / 'masks').glob('*.png'))
    label = cv2.imread(str(masks[0]), cv2.IMREAD_UNCHANGED)
    label[:2, :2] = 7
    cv2.imwrite(str(masks[0]), label)
    cv2.imwrite(str(masks[1]), np.zeros((8, 8, 3), np.uint8) + 40)
    masks[2].unlink()
    err = refused('fpn_van_b0_ade20k_40k.py', data, '--img', 'images',
                  '--ann', 'masks', '--classes', data / 'classes.txt',
                  '--ignore-zero', cwd=tmp_path)
    assert f'{data}/images: 1 images without a mask in {data}/masks: ' \
        f'{masks[2].stem}' in err
    assert f'{masks[1]}: a colour image (8, 8, 3)' in err
    (masks[1]).unlink()
    shutil.copy(masks[0], masks[2])
    shutil.copy(masks[3], masks[1])
    err = refused('fpn_van_b0_ade20k_40k.py', data, '--img', 'images',
                  '--ann', 'masks', '--classes', data / 'classes.txt',
                  '--ignore-zero', cwd=tmp_path)
    assert 'mask values [7] are not classes: ' in err
    assert 'names 5 (values 1..5, 0 unlabelled, 255 ignored); 2 masks hold ' \
        f'them: {masks[0]} [7], {masks[2]} [7]' in err


@pytest.mark.parametrize('images,batch,task,iters,expected', [
    (100, 2, 'det', None, (1200, 200, 120)),  # 24 epochs of 50
    (10, 2, 'det', None, (1000, 200, 100)),  # at least 1,000
    (100000, 16, 'seg', None, (160000, 16000, 1000)),  # at most 160,000
    (100, 4, 'seg', 300, (300, 200, 30)),  # --iters
    (100, 4, 'seg', 1, (1, 1, 0)),
])
def test_the_schedule_rule(images, batch, task, iters, expected,
                           monkeypatch):
    """(iterations, evaluation interval, warm-up) as docs/custom_data.md
    states the rule."""
    monkeypatch.delenv('VAN_MM_MAX_ITERS', raising=False)
    plan = schedule(images, batch, task, iters)
    assert (plan['max_iters'], plan['interval'], plan['warmup']) == expected
