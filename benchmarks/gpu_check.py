# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""GPU check: VAN-B2 training steps against mmpretrain's VAN with the same
weights (fp32, AMP fp16, channels_last; gradients compared) and fp16
inference; Markdown tables on stdout, JSON in ``--out``.

    python benchmarks/gpu_check.py [--out DIR] [--batch 8] [--size 512]
    python benchmarks/gpu_check.py --dry-run   # CPU, tiny sizes: the code

Run by ``benchmarks/gpu_check.sh`` on a machine with a CUDA GPU (it needs
torch, mmengine, mmcv-lite and mmpretrain; no mmdet, mmseg or compiled
mmcv ops). Without a GPU it stops with exit status 2 and says so
(``--dry-run`` runs the same code on the CPU with bfloat16 autocast and
tiny inputs, to test the script itself, not the GPU).

Method: all cases of a table are timed round-robin (one run of each in
turn, after warm-up), with ``torch.cuda.synchronize()`` around each run;
medians. fp32 is true fp32 (TF32 off for convolutions and matmuls) so that
the gradient comparison sees only AMP's rounding. Gradient error: largest
per-tensor ``max|a - b| / max|a|`` against mmpretrain's fp32 gradients,
the patch embeddings' conv biases left out (BN follows them, their true
gradient is 0). A training step is ``zero_grad``, forward under autocast,
a fixed random projection of the four stage outputs as loss,
``GradScaler``-scaled backward, unscale and an SGD step with lr 0 (weights
stay equal across cases; the optimizer's cost is in the step). BatchNorm
in training mode, drop path 0. channels_last: the model's weights and the
input in channels_last (van_mm's VAN also with its ``channels_last``
option, its stages in that layout).
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import statistics
import sys
import time

import torch

EXIT_NO_GPU = 2


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', default=None, help='folder for results.json')
    p.add_argument('--batch', type=int, default=8, help='training batch')
    p.add_argument('--infer-batches', type=int, nargs='+', default=[1, 16])
    p.add_argument('--size', type=int, default=512)
    p.add_argument('--repeat', type=int, default=20)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--dry-run', action='store_true',
                   help='CPU, bf16 autocast, tiny sizes: tests the script')
    a = p.parse_args(argv)
    if a.dry_run:
        a.batch, a.infer_batches, a.size = 2, [1], 32
        a.repeat, a.warmup = 1, 0
    return a


def environment(device):
    info = dict(python=platform.python_version(), torch=torch.__version__,
                cuda=torch.version.cuda, device=device)
    if device == 'cuda':
        info['gpu'] = torch.cuda.get_device_name()
        info['cudnn'] = torch.backends.cudnn.version()
    for name in ('mmengine', 'mmcv', 'mmpretrain', 'van_mm'):
        try:
            info[name] = __import__(name).__version__
        except Exception as e:  # report, do not stop
            info[name] = f'not importable: {e}'
    return info


def sync(device):
    if device == 'cuda':
        torch.cuda.synchronize()


def time_round_robin(cases, device, repeat, warmup):
    """{name: [seconds]}: one run of each case in turn."""
    times = {k: [] for k in cases}
    for _ in range(warmup):
        for fn in cases.values():
            fn()
    sync(device)
    for _ in range(repeat):
        for name, fn in cases.items():
            sync(device)
            t = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - t)
    return times


def build_models(device):
    """mmpretrain's VAN-B2 (random init, then random BN statistics and
    layer scales) and van_mm's VAN-B2 with the same weights."""
    from mmpretrain.registry import MODELS

    # van_mm first: mmpretrain's models import without torchvision
    from van_mm import VAN
    from van_mm.checkpoint import convert_state_dict
    from van_mm.testing import randomize
    torch.manual_seed(0)
    ref = randomize(MODELS.build(dict(type='mmpretrain.VAN', arch='base',
                                      out_indices=(0, 1, 2, 3))), std=0.02)
    weights = convert_state_dict(ref.state_dict())
    ours = VAN(arch='b2', ln_eps=weights.ln_eps)
    ours.load_state_dict(weights.state_dict)
    return ref.to(device), ours.to(device), convert_state_dict


