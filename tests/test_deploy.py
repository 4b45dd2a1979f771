"""Inference fast paths give the outputs of the normal model: deploy mode
(BN and layer scale folded, LKA's dilated conv phase by phase, MLP in bands
of rows) and channels_last; a deployed model is also built directly
(``VAN(deploy=True)``) and loads a switched model's state dict."""
import copy

import pytest
import torch
import torch.nn as nn

from van_mm import VAN
from van_mm.models.fusion import RowBands, phase_split_conv
from van_mm.models.van import ConvMlp
from van_mm.testing import randomize

RTOL = 1e-4


def image(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def assert_close(ref, outs):
    """Each output within 1e-4 of the reference, relative to its range."""
    assert len(ref) == len(outs)
    for i, (a, b) in enumerate(zip(ref, outs)):
        assert a.shape == b.shape
        err = ((a - b).abs().max() / a.abs().max()).item()
        assert err <= RTOL, f'output {i}: relative error {err:.2e}'


# Folding is per block and does not depend on the depth: one arch of each
# width family (b0; b1-b4 share 64-512; b5 and b6 96-768, with 480 and 384
# in stage 3).
@pytest.mark.parametrize('arch', ['b0', 'b1', 'b5'])
def test_deploy_mode_matches_normal_mode(arch):
    model = randomize(VAN(arch=arch))
    deployed = copy.deepcopy(model)
    deployed.switch_to_deploy()
    x = image(1, 3, 67, 93)
    with torch.no_grad():
        assert_close(model(x), deployed(x))
    names = {name for name, _ in deployed.named_modules()}
    assert not any(n.endswith(('norm1', 'norm2')) for n in names)
    assert not any('layer_scale' in n for n, _ in deployed.named_parameters())


@pytest.mark.parametrize('deploy', [False, True])
def test_channels_last_matches_and_stays_channels_last(deploy):
    model = randomize(VAN(arch='b0'))
    fast = copy.deepcopy(model)
    if deploy:
        fast.switch_to_deploy()
    fast = fast.to(memory_format=torch.channels_last)
    x = image(2, 3, 64, 75)
    with torch.no_grad():
        outs = fast(x.to(memory_format=torch.channels_last))
        assert_close(model(x), outs)
    assert all(o.is_contiguous(memory_format=torch.channels_last)
               for o in outs)


@pytest.mark.parametrize('size', [(24, 24), (25, 31), (7, 5)])
def test_phase_split_conv_equals_dilated_conv(size):
    conv = nn.Conv2d(6, 6, 7, padding=9, dilation=3, groups=6)
    x = image(2, 6, *size)
    with torch.no_grad():
        assert_close([conv(x)], [phase_split_conv(x, conv)])


def test_mlp_bands_equal_the_whole_mlp():
    """Bands of rows with one row of context give the unbanded result, at
    the image borders too (band of 3 rows over 10)."""
    mlp = randomize(ConvMlp(8, 32))
    x = image(2, 8, 10, 7)
    with torch.no_grad():
        ref = mlp(x)
        mlp.deploy = True
        mlp.bands = RowBands(band_bytes=2 * 32 * 7 * 4 * 3, above_bytes=0)
        assert_close([ref], [mlp(x)])


@pytest.mark.parametrize('built', [False, True],
                         ids=['switched', 'built deployed'])
def test_deployed_model_refuses_to_train(built):
    model = VAN(arch='b0', deploy=built)
    if not built:
        model.switch_to_deploy()
    assert not model.training
    with pytest.raises(RuntimeError, match='deploy mode'):
        model.train()


@pytest.mark.parametrize('phase_split', [True, False])
def test_deployed_model_is_built_directly_and_loads_a_switched_one(
        phase_split):
    """VAN(deploy=True) has the switched model's modules and state dict
    (the same keys and shapes whichever way LKA computes), loads it
    strictly and gives its outputs."""
    switched = randomize(VAN(arch='b0'))
    switched.switch_to_deploy(phase_split=phase_split)
    built = VAN(arch='b0', deploy=True)
    assert {k: v.shape for k, v in built.state_dict().items()} == \
        {k: v.shape for k, v in switched.state_dict().items()}
    built.load_state_dict(switched.state_dict())
    built.switch_to_deploy(phase_split=phase_split)  # only the option
    x = image(1, 3, 61, 77)
    with torch.no_grad():
        assert_close(switched(x), built(x))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in built.modules())


def test_fused_convs_keep_the_dtype_and_device():
    """A bfloat16 model is folded into bfloat16 convolutions."""
    model = randomize(VAN(arch='b0')).to(torch.bfloat16)
    model.switch_to_deploy()
    dtypes = {p.dtype for p in model.parameters()}
    assert dtypes == {torch.bfloat16}
    assert model.stages[0].blocks[0].shortcut_scale.dtype == torch.bfloat16
