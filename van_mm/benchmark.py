# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Building models from configs and timing them: what ``tools/benchmark.py``,
``tools/get_flops.py`` and ``benchmarks/`` share."""
import contextlib
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.config import Config

from van_mm.tools import data_sample


def build_from_config(cfg: Config, backbone_only: bool = False,
                      checkpoint: Optional[str] = None) -> nn.Module:
    """The config's model (or just its backbone) in eval mode on CPU, with
    SyncBN reverted to BN.

    Weights: ``checkpoint`` if given (a runner checkpoint of the whole
    model, or for ``backbone_only`` any VAN layout), else random; the
    config's pretrained ``init_cfg`` is not downloaded.
    """
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(cfg.default_scope)
    model_cfg = cfg.model.backbone if backbone_only else cfg.model
    model = revert_sync_batchnorm(MODELS.build(model_cfg))
    if checkpoint:
        from mmengine.runner import load_checkpoint
        from van_mm import VAN
        from van_mm.checkpoint import load_pretrained
        if isinstance(model, VAN):
            load_pretrained(model, checkpoint)
        else:
            load_checkpoint(model, checkpoint, map_location='cpu',
                            strict=True)
    model.eval()
    return model


def randomize(model: nn.Module, seed: int = 0,
              std: float = 0.1) -> nn.Module:
    """Random weights (normal, ``std``), BN statistics and layer scales
    (uniform in [0.1, 1]), in eval mode: every tensor then matters to the
    outputs (the defaults are near-identity: layer scale 1e-2, BN mean 0 /
    var 1). For equality tests and benchmarks with the same weights."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith('num_batches_tracked'):
                continue
            if 'running_var' in name or 'layer_scale' in name:
                t.copy_(torch.rand(t.shape, generator=g) * 0.9 + 0.1)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * std)
    model.eval()  # not chained: some backbones' train() returns None
    return model


def switch_to_deploy(model: nn.Module) -> None:
    """Deploy mode for a VAN or for a model whose backbone is a VAN."""
    target = getattr(model, 'backbone', model)
    if not hasattr(target, 'switch_to_deploy'):
        raise ValueError(
            f'--deploy: {type(target).__name__} has no deploy mode; it is '
            "van_mm's VAN backbone that folds its BN and layer scales.")
    target.switch_to_deploy()


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


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (``/proc/self/clear_refs``), so
    that ``rss_mib('VmHWM')`` measures from now on."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def rss_mib(field_name: str = 'VmRSS') -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last reset) in MiB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field_name + ':'):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f'{field_name} not in /proc/self/status')


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
               repeat: int, warmup: int = 2,
               device: str = 'cpu') -> Dict[str, Timing]:
    """Time several inference functions round-robin (one run of each in
    turn), so that load on a shared machine hits all of them alike.

    Runs under ``torch.inference_mode``; ``warmup`` untimed runs first.
    """
    def sync():
        if device.startswith('cuda'):
            torch.cuda.synchronize()

    timings = {name: Timing(name, batch) for name in cases}
    with torch.inference_mode():
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
