"""Building VAN from OpenMMLab registries. (A user's config outside this
repository, with ``custom_imports``, in a fresh interpreter: see
test_install.py.)"""
import pytest
import torch

import van_mm


def _check(model):
    assert isinstance(model, van_mm.VAN)
    outs = model.eval()(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [64, 128, 320, 512]


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_build_as_VAN_in_downstream_scopes(scope):
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    _check(registry.build(dict(type='VAN', arch='b1', out_indices=(0, 1, 2,
                                                                   3))))


def test_build_scoped_name_in_mmpretrain():
    from mmpretrain.registry import MODELS
    _check(MODELS.build(dict(type='van_mm.VAN', arch='b1')))
