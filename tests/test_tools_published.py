"""The trained models that exist, as a user evaluates them: tools/test.py,
demo.py and train.py's load_from with a segmentor saved the way each
codebase saves it (van_mm's runner, mmsegmentation 0.x's runner for the
official VAN-Segmentation models, mmseg 1.x's projects/van), on generated
ADE20K-layout data. No trained checkpoint can be downloaded here, so the
files are models of them: the same random weights in each layout."""
import glob
import os
import re

import cv2
import numpy as np
import pytest
import torch

from helpers import CONFIGS, NO_VAL, QUICK_RUN, SCENES, iters, ok, run
from van_mm.apis import build_from_config, load_config
from van_mm.checkpoint.whole_model import export_whole_model
from van_mm.synthetic import SCENE_CLASSES

pytestmark = pytest.mark.slow  # each test runs a tool on a model

CONFIG = os.path.join(CONFIGS, 'scenes', 'fpn_van_b0_scenes.py')
PALETTE = [[180, 130, 70], [50, 170, 60], [30, 90, 180], [90, 90, 90],
           [200, 110, 70]]


def scenes_segmentor(**options):
    """The scenes config's segmentor with its own random initialisation,
    then random BN statistics and layer scales near their usual values:
    every tensor matters and the predictions vary (fully random weights
    predict one class everywhere)."""
    cfg = load_config(CONFIG, options)
    torch.manual_seed(0)
    model = build_from_config(cfg)
    model.init_weights()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if 'running_var' in name:
                t.copy_(torch.rand(t.shape, generator=g) * 0.4 + 0.8)
            elif 'running_mean' in name:
                t.copy_(torch.randn(t.shape, generator=g) * 0.05)
            elif 'layer_scale' in name:
                t.copy_(torch.rand(t.shape, generator=g) * 0.02 + 0.005)
    return model.state_dict()


def save_as(path, state_dict, layout):
    """Save a whole segmentor the way the codebase of ``layout`` does."""
    keys = export_whole_model(state_dict, layout)
    if layout == 'official_seg':  # mmsegmentation 0.x's runner
        ckpt = dict(
            meta=dict(mmseg_version='0.26.0+4d6a1c1', mmcv_version='1.5.0',
                      config="model = dict(type='EncoderDecoder')\n",
                      env_info='sys.platform: linux\nPyTorch: 1.10.0',
                      CLASSES=SCENE_CLASSES, PALETTE=PALETTE, seed=0,
                      exp_name='fpn_van_b0_ade20k_40k.py', iter=40000,
                      epoch=1, hook_msgs=dict(last_ckpt='iter_40000.pth')),
            state_dict=keys,
            optimizer=dict(state={}, param_groups=[dict(lr=0., params=[])]))
    else:  # mmengine's runner (mmseg 1.x, van_mm)
        ckpt = dict(
            meta=dict(mmengine_version='0.10.7', iter=40000,
                      dataset_meta=dict(classes=SCENE_CLASSES,
                                        palette=PALETTE)),
            state_dict=keys, message_hub={})
    torch.save(ckpt, path)
    return str(path)


@pytest.fixture(scope='session')
def published(workspace, tmp_path_factory):
    """The same weights saved in each layout."""
    root = tmp_path_factory.mktemp('published')
    weights = scenes_segmentor()
    for layout in ('van_mm', 'official_seg', 'mmseg'):
        save_as(root / f'{layout}.pth', weights, layout)
    b1 = scenes_segmentor(**{'model.backbone.arch': 'b1',
                             'model.neck.in_channels': [64, 128, 320, 512]})
    save_as(root / 'b1.pth', b1, 'official_seg')
    return root


def run_test(workspace, checkpoint, *args, out, options=()):
    """tools/test.py on the generated validation set: the log, the metrics
    line and the predicted label maps (written to the folder ``out``), one
    per image tested."""
    log = ok('test', CONFIG, checkpoint, '--work-dir', out.parent / 'work',
             '--out', out, *args, '--cfg-options', *QUICK_RUN, *options,
             cwd=workspace)
    metrics = re.search(r'aAcc: [\d.]+ +mIoU: [\d.]+ +mAcc: [\d.]+', log)
    assert metrics, log[-2000:]
    maps = {os.path.basename(p): cv2.imread(p, cv2.IMREAD_UNCHANGED)
            for p in sorted(glob.glob(f'{out}/*.png'))}
    tested = re.search(r'Iter\(test\) \[(\d+)/(\d+)\]', log)
    assert len(maps) == int(tested[2]) <= SCENES['num_val']
    return log, metrics[0], maps


