"""A drop-in for the VAN backbones of mmpretrain and of mmseg 1.x
``projects/van``: their arguments, configs and weights work with van_mm's
VAN, which a bare ``type='VAN'`` builds in mmdet's and mmseg's scopes.

mmpretrain's VAN is installed and built here as it is. mmseg's
``projects/van`` is not in mmseg's wheel: its configs' backbone dicts are
written below as data, from its ``configs/_base_/models/van_fpn.py`` and
``van_upernet.py`` (and one arch config that overrides widths and depths).
"""
import glob
import os

import pytest
import torch
from mmengine.registry import DefaultScope
from torch.nn.modules.batchnorm import _BatchNorm

from helpers import (
    NO_VAL,
    QUICK_RUN,
    SEG_CONFIG,
    image,
    iters,
    ok,
    params_m,
    run,
)
from van_mm import VAN
from van_mm.apis import load_config
from van_mm.checkpoint import convert_state_dict
from van_mm.checks.config import ConfigCheckError, check_config
from van_mm.testing import randomize

# mmengine initialisers as a list (which mmengine allows): every conv
# Kaiming-initialised, the stage LayerNorms' weights set to 2.
INIT_LIST = [dict(type='Kaiming', layer='Conv2d'),
             dict(type='Constant', layer='LayerNorm', val=2., bias=0.)]

# mmpretrain-style arguments, given as they are to both classes:
# (registry scope ours is built in, arguments).
MMPRETRAIN_ARGS = [
    ('mmdet', dict(arch='tiny', out_indices=(0, 1, 2, 3), frozen_stages=0,
                   init_cfg=INIT_LIST)),
    ('mmseg', dict(arch='b', out_indices=(0, 1, 2, 3), frozen_stages=1,
                   drop_path_rate=0.1)),
]

# mmseg projects/van's configs/_base_/models/van_fpn.py and van_upernet.py
# backbones (norm_cfg: their SyncBN), and a B2 config that overrides the
# widths and depths of the FPN base.
SYNC_BN = dict(type='SyncBN', requires_grad=True)
MMSEG_VAN_FPN = dict(
    type='VAN', embed_dims=[32, 64, 160, 256], drop_rate=0.0,
    drop_path_rate=0.1, depths=[3, 3, 5, 2], act_cfg=dict(type='GELU'),
    norm_cfg=SYNC_BN, init_cfg=dict())
MMSEG_VAN_UPERNET = dict(
    type='VAN', embed_dims=[32, 64, 160, 256], drop_rate=0.0,
    drop_path_rate=0.1, depths=[3, 3, 5, 2], act_cfg=dict(type='GELU'),
    norm_cfg=SYNC_BN)
MMSEG_VAN_B2_FPN = dict(MMSEG_VAN_FPN, embed_dims=[64, 128, 320, 512],
                        depths=[3, 3, 12, 3], drop_path_rate=0.2)


def build_ours(scope, cfg):
    """``cfg`` built by ``scope``'s model registry (mmdet or mmseg), as a
    config with that default scope builds it."""
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(cfg)


def build_mmpretrain(**args):
    from mmpretrain.registry import MODELS
    return MODELS.build(dict(type='mmpretrain.VAN', **args))


def frozen(model):
    return {name for name, p in model.named_parameters()
            if not p.requires_grad}


@pytest.mark.parametrize('scope,args', MMPRETRAIN_ARGS,
                         ids=[a['arch'] for _, a in MMPRETRAIN_ARGS])
def test_mmpretrain_arguments_build_ours_alike(scope, args):
    """The same arguments to mmpretrain's VAN and to type='VAN' in mmdet's
    or mmseg's scope: ours is built, with as many parameters, the same
    parameters frozen (mmpretrain's names mapped to ours), the same BN
    layers in eval mode while training, and the init_cfg list applied."""
    theirs = build_mmpretrain(**args)
    ours = build_ours(scope, dict(type='VAN', **args))
    assert type(ours) is VAN
    assert params_m(ours) == params_m(theirs)
    for model in (theirs, ours):
        model.train()  # where mmpretrain's VAN freezes its stages
    theirs_frozen = convert_state_dict(
        {k: v for k, v in theirs.state_dict().items()
         if k in frozen(theirs)}).state_dict
    assert frozen(ours) == set(theirs_frozen)
    stages = args['frozen_stages'] + 1
    assert frozen(ours) == {n for n, _ in ours.named_parameters()
                            if int(n.split('.')[1]) < stages}
    assert [m.training for m in ours.modules() if isinstance(m, _BatchNorm)
            ] == [m.training for m in theirs.modules()
                  if isinstance(m, _BatchNorm)]
    if 'init_cfg' not in args:
        return
    for model in (theirs, ours):
        model.init_weights()
        norms = [m for m in model.modules()
                 if isinstance(m, torch.nn.LayerNorm)]
        assert len(norms) == 4
        assert all(bool((m.weight == 2).all()) for m in norms)


