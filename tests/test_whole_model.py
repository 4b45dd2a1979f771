"""Whole detector and segmentor checkpoints in every published layout:
their keys map onto van_mm's models, a checkpoint that does not fit is
refused with what is wrong, a partial load is possible when asked for, and
the LayerNorm epsilon the weights were trained with is used."""
import copy
import functools
import os

import pytest
import torch
from mmengine.registry import init_default_scope

from helpers import image, load, mmpretrain_van, official_keys, to_tiny_b0
from van_mm.apis import build_from_config, load_config
from van_mm.checkpoint import (
    CheckpointError,
    dataset_meta,
    fit_to_model,
    load_whole_model,
)
from van_mm.checkpoint.whole_model import export_whole_model
from van_mm.models.archs import ARCHS
from van_mm.testing import randomize

SCENES = os.path.join('scenes', 'fpn_van_b0_scenes.py')
SCENE_CLASSES = ('sky', 'grass', 'water', 'road', 'building')


@functools.lru_cache(maxsize=None)
def _segmentor(seed, arch, classes):
    cfg = load(SCENES)
    cfg.model.backbone.update(init_cfg=None, arch=arch)
    cfg.model.neck.in_channels = ARCHS[arch]['embed_dims']
    cfg.model.decode_head.num_classes = classes
    init_default_scope('mmseg')
    return randomize(build_from_config(cfg), seed=seed)


def segmentor(seed=0, arch='b0', classes=len(SCENE_CLASSES)):
    """The scenes segmentor (Semantic FPN, plain BN) with random weights in
    eval mode, a new copy each time (built once: building is slow)."""
    return copy.deepcopy(_segmentor(seed, arch, classes))


def mmseg0_checkpoint(state_dict, **meta):
    """A file's contents as mmsegmentation 0.x's runner saves them (what
    VAN-Segmentation publishes): meta with CLASSES, PALETTE, versions, the
    config as text and env_info, beside the state dict and the
    optimizer."""
    return dict(
        meta=dict(CLASSES=SCENE_CLASSES,
                  PALETTE=[[180, 130, 70], [50, 170, 60], [30, 90, 180],
                           [90, 90, 90], [200, 110, 70]],
                  mmseg_version='0.26.0+4d6a1c1', mmcv_version='1.5.0',
                  config="model = dict(type='EncoderDecoder')\n",
                  env_info='sys.platform: linux\nPyTorch: 1.10.0',
                  seed=0, exp_name='fpn_van_b0_ade20k_40k.py',
                  epoch=1, iter=40000, time='Fri Mar 11 10:00:00 2022',
                  hook_msgs=dict(last_ckpt='work_dirs/iter_40000.pth'),
                  **meta),
        state_dict=state_dict,
        optimizer=dict(state={}, param_groups=[dict(lr=0.0, params=[])]))


def assert_same_tensors(a, b):
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert torch.equal(value, b[key]), key


def test_official_seg_keys_are_the_official_module_names():
    """VAN-Segmentation's backbone has the module names of the official
    classification code, without its head; a whole model exported to the
    official_seg layout has exactly those under backbone., the neck and
    heads unchanged."""
    model = segmentor()
    exported = export_whole_model(model.state_dict(), 'official_seg')
    official = official_keys(mmpretrain_van().state_dict())
    backbone = {k for k in exported if k.startswith('backbone.')}
    assert backbone == {f'backbone.{k}' for k in official}
    rest = {k for k in model.state_dict() if not k.startswith('backbone.')}
    assert set(exported) - backbone == rest


@pytest.mark.parametrize('layout,eps', [('van_mm', None), ('mmseg', 1e-5),
                                        ('official_seg', 1e-5)])
def test_every_whole_model_layout_loads_the_same_weights(layout, eps,
                                                         tmp_path):
    model = segmentor()
    path = str(tmp_path / f'{layout}.pth')
    torch.save(mmseg0_checkpoint(
        export_whole_model(model.state_dict(), layout)), path)

    fresh = segmentor(seed=1)
    meta = load_whole_model(fresh, path)
    assert_same_tensors(fresh.state_dict(), model.state_dict())
    assert {m.eps for m in fresh.backbone.modules()
            if isinstance(m, torch.nn.LayerNorm)} == {eps or 1e-6}
    assert dataset_meta(meta)['classes'] == SCENE_CLASSES


def test_van_segmentation_outputs_are_reproduced():
    """The official backbone with VAN-Segmentation's nn.LayerNorm (eps
    1e-5), its weights in a segmentor file: the loaded van_mm backbone
    gives its outputs, because the file's epsilon is used; the config's
    1e-6 would not."""
    # mmpretrain's VAN normalises its stages with eps 1e-5 too
    official = mmpretrain_van(seed=4)
    with torch.no_grad():  # features of variance ~1e-5, where eps matters
        for name, value in official.state_dict().items():
            if 'layer_scale' in name or '.norm.weight' in name and \
                    name.startswith('patch_embed') or \
                    '.norm.bias' in name and name.startswith('patch_embed'):
                value.mul_(0.003)
    model = segmentor()
    state = {f'backbone.{k}': v
             for k, v in official_keys(official.state_dict()).items()}
    state.update({k: v for k, v in model.state_dict().items()
                  if not k.startswith('backbone.')})
    x = image()
    fit = fit_to_model(mmseg0_checkpoint(state), model)
    model.load_state_dict(fit.state_dict)
    assert fit.layout.name == 'official_seg' and fit.ln_eps == 1e-5
    with torch.no_grad():
        ref = official(x)
        outs = model.backbone(x)
        for norm in model.backbone.modules():
            if isinstance(norm, torch.nn.LayerNorm):
                norm.eps = 1e-6
        config_eps = model.backbone(x)
    for a, b, c in zip(ref, outs, config_eps):
        assert (a - b).abs().max() <= 1e-5
        assert (a - c).abs().max() > 1e-2


