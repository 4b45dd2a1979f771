"""Building VAN from OpenMMLab registries and from config files."""
import os
import subprocess
import sys
import textwrap

import pytest
import torch

import van_mm

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def test_config_outside_repo_with_custom_imports(tmp_path):
    """A user's own config: custom_imports alone makes type='VAN' work."""
    cfg = tmp_path / 'my_cfg.py'
    cfg.write_text(textwrap.dedent("""
        custom_imports = dict(imports=['van_mm'], allow_failed_imports=False)
        model = dict(type='VAN', arch='b0', out_indices=(1, 3))
    """))
    script = textwrap.dedent(f"""
        import torch
        from mmengine.config import Config
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules
        register_all_modules()
        cfg = Config.fromfile({str(cfg)!r})
        model = MODELS.build(cfg.model).eval()
        print(type(model).__module__,
              [tuple(o.shape) for o in model(torch.rand(1, 3, 64, 64))])
    """)
    # Run from the config's folder in a fresh interpreter, so nothing from
    # this test session (van_mm already imported) helps.
    env = dict(os.environ, PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, '-c', script], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[0] == 'van_mm.models.van'
    assert '(1, 64, 8, 8), (1, 256, 2, 2)' in out.stdout