@pytest.mark.parametrize('arch', ['tiny', 'base'])
def test_mmpretrain_weights_give_mmpretrain_outputs(arch, tmp_path):
    """mmpretrain's VAN with random weights, its state dict saved and loaded
    into ours built from the same arguments (norm_cfg=dict(type='LN'):
    mmpretrain's stage norms, eps 1e-5 in both): equal outputs on every
    stage."""
    args = dict(arch=arch, out_indices=(0, 1, 2, 3),
                norm_cfg=dict(type='LN'))
    theirs = randomize(build_mmpretrain(**args), seed=3)
    path = str(tmp_path / f'van-{arch}.pth')
    torch.save({'state_dict': theirs.state_dict()}, path)
    ours = build_ours('mmseg', dict(
        type='VAN', init_cfg=dict(type='Pretrained', checkpoint=path),
        **args))
    assert {m.eps for m in ours.modules()
            if isinstance(m, torch.nn.LayerNorm)} == {1e-5}
    ours.init_weights()
    ours.eval()
    x = image(1, 3, 64, 80)
    with torch.no_grad():
        for a, b in zip(theirs(x), ours(x), strict=True):
            torch.testing.assert_close(b, a, rtol=0, atol=1e-5)


@pytest.mark.parametrize('backbone,arch', [
    (MMSEG_VAN_FPN, 'b0'), (MMSEG_VAN_UPERNET, 'b0'),
    (MMSEG_VAN_B2_FPN, 'b2')], ids=['fpn', 'upernet', 'b2_fpn'])
def test_mmseg_projects_van_backbones_build_ours(backbone, arch):
    """mmseg projects/van's backbone dicts build ours with the parameters of
    the same arch; their SyncBN is the norm inside the blocks and patch
    embeddings, act_cfg the MLPs' activation, the stage norms ours (eps
    1e-6: van_mm's default, where mmseg's nn.LayerNorm has 1e-5)."""
    with torch.device('meta'):
        ours = build_ours('mmseg', dict(backbone))
        same = VAN(arch=arch)
    assert type(ours) is VAN and ours.arch_settings == same.arch_settings
    assert params_m(ours) == params_m(same)
    bns = {type(m).__name__ for m in ours.modules()
           if isinstance(m, _BatchNorm)}
    assert bns == {'SyncBatchNorm'}
    block = ours.stages[1].blocks[0]
    assert isinstance(block.mlp.act, torch.nn.GELU)
    assert isinstance(block.attn.activation, torch.nn.GELU)
    assert {s.norm.eps for s in ours.stages} == {1e-6}
    rates = [getattr(b.drop_path, 'drop_prob', 0.) for s in ours.stages
             for b in s.blocks]
    assert rates[-1] == pytest.approx(backbone['drop_path_rate'])


# A user's segmentor on mmseg's own model base: its ResNet-50 backbone
# replaced by VAN-B0.
FPN_R50_VAN = """\
_base_ = ['mmseg::_base_/models/fpn_r50.py',
          'mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['van_mm'], allow_failed_imports=False)
model = dict(
    {pretrained}
    backbone=dict(_delete_=True, type='VAN', arch='b0'),
    neck=dict(in_channels=[32, 64, 160, 256]),
    decode_head=dict(num_classes=5))
"""


