"""The picture tools run end to end on generated data with small models and
write decodable PNGs of the expected size whose content follows the input."""
import glob
import os

import mmcv
import numpy as np
import pytest

from helpers import CONFIGS, random_checkpoint, run_tool
from van_mm.attention import arch_targets, attention_maps
from van_mm.images import read_image
from van_mm.synthetic import (
    SCENE_CLASSES,
    SHAPE_CLASSES,
    make_ade_scenes,
    make_coco_shapes,
)

pytestmark = pytest.mark.slow  # each test runs a tool on a model

DET_CONFIG = os.path.join(CONFIGS, 'shapes', 'maskrcnn_van_b0_shapes.py')
SEG_CONFIG = os.path.join(CONFIGS, 'scenes', 'fpn_van_b0_scenes.py')


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp('vis_ws')
    make_coco_shapes(str(root / 'data' / 'shapes'), num_train=4, num_val=2,
                     seed=2)
    make_ade_scenes(str(root / 'data' / 'scenes'), num_train=4, num_val=2,
                    seed=2)
    return root


@pytest.fixture(scope='module')
def images(workspace):
    return sorted(glob.glob(str(workspace / 'data/shapes/val2017/*.jpg')))


@pytest.fixture(scope='module')
def det_ckpt(workspace):
    return random_checkpoint(DET_CONFIG, SHAPE_CLASSES,
                             workspace / 'det.pth')


@pytest.fixture(scope='module')
def seg_ckpt(workspace):
    return random_checkpoint(SEG_CONFIG, SCENE_CLASSES,
                             workspace / 'seg.pth')


def read_png(path):
    image = mmcv.imread(str(path))
    assert image is not None, f'{path} is not a decodable image'
    return image


def test_demo_detector_on_a_folder(workspace, images, det_ckpt):
    out = workspace / 'demo_det'
    run_tool(['tools/demo.py', os.path.dirname(images[0]), DET_CONFIG,
              det_ckpt, '--out', out, '--score-thr', 0.0], cwd=workspace)
    pictures = sorted(out.glob('*.png'))
    assert len(pictures) == len(images)
    first, second = (read_png(p) for p in pictures[:2])
    assert first.shape == mmcv.imread(images[0]).shape
    assert not np.array_equal(first, second)


def test_demo_segmentor_on_one_image(workspace, seg_ckpt):
    image = sorted(glob.glob(str(workspace / 'data/scenes/images/'
                                 'validation/*.jpg')))[0]
    out = workspace / 'demo_seg.png'
    run_tool(['tools/demo.py', image, SEG_CONFIG, seg_ckpt, '--out', out],
             cwd=workspace)
    assert read_png(out).shape == mmcv.imread(image).shape


def test_demo_names_an_unreadable_image(workspace, det_ckpt):
    bad = workspace / 'broken.jpg'
    bad.write_bytes(b'not a jpeg')
    with pytest.raises(AssertionError, match='Cannot read image .*broken'):
        run_tool(['tools/demo.py', bad, DET_CONFIG, det_ckpt, '--out',
                  workspace / 'x.png'], cwd=workspace)


@pytest.mark.parametrize('method', ['lka', 'gradcam'])
def test_attention_panels_follow_the_image(method, workspace, images,
                                           official_b0_file):
    """--arch b0 with an official file (it has a classification head, so
    Grad-CAM has a score): one panel per stage, each the image's size, and
    two images give two different maps."""
    out = workspace / f'{method}.png'
    run_tool(['tools/visualize_attention.py', images[0], '--arch', 'b0',
              '--checkpoint', official_b0_file, '--method', method,
              '--stage', 1, 2, 3, '--out', out], cwd=workspace)
    h, w = mmcv.imread(images[0]).shape[:2]
    assert read_png(out).shape[:2] == (h, 4 * w)
    targets = arch_targets('b0', official_b0_file)
    maps = [attention_maps(targets, read_image(image), method, [1, 2, 3])
            for image in images[:2]]
    assert all(m.shape == (h, w) for m in maps[0])
    assert all(0 <= m.min() and m.max() <= 1 for m in maps[0])
    last = [m[-1] for m in maps]  # stage 3
    assert last[0].max() == 1 and last[0].min() == 0
    assert not np.allclose(last[0], last[1])


@pytest.mark.parametrize('config,ckpt', [('det', 'det_ckpt'),
                                         ('seg', 'seg_ckpt')])
def test_gradcam_of_a_detector_and_a_segmentor(config, ckpt, workspace,
                                               images, request):
    config = DET_CONFIG if config == 'det' else SEG_CONFIG
    out = workspace / f'gradcam_{os.path.basename(config)}.png'
    log = run_tool(['tools/visualize_attention.py', images[0], '--config',
                    config, '--checkpoint', request.getfixturevalue(ckpt),
                    '--method', 'gradcam', '--stage', '3', '--out', out],
                   cwd=workspace)
    assert 'gradcam' in log
    h, w = mmcv.imread(images[0]).shape[:2]
    assert read_png(out).shape[:2] == (h, 2 * w)


@pytest.mark.parametrize('config', [DET_CONFIG, SEG_CONFIG])
def test_browse_dataset_draws_annotated_samples(config, workspace):
    out = workspace / f'browse_{os.path.basename(config)}'
    run_tool(['tools/browse_dataset.py', config, '--out-dir', out,
              '--num', 2], cwd=workspace)
    pictures = sorted(out.glob('*.png'))
    assert len(pictures) == 2
    first, second = (read_png(p) for p in pictures)
    assert first.ndim == 3 and not np.array_equal(first, second)


def test_plot_curves_of_two_runs(tmp_path):
    import json
    runs = []
    for k in range(2):
        vis = tmp_path / f'run{k}' / '20260101_000000' / 'vis_data'
        vis.mkdir(parents=True)
        records = [dict(iter=i, loss=1.0 / (i + k + 1), lr=1e-4)
                   for i in range(1, 11)]
        records.append(dict(step=10, mIoU=40.0 + k))
        vis.joinpath('scalars.json').write_text(
            '\n'.join(json.dumps(r) for r in records))
        runs.append(tmp_path / f'run{k}')
    out = tmp_path / 'curves.png'
    run_tool(['tools/plot_curves.py', *runs, '--keys', 'loss', 'mIoU',
              '--out', out], cwd=tmp_path)
    assert read_png(out).shape[1] > read_png(out).shape[0]  # two panels
