"""The picture tools run end to end on generated data with small models and
write decodable PNGs of the expected size whose content follows the input.
Each tool runs once as a process, as a user runs it; the other cases call
the same functions in this process."""
import glob
import json
import shutil

import mmcv
import numpy as np
import pytest
import torch

from helpers import (
    DET_CONFIG,
    SEG_CONFIG,
    mmpretrain_van,
    official_checkpoint,
    run,
    script_ok,
)
from van_mm.analysis.attention import (
    arch_targets,
    attention_maps,
    config_targets,
)
from van_mm.images import read_image

pytestmark = pytest.mark.slow  # each test runs a tool on a model


@pytest.fixture(scope='module')
def images(workspace):
    return sorted(glob.glob(str(workspace / 'data/shapes/val2017/*.jpg')))


@pytest.fixture(scope='module')
def classifier_file(tmp_path_factory):
    """An official-layout VAN-B0 classifier (mmpretrain's VAN under the
    official names, a random 1000-class head) freshly initialised: layer
    scales 1e-2 and BN at identity, so that its maps follow what is in the
    image (``official_b0``'s randomised statistics drown the image in
    their offsets)."""
    torch.manual_seed(0)
    model = mmpretrain_van('tiny', ln_eps=1e-6, randomized=False)
    path = tmp_path_factory.mktemp('classifier') / 'van_tiny_754.pth.tar'
    torch.save(official_checkpoint(model), path)
    return str(path)


def read_png(path):
    image = mmcv.imread(str(path))
    assert image is not None, f'{path} is not a decodable image'
    return image


def test_demo_detector_on_a_folder(workspace, images, det_ckpt, tmp_path):
    """tools/demo.py as a process: one picture per image of the folder,
    each the image's size, each different."""
    folder, out = tmp_path / 'images', tmp_path / 'demo_det'
    folder.mkdir()
    for image in images[:2]:
        shutil.copy(image, folder)
    (folder / 'notes.txt').write_text('not an image: passed over')
    script_ok(['tools/demo.py', folder, DET_CONFIG, det_ckpt, '--out', out,
               '--score-thr', 0.0], cwd=workspace)
    pictures = sorted(out.glob('*.png'))
    assert len(pictures) == 2
    first, second = (read_png(p) for p in pictures[:2])
    assert first.shape == mmcv.imread(images[0]).shape
    assert not np.array_equal(first, second)


def test_demo_segmentor_on_one_image(workspace, seg_ckpt, tmp_path):
    image = sorted(glob.glob(str(workspace / 'data/scenes/images/'
                                 'validation/*.jpg')))[0]
    out = tmp_path / 'demo_seg.png'
    result = run('demo', image, SEG_CONFIG, seg_ckpt, '--out', out,
                 cwd=workspace)
    assert result.code == 0, result.log[-3000:]
    painted, plain = read_png(out), mmcv.imread(image)
    assert painted.shape == plain.shape
    assert not np.array_equal(painted, plain)  # the classes blended in


def test_demo_names_an_unreadable_image(workspace, det_ckpt, tmp_path):
    bad = tmp_path / 'broken.jpg'
    bad.write_bytes(b'not a jpeg')
    result = run('demo', bad, DET_CONFIG, det_ckpt, '--out',
                 tmp_path / 'x.png', cwd=workspace)
    assert result.code == 1
    assert f"Cannot read image '{bad}'" in result.err
    assert not (tmp_path / 'x.png').exists()


def assert_maps_follow_the_image(maps, h, w):
    """One map per stage, each the image's size, in [0, 1]; the deepest
    stage's map stretches over the whole range (not constant) and differs
    between the two images."""
    for per_image in maps:
        assert all(m.shape == (h, w) for m in per_image)
        assert all(0 <= m.min() and m.max() <= 1 for m in per_image)
    last = [per_image[-1] for per_image in maps]
    assert last[0].max() == 1 and last[0].min() == 0
    assert last[1].std() > 0.05
    assert not np.allclose(last[0], last[1], atol=0.05)


