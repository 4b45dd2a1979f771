"""Helpers shared by the tests: tiny inputs, configs made small, the
official VAN layout written from the official module names, and running the
tools of ``tools/`` in this process or, where the process is the point, as a
user runs them."""
import contextlib
import copy
import functools
import importlib
import io
import itertools
import os
import re
import shutil
import site
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

import torch
from mmengine.config import Config

from van_mm.testing import (  # noqa: F401  (the tests' names for them)
    B0_DIMS,
    lighten,
    to_tiny_b0,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(REPO, 'configs')

ALL_ARCHS = ['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6']

# Parameter counts (M) of the configs' models. Detection: the paper's
# figures (RetinaNet 13.4/23.6/36.3/54.5M, Mask R-CNN 23.9/33.5/46.2/64.4M,
# 3x Mask R-CNN 46M, Cascade Mask R-CNN 84M, ATSS 34M, GFL 34M) reproduced
# with mmdet 3.3's heads to two decimals; Sparse R-CNN, Faster R-CNN and
# Mask2Former have no published count (these are the built models').
# Segmentation: the paper's Semantic FPN 8/18/30/49M and UperNet
# 32/44/57/75M, and the VAN-Segmentation README's UperNet B4 90M and B6
# 231M, reproduced with mmseg 1.2's FPN/FPNHead and UPerHead/FCNHead; no
# count is published for Semantic FPN B4. UperNet B5: the README says 117M,
# which its own config (widths 96/192/480/768, depths 3/3/24/3; the
# backbone alone is the paper's 90M) cannot give: it builds 121.89M, at
# 1205G FLOPs against the README's 1208G. Light-Ham: the Enjoy-Hamburger
# README's 4.2/13.8/27.4/45.6M with mmseg 1.2's LightHamHead.
DET_PARAMS_M = {
    'retinanet_van_b0_1x.py': 13.39,
    'retinanet_van_b1_1x.py': 23.60,
    'retinanet_van_b2_1x.py': 36.32,
    'retinanet_van_b3_1x.py': 54.50,
    'maskrcnn_van_b0_1x.py': 23.89,
    'maskrcnn_van_b1_1x.py': 33.52,
    'maskrcnn_van_b2_1x.py': 46.23,
    'maskrcnn_van_b3_1x.py': 64.42,
    'maskrcnn_van_b2_3x.py': 46.23,
    'cascade_maskrcnn_van_b2_3x.py': 84.07,
    'sparsercnn_van_b2_3x.py': 108.18,
    'atss_van_b2_3x.py': 34.18,
    'gfl_van_b2_3x.py': 34.33,
    'faster_rcnn_van_b0_1x.py': 21.24,
    'faster_rcnn_van_b1_1x.py': 30.87,
    'faster_rcnn_van_b2_1x.py': 43.59,
    'faster_rcnn_van_b3_1x.py': 61.78,
    'mask2former_van_b2_panoptic_50e.py': 45.87,
}
SEG_PARAMS_M = {
    'fpn_van_b0_ade20k_40k.py': 7.98,
    'fpn_van_b1_ade20k_40k.py': 17.62,
    'fpn_van_b2_ade20k_40k.py': 30.33,
    'fpn_van_b3_ade20k_40k.py': 48.52,
    'upernet_van_b0_ade20k_160k.py': 32.13,
    'upernet_van_b1_ade20k_160k.py': 43.84,
    'upernet_van_b2_ade20k_160k.py': 56.55,
    'upernet_van_b3_ade20k_160k.py': 74.74,
    'lightham_van_b0_ade20k_160k.py': 4.21,
    'lightham_van_b1_ade20k_160k.py': 13.83,
    'lightham_van_b2_ade20k_160k.py': 27.42,
    'lightham_van_b3_ade20k_160k.py': 45.61,
    'fpn_van_b4_ade20k_40k.py': 64.04,
    'upernet_van_b4_ade20k_160k.py': 90.26,
    'upernet_van_b4_22k_ade20k_160k.py': 90.26,
    'upernet_van_b5_22k_ade20k_160k.py': 121.89,
    'upernet_van_b6_22k_ade20k_160k.py': 231.48,
}

# Generated data of the session's workspace (conftest.py): folder names as
# the shapes and scenes configs' data roots name them, and their sizes.
SHAPES = dict(num_train=8, num_val=4, seed=1)
SCENES = dict(num_train=6, num_val=3, seed=2)
PANOPTIC = dict(num_train=8, num_val=4, seed=1)

DET_CONFIG = os.path.join(CONFIGS, 'shapes', 'maskrcnn_van_b0_shapes.py')
SEG_CONFIG = os.path.join(CONFIGS, 'scenes', 'fpn_van_b0_scenes.py')


def load(name: str) -> Config:
    """``configs/NAME`` as loaded by Config.fromfile; a copy of the
    process's first load of it, which the caller may change."""
    return copy.deepcopy(_loaded(name))


@functools.lru_cache(maxsize=None)
def _loaded(name: str) -> Config:
    import van_mm  # noqa: F401  (configs load as van_mm's tools load them)
    return Config.fromfile(os.path.join(CONFIGS, name))


def image(*shape, seed=1):
    """A reproducible random input, by default (2, 3, 97, 131)."""
    return torch.rand(*(shape or (2, 3, 97, 131)),
                      generator=torch.Generator().manual_seed(seed))


def pretrained(path, arch='b0', **kwargs):
    """A VAN of ``arch`` initialised from ``path`` as configs do it
    (``init_cfg``), in eval mode."""
    from van_mm import VAN
    model = VAN(arch=arch, init_cfg=dict(type='Pretrained', checkpoint=path),
                **kwargs)
    model.init_weights()
    return model.eval()


def random_checkpoint(config, classes, path):
    """A randomly initialised model of ``config`` saved as the runner saves
    it (state dict + dataset meta)."""
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, init_default_scope

    from van_mm.apis import load_config
    cfg = load_config(config)
    init_default_scope(cfg.default_scope)
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'classes': classes}}}, path)
    return str(path)


