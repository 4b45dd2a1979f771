"""Mixed-precision training: --amp trains in bfloat16 on a CPU and picks
loss-scaled float16 on a GPU; the wrong dtype for the device is refused."""
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.optim import build_optim_wrapper

import van_mm  # noqa: F401  (registers AutocastOptimWrapper)
from van_mm import VAN
from van_mm.engine.mixed_precision import amp_optim_wrapper

ADAMW = ConfigDict(type='OptimWrapper',
                   optimizer=dict(type='AdamW', lr=1e-3),
                   clip_grad=dict(max_norm=1.0))


def test_cpu_amp_runs_the_forward_in_bfloat16_and_updates_fp32_weights():
    model = VAN(arch='b0', out_indices=(3, ))
    wrapper = build_optim_wrapper(model, amp_optim_wrapper(ADAMW,
                                                           device='cpu'))
    assert type(wrapper).__name__ == 'AutocastOptimWrapper'
    before = model.stages[0].patch_embed.proj.weight.clone()
    dtypes = []
    model.stages[1].blocks[0].attn.proj_1.register_forward_hook(
        lambda module, args, out: dtypes.append(out.dtype))
    with wrapper.optim_context(model):
        out = model(torch.rand(2, 3, 64, 64))[0]
    assert dtypes == [torch.bfloat16]  # convs in bf16 (LayerNorm in fp32)
    wrapper.update_params(out.float().mean())
    weight = model.stages[0].patch_embed.proj.weight
    assert weight.dtype == torch.float32 and not torch.equal(weight, before)


def test_amp_picks_the_dtype_of_the_device():
    cpu = amp_optim_wrapper(ADAMW, device='cpu')
    assert (cpu.type, cpu.dtype) == ('AutocastOptimWrapper', 'bfloat16')
    gpu = amp_optim_wrapper(ADAMW, device='cuda')
    assert (gpu.type, gpu.dtype, gpu.loss_scale) == ('AmpOptimWrapper',
                                                    'float16', 'dynamic')
    gpu_bf16 = amp_optim_wrapper(ADAMW, 'bfloat16', device='cuda')
    assert gpu_bf16.type == 'AutocastOptimWrapper'
    assert cpu.optimizer == gpu.optimizer == ADAMW.optimizer
    assert cpu.clip_grad == ADAMW.clip_grad
    assert ADAMW.type == 'OptimWrapper'  # the config is not changed


def test_float16_on_a_cpu_and_other_wrappers_are_refused():
    with pytest.raises(ValueError, match='float16 training needs a GPU'):
        amp_optim_wrapper(ADAMW, 'float16', device='cpu')
    with pytest.raises(ValueError, match="the config has 'AmpOptimWrapper'"):
        amp_optim_wrapper(ConfigDict(type='AmpOptimWrapper'), device='cpu')


@pytest.mark.slow
def test_cpu_amp_trains_a_two_stage_detector():
    """mmcv's CPU nms and RoIAlign take float32 only: under bf16 autocast
    they run in float32 (van_mm.compat) and Mask R-CNN trains."""
    import numpy as np
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    from helpers import lighten, load, to_tiny_b0
    from van_mm.apis import build_from_config, data_sample
    cfg = lighten(to_tiny_b0(load('maskrcnn_van_b0_1x.py')))
    model = build_from_config(cfg).train()
    wrapper = build_optim_wrapper(
        model, amp_optim_wrapper(cfg.optim_wrapper, device='cpu'))

    def sample():
        masks = np.zeros((2, 128, 160), np.uint8)
        masks[0, 10:60, 20:80] = masks[1, 70:120, 90:150] = 1
        s = data_sample(cfg, 128, 160)
        s.gt_instances = InstanceData(
            bboxes=torch.tensor([[20., 10, 80, 60], [90, 70, 150, 120]]),
            labels=torch.tensor([0, 1]), masks=BitmapMasks(masks, 128, 160))
        return s
    g = torch.Generator().manual_seed(0)
    data = dict(inputs=[torch.randint(0, 256, (3, 128, 160), generator=g,
                                      dtype=torch.uint8) for _ in range(2)],
                data_samples=[sample(), sample()])
    losses = model.train_step(data, wrapper)
    assert {'loss_rpn_cls', 'loss_cls', 'loss_mask'} <= set(losses)
    assert all(torch.isfinite(v).all() for v in losses.values())


def test_cpu_bf16_channels_last_training_gives_the_fp32_gradients():
    """bf16 autocast with the channels_last option: every gradient, LKA's
    dilated depth-wise conv included, is the float32 NCHW model's to bf16
    rounding (torch's CPU kernel for that conv gets its weight gradient
    wrong in bf16 channels_last from 32x32 maps on; VAN avoids it)."""
    from van_mm.testing import randomize
    plain = randomize(VAN(arch='b0', out_indices=(0, )))
    fast = VAN(arch='b0', out_indices=(0, ), channels_last=True)
    fast.load_state_dict(plain.state_dict())
    # 128x128 images: stage 1 (32 channels) works on 32x32 maps.
    x = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(3))
    grads = []
    for model, bf16 in ((plain, False), (fast, True)):
        model.train().zero_grad()
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
            out = model(x)[0]
        out.float().square().mean().backward()
        grads.append({n: p.grad for n, p in model.named_parameters()
                      if p.grad is not None})
    scale = max(g.abs().max() for g in grads[0].values())
    for name, ref in grads[0].items():
        err = (grads[1][name] - ref).abs().max() / max(ref.abs().max(),
                                                       1e-3 * scale)
        assert err <= 5e-2, f'{name}: relative gradient error {err:.1e}'
