"""The VAN backbone: shapes, sizes, maths and training switches."""
import math

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from helpers import ALL_ARCHS
from van_mm import VAN

# The paper's (and the official README's) parameter counts of the
# classification models, 1000-class head included, in M.
PAPER_PARAMS_M = {'b0': 4.1, 'b1': 13.9, 'b2': 26.6, 'b3': 44.8, 'b4': 60.3}


@pytest.mark.parametrize('arch', ALL_ARCHS)
@pytest.mark.parametrize('size', [(224, 224), (97, 131)])
def test_stage_shapes(arch, size):
    """B0 computes; the larger archs are built and run on the meta device,
    which gives the shapes without the arithmetic."""
    device = 'cpu' if arch == 'b0' else 'meta'
    with torch.device(device):
        model = VAN(arch=arch).eval()
    h, w = size
    with torch.no_grad():
        outs = model(torch.rand(1, 3, h, w, device=device))
    assert len(outs) == 4
    for i, (out, dims) in enumerate(zip(outs, model.embed_dims)):
        stride = 2**(i + 2)
        assert out.shape == (1, dims, math.ceil(h / stride),
                             math.ceil(w / stride))
        assert out.is_contiguous()


@pytest.mark.parametrize('out_indices', [(3, ), (1, 2), (0, 2), (0, )])
def test_out_indices_pick_stages(out_indices):
    model = VAN(arch='b0', out_indices=out_indices).eval()
    with torch.no_grad():
        outs = model(torch.rand(2, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [
        model.embed_dims[i] for i in out_indices
    ]
    assert [o.shape[-1] for o in outs] == [
        64 // 2**(i + 2) for i in out_indices]


def test_aliases_match_b_names():
    for alias, name in [('tiny', 'b0'), ('small', 'b1'), ('base', 'b2'),
                        ('large', 'b3')]:
        assert VAN.parse_arch(alias) == VAN.parse_arch(name)


def test_custom_arch_dict():
    arch = dict(embed_dims=[8, 16, 24, 32], depths=[1, 1, 2, 1],
                mlp_ratios=[2, 2, 2, 2])
    model = VAN(arch=arch).eval()
    outs = model(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [8, 16, 24, 32]
    assert sum(len(s.blocks) for s in model.stages) == 5


@pytest.mark.parametrize('arch', sorted(PAPER_PARAMS_M))
def test_classification_params_match_paper(arch):
    """Backbone + 1000-class linear head within 1% of the paper's count
    (built on the meta device: the count, no weights)."""
    with torch.device('meta'):
        model = VAN(arch=arch)
    head = model.embed_dims[-1] * 1000 + 1000
    params = sum(p.numel() for p in model.parameters()) + head
    assert params / 1e6 == pytest.approx(PAPER_PARAMS_M[arch], rel=0.01)


def test_drop_path_rises_linearly():
    model = VAN(arch='b0', drop_path_rate=0.3)
    rates = [
        getattr(b.drop_path, 'drop_prob', 0.) for s in model.stages
        for b in s.blocks
    ]
    assert rates[0] == 0 and rates[-1] == pytest.approx(0.3)
    assert rates == pytest.approx(torch.linspace(0, 0.3, 13).tolist())


def test_ln_eps_is_configurable():
    assert {s.norm.eps for s in VAN(arch='b0').stages} == {1e-6}
    assert {s.norm.eps for s in VAN(arch='b0', ln_eps=1e-5).stages} == {1e-5}


def test_syncbn_norm_cfg_builds_syncbn():
    model = VAN(arch='b0', norm_cfg=dict(type='SyncBN'))
    kinds = {type(m).__name__ for m in model.modules()
             if isinstance(m, _BatchNorm)}
    assert kinds == {'SyncBatchNorm'}


def test_frozen_stages_stop_grad_and_keep_bn_eval():
    """frozen_stages=1 freezes stages 0 and 1 (mmpretrain's meaning)."""
    model = VAN(arch='b0', frozen_stages=1)
    model.train()
    for i, stage in enumerate(model.stages):
        frozen = i <= 1
        assert all(p.requires_grad != frozen for p in stage.parameters())
        bns = [m for m in stage.modules() if isinstance(m, _BatchNorm)]
        assert all(bn.training != frozen for bn in bns)
    # Frozen BN statistics do not move in a training step.
    before = model.stages[0].patch_embed.norm.running_mean.clone()
    model(torch.rand(2, 3, 64, 64))[-1].sum().backward()
    assert torch.equal(before, model.stages[0].patch_embed.norm.running_mean)
    assert model.stages[0].patch_embed.proj.weight.grad is None
    assert model.stages[2].patch_embed.proj.weight.grad is not None


def test_norm_eval_keeps_all_bn_in_eval():
    model = VAN(arch='b0', norm_eval=True)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and not any(bn.training for bn in bns)
    # Other modules still train (dropout/drop path active).
    assert model.training and model.stages[0].training


def test_with_cp_same_outputs_and_grads():
    torch.manual_seed(0)
    plain = VAN(arch='b0')
    ckpt = VAN(arch='b0', with_cp=True)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 64, 96)
    grads = []
    for model in (plain, ckpt):
        model.train()
        outs = model(x)
        sum((o * (i + 1)).mean() for i, o in enumerate(outs)).backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
        if model is plain:
            ref_outs = outs
    for a, b in zip(ref_outs, outs):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name],
                                   rtol=1e-5, atol=1e-7, msg=name)


def test_channels_last_training_gives_the_same_loss_and_gradients():
    """channels_last=True: the stages run in channels_last, the outputs
    come back contiguous NCHW, and a training step (BN on batch statistics)
    gives the default model's loss and gradients to float rounding."""
    from van_mm.testing import randomize
    plain = randomize(VAN(arch='b0'))
    fast = VAN(arch='b0', channels_last=True)
    fast.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 64, 75, generator=torch.Generator().manual_seed(3))
    weights = [torch.randn(o.shape[1:]) for o in plain.train()(x)]
    inside = []  # the memory format a block of the fast model sees
    fast.stages[1].blocks[0].register_forward_hook(
        lambda module, args, out: inside.append(
            args[0].is_contiguous(memory_format=torch.channels_last)))
    losses, grads = [], []
    for model in (plain, fast):
        model.train().zero_grad()
        outs = model(x)
        assert all(o.is_contiguous() for o in outs)
        loss = sum((o * w).mean() for o, w in zip(outs, weights))
        loss.backward()
        losses.append(loss.item())
        grads.append({n: p.grad for n, p in model.named_parameters()})
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)
    # A conv bias right before a train-mode BN has zero gradient in exact
    # arithmetic: its rounding noise is measured against the model's
    # gradient scale, every other gradient against its own largest value.
    scale = max(g.abs().max() for g in grads[0].values())
    for name, ref in grads[0].items():
        err = (grads[1][name] - ref).abs().max() / max(ref.abs().max(),
                                                       1e-3 * scale)
        assert err <= 1e-4, f'{name}: relative gradient error {err:.1e}'
    assert inside == [True]


def test_unknown_arch_is_a_clear_error():
    with pytest.raises(KeyError, match="Unknown VAN arch 'b9'.*b0"):
        VAN(arch='b9')
    with pytest.raises(KeyError, match='embed_dims'):
        VAN(arch=dict(embed_dims=[8] * 4, depths=[1] * 4))


def test_bad_out_indices_is_a_clear_error():
    with pytest.raises(ValueError, match='out_indices'):
        VAN(arch='b0', out_indices=(4, ))
