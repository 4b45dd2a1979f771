"""tools/benchmark.py and tools/get_flops.py on configs of this project:
they measure what they say (latency that follows a model's cost, the
bfloat16 error, peak memory, parameters and FLOPs of the paper). Speed
goals are met in benchmarks/, not here."""
import json
import os
import re

import pytest

from helpers import CONFIGS, SEG_PARAMS_M, run, script_ok

pytestmark = pytest.mark.slow


def benchmark(config, *args, cwd, process=False):
    """tools/benchmark.py's results (its --json) and log."""
    out = cwd / f'{os.path.basename(config)}.{len(os.listdir(cwd))}.json'
    args = [os.path.join(CONFIGS, config), '--json', out, *args]
    if process:
        log = script_ok(['tools/benchmark.py', *args], cwd=cwd)
    else:
        result = run('benchmark', *args, cwd=cwd)
        assert result.code == 0, result.log[-3000:]
        log = result.log
    assert 'latency median' in log and 'images/s' in log
    return json.loads(out.read_text()), log


def test_latency_follows_the_cost_of_the_model(tmp_path):
    """The VAN-B2 backbone (5.0 GFLOPs at 224x224) against VAN-B0 (0.9
    GFLOPs) at the same size, timed the same way one after the other: B2
    takes clearly longer. Each result has its runs, median and peak
    memory (the process's resident set, weights included)."""
    results = {}
    for arch in ('b0', 'b2'):
        results[arch], _ = benchmark(
            f'fpn_van_{arch}_ade20k_40k.py', '--backbone', '--shape', 128,
            128, '--repeat', 5, '--warmup', 1, cwd=tmp_path)
    b0, b2 = results['b0'], results['b2']
    assert len(b0['times_s']) == 5 and b0['shape'] == [128, 128]
    assert b0['median_s'] == sorted(b0['times_s'])[2]
    assert b2['median_s'] > 1.5 * b0['median_s'], (b0, b2)
    assert b2['peak_mib'] > 100  # a 27M-parameter model and torch


def test_fast_paths_and_bf16_error(tmp_path):
    """--deploy --channels-last --bf16 on the backbone: the flags are
    applied and the bfloat16 error against float32 is reported, small but
    not zero (it ran in bfloat16)."""
    result, log = benchmark(
        'fpn_van_b0_ade20k_40k.py', '--backbone', '--deploy',
        '--channels-last', '--bf16', '--shape', 64, 96, '--repeat', 2,
        '--warmup', 1, cwd=tmp_path)
    assert result['flags'] == ['deploy', 'channels_last', 'bf16']
    assert 'bf16 vs fp32: max relative error' in log
    assert 1e-4 < result['bf16_error'] < 0.05


@pytest.mark.parametrize('config,flags', [
    ('fpn_van_b0_ade20k_40k.py', ['--deploy']),
    ('maskrcnn_van_b0_1x.py', ['--channels-last']),
])
def test_whole_models_run_test_step(config, flags, tmp_path):
    """A whole segmentor / detector is timed through test_step; the
    detector run is the tool's one run as a process."""
    result, log = benchmark(config, '--shape', 64, 96, '--repeat', 2,
                            '--warmup', 1, *flags, cwd=tmp_path,
                            process=config.startswith('maskrcnn'))
    assert '(model), input 1x3x64x96' in log
    assert result['flags'] == [f.lstrip('-').replace('-', '_')
                               for f in flags]
    assert len(result['times_s']) == 2


def test_deploy_needs_a_van_backbone(tmp_path):
    cfg = tmp_path / 'r50.py'
    cfg.write_text("_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-"
                   "512x512.py'\n")
    result = run('benchmark', cfg, '--deploy', '--repeat', 1, cwd=tmp_path)
    assert result.code != 0
    assert '--deploy: ' in result.err and 'has no deploy mode' in result.err


def test_flops_of_semantic_fpn_b0_match_the_paper(tmp_path):
    """tools/get_flops.py as a process. Paper: Semantic FPN VAN-B0 8M
    params, 26 GFLOPs at 512x512."""
    log = script_ok(['tools/get_flops.py', os.path.join(
        CONFIGS, 'fpn_van_b0_ade20k_40k.py')], cwd=tmp_path)
    found = re.search(r'fpn_van_b0_ade20k_40k.py: ([\d.]+) M params, '
                      r'([\d.]+) GFLOPs at 512x512', log)
    assert found, log[-2000:]
    params, flops = float(found[1]), float(found[2])
    target = SEG_PARAMS_M['fpn_van_b0_ade20k_40k.py']
    assert abs(params - target) < 0.01 * target
    assert abs(flops - 26) < 0.02 * 26


def test_channels_last_leaves_the_heads_their_layout():
    """--channels-last on a whole detector runs VAN's stages in
    channels_last and hands the neck NCHW maps (mmcv's CPU RoIAlign reads
    channels_last maps as NCHW: a Mask R-CNN converted whole detects
    garbage); the features are the same. A bare backbone is converted
    whole."""
    import copy

    import torch
    from mmengine.registry import init_default_scope

    from helpers import lighten, load, to_tiny_b0
    from van_mm.analysis.profiling import to_channels_last
    from van_mm.apis import build_from_config
    cfg = lighten(to_tiny_b0(load('maskrcnn_van_b0_1x.py')))
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = build_from_config(cfg).eval()
    fast = to_channels_last(copy.deepcopy(model), backbone_only=False)
    assert fast.backbone.stages[0].patch_embed.proj.weight.is_contiguous(
        memory_format=torch.channels_last)
    assert fast.neck.fpn_convs[0].conv.weight.is_contiguous()
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        ref, got = model.extract_feat(x), fast.extract_feat(x)
        feats = fast.backbone(x)
    assert all(f.is_contiguous() for f in feats)
    for a, b in zip(ref, got):
        assert torch.allclose(a, b, atol=1e-5)
    bare = to_channels_last(copy.deepcopy(model.backbone), backbone_only=True)
    assert not bare.channels_last and bare.stages[0].patch_embed.proj.weight \
        .is_contiguous(memory_format=torch.channels_last)