def params_m(model) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


# The official VAN-Classification module names (its models/van.py:
# ``patch_embed{s}.proj``, ``block{s}.{j}.attn.spatial_gating_unit.conv0``
# and ``.conv_spatial``, ``block{s}.{j}.mlp.dwconv.dwconv``, ``norm{s}``,
# ``head``), written here from mmpretrain's names for the same modules
# (``patch_embed{s}.projection``, ``blocks{s}.{j}``, ``DW_conv``,
# ``DW_D_conv``, ``mlp.dwconv``). The tests make official files with this
# map, never with van_mm's converter, which they check.
MMPRETRAIN_TO_OFFICIAL = [
    (r'^patch_embed(\d)\.projection\.', r'patch_embed\1.proj.'),
    (r'^blocks(\d)\.', r'block\1.'),
    (r'\.spatial_gating_unit\.DW_conv\.', '.spatial_gating_unit.conv0.'),
    (r'\.spatial_gating_unit\.DW_D_conv\.',
     '.spatial_gating_unit.conv_spatial.'),
    (r'\.mlp\.dwconv\.', '.mlp.dwconv.dwconv.'),
]


def official_keys(mmpretrain_state):
    """mmpretrain's VAN backbone state dict under the official names."""
    out = {}
    for key, value in mmpretrain_state.items():
        for pattern, replacement in MMPRETRAIN_TO_OFFICIAL:
            key = re.sub(pattern, replacement, key)
        out[key] = value
    return out


def mmpretrain_van(arch='tiny', ln_eps=1e-5, seed=5, randomized=True):
    """mmpretrain's own VAN (an independent implementation), all four
    stages out, in eval mode: with random weights, BN statistics and layer
    scales (van_mm.testing.randomize: every tensor matters), or as
    initialised. ``ln_eps``: its stage LayerNorms' epsilon (mmpretrain's
    default 1e-5; the official classification code's 1e-6)."""
    from mmpretrain.registry import MODELS

    from van_mm.testing import randomize

    # The scope prefix: another test may have set mmdet/mmseg as the
    # default scope, where 'VAN' is van_mm's.
    model = MODELS.build(dict(
        type='mmpretrain.VAN', arch=arch, out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='LN', eps=ln_eps)))
    if randomized:
        return randomize(model, seed=seed)
    model.eval()  # not chained: mmpretrain's train() returns None
    return model


