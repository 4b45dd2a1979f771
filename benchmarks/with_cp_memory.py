# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Peak training memory of a VAN-B2 backbone forward + backward with and
without ``with_cp`` (activation checkpointing), and whether the gradients
are identical.

    python benchmarks/with_cp_memory.py [--shape H W] [--batch N]

Each variant runs in a fresh process. On CPU the peak is the kernel's
peak resident set (``VmHWM``, reset through ``/proc/self/clear_refs`` after
a warm-up step) minus the resident set just before the measured step, so
weights and the allocator's warm state are not counted; on CUDA it is
``torch.cuda.max_memory_allocated`` minus the memory allocated before.
"""
import argparse
import json
import subprocess
import sys
import tempfile

import torch


def step(with_cp, shape, batch, device, grads_file):
    from van_mm import VAN
    from van_mm.analysis.profiling import reset_peak_rss, rss_mib
    torch.manual_seed(0)
    model = VAN(arch='b2', with_cp=with_cp).to(device).train()
    x = torch.rand(batch, 3, *shape, device=device)

    def forward_backward():
        model.zero_grad(set_to_none=True)
        sum(o.float().pow(2).mean() for o in model(x)).backward()

    forward_backward()  # warm-up: allocator, oneDNN primitives
    model.zero_grad(set_to_none=True)
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated() / 2**20
    else:
        reset_peak_rss()
        before = rss_mib('VmRSS')
    forward_backward()
    if device == 'cuda':
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20 - before
    else:
        peak = rss_mib('VmHWM') - before
    torch.save({n: p.grad.cpu() for n, p in model.named_parameters()},
               grads_file)
    print(json.dumps(dict(peak_mib=peak)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--shape', type=int, nargs=2, default=[512, 512])
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--child', choices=['plain', 'cp'])
    parser.add_argument('--grads-file')
    args = parser.parse_args()
    if args.child:
        step(args.child == 'cp', args.shape, args.batch, args.device,
             args.grads_file)
        return

    peaks, grads = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in ('plain', 'cp'):
            grads_file = f'{tmp}/{variant}.pth'
            out = subprocess.run(
                [sys.executable, __file__, '--child', variant,
                 '--grads-file', grads_file, '--batch', str(args.batch),
                 '--device', args.device, '--shape', *map(str, args.shape)],
                check=True, capture_output=True, text=True).stdout
            peaks[variant] = json.loads(out.strip().splitlines()[-1])[
                'peak_mib']
            grads[variant] = torch.load(grads_file, weights_only=True)
    diff = max((grads['plain'][n] - grads['cp'][n]).abs().max().item()
               for n in grads['plain'])
    cut = 100 * (1 - peaks['cp'] / peaks['plain'])
    print(f'VAN-B2 backbone forward + backward, batch {args.batch}, '
          f'{args.shape[0]}x{args.shape[1]}, {args.device}:\n')
    print('| with_cp | peak memory of the step (MiB) |')
    print('|---|---|')
    print(f'| False | {peaks["plain"]:.0f} |')
    print(f'| True | {peaks["cp"]:.0f} |')
    print(f'\nwith_cp cuts the peak by {cut:.1f}%; largest gradient '
          f'difference {diff:.1e} ({"identical" if diff == 0 else "differ"}).')


if __name__ == '__main__':
    main()
