"""A config whose parts do not fit fails before any model or dataset is
built, naming the key, its value and the value that fits
(van_mm.checks.config, run by tools/train.py and tools/test.py)."""
import copy
import functools
import glob
import os

import pytest

from helpers import CONFIGS, run
from van_mm.apis import load_config
from van_mm.checks.config import (
    ConfigCheckError,
    check_config,
    class_problems,
    data_problems,
    model_problems,
)

pytestmark = pytest.mark.faults

SHIPPED = sorted(
    os.path.relpath(p, CONFIGS)
    for p in glob.glob(os.path.join(CONFIGS, '**', '*.py'), recursive=True)
    if '_base_' not in p)


@functools.lru_cache(maxsize=None)
def _load(config):
    return load_config(os.path.join(CONFIGS, config))


def shipped(config, options=None):
    """A shipped config (read once per test session) with ``options``."""
    cfg = copy.deepcopy(_load(config))
    if options:
        cfg.merge_from_dict(options)
    return cfg


MISFITS = [
    ('maskrcnn_van_b2_1x.py', {'model.backbone.arch': 'b0'},
     "`model.neck.in_channels` is [64, 128, 320, 512] but VAN arch 'b0' "
     'gives [32, 64, 160, 256]: set it to [32, 64, 160, 256]'),
    ('retinanet_van_b1_1x.py', {'model.backbone.out_indices': (1, 2, 3)},
     "`model.neck.in_channels` is [64, 128, 320, 512] but VAN arch 'b1' "
     'with out_indices [1, 2, 3] gives [128, 320, 512]'),
    ('upernet_van_b2_ade20k_160k.py', {'model.backbone.arch': 'b0'},
     "`model.decode_head.in_channels` is [64, 128, 320, 512] but VAN arch "
     "'b0' gives [32, 64, 160, 256] at in_index [0, 1, 2, 3]"),
    ('upernet_van_b2_ade20k_160k.py', {'model.backbone.arch': 'b0'},
     "`model.auxiliary_head.in_channels` is 320 but VAN arch 'b0' gives 160 "
     'at in_index 2 (of [32, 64, 160, 256]): set it to 160'),
    ('upernet_van_b0_ade20k_160k.py', {'model.auxiliary_head.in_index': 4},
     "`model.auxiliary_head.in_index` is 4 but VAN arch 'b0' has 4 levels: "
     'use 0..3'),
    ('fpn_van_b0_ade20k_40k.py', {'model.decode_head.in_index': [0, 1, 2]},
     '`model.decode_head.in_channels` ([256, 256, 256, 256]) and '
     '`model.decode_head.in_index` ([0, 1, 2]) must both be numbers or lists '
     'of equal length'),
    ('fpn_van_b0_ade20k_40k.py', {'model.neck.out_channels': 128},
     '`model.decode_head.in_channels` is [256, 256, 256, 256] but '
     'model.neck gives [128, 128, 128, 128] at in_index [0, 1, 2, 3]'),
    ('retinanet_van_b0_1x.py', {'model.neck.start_level': 4},
     '`model.neck.start_level` is 4 but model.neck has 4 inputs '
     '(`model.neck.in_channels`): use 0..3'),
    ('retinanet_van_b0_1x.py', {'model.neck.num_outs': 2},
     '`model.neck.num_outs` is 2 but inputs 1..3 (start_level 1) give at '
     'least 3 outputs'),
    ('maskrcnn_van_b0_1x.py', {'model.neck.num_outs': 4},
     '`model.rpn_head.anchor_generator.strides` has 5 levels but '
     '`model.neck.num_outs` is 4'),
    ('maskrcnn_van_b0_1x.py', {'model.neck.out_channels': 128},
     '`model.rpn_head.in_channels` is 256 but model.neck gives 128 '
     'channels: set it to 128'),
    # mmseg projects/van's style: widths and depths instead of an arch
    ('fpn_van_b0_ade20k_40k.py',
     {'model.backbone.arch': None,
      'model.backbone.embed_dims': [64, 128, 320, 512],
      'model.backbone.depths': [3, 3, 12, 3]},
     '`model.neck.in_channels` is [32, 64, 160, 256] but the VAN arch '
     'gives [64, 128, 320, 512]'),
    # mmseg's fpn_r50.py names ResNet-50's weights as model.pretrained,
    # which mmseg's EncoderDecoder hands to the backbone
    ('fpn_van_b0_ade20k_40k.py',
     {'model.pretrained': 'open-mmlab://resnet50_v1c'},
     "`model.pretrained` is 'open-mmlab://resnet50_v1c', a checkpoint of "
     "mmengine's model zoo (open-mmlab://: ResNets, VGGs and other "
     'classifiers), not VAN weights; mmseg\'s EncoderDecoder hands it to the '
     'VAN backbone: set model.pretrained=None'),
    ('upernet_van_b0_ade20k_160k.py',
     {'model.pretrained': 'pretrained/van_b0.pth'},
     "`model.pretrained` is 'pretrained/van_b0.pth' and the backbone has "
     'weights of its own'),
    ('retinanet_van_b0_1x.py',
     {'model.backbone.init_cfg.checkpoint': 'torchvision://resnet50'},
     "`model.backbone.init_cfg` names 'torchvision://resnet50', a "
     "checkpoint of mmengine's model zoo"),
]


