# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Every CPU inference engine against mmpretrain's VAN and against the
machine's own limit: Markdown tables for benchmarks/RESULTS.md.

    python benchmarks/inference_engines.py [--sections backbone test-step]
        [--repeat 15] [--model-repeat 8] [--threads 2] [--calib 32]
        [--cases REGEX] [--profile]

``backbone``: the VAN-B2 backbone at 512x512, batch 1 (same random
weights everywhere): mmpretrain's VAN, van_mm's deploy mode +
channels_last in fp32 and under bf16 autocast, the exported file in
onnxruntime and in OpenVINO (fp32, bf16), int8 files of
``van_mm.export.quantize`` in onnxruntime and OpenVINO (and, where
``nncf`` is importable, NNCF's int8 model for comparison). All cases are
timed round-robin with torch's 2048x2048 GEMM in fp32 and bf16; each
engine's rate (2 FLOP per multiply-add counted by mmengine's
``FlopAnalyzer``) is given as a fraction of the machine's GEMM rate
measured in the same run (best of 10, before and after the cases, the
higher taken) in fp32 *and* in bf16. The error column is the largest
``max|a - b| / max|a|`` of the four stages against van_mm's fp32 PyTorch
model. ``--profile`` adds where the time goes, per operation, in the
engines' own profilers.

``test-step``: Mask R-CNN VAN-B0 and Semantic FPN VAN-B2 ``test_step`` at
512x512 on a random image or ``--det-image``/``--seg-image`` (pre-
processing, network, post-processing; the segmentor with random weights
unless ``--seg-checkpoint`` of ``--seg-config``; the detector only with
trained weights, ``--det-checkpoint`` of ``--det-config``, such as the
quick-start's: a random one detects nothing above its score threshold, and
without the threshold its detections are near-ties that any rounding
reorders, which the export's check refuses) as tools/test.py runs them, in
deploy + channels_last,
and through each engine (``--backend``), one round-robin table per model;
errors against the PyTorch model: the segmentor's logits (largest relative
error, labels equal) and the detector's detections (matched as
``van_mm.export.parity`` matches them).

int8 calibration here: ``--calib`` generated scene pictures
(``van_mm.synthetic.scene_picture``); tools/quantize.py calibrates on the
config's own images instead (the accuracy figures are measured that way:
benchmarks/int8_accuracy.py).
"""
import argparse
import collections
import copy
import json
import os
import os.path as osp
import platform
import re
import sys
import tempfile
import time

import numpy as np
import torch

from van_mm import VAN
from van_mm.analysis.profiling import (
    bf16_autocast,
    make_inputs,
    max_relative_error,
    time_cases,
    to_channels_last,
)
from van_mm.apis import (
    build_from_config,
    cpu_row_bands,
    load_config,
    switch_to_deploy,
)
from van_mm.checkpoint import convert_state_dict
from van_mm.export import deployed_model, export_onnx
from van_mm.export.exporter import example_input
from van_mm.export.openvino_runtime import (
    compile_model,
    cpu_has_bf16,
    node_times,
)
from van_mm.export.parity import compare_detections
from van_mm.export.quantize import quantize_file
from van_mm.testing import randomize

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(HERE)
GEMM_N = 2048


def cpu_name() -> str:
    """The CPU's model name and the instruction sets that matter here."""
    text = open('/proc/cpuinfo').read() if osp.exists('/proc/cpuinfo') \
        else ''
    name = re.search(r'model name\s*:\s*(.*)', text)
    flags = [f for f in ('avx512f', 'avx512_vnni', 'avx512_bf16',
                         'amx_bf16', 'amx_int8') if f' {f}' in text]
    return (f'{name[1] if name else platform.processor()} '
            f'({platform.machine()}; {", ".join(flags) or "no AVX-512"})')


def gemm_rates(best_of: int = 10) -> dict:
    """GFLOP/s of torch's 2048x2048x2048 matmul (2 n^3 FLOP), best of
    ``best_of``, in fp32 and bf16."""
    rates = {}
    g = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.bfloat16):
        a = torch.randn(GEMM_N, GEMM_N, generator=g).to(dtype)
        b = torch.randn(GEMM_N, GEMM_N, generator=g).to(dtype)
        torch.mm(a, b)
        best = float('inf')
        for _ in range(best_of):
            start = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - start)
        rates[dtype] = 2 * GEMM_N**3 / best / 1e9
    return rates


def backbone_flop(model, shape) -> float:
    """FLOPs (2 per multiply-add) of one forward of ``model``."""
    from mmengine.analysis import FlopAnalyzer
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('ERROR')
    try:
        return 2. * FlopAnalyzer(model, torch.zeros(1, 3, *shape)).total()
    finally:
        logger.setLevel(level)


