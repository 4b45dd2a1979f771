"""Configs: every one loads and builds in a newcomer's environment (a fresh
virtual environment over the stack, van_mm installed from a wheel: its own
sys.prefix, the standard library elsewhere), a missing pkg_resources is
named with the fix, and they log to TensorBoard only where it is
installed."""
import glob
import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

from helpers import CONFIGS, REPO, load, newcomer_env

ALL_CONFIGS = sorted(
    os.path.relpath(p, CONFIGS)
    for p in glob.glob(os.path.join(CONFIGS, '**', '*.py'), recursive=True)
    if '_base_' not in p.split(os.sep))


SCRIPT = textwrap.dedent('''
    import sys
    import van_mm  # noqa: F401  (as van_mm's tools do first)
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, init_default_scope

    from helpers import to_tiny_b0
    from van_mm.apis import load_config
    assert sys.prefix != sys.base_prefix, 'not in a virtual environment'
    built = []
    for path in sys.argv[1:]:
        cfg = load_config(path)
        print('loaded', path)
        model = to_tiny_b0(cfg).model
        if model in built:
            continue  # the same tiny model as a config built already
        built.append(model)
        init_default_scope(cfg.default_scope)
        model = revert_sync_batchnorm(MODELS.build(model))
        print('built', path, sum(p.numel() for p in model.parameters()))
''')


def test_every_config_loads_and_builds_in_a_fresh_venv(newcomer_python):
    """Every config loads; every distinct model they give with the tests'
    VAN-B0 backbone builds (the B0-B3 configs of a framework give one)."""
    out = subprocess.run(
        [newcomer_python, '-c', SCRIPT, *ALL_CONFIGS], cwd=CONFIGS,
        env=newcomer_env(PYTHONPATH=os.path.join(REPO, 'tests')),
        capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line.split() for line in out.stdout.splitlines()]
    assert [w[1] for w in lines if w[0] == 'loaded'] == ALL_CONFIGS
    built = [w[1] for w in lines if w[0] == 'built']
    assert {os.path.basename(p).split('_van_')[0] for p in built} >= {
        'retinanet', 'maskrcnn', 'faster_rcnn', 'cascade_maskrcnn', 'atss',
        'gfl', 'sparsercnn', 'mask2former', 'fpn', 'upernet', 'lightham'}