def test_a_config_on_mmseg_fpn_r50_base_builds_ours(tmp_path):
    """With model.pretrained=None: the config checks pass, mmseg's
    EncoderDecoder builds ours and segments."""
    path = tmp_path / 'fpn_r50_van.py'
    path.write_text(FPN_R50_VAN.format(pretrained='pretrained=None,'))
    cfg = load_config(str(path))
    check_config(cfg, 'test')
    from mmengine.model import revert_sync_batchnorm
    model = revert_sync_batchnorm(build_ours('mmseg', cfg.model)).eval()
    assert type(model.backbone) is VAN
    with torch.no_grad():
        logits = model(image(1, 3, 64, 64), mode='tensor')
    assert logits.shape == (1, 5, 16, 16)


def test_the_resnet_named_by_mmseg_fpn_r50_base_is_refused(tmp_path):
    """model.pretrained left at the base's ResNet-50 ('open-mmlab://
    resnet50_v1c'), which mmseg's EncoderDecoder hands to the backbone: the
    config checks name it, tools/train.py stops before building anything,
    and the model refuses it when built, each saying
    model.pretrained=None (no download)."""
    path = tmp_path / 'fpn_r50_van.py'
    path.write_text(FPN_R50_VAN.format(pretrained=''))
    cfg = load_config(str(path))
    assert cfg.model.pretrained == 'open-mmlab://resnet50_v1c'
    with pytest.raises(ConfigCheckError) as err:
        check_config(cfg, 'train')
    assert err.value.problems == [
        "`model.pretrained` is 'open-mmlab://resnet50_v1c', a checkpoint of "
        "mmengine's model zoo (open-mmlab://: ResNets, VGGs and other "
        "classifiers), not VAN weights; mmseg's EncoderDecoder hands it to "
        'the VAN backbone: set model.pretrained=None (VAN weights go in '
        "model.backbone.init_cfg=dict(type='Pretrained', checkpoint=...))"]
    work = tmp_path / 'work'
    result = run('train', path, '--work-dir', work, cwd=tmp_path)
    assert result.code == 1 and 'set model.pretrained=None' in result.err
    assert not work.exists()
    with pytest.raises(ValueError, match=r"'open-mmlab://resnet50_v1c' is "
                       r'not VAN weights.*set model\.pretrained=None'):
        build_ours('mmseg', cfg.model)


@pytest.mark.slow
def test_mmpretrain_van_swapped_into_a_config_trains_and_tests(
        workspace, tmp_path):
    """The scenes segmentor with mmpretrain's VAN as its backbone (to
    compare the two in one recipe): tools/train.py trains it and
    tools/test.py tests its checkpoint, which fits the model as saved (no
    layout mapping for a backbone that is not van_mm's)."""
    config = tmp_path / 'fpn_mmpretrain_van_b0_scenes.py'
    config.write_text(
        f'_base_ = [{SEG_CONFIG!r}]\n'
        'model = dict(backbone=dict(_delete_=True, type=\'mmpretrain.VAN\', '
        "arch='tiny', out_indices=(0, 1, 2, 3)))\n")
    work = tmp_path / 'work'
    log = ok('train', config, '--work-dir', work, '--cfg-options',
             *QUICK_RUN, *NO_VAL, *iters(2), cwd=workspace)
    assert 'Iter(train) [2/2]' in log
    saved = torch.load(work / 'iter_2.pth', map_location='cpu',
                       weights_only=False)['state_dict']
    assert 'backbone.blocks1.0.attn.spatial_gating_unit.DW_conv.weight' \
        in saved  # mmpretrain's module names
    log = ok('test', config, work / 'iter_2.pth', '--work-dir',
             tmp_path / 'test', '--cfg-options', *QUICK_RUN, cwd=workspace)
    assert f"fits the model: all {len(saved)} keys (keys as saved" in log
    assert 'mIoU' in log


def test_mmengine_model_zoo_holds_no_van():
    """What refusing its names by scheme rests on: none of the models of
    mmengine's zoo tables (open-mmlab://, mmcls://, torchvision://) is a
    VAN."""
    import mmengine
    from mmengine.fileio import load
    tables = glob.glob(os.path.join(mmengine.__path__[0], 'hub', '*.json'))
    assert {os.path.basename(t) for t in tables} >= {
        'openmmlab.json', 'mmcls.json', 'deprecated.json'}
    names = [name for table in tables for name in load(table)]
    assert len(names) > 100
    assert not [n for n in names if 'van' in n.lower()]