@pytest.mark.parametrize('method', ['lka', 'gradcam'])
def test_attention_panels_follow_the_image(method, workspace, images,
                                           classifier_file, tmp_path):
    """--arch b0 with an official file (it has a classification head, so
    Grad-CAM has a score): one panel per stage, each the image's size, and
    two images give two different maps."""
    out = tmp_path / f'{method}.png'
    args = ['tools/visualize_attention.py', images[0], '--arch', 'b0',
            '--checkpoint', classifier_file, '--method', method,
            '--stage', 1, 2, 3, '--out', out]
    if method == 'lka':  # the tool's one run as a process
        script_ok(args, cwd=workspace)
    else:
        result = run('visualize_attention', *args[1:], cwd=workspace)
        assert result.code == 0, result.log[-3000:]
    h, w = mmcv.imread(images[0]).shape[:2]
    assert read_png(out).shape[:2] == (h, 4 * w)
    targets = arch_targets('b0', classifier_file)
    maps = [attention_maps(targets, read_image(image), method, [1, 2, 3])
            for image in images[:2]]
    assert_maps_follow_the_image(maps, h, w)


@pytest.mark.parametrize('config,ckpt', [('det', 'det_ckpt'),
                                         ('seg', 'seg_ckpt')])
def test_gradcam_of_a_detector_and_a_segmentor(config, ckpt, workspace,
                                               images, request, tmp_path):
    """Grad-CAM of the top detection / the most frequent class: the tool
    writes the panel, and the maps differ between two images and are not
    constant."""
    config = DET_CONFIG if config == 'det' else SEG_CONFIG
    checkpoint = request.getfixturevalue(ckpt)
    out = tmp_path / 'gradcam.png'
    result = run('visualize_attention', images[0], '--config', config,
                 '--checkpoint', checkpoint, '--method', 'gradcam',
                 '--stage', '3', '--out', out, cwd=workspace)
    assert result.code == 0, result.log[-3000:]
    h, w = mmcv.imread(images[0]).shape[:2]
    assert read_png(out).shape[:2] == (h, 2 * w)
    targets = config_targets(config, checkpoint)
    maps = [attention_maps(targets, read_image(image), 'gradcam', [3])
            for image in images[:2]]
    assert_maps_follow_the_image(maps, h, w)


@pytest.mark.parametrize('config', [DET_CONFIG, SEG_CONFIG],
                         ids=['det', 'seg'])
def test_browse_dataset_draws_annotated_samples(config, workspace,
                                                tmp_path):
    out = tmp_path / 'browse'
    args = [config, '--out-dir', out, '--num', 2]
    if config == DET_CONFIG:  # the tool's one run as a process
        script_ok(['tools/browse_dataset.py', *args], cwd=workspace)
    else:
        assert run('browse_dataset', *args, cwd=workspace).code == 0
    pictures = sorted(out.glob('*.png'))
    assert len(pictures) == 2
    first, second = (read_png(p) for p in pictures)
    assert first.ndim == 3 and not np.array_equal(first, second)


def test_plot_curves_of_two_runs(tmp_path):
    """tools/plot_curves.py as a process: one panel per key, both runs in
    each (the loss panels differ between the runs)."""
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
    log = script_ok(['tools/plot_curves.py', *runs, '--keys', 'loss',
                     'mIoU', '--out', out], cwd=tmp_path)
    assert f'wrote {out}' in log
    picture = read_png(out)
    assert picture.shape[1] > picture.shape[0]  # two panels side by side
    left, right = np.array_split(picture, 2, axis=1)
    assert not np.array_equal(left, right)


def test_plot_curves_names_a_missing_key(tmp_path):
    vis = tmp_path / 'run' / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    vis.joinpath('scalars.json').write_text(json.dumps(dict(iter=1,
                                                            loss=1.0)))
    result = run('plot_curves', tmp_path / 'run', '--keys', 'mAP', '--out',
                 tmp_path / 'x.png', cwd=tmp_path)
    assert result.code == 1
    assert "No scalar named 'mAP'" in result.err and "'loss'" in result.err


def test_backbone_demo_prints_the_four_stages(workspace, images,
                                              official_b0_file):
    """tools/backbone_demo.py as a process: an image through a VAN-B0 with
    official weights, one line per stage with its stride and shape."""
    log = script_ok(['tools/backbone_demo.py', images[0], '--arch', 'b0',
                     '--checkpoint', official_b0_file], cwd=workspace)
    h, w = mmcv.imread(images[0]).shape[:2]
    for i, dims in enumerate([32, 64, 160, 256]):
        stride = 2**(i + 2)
        shape = (1, dims, -(-h // stride), -(-w // stride))
        assert f'stage {i + 1} (stride {stride:2d}): {shape}' in log, log