@pytest.mark.parametrize('config', SHIPPED)
def test_every_shipped_config_fits_together(config):
    cfg = shipped(config)
    assert model_problems(cfg) == []
    assert class_problems(cfg, 'train_dataloader') == []


@pytest.mark.parametrize('config', SHIPPED)
def test_gradient_clipping_is_one_switch(config):
    """What the divergence message offers works for every config:
    ``--cfg-options optim_wrapper.clip_grad.max_norm=1.0``."""
    cfg = shipped(config, {'optim_wrapper.clip_grad.max_norm': 1.0})
    assert cfg.optim_wrapper.clip_grad.max_norm == 1.0


@pytest.mark.parametrize('config,options,message', MISFITS,
                         ids=[f'{c}:{",".join(o)}' for c, o, _ in MISFITS])
def test_a_misfit_is_named_with_the_value_that_fits(config, options,
                                                    message):
    problems = model_problems(shipped(config, options))
    assert any(message in p for p in problems), problems


@pytest.mark.parametrize('config,options,message', [
    ('maskrcnn_van_b0_1x.py', {'model.roi_head.bbox_head.num_classes': 3},
     '`model.roi_head.bbox_head.num_classes` is 3 but the dataset '
     "(train_dataloader.dataset) has 80 classes ('person', 'bicycle', "),
    ('cascade_maskrcnn_van_b2_3x.py',
     {'model.roi_head.mask_head.num_classes': 81},
     '`model.roi_head.mask_head.num_classes` is 81 but the dataset'),
    ('scenes/fpn_van_b0_scenes.py', {'model.decode_head.num_classes': 150},
     "has 5 classes ('sky', 'grass', 'water', 'road', 'building'): set it "
     'to 5'),
])
def test_num_classes_must_match_the_dataset(config, options, message):
    problems = class_problems(shipped(config, options), 'train_dataloader')
    assert any(message in p for p in problems), problems


def test_missing_data_is_named_by_key_and_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(os.path.join(CONFIGS, 'scenes', 'fpn_van_b0_scenes.py'))
    assert data_problems(cfg, ['train_dataloader']) == [
        "`train_dataloader.dataset.data_root`: folder 'data/scenes' not "
        f'found (relative paths start at {tmp_path})']

    (tmp_path / 'data' / 'shapes' / 'train2017').mkdir(parents=True)
    cfg = load_config(
        os.path.join(CONFIGS, 'shapes', 'maskrcnn_van_b0_shapes.py'))
    assert data_problems(cfg, ['train_dataloader', 'val_dataloader']) == [
        "`train_dataloader.dataset.ann_file`: 'data/shapes/annotations/"
        "instances_train2017.json' not found",
        "`val_dataloader.dataset.ann_file`: 'data/shapes/annotations/"
        "instances_val2017.json' not found",
        "`val_dataloader.dataset.data_prefix.img`: folder "
        "'data/shapes/val2017/' not found",
        "`val_evaluator.ann_file`: 'data/shapes/annotations/"
        "instances_val2017.json' not found",
    ]
    with pytest.raises(ConfigCheckError, match='train_dataloader'):
        check_config(cfg, 'train')


def test_train_exits_before_building_anything(tmp_path):
    """The issue's case: the arch switched on the command line, the neck
    forgotten. Before: a conv shape error in the first forward."""
    work = tmp_path / 'work'
    result = run('train', os.path.join(CONFIGS, 'maskrcnn_van_b2_1x.py'),
                 '--work-dir', work, '--cfg-options', 'model.backbone.arch=b0',
                 cwd=tmp_path)
    assert result.code == 1
    assert "`model.neck.in_channels` is [64, 128, 320, 512] but VAN arch " \
           "'b0' gives [32, 64, 160, 256]" in result.err
    assert 'train_dataloader.dataset.data_root' in result.err
    assert '--cfg-options' in result.err
    assert not work.exists()  # no runner, no model, no data loader