def engine_call(engine, feed):
    """One inference of a DeployedModel on numpy inputs."""
    return lambda: engine.infer(feed)


def backbone(args, tmp):
    """The VAN-B2 backbone table (and profiles)."""
    from mmpretrain.registry import MODELS
    shape = tuple(args.shape)
    x = example_input('backbone', 1, *shape, seed=12345)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    feed = {'input': x.numpy()}
    reference = randomize(MODELS.build(dict(
        type='mmpretrain.VAN', arch='base', out_indices=(0, 1, 2, 3))),
        std=0.02)
    weights = convert_state_dict(reference.state_dict())
    eager = VAN(arch='b2', ln_eps=weights.ln_eps).eval()
    eager.load_state_dict(weights.state_dict)
    flop = backbone_flop(eager, shape)
    deploy = copy.deepcopy(eager)
    deploy.switch_to_deploy(mlp_bands=cpu_row_bands())
    deploy = deploy.to(memory_format=torch.channels_last)
    fp32 = osp.join(tmp, 'van_b2.onnx')
    want = re.compile(args.cases)
    bf16 = cpu_has_bf16()

    files = {}

    def int8(skip_depthwise=False):
        key = ('int8', skip_depthwise)
        if key not in files:
            files[key] = osp.join(tmp, f'van_b2_int8_{skip_depthwise}.onnx')
            calib = [{'input': example_input('backbone', 1, *shape,
                                             seed=s).numpy()}
                     for s in range(args.calib)]
            quantize_file(fp32, files[key], calib,
                          skip_depthwise=skip_depthwise)
        return files[key]

    def engine(path, backend):
        return engine_call(deployed_model(eager, path, backend), feed)

    def autocast():
        def call():
            with bf16_autocast(True):
                return deploy(x_cl)
        return call

    # (name, precision class, factory, profile as (file, backend))
    cases = [
        ('mmpretrain VAN fp32 (reference)', 'fp32',
         lambda: lambda: reference(x)),
        ('van_mm deploy + channels_last fp32', 'fp32',
         lambda: lambda: deploy(x_cl)),
        ('van_mm deploy + channels_last, bf16 autocast', 'bf16', autocast),
        ('onnxruntime fp32 (the exported file)', 'fp32',
         lambda: engine(fp32, 'onnxruntime')),
        ('OpenVINO fp32 (the same file)', 'fp32',
         lambda: engine(fp32, 'openvino')),
        ('onnxruntime int8 (tools/quantize.py file)', 'int8',
         lambda: engine(int8(), 'onnxruntime')),
        ('OpenVINO int8 (the same int8 file), fp32 elsewhere', 'int8',
         lambda: engine(int8(), 'openvino')),
    ]
    if bf16:
        cases += [
            ('OpenVINO bf16 (the fp32 file)', 'bf16',
             lambda: engine(fp32, 'openvino-bf16')),
            ('OpenVINO int8 (the same int8 file), bf16 elsewhere', 'int8',
             lambda: engine(int8(), 'openvino-bf16')),
            ('OpenVINO int8 (--skip-depthwise file), bf16 elsewhere',
             'int8', lambda: engine(int8(True), 'openvino-bf16')),
        ]
    cases += nncf_cases(fp32, feed, args, shape, bf16)
    export_onnx(eager, fp32, shape)
    built, classes = {}, {}
    for name, cls, make in cases:
        if want.search(name) or name.endswith('(reference)'):
            print(f'building {name}', flush=True)
            built[name], classes[name] = make(), cls
    with torch.inference_mode():
        ref = [t.clone() for t in eager(x)]
        errors = {}
        for name, run in built.items():
            outs = run()
            outs = list(outs.values()) if isinstance(outs, dict) else outs
            errors[name] = max_relative_error(ref, [
                o if isinstance(o, torch.Tensor) else torch.from_numpy(
                    np.asarray(o)) for o in outs])
    before = gemm_rates()
    for dtype in before:  # the GEMMs run round-robin with the cases too
        a = torch.randn(GEMM_N, GEMM_N).to(dtype)
        built[f'torch GEMM {GEMM_N}^3 {str(dtype)[6:]}'] = (
            lambda a=a: torch.mm(a, a))
    load = os.getloadavg()[0]
    timings = time_cases(built, 1, args.repeat, warmup=2)
    after = gemm_rates()
    rate = {d: max(before[d], after[d]) for d in before}
    print(f'\nCPU: {cpu_name()}; {torch.get_num_threads()} threads; torch '
          f'{torch.__version__}; load average {load:.2f} before timing, '
          f'{os.getloadavg()[0]:.2f} after')
    print(f'torch GEMM {GEMM_N}^3, best of 10, before / after the cases: '
          f'fp32 {before[torch.float32]:.0f} / {after[torch.float32]:.0f},'
          f' bf16 {before[torch.bfloat16]:.0f} / '
          f'{after[torch.bfloat16]:.0f} GFLOP/s; in the round-robin '
          '(median): ' + ', '.join(
              f'{str(d)[6:]} {2 * GEMM_N**3 / timings[k].median / 1e9:.0f}'
              for d in rate for k in timings
              if k.endswith(str(d)[6:]) and k.startswith('torch GEMM')))
    print(f'VAN-B2 at {shape[0]}x{shape[1]}: {flop / 1e9:.1f} GFLOP '
          '(2 per multiply-add)\n')
    print('| engine | median ms | IQR % | vs mmpretrain | GFLOP/s | '
          'of fp32 GEMM rate | of bf16 GEMM rate | max rel. error vs fp32 '
          'PyTorch |')
    print('|---|---|---|---|---|---|---|---|')
    base = timings['mmpretrain VAN fp32 (reference)'].median
    best = {}
    for name, t in timings.items():
        if name.startswith('torch GEMM'):
            continue
        gflops = flop / t.median / 1e9
        f32, b16 = (gflops / rate[d] for d in (torch.float32,
                                               torch.bfloat16))
        kind = 'fp32' if classes[name] == 'fp32' else 'reduced'
        if kind not in best or f32 > best[kind][1]:
            best[kind] = (name, f32, b16)
        print(f'| {name} | {1000 * t.median:.1f} | {t.spread:.0f} | '
              f'{base / t.median:.2f}x | {gflops:.0f} | {100 * f32:.0f}% | '
              f'{100 * b16:.0f}% | {errors[name]:.1e} |')
    for kind, goal, dtype in (('fp32', 0.8, 'fp32'),
                              ('reduced', 0.4, 'bf16')):
        if kind in best:
            name, f32, b16 = best[kind]
            got = f32 if dtype == 'fp32' else b16
            verdict = 'reached' if got >= goal else \
                f'not reached: {100 * (goal - got):.0f} points short'
            print(f'\nGoal, best {kind} engine at >= {100 * goal:.0f}% of '
                  f'the {dtype} GEMM rate: {name}, {100 * got:.0f}%: '
                  f'{verdict}.')
    if args.profile:
        profiles = [('onnxruntime fp32', fp32, 'onnxruntime'),
                    ('OpenVINO fp32', fp32, 'fp32')]
        if bf16:
            profiles += [('OpenVINO bf16', fp32, 'bf16'),
                         ('OpenVINO int8, bf16 elsewhere', int8(), 'bf16')]
        for title, path, how in profiles:
            print(f'\n#### Where the time goes: {title}, per operation '
                  f'(the engine\'s profiler, {args.profile_runs} runs)\n')
            print(profile(path, how, feed, args.profile_runs))


