"""tools/benchmark.py and tools/get_flops.py run on any config of this
project (no timing assertions: only that they measure and report)."""
import json
import os

import pytest

from helpers import CONFIGS, SEG_PARAMS_M, run_script, run_tool
from van_mm.apis import load_config
from van_mm.flops import count


@pytest.mark.slow
@pytest.mark.parametrize('config,args', [
    ('fpn_van_b2_ade20k_40k.py',
     ['--backbone', '--deploy', '--channels-last', '--bf16']),
    ('fpn_van_b0_ade20k_40k.py', ['--deploy']),
    ('maskrcnn_van_b0_1x.py', ['--channels-last']),
])
def test_benchmark_reports_latency_and_memory(config, args, tmp_path):
    out = tmp_path / 'result.json'
    log = run_tool(['tools/benchmark.py', os.path.join(CONFIGS, config),
                    '--shape', 64, 96, '--repeat', 2, '--warmup', 1,
                    '--json', out, *args], cwd=tmp_path)
    assert 'latency median' in log and 'images/s' in log
    result = json.loads(out.read_text())
    assert len(result['times_s']) == 2
    assert result['median_s'] > 0 and result['peak_mib'] > 0
    if '--bf16' in args:
        assert 'bf16 vs fp32: max relative error' in log
        assert 0 < result['bf16_error'] < 0.05


def test_deploy_needs_a_van_backbone(tmp_path):
    cfg = tmp_path / 'r50.py'
    cfg.write_text("_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-"
                   "512x512.py'\n")
    out = run_script(['tools/benchmark.py', cfg, '--deploy', '--repeat', 1],
                     cwd=tmp_path)
    assert out.returncode != 0
    assert '--deploy: ' in out.stderr and 'has no deploy mode' in out.stderr


def test_flops_of_semantic_fpn_b0_match_the_paper():
    """Paper: Semantic FPN VAN-B0 8M params, 26 GFLOPs at 512x512."""
    params, flops, shape = count(
        load_config(os.path.join(CONFIGS, 'fpn_van_b0_ade20k_40k.py')))
    assert shape == (512, 512)
    target = SEG_PARAMS_M['fpn_van_b0_ade20k_40k.py']
    assert abs(params / 1e6 - target) < 0.01 * target
    assert abs(flops / 1e9 - 26) < 0.02 * 26