def test_a_detector_with_an_official_backbone_loads():
    """An mmdet 2.x-era detector file: the official backbone under
    backbone., neck and heads with mmdet 3.x's names."""
    cfg = to_tiny_b0(load('maskrcnn_van_b0_1x.py'))
    init_default_scope('mmdet')
    model = randomize(build_from_config(cfg), seed=2)
    state = export_whole_model(model.state_dict(), 'official_seg')
    fresh = build_from_config(cfg)
    fresh.load_state_dict(fit_to_model(state, fresh).state_dict)
    assert_same_tensors(fresh.state_dict(), model.state_dict())


def misfit(checkpoint, model, **kwargs):
    with pytest.raises(CheckpointError) as err:
        fit_to_model(checkpoint, model, 'ckpt.pth', **kwargs)
    assert err.value.option == 'allow_partial_load'
    return str(err.value)


def test_wrong_arch_is_refused_with_the_keys_and_the_arch():
    b1 = segmentor(arch='b1')
    state = export_whole_model(b1.state_dict(), 'official_seg')
    msg = misfit(mmseg0_checkpoint(state), segmentor())
    assert msg.startswith('ckpt.pth does not fit the model (backbone layout '
                          'official_seg: official VAN-Segmentation')
    assert "84 model keys are missing from it (first: ['backbone.stages.0." \
        'blocks.2.' in msg  # b1 has one block less in stages 1-3
    assert "'backbone.stages.0.patch_embed.proj.weight' (64, 3, 7, 7) in " \
        'the checkpoint, (32, 3, 7, 7) in the model' in msg
    assert "its backbone looks like VAN arch 'b1'" in msg
    assert 'allow_partial_load=True' in msg


def test_wrong_task_is_refused():
    cfg = to_tiny_b0(load('maskrcnn_van_b0_1x.py'))
    init_default_scope('mmdet')
    detector = build_from_config(cfg)
    msg = misfit(detector.state_dict(), segmentor())
    assert 'decode_head.conv_seg.weight' in msg  # missing
    assert 'rpn_head.' in msg or 'roi_head.' in msg  # not in the model


def test_a_bare_backbone_is_refused_and_pointed_to_init_cfg(
        official_b0_state):
    with pytest.raises(CheckpointError, match=r'no backbone\.\* keys.*'
                       r'layout official.*init_cfg'):
        fit_to_model({'state_dict': official_b0_state}, segmentor())


def test_partial_load_keeps_what_fits():
    """Fine-tuning with another head: the backbone and neck load, the head
    keeps its initialisation."""
    source = segmentor()
    target = segmentor(seed=1, classes=3)
    head = target.decode_head.conv_seg.weight.clone()
    state = mmseg0_checkpoint(export_whole_model(source.state_dict(),
                                                 'official_seg'))
    assert 'decode_head.conv_seg.weight' in misfit(state, target)
    fit = fit_to_model(state, target, allow_partial=True)
    assert 'decode_head.conv_seg.weight' not in fit.state_dict
    target.load_state_dict(fit.state_dict, strict=False)
    assert torch.equal(target.decode_head.conv_seg.weight, head)
    assert torch.equal(target.backbone.stages[2].blocks[1].mlp.fc1.weight,
                       source.backbone.stages[2].blocks[1].mlp.fc1.weight)


def test_mmseg0_meta_gives_the_dataset_meta():
    meta = mmseg0_checkpoint({})['meta']
    assert dataset_meta(meta) == dict(
        classes=SCENE_CLASSES, palette=[tuple(c) for c in meta['PALETTE']])
    assert dataset_meta(dict(dataset_meta=dict(classes=('a', )))) == \
        dict(classes=('a', ))
    assert dataset_meta(dict(mmseg_version='0.26.0')) is None


def test_configs_and_tools_share_the_check(tmp_path):
    """build_from_config (visualize_attention, benchmark) refuses what the
    runner refuses."""
    model = segmentor(arch='b1')
    path = str(tmp_path / 'b1.pth')
    torch.save(mmseg0_checkpoint(export_whole_model(model.state_dict(),
                                                    'official_seg')), path)
    cfg = load_config(os.path.join(os.path.dirname(__file__), '..',
                                   'configs', SCENES))
    with pytest.raises(CheckpointError, match="looks like VAN arch 'b1'"):
        build_from_config(cfg, checkpoint=path)


def test_a_model_with_another_backbone_takes_its_checkpoint_as_saved():
    """The scenes segmentor with mmpretrain's VAN swapped in: its own state
    dict fits as saved (no layout mapping, which applies only to van_mm's
    VAN); a van_mm segmentor's does not, and the refusal says the keys
    were compared as saved."""
    model = segmentor()
    model.backbone = mmpretrain_van('tiny', randomized=False)
    state = randomize(copy.deepcopy(model), seed=1).state_dict()
    fit = fit_to_model({'state_dict': state, 'meta': {}}, model)
    assert not fit.mapped and fit.state_dict.keys() == state.keys()
    model.load_state_dict(fit.state_dict)
    assert torch.equal(model.backbone.norm4.weight,
                       state['backbone.norm4.weight'])
    msg = misfit(segmentor().state_dict(), model)
    assert "(keys as saved: the model's backbone is not van_mm's VAN" in msg
    assert "model keys are missing from it (first: ['backbone.patch_embed1." \
        in msg
    assert "keys are not in the model (first: ['backbone.stages.0." in msg