def official_checkpoint(reference, num_classes=1000, seed=0, **extras):
    """What the official VAN-Classification files hold, made from
    ``reference`` (an mmpretrain VAN): ``{'state_dict': ...}`` with the
    official keys and a ``head`` of ``num_classes``, plus ``extras`` (what
    timm's training script adds beside it)."""
    state = official_keys(reference.state_dict())
    g = torch.Generator().manual_seed(seed)
    dims = reference.embed_dims[-1]
    state['head.weight'] = torch.randn(num_classes, dims, generator=g) * 0.1
    state['head.bias'] = torch.randn(num_classes, generator=g) * 0.1
    return dict(state_dict=state, **extras)


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
# ... and without validation during training (tools/test.py evaluates).
NO_VAL = ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None']


def iters(n, interval=None):
    """--cfg-options for ``n`` training iterations, validating and saving
    every ``interval`` (default: at the end)."""
    interval = interval or n
    return [f'train_cfg.max_iters={n}', f'train_cfg.val_interval={interval}',
            f'default_hooks.checkpoint.interval={interval}']


# The detector of the tool runs: the shapes config with fewer proposals and
# RoIs, so that each iteration is quick.
DET_LIGHT = [
    'model.train_cfg.rpn_proposal.max_per_img=50',
    'model.train_cfg.rcnn.sampler.num=32',
    'model.test_cfg.rpn.max_per_img=50',
    'model.test_cfg.rcnn.max_per_img=20',
    *QUICK_RUN,
]

# Deterministic segmentor runs whose data come from one worker process
# each: resumed runs must match uninterrupted ones, and a signal to the
# whole process group (as Slurm and Ctrl-C send it) reaches the data-loader
# worker too.
EXACT = [
    *QUICK_RUN,
    *NO_VAL,
    'train_dataloader.num_workers=1',
    'train_dataloader.persistent_workers=True',
    'randomness.seed=0',
    'randomness.deterministic=True',
]
SEG_ITERS = 5


def segmentor_run(work, *options, n=SEG_ITERS, interval=2, resume=False):
    """tools/train.py's arguments for an EXACT run of the scenes segmentor
    (checkpoints every ``interval`` iterations and at the end)."""
    return [SEG_CONFIG, '--work-dir', work,
            *(['--resume'] if resume else []),
            '--cfg-options', *EXACT, *iters(n, interval), *options]


@dataclass
class ToolRun:
    """A finished tool run: exit code and what it printed."""
    code: int
    out: str
    err: str

    @property
    def log(self) -> str:
        return self.out + self.err


class _Tee(io.TextIOBase):
    """Passes writes on to ``stream`` and, while ``recording``, keeps them
    (loggers created during a run keep writing here after it)."""

    def __init__(self, stream):
        self.stream = stream
        self.kept = io.StringIO()
        self.recording = True

    def write(self, text):
        if self.recording:
            self.kept.write(text)
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()

    @property
    def encoding(self):
        return getattr(self.stream, 'encoding', 'utf-8')


_loggers = itertools.count()


def _wait_for_a_new_runner_name():
    """mmengine names a runner's logger, message hub and log folder
    ``{config}_%Y%m%d_%H%M%S`` after the second the runner is built in, and
    hands out the existing logger for a name it knows: a runner built in the
    same second as an earlier one in this process (the earlier run may have
    built its runner a second after it started) would log to that run's
    streams. Wait while a runner of the current second exists; the new one
    is built in this second or later."""
    from mmengine.logging import MMLogger
    while any(name.endswith(time.strftime('_%Y%m%d_%H%M%S'))
              for name in list(MMLogger._instance_dict)):
        time.sleep(0.05)


def _forget_visualizers():
    """What a new process has: no visualizer yet. mmengine hands out one
    instance per name, and mmdet's and mmseg's configs all name theirs
    'visualizer': a run in this process would otherwise draw with an
    earlier run's (its save_dir, its dataset)."""
    from mmengine.visualization import Visualizer
    classes = [Visualizer]
    while classes:
        cls = classes.pop()
        cls._instance_dict.clear()
        classes.extend(cls.__subclasses__())


