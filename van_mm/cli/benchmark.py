# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Inference latency of a config's model or of its backbone alone.

    python tools/benchmark.py CONFIG [--backbone] [--checkpoint CKPT]
        [--shape H W] [--batch N] [--deploy] [--channels-last] [--compile]
        [--bf16] [--backend pytorch|onnxruntime|openvino|openvino-bf16]
        [--onnx FILE] [--repeat N] [--warmup N] [--device cpu|cuda]

Warm-up runs, then ``--repeat`` timed runs under ``torch.inference_mode``:
median latency, interquartile spread, images/s and peak memory (CUDA: max
allocated; CPU: the process's peak resident set during the timed runs,
weights included). A whole detector/segmentor runs ``test_step`` (pre- and
post-processing included); ``--backbone`` times ``model.backbone`` on a
float tensor. Random weights unless ``--checkpoint``. ``--backend`` runs
the network in an inference engine (onnxruntime; OpenVINO in fp32, or in
bf16 on a CPU that has it): the file of ``--onnx``
(``tools/export_onnx.py``, or an int8 file of ``tools/quantize.py``), or
the model exported for this input first and checked in onnxruntime and in
the engine; pre- and post-processing stay as in PyTorch. With
``--backbone``, ``--bf16`` and ``--backend`` also report the largest
relative error of the stage outputs against the fp32 PyTorch model.
"""
import argparse
import json

import torch

from van_mm.analysis.profiling import (
    bf16_autocast,
    make_inputs,
    max_relative_error,
    reset_peak_rss,
    rss_mib,
    time_cases,
    to_channels_last,
)
from van_mm.apis import build_from_config, load_config, switch_to_deploy
from van_mm.cli.common import add_backend_flag, deployed_model


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark inference')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--backbone', action='store_true',
                        help="time the config's backbone alone")
    parser.add_argument('--checkpoint', help='weights (default: random)')
    parser.add_argument('--shape', type=int, nargs=2, default=[512, 512],
                        metavar=('H', 'W'), help='input size (512 512)')
    parser.add_argument('--batch', type=int, default=1, help='batch size')
    parser.add_argument('--deploy', action='store_true',
                        help='VAN deploy mode (BN and layer scale folded)')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels_last memory format (a whole model '
                        "with a VAN backbone: the backbone's stages)")
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the backbone (inductor; on CPU '
                        'with weight freezing)')
    parser.add_argument('--bf16', action='store_true',
                        help='bfloat16 autocast; with --backbone also '
                        'reports the error against fp32')
    add_backend_flag(parser, 'the file of --onnx')
    parser.add_argument('--onnx', help='with --backend: the exported model '
                        '(default: exported for this input first)')
    parser.add_argument('--repeat', type=int, default=20,
                        help='timed runs (20)')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed runs first (3)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--json', help='also write the results here')
    return parser.parse_args(argv)


def deployed(model, args):
    """The model in the engine of ``--backend``."""
    torch_only = [f'--{f.replace("_", "-")}' for f in
                  ('deploy', 'channels_last', 'compile', 'bf16')
                  if getattr(args, f)]
    if torch_only:
        raise SystemExit(f'{", ".join(torch_only)}: PyTorch options; '
                         f'--backend {args.backend} runs the exported graph.')
    if args.onnx:
        return deployed_model(model, args.onnx, args.backend, args.device,
                              '--onnx')
    try:
        from van_mm.export import engine_model
        return engine_model(model, args.backend, None, tuple(args.shape),
                            args.batch, args.device)
    except (ImportError, ValueError, RuntimeError) as e:
        raise SystemExit(f'--backend {args.backend}: {e}')


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config)
    if args.onnx and args.backend == 'pytorch':
        from van_mm.export.backends import BACKENDS
        raise SystemExit(f'--onnx: add --backend ENGINE '
                         f'({", ".join(BACKENDS)}).')
    model = build_from_config(cfg, args.backbone, args.checkpoint)
    reference = model
    if args.backend != 'pytorch':
        model = deployed(model, args)
    model = model.to(args.device)
    if args.deploy:
        try:
            switch_to_deploy(model, args.device)
        except ValueError as e:
            raise SystemExit(f'--deploy: {e}')
    if args.channels_last:
        model = to_channels_last(model, args.backbone)
    if args.compile:
        if args.device == 'cpu':
            import torch._inductor.config as inductor
            inductor.freezing = True  # fold weights, fuse conv+activation
        if args.backbone:
            model = torch.compile(model)
        else:
            model.backbone = torch.compile(model.backbone)

    h, w = args.shape
    run = make_inputs(cfg, model, args.batch, h, w, args.backbone)
    error = None
    if args.backbone and (args.bf16 or args.backend != 'pytorch'):
        ref_run = run if args.backend == 'pytorch' else make_inputs(
            cfg, reference, args.batch, h, w, True)
        with torch.inference_mode():
            ref = ref_run()
            with bf16_autocast(args.bf16, args.device):
                error = max_relative_error(ref, run())

    def timed():
        with bf16_autocast(args.bf16, args.device):
            return run()

    if args.device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    reset_peak_rss()
    timing = time_cases({'model': timed}, args.batch, args.repeat,
                        args.warmup, args.device)['model']
    peak = (torch.cuda.max_memory_allocated() / 2**20
            if args.device.startswith('cuda') else rss_mib('VmHWM'))

    flags = [f for f in ('deploy', 'channels_last', 'compile', 'bf16')
             if getattr(args, f)]
    if args.backend != 'pytorch':
        flags.append(args.backend)
    what = 'backbone' if args.backbone else 'model'
    print(f'{args.config} ({what}), input {args.batch}x3x{h}x{w} on '
          f'{args.device}, {torch.get_num_threads()} threads'
          f'{", " + ", ".join(flags) if flags else ""}')
    print(f'latency median {timing.median * 1000:.1f} ms (IQR '
          f'{timing.spread:.1f}% of median, {args.repeat} runs), '
          f'{timing.images_per_s:.2f} images/s, peak memory {peak:.0f} MiB')
    if error is not None:
        what = 'bf16 vs fp32' if args.bf16 else \
            f'{args.backend} vs PyTorch fp32'
        print(f'{what}: max relative error {error:.2e}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(config=args.config, backbone=args.backbone,
                           shape=[h, w], batch=args.batch, flags=flags,
                           median_s=timing.median, times_s=timing.times,
                           images_per_s=timing.images_per_s,
                           peak_mib=peak, error=error,
                           bf16_error=error if args.bf16 else None), f,
                      indent=2)