def training(args, device, amp_dtype, ref, ours, convert):
    """Timings and gradient errors of one training step per case."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch, 3, args.size, args.size, generator=g)
    x = x.to(device)
    with torch.no_grad():
        probe = copy.deepcopy(ours)
        probe.eval()
        shapes = [o.shape[1:] for o in probe(x[:1])]
    proj = [torch.randn(s, generator=g).to(device) for s in shapes]
    cl = copy.deepcopy(ours).to(memory_format=torch.channels_last)
    cl.channels_last = True  # VAN's own option: stages in channels_last
    ref_cl = copy.deepcopy(ref).to(memory_format=torch.channels_last)
    models = {'mmpretrain VAN': ref, 'mmpretrain VAN channels_last': ref_cl,
              'van_mm VAN': ours, 'van_mm VAN channels_last': cl}
    x_cl = x.contiguous(memory_format=torch.channels_last)
    cases, states = {}, {}
    for name, model in models.items():
        for amp in (False, True):
            key = f'{name}, ' + (f'AMP {str(amp_dtype)[6:]}' if amp
                                 else 'fp32')
            m = copy.deepcopy(model)
            m.train()  # mmpretrain's train() returns None: no chaining
            opt = torch.optim.SGD(m.parameters(), lr=0.)
            scaler = torch.amp.GradScaler(
                device, enabled=amp and amp_dtype == torch.float16)
            states[key] = (m, opt, scaler)

            def step(m=m, opt=opt, scaler=scaler, amp=amp,
                     inp=x_cl if 'channels_last' in name else x):
                opt.zero_grad(set_to_none=True)
                with torch.autocast(device, dtype=amp_dtype, enabled=amp):
                    outs = m(inp)
                loss = sum((o.float() * p).mean() for o, p in zip(outs, proj))
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
                scaler.step(opt)
                scaler.update()
                return loss.detach()
            cases[key] = step
    times = time_round_robin(cases, device, args.repeat, args.warmup)
    # gradients of one more step, van_mm's key names
    grads, losses = {}, {}
    for key, step in cases.items():
        losses[key] = step().item()
        m = states[key][0]
        if key.startswith('mmpretrain'):
            sd = {k: v for k, v in m.state_dict().items()}
            sd.update({k: p.grad for k, p in m.named_parameters()})
            sd = convert(sd).state_dict
        else:
            sd = {k: p.grad for k, p in m.named_parameters()}
        grads[key] = {k: v.float() for k, v in sd.items()
                      if k in dict(ours.named_parameters())}
    base = grads['mmpretrain VAN, fp32']
    # the patch embeddings' conv biases are followed by training-mode BN:
    # their true gradient is 0 and what is computed is rounding noise
    base = {k: v for k, v in base.items()
            if not k.endswith('patch_embed.proj.bias')}
    errors = {}
    for key, gd in grads.items():
        rel = [((gd[k] - base[k]).abs().max() /
                base[k].abs().max().clamp_min(1e-30)).item() for k in base]
        errors[key] = dict(max=max(rel), median=statistics.median(rel),
                           loss=abs(losses[key] - losses[
                               'mmpretrain VAN, fp32']))
    return times, errors


def inference(args, device, amp_dtype, ref, ours):
    """Latency per batch size, errors of the stage outputs against
    mmpretrain's fp32."""
    from van_mm.analysis.profiling import max_relative_error
    ref, ours = copy.deepcopy(ref), copy.deepcopy(ours)
    ref.eval()
    ours.eval()
    deploy = copy.deepcopy(ours)
    deploy.switch_to_deploy(phase_split=False)  # a GPU gets no row bands
    deploy = deploy.to(memory_format=torch.channels_last)
    split = copy.deepcopy(ours)
    split.switch_to_deploy(phase_split=True)
    split = split.to(memory_format=torch.channels_last)
    half = copy.deepcopy(deploy).to(amp_dtype)
    dt = str(amp_dtype)[6:]
    results = {}
    for batch in args.infer_batches:
        g = torch.Generator().manual_seed(2)
        x = torch.randn(batch, 3, args.size, args.size, generator=g)
        x = x.to(device)
        x_cl = x.contiguous(memory_format=torch.channels_last)

        def auto(m, inp):
            def run():
                with torch.autocast(device, dtype=amp_dtype):
                    return m(inp)
            return run
        cases = {
            'mmpretrain VAN fp32': lambda: ref(x),
            f'mmpretrain VAN autocast {dt}': auto(ref, x),
            'van_mm fp32': lambda: ours(x),
            'van_mm deploy + channels_last fp32': lambda: deploy(x_cl),
            f'van_mm deploy + channels_last, autocast {dt}':
            auto(deploy, x_cl),
            f'van_mm deploy + channels_last, {dt} weights':
            lambda: half(x_cl.to(amp_dtype)),
            f'van_mm deploy (phase split) + channels_last, autocast {dt}':
            auto(split, x_cl),
        }
        with torch.inference_mode():
            base = [o.float() for o in ref(x)]
            errors = {k: max_relative_error(base, [o.float() for o in fn()])
                      for k, fn in cases.items()}
            times = time_round_robin(cases, device, args.repeat, args.warmup)
        results[batch] = (times, errors)
    return results


