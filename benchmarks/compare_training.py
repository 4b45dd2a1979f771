# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Training speed: the VAN-B2 backbone's training step against mmpretrain's
VAN, and whole training iterations of Semantic FPN VAN-B2 and Mask R-CNN
VAN-B0 on generated data, with and without the backbone's
``channels_last`` option, bf16 autocast and ``torch.compile`` (of the
backbone); prints Markdown tables with medians, ratios and how far losses
and gradients are from the reference.

    python benchmarks/compare_training.py [--repeat N] [--shape H W]
        [--batch N] [--det-scale W H] [--no-compile]

All cases of a table are timed round-robin in one process (one run of each
in turn), so load on a shared machine hits them alike. mmpretrain's VAN is
built as in ``benchmarks/compare_inference.py``.

* Backbone step: forward and backward of the sum of the four stage
  outputs' means, train mode (BN on batch statistics), same weights and
  input; gradients compared parameter by parameter.
* Whole iteration: ``model.train_step`` (data pre-processing, forward,
  losses, backward, AdamW step) on one batch made by the config's own
  training pipeline from a generated dataset (``van_mm.synthetic``: ADE20K
  layout scenes, COCO-format shapes); loading the batch is not timed. Each
  case trains its own copy of the same initial weights; the first step of
  each, from the same seed, gives the losses compared.
"""
import argparse
import copy
import logging
import os.path as osp
import platform
import tempfile

import torch
import torch.nn as nn

from van_mm import VAN
from van_mm.analysis.profiling import bf16_autocast, time_cases
from van_mm.apis import load_config
from van_mm.checkpoint import convert_state_dict
from van_mm.engine.mixed_precision import amp_optim_wrapper
from van_mm.synthetic import SHAPE_CLASSES, make_ade_scenes, make_coco_shapes
from van_mm.testing import randomize

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(HERE)


def table(timings, reference, extra):
    ref = timings[reference].median
    rows = [f'| case | median (s) | IQR (% of median) | speed vs '
            f'{reference} | {extra[0]} |', '|---|---|---|---|---|']
    for name, t in timings.items():
        rows.append(f'| {name} | {t.median:.2f} | {t.spread:.1f} | '
                    f'{ref / t.median:.2f}x | {extra[1].get(name, "")} |')
    return '\n'.join(rows)


def grad_error(ref: dict, model: nn.Module) -> float:
    """Largest gradient difference over ``model``'s parameters against
    ``ref`` (name -> gradient), relative to the reference's largest value;
    conv biases right before a train-mode BN have zero gradient in exact
    arithmetic, so their rounding noise counts against a thousandth of the
    model's largest gradient instead."""
    scale = 1e-3 * max(g.abs().max() for g in ref.values())
    return max(((ref[n] - p.grad.float()).abs().max() /
                torch.maximum(ref[n].abs().max(), scale)).item()
               for n, p in model.named_parameters() if n in ref)


def backbone_step(model: nn.Module, x: torch.Tensor, bf16: bool = False):
    def run():
        model.zero_grad(set_to_none=True)
        with bf16_autocast(bf16):
            outs = model(x)
        loss = sum(o.float().mean() for o in outs)
        loss.backward()
        return loss
    return run


def mmpretrain_grads(reference: nn.Module) -> dict:
    """mmpretrain's gradients under van_mm's parameter names."""
    state = {k: torch.zeros_like(v) for k, v in
             reference.state_dict().items()}
    state.update({n: p.grad for n, p in reference.named_parameters()})
    return convert_state_dict(state).state_dict


def backbones(shape, batch, repeat, compile_):
    from mmpretrain.registry import MODELS
    h, w = shape
    x = torch.rand(batch, 3, h, w,
                   generator=torch.Generator().manual_seed(1))
    reference = randomize(MODELS.build(dict(
        type='mmpretrain.VAN', arch='base', out_indices=(0, 1, 2, 3))),
        std=0.02)
    reference.train()  # returns None: no chaining
    weights = convert_state_dict(reference.state_dict())
    eager = VAN(arch='b2', ln_eps=weights.ln_eps)
    eager.load_state_dict(weights.state_dict)
    eager.train()
    fast = copy.deepcopy(eager)
    fast.channels_last = True
    cases = {
        'mmpretrain VAN-B2 (reference)': backbone_step(reference, x),
        'van_mm VAN-B2 (as the configs run it)': backbone_step(eager, x),
        'van_mm VAN-B2 channels_last': backbone_step(fast, x),
    }
    models = {'van_mm VAN-B2 (as the configs run it)': eager,
              'van_mm VAN-B2 channels_last': fast}
    if compile_:
        compiled = copy.deepcopy(fast)
        models['van_mm VAN-B2 channels_last + compile'] = compiled
        cases['van_mm VAN-B2 channels_last + compile'] = backbone_step(
            torch.compile(compiled, dynamic=False), x)
    bf16 = copy.deepcopy(fast)
    models['van_mm VAN-B2 channels_last, bf16 autocast'] = bf16
    cases['van_mm VAN-B2 channels_last, bf16 autocast'] = backbone_step(
        bf16, x, bf16=True)
    timings = time_cases(cases, batch, repeat, warmup=1, inference=False)
    ref = mmpretrain_grads(reference)
    errors = {name: f'{grad_error(ref, m):.1e}' for name, m in models.items()}
    return table(timings, 'mmpretrain VAN-B2 (reference)',
                 ('max rel. gradient error vs reference', errors))


