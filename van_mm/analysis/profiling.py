# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Timing inference and reading memory use: what ``tools/benchmark.py`` and
``benchmarks/`` measure with."""
import contextlib
import json
import os
import os.path as osp
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Sequence

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.hooks import Hook

from van_mm.apis import data_sample
from van_mm.registry import HOOKS, register


def make_inputs(cfg: Config, model: nn.Module, batch: int, height: int,
                width: int, backbone_only: bool) -> Callable[[], object]:
    """A function that runs one inference of ``model`` on a random batch.

    The backbone gets a float tensor; a detector or segmentor gets uint8
    images and data samples through its ``test_step`` (pre-processing,
    network and post-processing, as ``tools/test.py`` runs it).
    """
    g = torch.Generator().manual_seed(0)
    if backbone_only:
        x = torch.rand(batch, 3, height, width, generator=g)
        if next(model.parameters()).is_contiguous(
                memory_format=torch.channels_last):
            x = x.contiguous(memory_format=torch.channels_last)
        device = next(model.parameters()).device
        x = x.to(device)
        return lambda: model(x)
    data = dict(
        inputs=[torch.randint(0, 256, (3, height, width), dtype=torch.uint8,
                              generator=g) for _ in range(batch)],
        data_samples=[data_sample(cfg, height, width) for _ in range(batch)])
    return lambda: model.test_step(data)


def to_channels_last(model: nn.Module, backbone_only: bool) -> nn.Module:
    """``model`` in the channels_last memory format, as ``--channels-last``
    means it. A whole model with a VAN backbone gets VAN's own option: the
    stages run in channels_last and hand their outputs on contiguous, so
    the neck and heads see the layout they were written for (mmcv's CPU
    RoIAlign reads channels_last maps as if they were NCHW: converting a
    whole Mask R-CNN gives wrong detections, and so does converting only
    the backbone's weights). A bare backbone, or a model whose backbone has
    no such option, is converted whole."""
    backbone = None if backbone_only else getattr(model, 'backbone', None)
    if hasattr(backbone, 'channels_last'):
        backbone.to(memory_format=torch.channels_last)
        backbone.channels_last = True
        return model
    return model.to(memory_format=torch.channels_last)


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (``/proc/self/clear_refs``), so
    that ``rss_mib('VmHWM')`` measures from now on."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def rss_mib(field_name: str = 'VmRSS', pid='self') -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last reset) of this
    process (or of process ``pid``) in MiB."""
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(field_name + ':'):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f'{field_name} not in /proc/self/status')


def child_pids(pid='self') -> List[int]:
    """The processes this process (or ``pid``) started, e.g. its data-loader
    workers."""
    root = f'/proc/{pid}/task'
    found = []
    for task in os.listdir(root):
        with open(osp.join(root, task, 'children')) as f:
            found += [int(p) for p in f.read().split()]
    return found


@register(HOOKS)
class MemorySamplerHook(Hook):
    """Sample the resident memory of the training process and of its
    children (data-loader workers) every ``interval`` iterations, and write
    the samples to ``WORK_DIR/out_file`` (JSON) when training ends.

    Args:
        interval (int): Iterations between samples.
        out_file (str): File name in the work directory.
    """

    def __init__(self, interval: int = 10, out_file: str = 'memory.json'):
        self.interval = interval
        self.out_file = out_file
        self.samples: List[Dict] = []

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if (runner.iter + 1) % self.interval:
            return
        workers = 0.
        for pid in child_pids():
            with contextlib.suppress(OSError, RuntimeError):
                workers += rss_mib(pid=pid)
        self.samples.append(dict(iter=runner.iter + 1, main_mib=rss_mib(),
                                 workers_mib=workers))

    def after_train(self, runner) -> None:
        with open(osp.join(runner.work_dir, self.out_file), 'w') as f:
            json.dump(self.samples, f, indent=1)


@dataclass
class Timing:
    """Latencies of one case, in seconds."""
    name: str
    batch: int
    times: List[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def spread(self) -> float:
        """Interquartile range over the median, in percent."""
        if len(self.times) < 4:
            return float('nan')
        q = statistics.quantiles(self.times, n=4)
        return 100 * (q[2] - q[0]) / self.median

    @property
    def images_per_s(self) -> float:
        return self.batch / self.median


def time_cases(cases: Dict[str, Callable[[], object]], batch: int,
               repeat: int, warmup: int = 2, device: str = 'cpu',
               inference: bool = True) -> Dict[str, Timing]:
    """Time several functions round-robin (one run of each in turn), so
    that load on a shared machine hits all of them alike.

    Runs under ``torch.inference_mode`` unless ``inference`` is False
    (training steps); ``warmup`` untimed runs first.
    """
    def sync():
        if device.startswith('cuda'):
            torch.cuda.synchronize()

    timings = {name: Timing(name, batch) for name in cases}
    with (torch.inference_mode() if inference else
          contextlib.nullcontext()):
        for _ in range(warmup):
            for run in cases.values():
                run()
        sync()
        for _ in range(repeat):
            for name, run in cases.items():
                start = time.perf_counter()
                run()
                sync()
                timings[name].times.append(time.perf_counter() - start)
    return timings


def bf16_autocast(enabled: bool, device: str = 'cpu'):
    """``torch.autocast`` to bfloat16 on ``device``, or a no-op."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.split(':')[0], dtype=torch.bfloat16)


def max_relative_error(ref: Sequence[torch.Tensor],
                       outs: Sequence[torch.Tensor]) -> float:
    """Largest ``max|a - b| / max|a|`` over pairs of outputs."""
    return max(((a.float() - b.float()).abs().max() /
                a.float().abs().max()).item() for a, b in zip(ref, outs))