def table(times, reference, errors, err_key=None, batch=1):
    ref = statistics.median(times[reference])
    training = err_key is not None
    head = ('max / median rel. gradient error | loss diff |' if training
            else 'max rel. error |')
    lines = [f'| case | median ms | images/s | speed vs {reference} | '
             + head, '|---|---|---|---|---|' + ('---|' if training else '')]
    for k, ts in times.items():
        med = statistics.median(ts)
        if training:
            e = errors[k]
            err = f'{e["max"]:.1e} / {e["median"]:.1e} | {e["loss"]:.1e}'
        else:
            err = f'{errors[k]:.1e}'
        lines.append(f'| {k} | {1e3 * med:.1f} | {batch / med:.1f} | '
                     f'{ref / med:.2f}x | {err} |')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        print(f'gpu_check: torch {torch.__version__} (CUDA '
              f'{torch.version.cuda}) sees no CUDA device; this check needs '
              'a GPU. --dry-run tests the script on the CPU.',
              file=sys.stderr)
        return EXIT_NO_GPU
    device = 'cpu' if args.dry_run else 'cuda'
    # fp16 autocast on a GPU; bf16 on the CPU (dry run)
    amp_dtype = torch.bfloat16 if args.dry_run else torch.float16
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    start = time.perf_counter()
    env = environment(device)
    print('gpu_check: ' + ', '.join(f'{k} {v}' for k, v in env.items()))
    ref, ours, convert = build_models(device)
    t_train, e_train = training(args, device, amp_dtype, ref, ours, convert)
    print(f'\n### Training step, VAN-B2, batch {args.batch}, '
          f'{args.size}x{args.size} (error: gradients vs mmpretrain fp32, '
          'largest per-tensor max|a-b|/max|a|)\n')
    print(table(t_train, 'mmpretrain VAN, fp32', e_train, 'max',
                args.batch))
    results = dict(environment=env, training=dict(
        batch=args.batch, size=args.size,
        median_ms={k: 1e3 * statistics.median(v) for k, v in
                   t_train.items()}, gradient_errors=e_train))
    results['inference'] = {}
    for batch, (t, e) in inference(args, device, amp_dtype, ref,
                                   ours).items():
        print(f'\n### Inference, VAN-B2, batch {batch}, {args.size}x'
              f'{args.size} (error: stage outputs vs mmpretrain fp32)\n')
        print(table(t, 'mmpretrain VAN fp32', e, None, batch))
        results['inference'][batch] = dict(
            median_ms={k: 1e3 * statistics.median(v) for k, v in t.items()},
            errors=e)
    results['seconds'] = time.perf_counter() - start
    print(f'\ngpu_check: done in {results["seconds"]:.0f} s')
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(osp.join(args.out, 'results.json'), 'w') as f:
            json.dump(results, f, indent=1, default=str)
    return 0


if __name__ == '__main__':
    sys.exit(main())