def run(tool, *args, cwd) -> ToolRun:
    """``tools/{tool}.py ARGS`` run in this process: the function the script
    calls (``van_mm.cli.{tool}.main``), in ``cwd``, its output kept. A
    ``SystemExit`` becomes the exit code, its message printed to stderr as
    the interpreter prints it."""
    from mmengine.logging import MMLogger
    main = importlib.import_module(f'van_mm.cli.{tool}').main
    _wait_for_a_new_runner_name()
    _forget_visualizers()
    out, err = _Tee(sys.stdout), _Tee(sys.stderr)
    here = os.getcwd()
    deterministic = torch.are_deterministic_algorithms_enabled()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            # print_log(logger='current') of code outside a runner
            MMLogger.get_instance(f'van_mm_tests_{next(_loggers)}')
            try:
                code = main([str(a) for a in args]) or 0
            except SystemExit as e:
                code = e.code
                if isinstance(code, str):
                    print(code, file=sys.stderr)
                code = 1 if isinstance(code, str) else code or 0
    finally:
        out.recording = err.recording = False
        os.chdir(here)
        torch.use_deterministic_algorithms(deterministic)
    return ToolRun(code, out.kept.getvalue(), err.kept.getvalue())


def ok(tool, *args, cwd) -> str:
    """:func:`run`, failing with the end of the log unless it exits 0;
    the log."""
    result = run(tool, *args, cwd=cwd)
    assert result.code == 0, f'{tool} exited {result.code}:\n' \
        f'{result.log[-4000:]}'
    return result.log


def run_script(args, cwd, timeout=900, env=None):
    """Run a repo script (``tools/*.py``, ``*.sh``) as a user does, in a
    process of its own with this interpreter; the finished process
    (``returncode``, ``stdout``, ``stderr``)."""
    script = os.path.join(REPO, args[0])
    cmd = (['bash', script] if script.endswith('.sh') else
           [sys.executable, script]) + [str(a) for a in args[1:]]
    full_env = dict(os.environ, **(env or {}))
    full_env.setdefault('OMP_NUM_THREADS', '2')
    full_env.setdefault('PYTHON', sys.executable)  # for the .sh launchers
    return subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def script_ok(args, cwd, timeout=900, env=None):
    """:func:`run_script`, failing with the end of the log unless it exits
    0; the log."""
    out = run_script(args, cwd, timeout, env)
    log = out.stdout + out.stderr
    assert out.returncode == 0, f'{args[0]} failed:\n{log[-4000:]}'
    return log


def fresh_venv(root: Path) -> Tuple[str, Path]:
    """A new virtual environment over this one's packages (the stack's:
    what ``--system-site-packages`` gives a venv over an installed stack,
    without this environment's own .pth files, such as an editable
    van_mm); its interpreter and its own site-packages."""
    venv = root / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip',
                    str(venv)], check=True)
    python = str(venv / 'bin' / 'python')
    own = Path(subprocess.run(
        [python, '-c', 'import site; print(site.getsitepackages()[0])'],
        capture_output=True, text=True, check=True).stdout.strip())
    outer = [p for p in site.getsitepackages() if os.path.isdir(p)]
    # site reads .pth files in name order: the stack's paths ('_' sorts
    # first), then setuptools' distutils shim, part of the stack (without
    # it Python 3.12 has no distutils, which mmengine imports to log the
    # environment)
    (own / '_stack_env.pth').write_text(''.join(f'{p}\n' for p in outer))
    for path in outer:
        shim = Path(path) / 'distutils-precedence.pth'
        if shim.is_file():
            shutil.copy(shim, own / shim.name)
    return python, own


def newcomer_env(**extra):
    """The environment of a newcomer's process: no PYTHONPATH pointing at
    this checkout."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    return dict(env, **extra)


def pip_into(python: str, *args) -> subprocess.CompletedProcess:
    """This environment's pip, working on the environment of ``python``."""
    return subprocess.run([sys.executable, '-m', 'pip', '--python', python,
                           *args], capture_output=True, text=True,
                          env=newcomer_env())

