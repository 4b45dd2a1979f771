"""The model zoo (configs/metafile.yml, model-index.yml, README table) says
what the configs say."""
import os

import pytest
import yaml

from helpers import DET_PARAMS_M, REPO, SEG_PARAMS_M, load
from van_mm import model_zoo as zoo
from van_mm.pretrained import PRETRAINED


@pytest.fixture(scope='module')
def metafile():
    return zoo.read_metafile(REPO)


def test_model_index_imports_the_metafile():
    with open(os.path.join(REPO, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    assert index == {'Import': ['configs/metafile.yml']}


def test_every_config_has_one_entry(metafile):
    assert sorted(metafile) == zoo.config_names(REPO)
    assert set(zoo.config_names(REPO)) == {
        os.path.splitext(n)[0] for n in {**DET_PARAMS_M, **SEG_PARAMS_M}}
    for name, entry in metafile.items():
        assert os.path.isfile(os.path.join(REPO, entry['Config']))


@pytest.mark.parametrize('name', sorted(
    os.path.splitext(n)[0] for n in {**DET_PARAMS_M, **SEG_PARAMS_M}))
def test_entry_matches_its_config(name, metafile):
    """Arch and pretrained URL as in the config; parameters as the
    configs build (DET/SEG_PARAMS_M, checked against the built models by
    the detection and segmentation tests); results as the paper's."""
    info, meta = zoo.describe(REPO, name), metafile[name]['Metadata']
    assert meta['Architecture'] == [info['framework'],
                                    f'VAN-{info["arch"].upper()}']
    assert meta['Pretrained'] == info['pretrained']
    assert meta['Training Schedule'] == info['schedule']
    params = {**DET_PARAMS_M, **SEG_PARAMS_M}[f'{name}.py']
    assert meta['Parameters'] / 1e6 == pytest.approx(params, rel=0.01)
    results = metafile[name].get('Results')
    assert (results[0]['Metrics'] if results else None) == zoo.PAPER[name]


def test_readme_tables_are_up_to_date():
    with open(zoo.readme_path(REPO), encoding='utf-8') as f:
        assert f.read() == zoo.rendered_readme(REPO), (
            'README.md model zoo is stale: run python tools/model_zoo.py '
            '--write-readme')


@pytest.mark.parametrize('name', sorted(PRETRAINED))
def test_arch_bases_name_the_published_weights(name):
    """configs/_base_/models/van_{arch}[_22k].py (what configs read) and
    van_mm.pretrained (what README lists) name the same file."""
    from van_mm.archs import ARCHS
    arch, data = name.split('.')
    base = f'{arch}_22k' if data == 'in22k' else arch
    van = load(os.path.join('_base_', 'models', f'{base}.py')).van
    assert van.arch == PRETRAINED[name].arch == arch[len('van_'):]
    assert van.pretrained == PRETRAINED[name].checkpoint
    assert van.channels == ARCHS[van.arch]['embed_dims']
    assert van.stage3_channels == ARCHS[van.arch]['embed_dims'][2]


def test_official_trained_models_are_listed_with_their_results(metafile):
    """Every trained model the authors published is linked from the config
    with its settings, and every segmentation result says whether it was
    tested on one scale or with multi-scale + flip."""
    assert len(zoo.TRAINED) == 10  # UperNet B2-B6, Semantic FPN B0-B3
    for name, url in zoo.TRAINED.items():
        assert metafile[name]['Weights'] == url
        assert metafile[name]['Results'][0]['Metrics']
    for name, results in zoo.PAPER.items():
        if results and name.startswith(('fpn', 'upernet')):
            assert list(results) == [
                'mIoU(ss)' if name.startswith('fpn') else 'mIoU(ms+flip)']