def test_install_check_passes_in_a_fresh_venv(newcomer_python):
    """scripts/install.sh ends with this check."""
    out = subprocess.run(
        [newcomer_python, 'scripts/check_install.py'], cwd=REPO,
        env=newcomer_env(), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert '2 configs load' in out.stdout


def test_install_check_fails_loudly_on_a_config_that_cannot_load(
        newcomer_python, tmp_path):
    """A config whose base imports a module (as this project's configs once
    did for TensorBoard) loads in a base interpreter but not in a
    newcomer's venv: the check names it and exits 1."""
    (tmp_path / 'with_import.py').write_text(
        'import importlib.util\n'
        "tensorboard = importlib.util.find_spec('tensorboard') is not None\n")
    bad = tmp_path / 'imports_in_config.py'
    bad.write_text("_base_ = ['mmdet::_base_/default_runtime.py', "
                   "'./with_import.py']\n")
    out = subprocess.run(
        [newcomer_python, 'scripts/check_install.py', str(bad)], cwd=REPO,
        env=newcomer_env(), capture_output=True, text=True, timeout=600)
    assert out.returncode == 1
    assert 'cannot load these configs' in out.stderr
    assert 'imports_in_config.py' in out.stderr


def test_a_missing_pkg_resources_is_named_with_the_fix(monkeypatch):
    """mmengine 0.10.7 finds mmdet:: and mmseg:: bases through
    pkg_resources (setuptools<81, a requirement of van_mm): where it is
    missing anyway, van_mm's tools say what to install."""
    from van_mm.apis import load_config
    monkeypatch.setitem(sys.modules, 'pkg_resources', None)
    path = os.path.join(CONFIGS, 'retinanet_van_b0_1x.py')
    with pytest.raises(ModuleNotFoundError,
                       match=r"retinanet_van_b0_1x.py: mmengine 0.10.7 .*"
                       r"pip install 'setuptools<81'"):
        load_config(path)


def test_configs_log_to_tensorboard_only_when_it_is_installed(
        tmp_path, monkeypatch):
    """Every config names the TensorBoard backend; it writes event files
    where tensorboard is installed and nothing (instead of failing) where
    it is not."""

    from mmengine.registry import VISBACKENDS

    for name in ('maskrcnn_van_b0_1x.py', 'fpn_van_b0_ade20k_40k.py',
                 'sparsercnn_van_b2_3x.py'):
        assert load(name).visualizer.vis_backends[-1] == dict(
            type='TensorboardIfInstalledVisBackend'), name

    find_spec = importlib.util.find_spec
    if find_spec('tensorboard') is not None:
        backend = VISBACKENDS.build(dict(
            type='TensorboardIfInstalledVisBackend',
            save_dir=str(tmp_path / 'with')))
        backend.add_scalars({'loss': 1.0}, step=1)
        backend.close()
        assert list((tmp_path / 'with').glob('events.out.tfevents.*'))
    monkeypatch.setattr(
        importlib.util, 'find_spec', lambda name, *args: None
        if name == 'tensorboard' else find_spec(name, *args))
    backend = VISBACKENDS.build(dict(
        type='TensorboardIfInstalledVisBackend',
        save_dir=str(tmp_path / 'without')))
    backend.add_scalars({'loss': 1.0}, step=1)
    backend.close()
    assert not list(tmp_path.glob('without/events.*'))


def test_a_config_is_formatted_once_however_often_it_is_shown():
    """mmengine formats the config's text with yapf for the log, the work
    dir, the visualizer and every checkpoint (van_mm.compat memoises it):
    the same text comes back without formatting again, and a changed
    config is formatted anew."""
    import mmengine.config.config as config_module
    cfg = load('fpn_van_b0_ade20k_40k.py')
    first = cfg.pretty_text
    before = config_module.FormatCode.cache_info()
    assert cfg.pretty_text == first
    after = config_module.FormatCode.cache_info()
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)
    cfg.model.decode_head.num_classes = 7
    assert 'num_classes=7' in cfg.pretty_text
    assert config_module.FormatCode.cache_info().misses == before.misses + 1


def test_mmdet_bases_are_found_without_rereading_every_metafile(
        monkeypatch):
    """mmengine reads all of mmdet's metafiles for each ``mmdet::`` base
    (van_mm.compat reads them once per process): every lookup gives
    mmengine's own answer (an entry, or the ValueError after which mmengine
    takes the path under ``.mim/configs``), and a second config reads no
    metafile."""
    import mmengine.config.utils as config_utils
    import mmengine.fileio
    from mmengine.config import Config
    from mmengine.utils import get_installed_path
    ours = config_utils._get_cfg_metainfo
    mmengines = ours.replaces
    mmdet = get_installed_path('mmdet')

    def outcome(lookup, name):
        try:
            return lookup(mmdet, name)
        except ValueError:
            return ValueError
    names = ['mask_rcnn/mask-rcnn_r50_fpn_1x_coco',
             'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
             '_base_/models/retinanet_r50_fpn.py', 'no/such_config.py']
    outcomes = [outcome(ours, n) for n in names]
    assert outcomes == [outcome(mmengines, n) for n in names]
    assert isinstance(outcomes[1], dict) and outcomes[2] is ValueError
    path, scope = Config._get_cfg_path('mmdet::_base_/default_runtime.py',
                                       'any.py')
    assert scope == 'mmdet' and path == os.path.join(
        mmdet, '.mim', 'configs', '_base_', 'default_runtime.py')

    load('retinanet_van_b0_1x.py')  # bases of mmdet
    load('fpn_van_b0_ade20k_40k.py')  # and of mmseg
    read = []
    original = mmengine.fileio.load

    def reading(file, *args, **kwargs):
        read.append(str(file))
        return original(file, *args, **kwargs)
    for module in (mmengine.fileio, config_utils):  # ours, mmengine's
        monkeypatch.setattr(module, 'load', reading)
    load('atss_van_b2_3x.py')
    load('upernet_van_b2_ade20k_160k.py')
    assert not read
