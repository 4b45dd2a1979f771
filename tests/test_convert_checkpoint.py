"""tools/convert_checkpoint.py: converts any layout, refuses bad files and
then writes nothing."""
import os
import pathlib

import pytest
import torch

from helpers import ok, run, script_ok
from van_mm import VAN
from van_mm.checkpoint import convert_state_dict, read_converted
from van_mm.testing import randomize

TOOL = 'convert_checkpoint'


def test_cli_converts_an_official_file(official_b0_state, official_b0_file,
                                       tmp_path):
    """tools/convert_checkpoint.py as a process, as a user runs it."""
    dst = tmp_path / 'out' / 'van_b0.pth'
    log = script_ok(['tools/convert_checkpoint.py', official_b0_file, dst],
                    cwd=tmp_path)
    assert 'layout: official' in log
    assert 'arch: b0' in log
    assert 'dropped 2 non-backbone keys (head: 2)' in log

    model = VAN(arch='b0', init_cfg=dict(type='Pretrained',
                                         checkpoint=str(dst)))
    model.init_weights()
    expected = convert_state_dict(official_b0_state).state_dict
    for key, value in model.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_head_and_output_layout(official_b0_state, official_b0_file,
                                tmp_path):
    """--with-head --to mmpretrain writes what mmpretrain's classifier
    loads: backbone.* with mmpretrain's names and head.fc.*."""
    dst = str(tmp_path / 'van-tiny.pth')
    ok(TOOL, official_b0_file, dst, '--with-head', '--to', 'mmpretrain',
       cwd=tmp_path)
    state = torch.load(dst, weights_only=True)['state_dict']
    assert torch.equal(state['head.fc.weight'],
                       official_b0_state['head.weight'])
    assert 'backbone.patch_embed1.projection.weight' in state
    assert read_converted(dst).layout.name == 'mmpretrain'


def truncated(src, path):
    with open(src, 'rb') as f:
        data = f.read()
    path.write_bytes(data[:len(data) // 2])


def random_bytes(src, path):
    path.write_bytes(os.urandom(4096))


def pickled_objects(src, path):
    """A class outside the allow-list (argparse.Namespace, timm's args,
    is on it)."""
    ckpt = torch.load(src, weights_only=True)
    ckpt['meta'] = {'data': pathlib.PurePosixPath('/data/imagenet')}
    torch.save(ckpt, path)


def unknown_arch(src, path):
    """Widths of b0, one more block in the last stage: fits no arch."""
    model = VAN(arch=dict(embed_dims=[32, 64, 160, 256],
                          depths=[3, 3, 5, 3], mlp_ratios=[8, 8, 4, 4]))
    torch.save({'state_dict': randomize(model).state_dict()}, path)


@pytest.mark.parametrize('make,args,message', [
    (None, ['--arch', 'b1'], "'stages.0.patch_embed.proj.weight' is "
     "(32, 3, 7, 7) in the checkpoint but (64, 3, 7, 7)"),
    (truncated, [], 'truncated or not a PyTorch'),
    (random_bytes, [], 'truncated or not a PyTorch'),
    (pickled_objects, [], '--allow-pickle'),
    (unknown_arch, [], "not in the model (first: ['stages.3.blocks.2."),
], ids=['wrong-arch', 'truncated', 'not-a-checkpoint', 'unsafe-pickle',
        'fits-no-arch'])
def test_bad_input_is_refused_and_nothing_written(
        make, args, message, official_b0_file, tmp_path):
    src = official_b0_file
    if make is not None:
        src = tmp_path / 'src.pth'
        make(official_b0_file, src)
    dst = tmp_path / 'dst.pth'
    result = run(TOOL, src, dst, *args, cwd=tmp_path)
    assert result.code == 1
    err = result.err
    assert message in err
    assert str(src) in err
    assert f'Nothing was written to {dst}' in err
    assert os.listdir(tmp_path) == (['src.pth'] if make else [])


def test_allow_pickle_opens_a_trusted_file(official_b0_file, tmp_path):
    src = tmp_path / 'src.pth'
    pickled_objects(official_b0_file, src)
    dst = tmp_path / 'dst.safetensors'
    ok(TOOL, src, dst, '--allow-pickle', cwd=tmp_path)
    assert read_converted(str(dst)).layout.name == 'van_mm'


def test_missing_source_names_the_path(tmp_path):
    result = run(TOOL, tmp_path / 'nope.pth', tmp_path / 'dst.pth',
                 cwd=tmp_path)
    assert result.code == 1
    assert 'nope.pth' in result.err
    assert os.listdir(tmp_path) == []


@pytest.fixture(scope='session')
def official_segmentor(tmp_path_factory):
    """The scenes segmentor's random weights saved as VAN-Segmentation
    (mmseg 0.x) saves its models: official backbone keys, CLASSES."""
    from mmengine.registry import init_default_scope

    from helpers import load
    from van_mm.apis import build_from_config
    from van_mm.checkpoint.whole_model import export_whole_model
    init_default_scope('mmseg')
    model = randomize(build_from_config(
        load(os.path.join('scenes', 'fpn_van_b0_scenes.py'))))
    path = tmp_path_factory.mktemp('seg') / 'upernet_official.pth'
    torch.save(dict(
        state_dict=export_whole_model(model.state_dict(), 'official_seg'),
        meta=dict(CLASSES=('sky', 'grass', 'water', 'road', 'building'),
                  PALETTE=[[0, 0, 0]] * 5, mmseg_version='0.26.0'),
        optimizer=dict(state={}, param_groups=[])), path)
    return model.state_dict(), path


def test_whole_model_to_van_mm(official_segmentor, tmp_path):
    """--whole-model: backbone keys mapped, neck and heads and the classes
    kept, the LayerNorm epsilon recorded, the optimizer left out."""
    weights, src = official_segmentor
    dst = tmp_path / 'van_mm_segmentor.pth'
    log = ok(TOOL, src, dst, '--whole-model', cwd=tmp_path)
    assert 'layout: official_seg' in log
    assert 'arch: b0, LayerNorm eps 1e-05' in log
    assert 'decode_head: ' in log and 'neck: ' in log
    out = torch.load(dst, weights_only=True)
    assert out.keys() == {'state_dict', 'meta'}
    assert out['state_dict'].keys() == weights.keys()
    for key, value in weights.items():
        assert torch.equal(out['state_dict'][key], value), key
    meta = out['meta']
    assert meta['ln_eps'] == 1e-5 and meta['arch'] == 'b0'
    assert meta['dataset_meta']['classes'][0] == 'sky'
    assert meta['mmseg_version'] == '0.26.0'


def test_whole_model_needs_a_whole_model_layout(official_segmentor,
                                               tmp_path):
    _, src = official_segmentor
    dst = tmp_path / 'dst.pth'
    result = run(TOOL, src, dst, '--whole-model', '--to', 'hf', cwd=tmp_path)
    assert result.code == 1
    assert 'error [--to]: The hf layout holds no detectors or ' \
        'segmentors' in result.err
    assert not dst.exists()