def nncf_cases(fp32, feed, args, shape, bf16):
    """NNCF's int8 model of the same file in OpenVINO, for comparison with
    onnxruntime's quantizer, where ``nncf`` is importable."""
    try:
        import nncf
        import openvino as ov
    except ImportError:
        print('nncf is not importable: no NNCF cases')
        return []

    def model(skip_depthwise):
        ov_model = ov.Core().read_model(fp32)
        ignored = None
        if skip_depthwise:
            ignored = nncf.IgnoredScope(types=['GroupConvolution'])
        calib = [example_input('backbone', 1, *shape, seed=s).numpy()
                 for s in range(args.calib)]
        return nncf.quantize(ov_model, nncf.Dataset(calib), subset_size=len(
            calib), ignored_scope=ignored)

    def engine(skip_depthwise, precision):
        from van_mm.export.openvino_runtime import compile_config
        compiled = ov.Core().compile_model(
            model(skip_depthwise), 'CPU', compile_config(precision))
        request = compiled.create_infer_request()
        return lambda: [np.array(request.infer(feed)[o])
                        for o in compiled.outputs]
    cases = [('OpenVINO NNCF int8, fp32 elsewhere', 'int8',
              lambda: engine(False, 'fp32'))]
    if bf16:
        cases += [('OpenVINO NNCF int8 (depth-wise not quantized), bf16 '
                   'elsewhere', 'int8', lambda: engine(True, 'bf16'))]
    return cases


