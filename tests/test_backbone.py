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


def test_mmpretrain_arch_names_and_ffn_ratios():
    for alias, name in [('t', 'b0'), ('s', 'b1'), ('b', 'b2'), ('l', 'b3')]:
        assert VAN.parse_arch(alias) == VAN.parse_arch(name)
    arch = dict(embed_dims=[8, 16, 24, 32], depths=[1, 1, 2, 1],
                ffn_ratios=[2, 2, 2, 2])
    assert VAN.parse_arch(arch) == dict(
        embed_dims=[8, 16, 24, 32], depths=[1, 1, 2, 1],
        mlp_ratios=[2, 2, 2, 2])


def test_mmseg_top_level_arch_keys():
    """mmseg projects/van's embed_dims/depths (and mlp_ratios) define the
    arch without `arch`, must agree with an `arch` given too, and
    num_stages builds the first stages."""
    with torch.device('meta'):
        b2 = VAN(embed_dims=[64, 128, 320, 512], depths=[3, 3, 12, 3])
        same = VAN(arch='b2', embed_dims=[64, 128, 320, 512])
        three = VAN(arch='b0', num_stages=3)
    assert b2.arch_settings == same.arch_settings == VAN.parse_arch('b2')
    assert three.embed_dims == [32, 64, 160] and three.out_indices == (0, 1,
                                                                        2)
    assert len(three.stages) == 3


@pytest.mark.parametrize('kwargs,message', [
    (dict(arch='b1', depths=[3, 3, 5, 2]),
     r"depths=\[3, 3, 5, 2\] disagrees with arch='b1', whose depths are "
     r'\[2, 2, 4, 2\]'),
    (dict(embed_dims=[32, 64, 160, 256]),
     'embed_dims given without depths.*Write both, or name an arch'),
    (dict(num_stages=5), 'num_stages=5, but the arch has 4 stages'),
    (dict(frozen_stages=4), r'frozen_stages=4: write -1 .* or k in 0\.\.3'),
    (dict(patch_sizes=[7, 3]), 'patch_sizes must be a list of positive '
     r'ints, one kernel size per stage \(4\)'),
    (dict(norm_cfg=dict(type='LN'), ln_eps=1e-6),
     "ln_eps=1e-06 and norm_cfg=.*eps 1e-05.* disagree"),
    (dict(norm_cfg=dict(type='LN', elementwise_affine=False)),
     r"takes eps and requires_grad only: remove \['elementwise_affine'\]"),
    (dict(block_cfgs=[dict()]), 'block_cfgs must be one dict'),
    (dict(block_cfgs=dict(drop_rate=0.1)),
     r"block_cfgs takes \['norm_cfg', 'act_cfg', 'layer_scale_init_value'"
     r"\], not \['drop_rate'\]"),
    (dict(block_cfgs=dict(layer_scale_init_value=0)),
     'layer_scale_init_value must be a number > 0'),
    (dict(block_cfgs=dict(norm_cfg=dict(type='LN'))),
     'block_cfgs.norm_cfg sets the norms inside the blocks'),
    (dict(act_cfg=dict(type='ReLU'), block_cfgs=dict(act_cfg=dict(
        type='GELU'))), "act_cfg=.* and block_cfgs.act_cfg=.* disagree"),
    (dict(init_cfg=dict(checkpoint='x.pth')), 'init_cfg must be a dict '
     'with a type'),
    (dict(pretrained=3), 'pretrained must be a checkpoint path or URL'),
])
def test_a_wrong_peer_argument_says_what_to_write(kwargs, message):
    with pytest.raises((ValueError, TypeError, KeyError), match=message):
        with torch.device('meta'):
            VAN(**kwargs)


def test_norm_cfg_rule():
    """A BatchNorm norm_cfg sets the block and patch-embedding norms; a
    LayerNorm one (mmpretrain's) the stage norms, the blocks' BN then from
    block_cfgs, the patch embeddings' plain BN (as mmpretrain's)."""

    def kinds(model, part):
        return {type(m).__name__ for s in model.stages
                for m in getattr(s, part).modules()
                if isinstance(m, _BatchNorm)}

    with torch.device('meta'):
        seg = VAN(norm_cfg=dict(type='SyncBN', requires_grad=True))
        cls = VAN(norm_cfg=dict(type='LN', eps=1e-6, requires_grad=False),
                  block_cfgs=dict(norm_cfg=dict(type='SyncBN')))
        mixed = VAN(block_cfgs=dict(norm_cfg=dict(type='SyncBN')))
    assert kinds(seg, 'patch_embed') == kinds(seg, 'blocks') == {
        'SyncBatchNorm'}
    assert {s.norm.eps for s in seg.stages} == {1e-6}
    assert kinds(cls, 'patch_embed') == {'BatchNorm2d'}
    assert kinds(cls, 'blocks') == {'SyncBatchNorm'}
    assert {s.norm.eps for s in cls.stages} == {1e-6}
    assert not any(p.requires_grad for s in cls.stages
                   for p in s.norm.parameters())
    assert kinds(mixed, 'patch_embed') == {'BatchNorm2d'}
    assert kinds(mixed, 'blocks') == {'SyncBatchNorm'}


