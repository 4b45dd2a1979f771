"""Every published VAN checkpoint layout loads, round-trips, and gives the
outputs of the implementation it came from."""
import pytest
import torch

from helpers import (
    B0_DIMS,
    image,
    load,
    mmpretrain_van,
    official_keys,
    pretrained,
)
from van_mm import VAN
from van_mm.checkpoint import LAYOUTS, export_state_dict, read_converted
from van_mm.cli.convert_checkpoint import convert_file
from van_mm.models.archs import ARCHS
from van_mm.testing import randomize

B0_DEPTHS = ARCHS['b0']['depths']
ATOL = 1e-5


def assert_stages_close(ref, outs):
    assert len(ref) == len(outs) == 4
    for i, (a, b) in enumerate(zip(ref, outs)):
        assert a.shape == b.shape, f'stage {i}'
        diff = (a - b).abs().max().item()
        assert diff <= ATOL, f'stage {i}: max abs diff {diff}'


def hf_van(with_head=False):
    """HuggingFace transformers' VAN-B0, random weights."""
    try:
        import transformers
        transformers.VanConfig  # gone from transformers 5
    except (ImportError, AttributeError):
        pytest.skip("HuggingFace VAN needs the test extra 'transformers<5' "
                    '(later releases dropped models/deprecated/van); '
                    'scripts/install.sh installs it')
    config = transformers.VanConfig(
        hidden_sizes=B0_DIMS, depths=B0_DEPTHS, mlp_ratios=[8, 8, 4, 4],
        num_labels=7)
    cls = (transformers.VanForImageClassification
           if with_head else transformers.VanModel)
    return randomize(cls(config), seed=7)


@pytest.mark.parametrize('layout', [layout.name for layout in LAYOUTS])
def test_round_trip_through_each_layout(layout, tmp_path):
    """van_mm -> layout -> van_mm gives identical tensors, the layout is
    recognised from the keys, and a linear head survives where the layout
    has one."""
    weights = randomize(VAN(arch='b0')).state_dict()
    head = dict(weight=torch.randn(7, 256), bias=torch.randn(7))
    has_head = next(lay for lay in LAYOUTS if lay.name == layout).head
    path = str(tmp_path / f'{layout}.pth')
    torch.save({'state_dict': export_state_dict(
        weights, layout, head if has_head else None)}, path)

    converted = read_converted(path)
    assert converted.layout.name == layout
    assert converted.state_dict.keys() == weights.keys()
    for key, value in weights.items():
        assert torch.equal(converted.state_dict[key], value), key
    if has_head:
        assert all(torch.equal(converted.head[k], head[k]) for k in head)


@pytest.mark.parametrize('layout,reference', [
    ('official', lambda: official_keys(mmpretrain_van().state_dict())),
    ('mmpretrain',
     lambda: {f'backbone.{k}': v for k, v in mmpretrain_van().state_dict()
              .items()}),
    ('hf', lambda: {k: v for k, v in hf_van(True).state_dict().items()
                    if not k.startswith(('van.layernorm', 'classifier'))}),
])
def test_exported_keys_are_those_of_the_real_implementation(
        layout, reference):
    exported = export_state_dict(VAN(arch='b0').state_dict(), layout)
    expected = {k: v for k, v in reference().items() if not k.startswith(
        'head.')}
    assert exported.keys() == expected.keys()
    for key, value in expected.items():
        assert exported[key].shape == value.shape, key


@pytest.mark.parametrize('with_head', [False, True],
                         ids=['VanModel.safetensors',
                              'VanForImageClassification.bin'])
