"""Configs: every one loads and builds in a newcomer's environment (a fresh
virtual environment: its own sys.prefix, the standard library elsewhere,
no pkg_resources as with setuptools >= 81), and they log to TensorBoard
only where it is installed."""
import glob
import importlib.util
import os
import site
import subprocess
import sys
import textwrap

import pytest

from helpers import CONFIGS, REPO, load

ALL_CONFIGS = sorted(
    os.path.relpath(p, CONFIGS)
    for p in glob.glob(os.path.join(CONFIGS, '**', '*.py'), recursive=True)
    if '_base_' not in p.split(os.sep))


@pytest.fixture(scope='module')
def newcomer_python(tmp_path_factory):
    """The interpreter of a fresh venv that sees this environment's packages
    (as ``--system-site-packages`` would for a base install)."""
    venv = tmp_path_factory.mktemp('newcomer') / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip',
                    str(venv)], check=True)
    python = venv / 'bin' / 'python'
    venv_site = subprocess.run(
        [str(python), '-c', 'import site; print(site.getsitepackages()[0])'],
        capture_output=True, text=True, check=True).stdout.strip()
    outer = [p for p in site.getsitepackages() if os.path.isdir(p)]
    with open(os.path.join(venv_site, 'outer_env.pth'), 'w') as f:
        f.write('import site; ' + '; '.join(
            f'site.addsitedir({p!r})' for p in outer) + '\n')
    return str(python)


SCRIPT = textwrap.dedent('''
    import sys
    sys.modules['pkg_resources'] = None  # as with setuptools >= 81
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
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(
            [REPO, os.path.join(REPO, 'tests')])),
        capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line.split() for line in out.stdout.splitlines()]
    assert [w[1] for w in lines if w[0] == 'loaded'] == ALL_CONFIGS
    built = [w[1] for w in lines if w[0] == 'built']
    assert {os.path.basename(p).split('_van_')[0] for p in built} >= {
        'retinanet', 'maskrcnn', 'faster_rcnn', 'cascade_maskrcnn', 'atss',
        'gfl', 'sparsercnn', 'mask2former', 'fpn', 'upernet', 'lightham'}


def newcomer_env():
    return dict(os.environ, PYTHONPATH=REPO)


def test_install_check_passes_in_a_fresh_venv(newcomer_python):
    """scripts/install.sh ends with this check."""
    out = subprocess.run(
        [newcomer_python, '-c', 'import sys; '
         "sys.modules['pkg_resources'] = None; import runpy; "
         "runpy.run_path('scripts/check_install.py', run_name='__main__')"],
        cwd=REPO, env=newcomer_env(), capture_output=True, text=True,
        timeout=600)
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
