"""The model zoo (configs/metafile.yml, model-index.yml, README table) says
what the configs say."""
import os

import pytest
import yaml

from helpers import REPO, load_tool
from test_detection import DET_PARAMS_M
from test_segmentation import SEG_PARAMS_M

zoo = load_tool('model_zoo')


@pytest.fixture(scope='module')
def metafile():
    with open(zoo.METAFILE) as f:
        return {m['Name']: m for m in yaml.safe_load(f)['Models']}


def test_model_index_imports_the_metafile():
    with open(os.path.join(REPO, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    assert index == {'Import': ['configs/metafile.yml']}


def test_every_config_has_one_entry(metafile):
    assert sorted(metafile) == zoo.config_names()
    assert set(zoo.config_names()) == {
        os.path.splitext(n)[0] for n in {**DET_PARAMS_M, **SEG_PARAMS_M}}
    for name, entry in metafile.items():
        assert os.path.isfile(os.path.join(REPO, entry['Config']))


@pytest.mark.parametrize('name', sorted(
    os.path.splitext(n)[0] for n in {**DET_PARAMS_M, **SEG_PARAMS_M}))
def test_entry_matches_its_config(name, metafile):
    """Arch and pretrained URL as in the config; parameters as the
    configs build (DET/SEG_PARAMS_M, checked against the built models by
    the detection and segmentation tests); results as the paper's."""
    info, meta = zoo.describe(name), metafile[name]['Metadata']
    assert meta['Architecture'] == [info['framework'],
                                    f'VAN-{info["arch"].upper()}']
    assert meta['Pretrained'] == info['pretrained']
    assert meta['Training Schedule'] == info['schedule']
    params = {**DET_PARAMS_M, **SEG_PARAMS_M}[f'{name}.py']
    assert meta['Parameters'] / 1e6 == pytest.approx(params, rel=0.01)
    results = metafile[name].get('Results')
    assert (results[0]['Metrics'] if results else None) == zoo.PAPER[name]


def test_readme_table_is_up_to_date():
    text, start, end = zoo.readme_block()
    assert text[start:end] == zoo.render(), (
        'README.md model zoo is stale: run python tools/model_zoo.py '
        '--write-readme')
