"""van_mm as a package: a wheel installs only van_mm and uninstalls without
a trace, and a user's own config outside this repository
(``custom_imports=dict(imports=['van_mm'])``, ``type='VAN'``) trains and
tests with mmdet's and mmseg's own tools, in a fresh virtual environment
with van_mm installed from the wheel."""
import os
import re
import shutil
import subprocess
import textwrap

import pytest

from helpers import fresh_venv, newcomer_env, pip_into

pytestmark = pytest.mark.slow


def test_a_wheel_installs_van_mm_only_and_uninstalls_without_a_trace(
        van_mm_wheel, tmp_path):
    """``pip install`` then ``pip uninstall van-mm``: site-packages is as it
    was, nothing of van_mm runs at interpreter start, and Python starts
    silently."""
    python, site_packages = fresh_venv(tmp_path)
    before = sorted(os.listdir(site_packages))
    out = pip_into(python, 'install', '--no-deps', '--no-cache-dir',
                   '--ignore-installed', str(van_mm_wheel))
    assert out.returncode == 0, out.stderr[-2000:]
    added = sorted(set(os.listdir(site_packages)) - set(before))
    assert [re.sub(r'-[\d.]+\.dist-info', '.dist-info', a)
            for a in added] == ['van_mm', 'van_mm.dist-info'], added
    with open(site_packages / added[1] / 'RECORD') as f:
        recorded = {line.split(',')[0] for line in f}
    installed = {os.path.relpath(os.path.join(d, n), site_packages)
                 for d, _, names in os.walk(site_packages / 'van_mm')
                 for n in names if '__pycache__' not in d}
    assert installed <= recorded  # pip knows every file it added
    started = subprocess.run(
        [python, '-X', 'importtime', '-c', 'pass'], capture_output=True,
        text=True, env=newcomer_env())
    assert 'van_mm' not in started.stderr  # nothing of van_mm at start-up

    out = pip_into(python, 'uninstall', '-y', 'van-mm')
    assert out.returncode == 0, out.stderr[-2000:]
    assert sorted(os.listdir(site_packages)) == before
    started = subprocess.run([python, '-c', 'pass'], capture_output=True,
                             text=True, env=newcomer_env())
    assert (started.returncode, started.stdout, started.stderr) == (0, '', '')


# A user's configs, written with mmdet's and mmseg's bases as their docs
# teach, for the generated data of the session's workspace (small images,
# two iterations, no validation during training).
USER_DETECTOR = """
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['van_mm'], allow_failed_imports=False)
model = dict(
    backbone=dict(_delete_=True, type='VAN', arch='b0'),
    neck=dict(in_channels=[32, 64, 160, 256]),
    bbox_head=dict(num_classes=3),
    # after 2 iterations every score can sit below RetinaNet's 0.05, and
    # mmdet's CocoMetric then prints no AP at all
    test_cfg=dict(score_thr=0.0))
metainfo = dict(classes=('circle', 'square', 'triangle'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(256, 192), keep_ratio=True),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 192), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=(
        'img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root='data/shapes/', metainfo=metainfo,
                 pipeline=train_pipeline))
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root='data/shapes/', metainfo=metainfo,
                 pipeline=test_pipeline))
test_evaluator = dict(
    ann_file='data/shapes/annotations/instances_val2017.json')
val_dataloader = val_evaluator = val_cfg = None
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=2)
param_scheduler = []
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2),
                     logger=dict(interval=1))
log_processor = dict(by_epoch=False)
"""
USER_SEGMENTOR = """
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/schedules/schedule_20k.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['van_mm'], allow_failed_imports=False)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=(128, 128)),
    backbone=dict(_delete_=True, type='VAN', arch='b0'),
    neck=dict(in_channels=[32, 64, 160, 256]),
    decode_head=dict(num_classes=5))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomCrop', crop_size=(128, 128)),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
metainfo = dict(classes=('sky', 'grass', 'water', 'road', 'building'))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root='data/scenes', metainfo=metainfo,
                 pipeline=train_pipeline))
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root='data/scenes', metainfo=metainfo,
                 pipeline=test_pipeline))
val_dataloader = val_evaluator = val_cfg = None
train_cfg = dict(max_iters=2, val_interval=2)
default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=1))
"""


@pytest.mark.parametrize('scope,config,metric', [
    ('mmdet', USER_DETECTOR, r'coco/bbox_mAP: \d\.\d+'),
    ('mmseg', USER_SEGMENTOR, r'mIoU: \d+\.\d+'),
], ids=['mmdet', 'mmseg'])
def test_a_users_config_trains_and_tests_with_the_frameworks_own_tools(
        scope, config, metric, newcomer_python, workspace, tmp_path):
    """In a folder of the user's (not this repository, which is not on the
    path): their config with ``custom_imports`` and ``type='VAN'`` runs
    mmdet's or mmseg's own tools/train.py and tools/test.py (as installed
    with them, in ``.mim/tools``), van_mm coming from the wheel."""
    shutil.copytree(workspace / 'data', tmp_path / 'data',
                    ignore=shutil.ignore_patterns('*panoptic*'))
    (tmp_path / 'my_config.py').write_text(textwrap.dedent(config))
    env = newcomer_env()
    tools = subprocess.run(
        [newcomer_python, '-c', f'import os, {scope}, van_mm; print(os.path.'
         f'join(os.path.dirname({scope}.__file__), ".mim", "tools")); '
         'print(van_mm.__file__)'],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert '/venv/' in tools[1] and 'site-packages' in tools[1], tools

    def run(tool, *args):
        out = subprocess.run(
            [newcomer_python, os.path.join(tools[0], tool), 'my_config.py',
             *map(str, args), '--work-dir', 'work'], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=600)
        log = out.stdout + out.stderr
        assert out.returncode == 0, f'{scope} {tool}:\n{log[-3000:]}'
        return log

    log = run('train.py')
    assert 'Iter(train) [2/2]' in log
    assert 'VAN' in log  # the model printed at start
    log = run('test.py', tmp_path / 'work' / 'iter_2.pth')
    assert re.search(metric, log), log[-2000:]