def profile(path, how, feed, runs):
    """Per operation type: ms per run and share, from onnxruntime's
    profiler (``how='onnxruntime'``) or OpenVINO's ``PERF_COUNT``
    (``how`` its precision; with the kernels it chose)."""
    totals = collections.defaultdict(float)
    kernels = collections.defaultdict(collections.Counter)
    if how == 'onnxruntime':
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.enable_profiling = True
        options.log_severity_level = 3
        with tempfile.TemporaryDirectory() as tmp:
            options.profile_file_prefix = osp.join(tmp, 'ort')
            session = ort.InferenceSession(
                path, options, providers=['CPUExecutionProvider'])
            session.run(None, feed)  # warm-up, profiled too
            for _ in range(runs):
                session.run(None, feed)
            with open(session.end_profiling()) as f:
                events = json.load(f)
        for e in events:
            if e.get('cat') == 'Node' and e['name'].endswith('_kernel_time'):
                totals[e['args'].get('op_name', '?')] += \
                    e['dur'] / 1e3 / (runs + 1)
    else:
        compiled = compile_model(path, how, profiling=True)
        request = compiled.create_infer_request()
        request.infer(feed)
        for _ in range(runs):
            request.infer(feed)
            for node in node_times(request):
                totals[node['type']] += node['us'] / 1e3 / runs
                kernels[node['type']][node['exec_type']] += 1
    total = sum(totals.values())
    rows = ['| operation | ms per run | share | kernels (OpenVINO) |',
            '|---|---|---|---|']
    for op, ms in sorted(totals.items(), key=lambda kv: -kv[1]):
        used = ', '.join(k for k, _ in kernels[op].most_common(2))
        rows.append(f'| {op} | {ms:.1f} | {100 * ms / total:.0f}% | '
                    f'{used} |')
    rows.append(f'| all | {total:.1f} | 100% | |')
    return '\n'.join(rows)


def test_step(args, tmp):
    """One round-robin table per model: test_step in every engine."""
    h, w = args.shape
    bf16 = cpu_has_bf16()
    for title, config, checkpoint in [
            ('Mask R-CNN VAN-B0', args.det_config, args.det_checkpoint),
            ('Semantic FPN VAN-B2', args.seg_config, args.seg_checkpoint)]:
        if not re.search(args.cases, title):
            continue
        cfg = load_config(config if osp.exists(config) else
                          osp.join(REPO, config))
        if checkpoint is None and 'rcnn' in cfg.model.test_cfg:
            # random weights score below the config's 0.05 (nothing for
            # the mask head); with the threshold at 0 their detections are
            # near-ties that the export's check rightly refuses
            print(f'{title}: skipped, it needs trained weights: '
                  '--det-checkpoint (e.g. the quick-start\'s, with '
                  '--det-config configs/shapes/'
                  'maskrcnn_van_b0_shapes_quickstart.py)', flush=True)
            continue
        torch.manual_seed(0)
        model = build_from_config(cfg, checkpoint=checkpoint)
        if checkpoint is None:
            randomize(model.backbone, std=0.02)
        detector = not hasattr(model, 'decode_head')
        path = osp.join(tmp, osp.basename(config)[:-3] + '.onnx')
        int8 = path[:-5] + '_int8.onnx'
        print(f'exporting {title}', flush=True)
        export_onnx(model, path, (h, w), cfg=cfg)
        if detector:
            feeds = [dict(image=example_input('detector', 1, h, w,
                                              seed=s).numpy(),
                          scale_factor=np.ones(2, np.float32))
                     for s in range(args.calib)]
        else:
            feeds = [dict(image=example_input('segmentor', 1, h, w,
                                              seed=s).numpy())
                     for s in range(args.calib)]
        print(f'quantizing {title}', flush=True)
        quantize_file(path, int8, feeds)
        deploy = copy.deepcopy(model)
        switch_to_deploy(deploy)
        if detector:  # VAN's stages only: RoIAlign needs NCHW maps
            deploy = to_channels_last(deploy, backbone_only=False)
            cl = 'PyTorch deploy + channels_last backbone'
        else:
            deploy = deploy.to(memory_format=torch.channels_last)
            cl = 'PyTorch deploy + channels_last'
        models = {
            'PyTorch (as tools/test.py runs it)': model,
            cl: deploy,
            'onnxruntime fp32': deployed_model(model, path, 'onnxruntime'),
            'OpenVINO fp32': deployed_model(model, path, 'openvino'),
            'onnxruntime int8': deployed_model(model, int8, 'onnxruntime'),
            'OpenVINO int8, fp32 elsewhere': deployed_model(model, int8,
                                                            'openvino'),
        }
        if bf16:
            models['OpenVINO bf16'] = deployed_model(model, path,
                                                     'openvino-bf16')
            models['OpenVINO int8, bf16 elsewhere'] = deployed_model(
                model, int8, 'openvino-bf16')
        image = args.det_image if detector else args.seg_image
        cases = {name: image_inputs(cfg, m, h, w, image) if image else
                 make_inputs(cfg, m, 1, h, w, False)
                 for name, m in models.items()}
        reference = 'PyTorch (as tools/test.py runs it)'
        with torch.inference_mode():
            ref = cases[reference]()[0]
            errors = {name: error(ref, run()[0], detector)
                      for name, run in cases.items()}
        timings = time_cases(cases, 1, args.model_repeat, warmup=1)
        base = timings[reference].median
        weights = f'checkpoint {checkpoint}' if checkpoint else \
            'random weights' + (', score threshold 0' if detector else '')
        print(f'\n### {title} test_step, 1x3x{h}x{w}, {weights} '
              f'({torch.get_num_threads()} threads)\n')
        print(f'| engine | median ms | IQR % | vs {reference} | error vs '
              'PyTorch |')
        print('|---|---|---|---|---|')
        for name, t in timings.items():
            print(f'| {name} | {1000 * t.median:.1f} | {t.spread:.0f} | '
                  f'{base / t.median:.2f}x | {errors[name]} |')