def training_batch(cfg, batch: int):
    """One batch from the config's training pipeline and dataset."""
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DATASETS, init_default_scope
    init_default_scope(cfg.default_scope)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    return pseudo_collate([dataset[i] for i in range(batch)])


def seg_config(root, shape, batch):
    h, w = shape
    make_ade_scenes(root, num_train=batch, num_val=1, image_size=(h, w))
    cfg = load_config(osp.join(REPO, 'configs', 'fpn_van_b2_ade20k_40k.py'))
    cfg.train_dataloader.dataset.data_root = root
    return cfg


def det_config(root, scale, batch):
    make_coco_shapes(root, num_train=batch, num_val=1,
                     image_size=(scale[1], scale[0]), max_objects=6)
    cfg = load_config(osp.join(REPO, 'configs', 'maskrcnn_van_b0_1x.py'))
    cfg.train_dataloader.dataset.update(
        data_root=root, metainfo=dict(classes=SHAPE_CLASSES),
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'))
    return cfg


def train_cases(cfg, batch: int, name: str, compile_: bool):
    """Training iterations of the config's model: as configs run it today,
    with the backbone in channels_last, that with bf16 autocast
    (``tools/train.py --amp`` on a CPU) and, if ``compile_``, with the
    channels_last backbone compiled (``torch.compile``; the neck, heads
    and losses stay eager)."""
    from mmengine.logging import MMLogger
    from mmengine.model import revert_sync_batchnorm
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS
    data = training_batch(cfg, batch)
    cfg.model.backbone.init_cfg = None
    base = revert_sync_batchnorm(MODELS.build(cfg.model))
    MMLogger.get_current_instance().setLevel(logging.WARNING)  # init table
    base.init_weights()
    cases, losses = {}, {}
    variants = ['', ' channels_last', ' channels_last, bf16 autocast']
    if compile_:
        variants.append(' channels_last + compiled backbone')
    for variant in variants:
        model = copy.deepcopy(base).train()
        model.backbone.channels_last = 'channels_last' in variant
        if 'compile' in variant:
            model.backbone = torch.compile(model.backbone, dynamic=False)
        optim = cfg.optim_wrapper
        if 'bf16' in variant:
            optim = amp_optim_wrapper(optim, 'bfloat16', 'cpu')
        wrapper = build_optim_wrapper(model, optim)
        torch.manual_seed(0)  # the same drop path and samplers
        losses[name + variant] = model.train_step(data, wrapper)['loss']
        cases[name + variant] = (lambda m=model, o=wrapper:
                                 m.train_step(data, o))
    first = losses[name]
    errors = {k: f'{abs(v - first).item() / abs(first).item():.1e}'
              for k, v in losses.items()}
    return cases, errors


def whole_models(shape, scale, batch, repeat, compile_):
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, cfg in (
                ('Semantic FPN VAN-B2', seg_config(
                    osp.join(tmp, 'scenes'), shape, batch)),
                ('Mask R-CNN VAN-B0', det_config(
                    osp.join(tmp, 'shapes'), scale, batch))):
            cases, errors = train_cases(cfg, batch, name, compile_)
            timings = time_cases(cases, batch, repeat, warmup=1,
                                 inference=False)
            out.append(table(timings, name, (
                'rel. difference of the first loss', errors)))
    return '\n\n'.join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--shape', type=int, nargs=2, default=[512, 512])
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--det-scale', type=int, nargs=2,
                        default=[1333, 800], metavar=('W', 'H'),
                        help="Mask R-CNN's training scale (COCO's)")
    parser.add_argument('--no-compile', action='store_true',
                        help='skip the torch.compile cases (compiling the '
                        'backward takes minutes)')
    parser.add_argument('--skip-whole', action='store_true',
                        help='only the backbone step')
    args = parser.parse_args()
    h, w = args.shape
    print(f'Machine: {platform.processor() or platform.machine()}, '
          f'{torch.get_num_threads()} threads, torch {torch.__version__}; '
          f'batch {args.batch}, fp32 unless noted.\n')
    print(f'### VAN-B2 backbone training step, {args.batch}x3x{h}x{w}\n')
    print(backbones(args.shape, args.batch, args.repeat,
                    not args.no_compile))
    if not args.skip_whole:
        print(f'\n### Whole training iterations (train_step), batch '
              f'{args.batch}: Semantic FPN {h}x{w} crops, Mask R-CNN '
              f'scale {args.det_scale[0]}x{args.det_scale[1]}\n')
        print(whole_models(args.shape, args.det_scale, args.batch,
                           args.repeat, not args.no_compile))


if __name__ == '__main__':
    main()