def test_activations_and_layer_scale():
    """act_cfg (mmseg's) is the MLPs' activation, the attention keeping
    GELU; block_cfgs' act_cfg (mmpretrain's) is both; block_cfgs'
    layer_scale_init_value the layer scales' start."""
    with torch.device('meta'):
        mlp_only = VAN(act_cfg=dict(type='ReLU'))
        both = VAN(block_cfgs=dict(act_cfg=dict(type='ReLU'),
                                   layer_scale_init_value=0.1))
    block = mlp_only.stages[0].blocks[0]
    assert isinstance(block.mlp.act, torch.nn.ReLU)
    assert isinstance(block.attn.activation, torch.nn.GELU)
    block = VAN(block_cfgs=dict(layer_scale_init_value=0.1)).stages[0].blocks[
        0]
    assert torch.equal(block.layer_scale_1, torch.full((32, ), 0.1))
    block = both.stages[0].blocks[0]
    assert isinstance(block.mlp.act, torch.nn.ReLU)
    assert isinstance(block.attn.activation, torch.nn.ReLU)


def test_patch_sizes_set_kernel_and_stride():
    """mmpretrain's rule: stride size // 2 + 1, padding size // 2."""
    with torch.device('meta'):
        model = VAN(patch_sizes=[5, 3, 3, 1]).eval()
    assert [s.patch_embed.proj.kernel_size for s in model.stages] == [
        (5, 5), (3, 3), (3, 3), (1, 1)]
    assert model.strides == [3, 2, 2, 1]
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 60, 60, device='meta'))
    assert [o.shape[-1] for o in outs] == [20, 10, 5, 5]


def test_init_cfg_list_after_the_official_init():
    """init_cfg as a list (mmengine allows it): the official random init,
    then each listed initialiser on the layers it names."""
    torch.manual_seed(0)
    model = VAN(init_cfg=[dict(type='Constant', layer='LayerNorm', val=2.),
                          dict(type='Constant', layer='Linear', val=1.)])
    model.init_weights()
    assert all(bool((s.norm.weight == 2).all()) for s in model.stages)
    conv = model.stages[0].patch_embed.proj
    assert conv.weight.std().item() == pytest.approx(
        (2 / (7 * 7 * 32))**0.5, rel=0.2)  # the official fan-out init
    for empty in (dict(), []):  # mmseg's van_fpn.py writes init_cfg=dict()
        VAN(init_cfg=empty).init_weights()


def test_pretrained_becomes_init_cfg(official_b0_file):
    """pretrained (deprecated, as in mmseg's backbones): the same weights
    as init_cfg=dict(type='Pretrained', ...), with a FutureWarning."""
    from helpers import pretrained
    with pytest.warns(FutureWarning, match='pretrained is deprecated; '
                      r"write init_cfg=dict\(type='Pretrained'"):
        model = VAN(pretrained=official_b0_file)
    assert model.init_cfg == dict(type='Pretrained',
                                  checkpoint=official_b0_file)
    model.init_weights()
    reference = pretrained(official_b0_file).state_dict()
    assert model.state_dict().keys() == reference.keys()
    assert all(torch.equal(v, reference[k])
               for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match='both initialise the backbone: '
                       r'give one.*set model\.pretrained=None'):
        VAN(pretrained=official_b0_file,
            init_cfg=dict(type='Pretrained', checkpoint=official_b0_file))


def test_weights_that_are_not_a_van_are_refused(tmp_path):
    """By name (mmengine's model zoo: open-mmlab://, torchvision://...)
    when built; by their keys (a ResNet's) when loaded, before training
    starts. Weights that came from `pretrained` (mmseg's EncoderDecoder
    hands it model.pretrained) say to set model.pretrained=None."""
    for name in ('open-mmlab://resnet50_v1c', 'torchvision://resnet50'):
        with pytest.raises(ValueError, match='is not VAN weights.*model '
                           r'zoo.*set model\.pretrained=None'):
            VAN(pretrained=name)
        with pytest.raises(ValueError, match=r'is not VAN weights.*or set '
                           r'init_cfg=None'):
            VAN(init_cfg=dict(type='Pretrained', checkpoint=name))
    path = str(tmp_path / 'resnet18.pth')
    torch.save({'state_dict': {
        'conv1.weight': torch.zeros(64, 3, 7, 7),
        'bn1.weight': torch.ones(64),
        'layer1.0.conv1.weight': torch.zeros(64, 64, 3, 3),
        'fc.weight': torch.zeros(1000, 512)}}, path)
    with pytest.warns(FutureWarning):
        model = VAN(pretrained=path)
    from van_mm.checkpoint import NotVanCheckpoint
    with pytest.raises(NotVanCheckpoint, match=r"not VAN weights in any "
                       r"known layout.*'conv1\.weight'.*set "
                       r'model\.pretrained=None'):
        model.init_weights()
