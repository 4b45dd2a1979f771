"""Loading official VAN-Classification checkpoints into the backbone."""
import argparse
import os

import pytest
import torch

from helpers import (
    image,
    load,
    mmpretrain_van,
    official_checkpoint,
    pretrained,
)
from van_mm import VAN
from van_mm.checkpoint import (
    CheckpointError,
    convert_state_dict,
    load_file,
    load_pretrained,
    unwrap,
)


def test_official_file_gives_official_outputs(official_b0, official_b0_file):
    """An official file's weights give what an independent implementation
    (mmpretrain's VAN with the official LayerNorm epsilon) computes with
    them: every stage within 1e-5."""
    model = pretrained(official_b0_file)
    x = image()
    with torch.no_grad():
        ref = official_b0(x)
        outs = model(x)
    for i, (a, b) in enumerate(zip(ref, outs)):
        assert a.shape == b.shape
        assert (a - b).abs().max().item() <= 1e-5, f'stage {i}'


def test_every_official_tensor_is_used(official_b0_state):
    converted = convert_state_dict(official_b0_state)
    assert converted.layout.name == 'official'
    assert sorted(converted.dropped) == ['head.bias', 'head.weight']
    assert converted.state_dict.keys() == VAN(arch='b0').state_dict().keys()


def test_backbone_prefix_of_a_detector_is_stripped(official_b0_state):
    det = {f'backbone.{k}': v for k, v in official_b0_state.items()}
    det['neck.lateral_convs.0.conv.weight'] = torch.zeros(1)
    converted = convert_state_dict(unwrap({'state_dict': det}))
    assert converted.state_dict.keys() == VAN(arch='b0').state_dict().keys()
    assert 'neck.lateral_convs.0.conv.weight' in converted.dropped


def test_wrong_arch_names_first_mismatching_key(official_b0_file):
    with pytest.raises(CheckpointError) as err:
        pretrained(official_b0_file, arch='b1')
    msg = str(err.value)
    assert 'stages.0.patch_embed.proj.weight' in msg
    assert '(32, 3, 7, 7)' in msg and '(64, 3, 7, 7)' in msg
    assert "looks like arch 'b0'" in msg
    assert official_b0_file in msg


def test_missing_checkpoint_names_the_path(tmp_path):
    path = str(tmp_path / 'nowhere' / 'van_b0.pth')
    with pytest.raises(FileNotFoundError, match='nowhere/van_b0.pth'):
        pretrained(path)


def test_not_a_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / 'image.pth'
    path.write_bytes(b'\x89PNG not a checkpoint')
    with pytest.raises(CheckpointError, match='image.pth'):
        pretrained(str(path))


def test_detector_config_loads_official_weights(tmp_path):
    """configs/maskrcnn_van_b2_1x.py with init_cfg pointing at an official
    VAN-B2 file ends up with exactly those weights in its backbone."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    official = official_checkpoint(mmpretrain_van('base', seed=3))
    path = str(tmp_path / 'van_base_828.pth.tar')
    torch.save(official, path)

    cfg = load('maskrcnn_van_b2_1x.py')
    cfg.model.backbone.init_cfg.checkpoint = path
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    expected = convert_state_dict(official['state_dict']).state_dict
    loaded = detector.backbone.state_dict()
    assert loaded.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key


def test_timm_training_file_loads_without_allow_pickle(official_b0_state,
                                                       tmp_path):
    """What timm's training script saves (it wrote the official weights):
    args as an argparse.Namespace, optimizer, AMP scaler, metric."""
    path = str(tmp_path / 'van_tiny_754.pth.tar')
    torch.save(dict(
        epoch=299, arch='van_tiny', state_dict=official_b0_state,
        optimizer=dict(state={}, param_groups=[dict(lr=1e-5, params=[])]),
        version=2, metric=75.4,
        amp_scaler=dict(scale=65536.0, growth_factor=2.0,
                        backoff_factor=0.5, growth_interval=2000,
                        _growth_tracker=100),
        args=argparse.Namespace(model='van_tiny', lr=1e-3, drop_path=0.1,
                                mean=None, input_size=[3, 224, 224])), path)
    assert load_file(path)['args'].model == 'van_tiny'
    model = VAN(arch='b0')
    load_pretrained(model, path)
    expected = convert_state_dict(official_b0_state).state_dict
    for key, value in expected.items():
        assert torch.equal(model.state_dict()[key], value), key


class Payload:
    """Unpickling this runs a command: what the allow-list must refuse."""

    def __reduce__(self):
        return (os.system, ('echo unpickled',))


def test_a_file_that_runs_code_is_still_refused(official_b0_state,
                                                tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict=official_b0_state,
                    args=argparse.Namespace(hook=Payload())), path)
    with pytest.raises(CheckpointError, match='allow_pickle'):
        load_file(path)