def image_inputs(cfg, model, h, w, path):
    """``model.test_step`` on the image file ``path`` resized to ``h`` x
    ``w`` (as ``make_inputs``, which feeds a random image)."""
    import mmcv

    from van_mm.apis import data_sample
    image = mmcv.imresize(mmcv.imread(path), (w, h))  # BGR, as mmcv reads
    data = dict(inputs=[torch.from_numpy(image).permute(2, 0, 1).contiguous()],
                data_samples=[data_sample(cfg, h, w)])
    return lambda: model.test_step(data)


def error(ref, got, detector: bool) -> str:
    """How ``got`` (a data sample) differs from ``ref``: a segmentor's
    logits and labels, a detector's detections."""
    if not detector:
        a, b = ref.seg_logits.data, got.seg_logits.data
        same = (ref.pred_sem_seg.data == got.pred_sem_seg.data).float()
        return (f'{max_relative_error([a], [b]):.1e}, labels '
                f'{100 * same.mean().item():.2f}% equal')

    def arrays(sample):
        p = sample.pred_instances
        out = dict(boxes=p.bboxes.numpy(), scores=p.scores.numpy(),
                   labels=p.labels.numpy())
        if 'masks' in p:
            out['masks'] = p.masks.numpy().astype(bool)
        return out
    parity = compare_detections(arrays(ref), arrays(got), 0.9, 2e-2)
    return (f'{parity.matched}/{parity.count_ref} matched (IoU >= 0.9, '
            f'scores within 2e-2), max score diff '
            f'{parity.max_score_diff:.1e}')


SECTIONS = {'backbone': backbone, 'test-step': test_step}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sections', nargs='+', default=list(SECTIONS),
                        choices=list(SECTIONS))
    parser.add_argument('--shape', type=int, nargs=2, default=[512, 512])
    parser.add_argument('--repeat', type=int, default=15,
                        help='timed runs of each backbone case (15)')
    parser.add_argument('--model-repeat', type=int, default=8,
                        help='timed runs of each test_step case (8)')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--calib', type=int, default=32,
                        help='calibration pictures of the int8 files (32)')
    parser.add_argument('--cases', default='.',
                        help='only the cases (and models) matching this')
    parser.add_argument('--profile', action='store_true')
    parser.add_argument('--profile-runs', type=int, default=5)
    parser.add_argument('--det-config',
                        default='configs/maskrcnn_van_b0_1x.py')
    parser.add_argument('--det-checkpoint',
                        help='trained weights of --det-config (default: '
                        'random, score threshold 0)')
    parser.add_argument('--seg-config',
                        default='configs/fpn_van_b2_ade20k_40k.py')
    parser.add_argument('--seg-checkpoint')
    parser.add_argument('--det-image', help='the detector\'s input, resized '
                        'to --shape (default: a random image)')
    parser.add_argument('--seg-image', help='the same for the segmentor')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print('python benchmarks/inference_engines.py ' + ' '.join(sys.argv[1:]))
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sections:
            print(f'\n## {name}\n', flush=True)
            SECTIONS[name](args, tmp)


if __name__ == '__main__':
    main()