@pytest.fixture(scope='session')
def reference(workspace, published):
    """The van_mm file tested with the LayerNorm epsilon (1e-5) that
    VAN-Segmentation and mmseg 1.x train with."""
    _, metrics, maps = run_test(workspace, published / 'van_mm.pth',
                                out=published / 'pred_ref',
                                options=['model.backbone.ln_eps=1e-5'])
    return metrics, maps


@pytest.mark.parametrize('layout', ['official_seg', 'mmseg'])
def test_published_layouts_give_the_same_metrics(layout, workspace,
                                                 published, reference):
    """The same weights saved by another codebase: the same mIoU, the same
    label maps, with the epsilon of that codebase taken from the layout."""
    log, metrics, maps = run_test(workspace, published / f'{layout}.pth',
                                  out=published / layout)
    assert f'backbone layout {layout}' in log
    assert 'LayerNorm eps 1e-05' in log
    ref_metrics, ref_maps = reference
    assert metrics == ref_metrics
    for name, label in ref_maps.items():
        assert np.array_equal(maps[name], label), name
    assert len(np.unique(np.stack(list(maps.values())))) > 1


@pytest.mark.parametrize('checkpoint,message', [
    ('b1.pth', "its backbone looks like VAN arch 'b1'"),
    ('det.pth', 'rpn_head.'),
], ids=['wrong-arch', 'wrong-task'])
def test_a_checkpoint_that_does_not_fit_is_refused(checkpoint, message,
                                                   workspace, published):
    path = published / checkpoint
    if checkpoint == 'det.pth':
        cfg = load_config(os.path.join(CONFIGS, 'shapes',
                                       'maskrcnn_van_b0_shapes.py'))
        torch.save(dict(state_dict=build_from_config(cfg).state_dict()),
                   path)
    result = run('test', CONFIG, path, '--work-dir', published / 'work',
                 '--cfg-options', *QUICK_RUN, cwd=workspace)
    assert result.code != 0
    err = result.err.strip().splitlines()[-1]
    assert err.startswith(f'{path} does not fit the model')
    assert message in err
    assert 'allow_partial_load=True. (command line: --allow-partial-load)' \
        in err
    assert 'Iter(test)' not in result.log


def test_tta_merges_scales_and_flips(workspace, published, reference):
    """--tta: the config's tta_pipeline (6 scales x 2 flips) through mmseg's
    SegTTAModel; its label map is not the single-scale one. (One image:
    twelve views of it, up to 1195x896, take long on a CPU.)"""
    log, metrics, maps = run_test(
        workspace, published / 'official_seg.pth', '--tta',
        out=published / 'pred_tta',
        options=['test_dataloader.dataset.indices=1'])
    assert 'SegTTAModel' in log
    (name, label), = maps.items()
    assert not np.array_equal(label, reference[1][name])


def test_demo_draws_with_the_checkpoint_classes(workspace, published):
    """tools/demo.py on an official segmentor: the model it draws with
    carries the classes and palette saved in the file (mmseg 0.x's CLASSES
    and PALETTE), and the picture is the image's size."""
    from van_mm.apis import init_model
    image = sorted(glob.glob(
        f'{workspace}/data/scenes/images/validation/*.jpg'))[0]
    out = published / 'demo.png'
    log = ok('demo', image, CONFIG, published / 'official_seg.pth', '--out',
             out, cwd=workspace)
    assert 'backbone layout official_seg' in log
    assert cv2.imread(str(out)).shape[:2] == cv2.imread(image).shape[:2]
    model = init_model(load_config(CONFIG),
                       str(published / 'official_seg.pth'))
    assert model.dataset_meta['classes'] == SCENE_CLASSES
    assert [list(c) for c in model.dataset_meta['palette']] == PALETTE


def test_fine_tune_from_a_published_model_with_a_new_head(workspace,
                                                          published):
    """load_from an official segmentor into a model with a wider head:
    refused unless allow_partial_load=True, then the keys that fit load
    and training runs."""
    args = [CONFIG, '--work-dir', published / 'tune', '--cfg-options',
            *QUICK_RUN, *NO_VAL, *iters(1),
            f'load_from={published / "official_seg.pth"}',
            'model.decode_head.channels=64']
    result = run('train', *args, cwd=workspace)
    assert result.code != 0
    assert 'decode_head.' in result.err and 'allow_partial_load' in \
        result.err
    log = ok('train', *args, 'allow_partial_load=True', cwd=workspace)
    assert 'allow_partial_load: loading the' in log
    assert 'Iter(train) [1/1]' in log