def test_huggingface_file_gives_huggingface_outputs(with_head, tmp_path):
    """A randomly initialised transformers VAN, saved as transformers does
    (save_pretrained: model.safetensors) or as a plain torch state dict of
    the classifier, loads into van_mm with every stage within 1e-5."""
    hf = hf_van(with_head)
    if with_head:
        path = str(tmp_path / 'pytorch_model.bin')
        torch.save(hf.state_dict(), path)
        encoder = hf.van
    else:
        hf.save_pretrained(tmp_path)
        path = str(tmp_path / 'model.safetensors')
        encoder = hf
    model = pretrained(path, ln_eps=hf.config.layer_norm_eps)
    with torch.no_grad():
        ref = encoder(image(), output_hidden_states=True).hidden_states
        assert_stages_close(ref, model(image()))


def test_mmpretrain_file_gives_mmpretrain_outputs(tmp_path):
    """mmpretrain's VAN normalises stages with eps 1e-5: with ln_eps=1e-5
    van_mm reproduces it within 1e-5."""
    reference = mmpretrain_van()
    path = str(tmp_path / 'van-tiny_8xb128_in1k.pth')
    state = {f'backbone.{k}': v for k, v in reference.state_dict().items()}
    state.update({'head.fc.weight': torch.randn(7, 256),
                  'head.fc.bias': torch.randn(7)})
    torch.save({'state_dict': state, 'meta': {}}, path)
    model = pretrained(path, ln_eps=1e-5)
    with torch.no_grad():
        assert_stages_close(reference(image()), model(image()))


def test_layernorm_eps_mismatch_is_reported(tmp_path, monkeypatch):
    """mmseg's VAN trained with eps 1e-5; a default (1e-6) backbone loads the
    weights and warns with the setting that reproduces them."""
    import van_mm.checkpoint.loading
    logged = []
    monkeypatch.setattr(van_mm.checkpoint.loading, 'print_log',
                        lambda msg, **kwargs: logged.append(msg))
    path = str(tmp_path / 'mmseg_van_b0.pth')
    weights = randomize(VAN(arch='b0')).state_dict()
    torch.save({'state_dict': export_state_dict(weights, 'mmseg')}, path)
    pretrained(path)
    assert any('layout: mmseg' in msg for msg in logged)
    assert any('Set ln_eps=1e-05' in msg for msg in logged)
    logged.clear()
    pretrained(path, ln_eps=1e-5)
    assert not any('ln_eps' in msg for msg in logged)


@pytest.mark.parametrize('suffix', ['.pth', '.safetensors'])
def test_converted_file_remembers_layernorm_eps(suffix, tmp_path):
    """mmpretrain weights converted to van_mm still say eps 1e-5, so loading
    them later warns about the right value."""
    src = str(tmp_path / 'mmpretrain.pth')
    weights = randomize(VAN(arch='b0')).state_dict()
    torch.save({'state_dict': export_state_dict(weights, 'mmpretrain')}, src)
    dst = str(tmp_path / f'van_b0{suffix}')
    convert_file(src, dst)
    converted = read_converted(dst)
    assert converted.layout.name == 'van_mm'
    assert converted.ln_eps == 1e-5
    assert all(torch.equal(converted.state_dict[k], v)
               for k, v in weights.items())


def test_segmentor_config_loads_huggingface_weights(tmp_path):
    """configs/fpn_van_b0_ade20k_40k.py with init_cfg pointing at a
    transformers model.safetensors ends up with exactly those weights."""
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules()
    hf = hf_van()
    hf.save_pretrained(tmp_path)
    cfg = load('fpn_van_b0_ade20k_40k.py')
    cfg.model.backbone.init_cfg.checkpoint = str(tmp_path /
                                                 'model.safetensors')
    cfg.model.backbone.norm_cfg = dict(type='BN', requires_grad=True)
    segmentor = MODELS.build(cfg.model)
    segmentor.init_weights()
    loaded = segmentor.backbone.state_dict()
    expected = export_state_dict(loaded, 'hf')
    hf_state = {k: v for k, v in hf.state_dict().items()
                if not k.startswith('layernorm.')}  # pooled-feature norm
    assert expected.keys() == {f'van.{k}' for k in hf_state}
    for key, value in expected.items():
        assert torch.equal(value, hf_state[key[len('van.'):]]), key
