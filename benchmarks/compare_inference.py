# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""VAN-B2 backbone inference against mmpretrain's VAN, Swin-T and ResNet-50
(PyTorch and onnxruntime), the ONNX graph that onnxruntime runs fastest,
Semantic FPN VAN-B2 end to end in every engine, and whole-model latency of
Mask R-CNN / Semantic FPN with VAN-B0, ResNet-50 and Swin-T; prints
Markdown tables with medians and ratios.

    python benchmarks/compare_inference.py [--repeat N] [--shape H W]
        [--sections backbones onnx-graphs fpn-b2 whole-models]

All cases of a table are timed round-robin in one process (one run of each
in turn), so load on a shared machine hits them alike.

mmpretrain's VAN: ``mmpretrain.models`` cannot be imported without
torchvision (no CPU wheel for this torch); van_mm.compat lets mmpretrain's
registry finish the import of ``mmpretrain.models.backbones`` (which needs no
torchvision) and skip the rest, so ``MODELS.build(dict(type='mmpretrain.VAN',
...))`` builds mmpretrain's own, unmodified class.
"""
import argparse
import copy
import os.path as osp
import platform
import tempfile

import torch

from van_mm import VAN
from van_mm.analysis.profiling import (
    bf16_autocast,
    make_inputs,
    max_relative_error,
    time_cases,
)
from van_mm.apis import (
    build_from_config,
    cpu_row_bands,
    load_config,
    switch_to_deploy,
)
from van_mm.checkpoint import convert_state_dict
from van_mm.testing import randomize

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(HERE)
ONNX = 'onnxruntime fp32'  # case name suffix of the exported models


def table(timings, reference, extra=None):
    ref = timings[reference].median
    rows = ['| case | median (ms) | IQR (% of median) | images/s | '
            f'speed vs {reference} |' + (' ' + extra[0] + ' |'
                                         if extra else ''),
            '|---|---|---|---|---|' + ('---|' if extra else '')]
    for name, t in timings.items():
        row = (f'| {name} | {t.median * 1000:.1f} | {t.spread:.1f} | '
               f'{t.images_per_s:.2f} | {ref / t.median:.2f}x |')
        if extra:
            row += f' {extra[1].get(name, "")} |'
        rows.append(row)
    return '\n'.join(rows)


def backbones(shape, repeat):
    from mmdet.models.backbones import ResNet, SwinTransformer
    from mmpretrain.registry import MODELS
    h, w = shape
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    x_cl = x.contiguous(memory_format=torch.channels_last)

    reference = randomize(MODELS.build(dict(
        type='mmpretrain.VAN', arch='base', out_indices=(0, 1, 2, 3))),
        std=0.02)
    # The same weights in van_mm; mmpretrain's VAN uses LayerNorm eps 1e-5.
    weights = convert_state_dict(reference.state_dict())
    eager = VAN(arch='b2', ln_eps=weights.ln_eps).eval()
    eager.load_state_dict(weights.state_dict)
    deploy = copy.deepcopy(eager)
    deploy.switch_to_deploy(mlp_bands=cpu_row_bands())
    deploy = deploy.to(memory_format=torch.channels_last)

    import torch._inductor.config as inductor
    inductor.freezing = True
    compiled = torch.compile(copy.deepcopy(deploy), dynamic=False)
    resnet, swin = ResNet(depth=50), SwinTransformer()
    resnet.eval()  # mmdet's train() returns None: no chaining
    swin.eval()
    resnet_cl = copy.deepcopy(resnet).to(memory_format=torch.channels_last)

    def bf16():
        with bf16_autocast(True):
            return deploy(x_cl)

    onnx = onnx_backbone(eager, x)
    cases = {
        'mmpretrain VAN-B2 (reference)': lambda: reference(x),
        'van_mm VAN-B2': lambda: eager(x),
        'van_mm VAN-B2 deploy + channels_last': lambda: deploy(x_cl),
        'van_mm VAN-B2 deploy + channels_last + compile':
        lambda: compiled(x_cl),
        'van_mm VAN-B2 deploy + channels_last, bf16': bf16,
        f'van_mm VAN-B2 {ONNX}': lambda: onnx(x),
        'ResNet-50': lambda: resnet(x),
        'ResNet-50 channels_last': lambda: resnet_cl(x_cl),
        'Swin-T': lambda: swin(x),
    }
    with torch.inference_mode():
        ref_out = reference(x)
        errors = {
            name: f'{max_relative_error(ref_out, cases[name]()):.1e}'
            for name in list(cases)[1:6]
        }
    timings = time_cases(cases, 1, repeat)
    return table(timings, 'mmpretrain VAN-B2 (reference)',
                 ('max rel. error vs reference', errors))


def onnx_backbone(model, x):
    """``model`` exported as ``tools/export_onnx.py`` exports it (the graph
    of ``van_mm.export.ONNX_DEPLOY``, checked) in onnxruntime, called like
    the PyTorch model."""
    from van_mm.export import onnxruntime_model
    return onnxruntime_model(model, shape=tuple(x.shape[2:]))


def onnx_graphs(shape, repeat):
    """Which VAN-B2 graph onnxruntime runs fastest: as trained, BN and
    layer scale folded, and folded with LKA's dilated conv phase by phase
    (PyTorch's deploy mode), against PyTorch's deploy + channels_last."""
    from van_mm.export.exporter import to_onnx
    from van_mm.export.runtime import inference_session
    h, w = shape
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    model = randomize(VAN(arch='b2'), std=0.02)
    variants = {'as trained (BN, layer scale)': copy.deepcopy(model)}
    for name, phase_split in [('BN folded', False),
                              ('BN folded + phase split', True)]:
        variants[name] = copy.deepcopy(model)
        variants[name].switch_to_deploy(phase_split=phase_split)
    deploy = copy.deepcopy(model)
    deploy.switch_to_deploy(mlp_bands=cpu_row_bands())
    deploy = deploy.to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    cases = {'PyTorch deploy + channels_last (reference)':
             lambda: deploy(x_cl)}
    errors = {}
    with torch.inference_mode():
        ref = model(x)
    with tempfile.TemporaryDirectory() as tmp:
        for name, variant in variants.items():
            path = osp.join(tmp, f'{len(cases)}.onnx')
            to_onnx(variant, x, path, [f's{i}' for i in range(4)], False, {})
            session = inference_session(path)
            feed = {'input': x.numpy()}
            cases[f'{ONNX}, {name}'] = (
                lambda s=session, f=feed: s.run(None, f))
            outs = [torch.from_numpy(o) for o in session.run(None, feed)]
            errors[f'{ONNX}, {name}'] = (
                f'{max_relative_error(ref, outs):.1e}')
    timings = time_cases(cases, 1, repeat)
    return table(timings, 'PyTorch deploy + channels_last (reference)',
                 ('max rel. error vs as trained', errors))


def fpn_b2(shape, repeat):
    """Semantic FPN VAN-B2 ``test_step`` in every engine, same weights;
    mmpretrain's VAN-B2 as backbone for comparison."""
    from mmpretrain.registry import MODELS

    from van_mm.export import onnxruntime_model
    h, w = shape
    cfg = load_config(osp.join(REPO, 'configs', 'fpn_van_b2_ade20k_40k.py'))
    mmpre = randomize(MODELS.build(dict(
        type='mmpretrain.VAN', arch='base', out_indices=(0, 1, 2, 3))),
        std=0.02)
    weights = convert_state_dict(mmpre.state_dict())
    today = build_from_config(cfg)
    today.backbone = VAN(arch='b2', ln_eps=weights.ln_eps).eval()
    today.backbone.load_state_dict(weights.state_dict)
    reference = copy.deepcopy(today)
    reference.backbone = mmpre
    deploy = copy.deepcopy(today)
    switch_to_deploy(deploy)
    deploy = deploy.to(memory_format=torch.channels_last)
    import torch._inductor.config as inductor
    inductor.freezing = True
    compiled = copy.deepcopy(deploy)
    compiled.backbone = torch.compile(compiled.backbone, dynamic=False)
    onnx = onnxruntime_model(today, shape=(h, w))
    models = {
        'mmpretrain VAN-B2 backbone': reference,
        'van_mm (as tools/test.py runs it)': today,
        'van_mm deploy + channels_last': deploy,
        'van_mm deploy + channels_last + compile': compiled,
        'van_mm deploy + channels_last, bf16': deploy,
        f'van_mm {ONNX}': onnx,
    }
    cases, errors = {}, {}
    with torch.inference_mode():
        ref = make_inputs(cfg, today, 1, h, w, False)()[0].seg_logits.data
    for name, model in models.items():
        run = make_inputs(cfg, model, 1, h, w, False)
        if 'bf16' in name:
            run = bf16_call(run)
        cases[name] = run
        with torch.inference_mode():
            logits = run()[0].seg_logits.data
        errors[name] = f'{max_relative_error([ref], [logits]):.1e}'
    timings = time_cases(cases, 1, repeat)
    return table(timings, 'van_mm (as tools/test.py runs it)',
                 ('max rel. error of the logits', errors))


def bf16_call(run):
    """``run`` under bf16 autocast."""
    def call():
        with bf16_autocast(True):
            return run()
    return call


def whole_models(shape, repeat):
    h, w = shape
    out = []
    for task, configs in [
        ('Mask R-CNN', {
            'VAN-B0': 'configs/maskrcnn_van_b0_1x.py',
            'ResNet-50': 'benchmarks/configs/maskrcnn_r50_1x.py',
            'Swin-T': 'benchmarks/configs/maskrcnn_swin_t_1x.py'}),
        ('Semantic FPN', {
            'VAN-B0': 'configs/fpn_van_b0_ade20k_40k.py',
            'ResNet-50': 'benchmarks/configs/fpn_r50_ade20k.py',
            'Swin-T': 'benchmarks/configs/fpn_swin_t_ade20k.py'}),
    ]:
        cases, params = {}, {}
        for name, path in configs.items():
            cfg = load_config(osp.join(REPO, path))
            model = build_from_config(cfg)
            params[f'{task} {name}'] = (
                f'{sum(p.numel() for p in model.parameters()) / 1e6:.1f}')
            cases[f'{task} {name}'] = make_inputs(cfg, model, 1, h, w, False)
            if name.startswith('VAN'):
                fast = copy.deepcopy(model)
                switch_to_deploy(fast)
                fast = fast.to(memory_format=torch.channels_last)
                key = f'{task} {name} deploy + channels_last'
                params[key] = params[f'{task} {name}']
                cases[key] = make_inputs(cfg, fast, 1, h, w, False)
        timings = time_cases(cases, 1, repeat, warmup=1)
        out.append(table(timings, f'{task} ResNet-50',
                         ('params (M)', params)))
    return '\n\n'.join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=20)
    parser.add_argument('--model-repeat', type=int, default=8)
    parser.add_argument('--shape', type=int, nargs=2, default=[512, 512])
    parser.add_argument('--sections', nargs='+', default=list(SECTIONS),
                        choices=list(SECTIONS))
    args = parser.parse_args()
    print(f'Machine: {platform.processor() or platform.machine()}, '
          f'{torch.get_num_threads()} threads, torch {torch.__version__}; '
          f'input 1x3x{args.shape[0]}x{args.shape[1]}, fp32 unless noted.')
    for name in args.sections:
        title, run, whole = SECTIONS[name]
        print(f'\n### {title}\n')
        print(run(args.shape, args.model_repeat if whole else args.repeat))


SECTIONS = {
    'backbones': ('Backbones', backbones, False),
    'onnx-graphs': ('The VAN-B2 graph for onnxruntime', onnx_graphs, False),
    'fpn-b2': ('Semantic FPN VAN-B2 test_step in each engine (pre-processing,'
               ' network, post-processing; random weights)', fpn_b2, True),
    'whole-models': ('Whole models (test_step: pre-processing, network, '
                     'post-processing; random weights)', whole_models, True),
}


if __name__ == '__main__':
    main()
