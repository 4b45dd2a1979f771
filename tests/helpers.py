"""Helpers shared by the config and tool tests."""
import importlib.util
import os
import subprocess
import sys

from mmengine.config import Config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(REPO, 'configs')

# Small test settings for any VAN config: B0 without pretrained weights and
# with plain BN, so that a config builds and runs quickly on a CPU.
B0_DIMS = [32, 64, 160, 256]


def load(name: str) -> Config:
    return Config.fromfile(os.path.join(CONFIGS, name))


def params_m(model) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


def to_tiny_b0(cfg: Config) -> Config:
    """The config's model with a randomly initialised VAN-B0 backbone."""
    cfg.model.backbone.update(
        arch='b0', init_cfg=None, drop_path_rate=0.,
        norm_cfg=dict(type='BN', requires_grad=True))
    neck = cfg.model.get('neck')
    if neck is not None and 'in_channels' in neck:
        neck.in_channels = B0_DIMS
    return cfg


def lighten(cfg: Config) -> Config:
    """Fewer proposals and sampled RoIs, so two-stage models step quickly
    on a CPU (mmcv's CPU RoIAlign dominates otherwise)."""

    def visit(node):
        if isinstance(node, (list, tuple)):
            for item in node:
                visit(item)
        elif isinstance(node, dict):
            for key in ('rpn', 'rpn_proposal'):
                if isinstance(node.get(key), dict):
                    node[key].update(nms_pre=200, max_per_img=50)
            if isinstance(node.get('sampler'), dict) and \
                    'num' in node['sampler']:
                node['sampler']['num'] = 32
            if 'max_per_img' in node and 'mask_thr_binary' in node:
                node['max_per_img'] = 20  # rcnn test: fewer masks to paste
            for value in node.values():
                visit(value)

    visit(cfg.model.get('train_cfg'))
    visit(cfg.model.get('test_cfg'))
    if cfg.model.get('rpn_head', {}).get('type') == 'EmbeddingRPNHead':
        cfg.model.rpn_head.num_proposals = 20  # Sparse R-CNN
        cfg.model.test_cfg.rcnn.max_per_img = 20
    return cfg


# --cfg-options for quick tool runs: batch 2, data loaded in the main
# process, a log line every iteration.
QUICK_RUN = [
    'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    'default_hooks.logger.interval=1',
]


def iters(n, interval=None):
    """--cfg-options for ``n`` training iterations, validating and saving
    every ``interval`` (default: at the end)."""
    interval = interval or n
    return [f'train_cfg.max_iters={n}', f'train_cfg.val_interval={interval}',
            f'default_hooks.checkpoint.interval={interval}']


def load_tool(name):
    """``tools/{name}.py`` imported as a module, to call its functions."""
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(args, cwd, timeout=900, env=None):
    """Run a repo script (``tools/*.py`` or ``*.sh``) and return its output;
    fail with the tail of the log if it exits non-zero."""
    script = os.path.join(REPO, args[0])
    cmd = (['bash', script] if script.endswith('.sh') else
           [sys.executable, script]) + [str(a) for a in args[1:]]
    full_env = dict(os.environ, **(env or {}))
    full_env.setdefault('OMP_NUM_THREADS', '2')
    out = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True,
                         text=True, timeout=timeout)
    log = out.stdout + out.stderr
    assert out.returncode == 0, f'{" ".join(cmd)} failed:\n{log[-4000:]}'
    return log
