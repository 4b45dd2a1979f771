# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Helpers for tests and benchmarks: the same random weights for models
compared with each other, tiny versions of the configs' models, detectors
with a trained detector's scores."""
import torch
import torch.nn as nn

B0_DIMS = [32, 64, 160, 256]  # VAN-B0's stage widths


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


# The classifier layers of the detection heads :func:`plant_scores` sets.
CLASSIFIERS = ('retina_cls', 'atss_cls', 'gfl_cls', 'rpn_cls', 'fc_cls')


def plant_scores(detector: nn.Module, calibration: torch.Tensor,
                 gain: float = 10.0, shift: float = 0.0, active: int = 2,
                 quantile: float = 0.95) -> nn.Module:
    """Give a detector with random heads the scores of a trained one: few,
    spatially clustered detections of a few classes, so that neighbouring
    boxes of one class overlap and NMS has to suppress them (random heads
    score every anchor about alike, and a random R-CNN softmax stays under
    its score threshold: neither tests NMS).

    Dense heads (RetinaNet, ATSS, GFL) and the RPN: the classifier weights
    of the first ``active`` classes times ``gain``, their biases plus
    ``shift``; the other classes' biases at -20 (never detected). R-CNN
    box heads (each stage of a cascade): made to separate the RoIs of the
    ``calibration`` image (uint8 (3, H, W), as a test pipeline gives it):
    for each active class the logit is ``gain`` standard deviations of a
    random projection of the RoI feature above its ``quantile`` over those
    RoIs; background logit 0; other classes -20. Returns ``detector``.
    """
    with torch.no_grad():
        for name, module in detector.named_modules():
            last = name.rpartition('.')[2]
            if last not in CLASSIFIERS or last == 'fc_cls':
                continue
            weight, bias = module.weight, module.bias
            if last == 'rpn_cls':
                weight *= gain
                bias += shift
                continue
            classes = detector.bbox_head.cls_out_channels
            on = torch.arange(bias.numel()) % classes < active
            weight[on] *= gain
            bias[on] += shift
            bias[~on] = -20.0
    roi_head = getattr(detector, 'roi_head', None)
    if roi_head is None or not hasattr(roi_head, 'bbox_head'):
        return detector
    heads = roi_head.bbox_head
    heads = list(heads) if isinstance(heads, nn.ModuleList) else [heads]
    if any(getattr(h, 'fc_cls', None) is None or
           h.fc_cls.out_features != h.num_classes + 1 for h in heads):
        return detector  # no softmax classifier (Sparse R-CNN's heads)
    seen = {k: [] for k in range(len(heads))}
    hooks = [h.fc_cls.register_forward_hook(
        lambda m, args, out, k=k: seen[k].append(args[0]))
        for k, h in enumerate(heads)]
    try:
        from mmdet.structures import DetDataSample
        h, w = calibration.shape[1:]
        shape = (int(h), int(w))
        sample = DetDataSample(metainfo=dict(
            img_shape=shape, ori_shape=shape, pad_shape=shape,
            scale_factor=(1., 1.)))
        with torch.no_grad():
            detector.test_step(dict(inputs=[calibration],
                                    data_samples=[sample]))
    finally:
        for hook in hooks:
            hook.remove()
    with torch.no_grad():
        for k, head in enumerate(heads):
            fc, feats = head.fc_cls, torch.cat(seen[k])
            weight = torch.zeros_like(fc.weight)
            bias = torch.full_like(fc.bias, -20.0)
            bias[-1] = 0.0  # background
            for c in range(active):
                proj = feats @ fc.weight[c]
                std = proj.std().clamp_min(1e-6)
                weight[c] = fc.weight[c] * gain / std
                bias[c] = -gain * torch.quantile(proj / std, quantile)
            fc.weight.copy_(weight)
            fc.bias.copy_(bias)
    return detector


def to_tiny_b0(cfg):
    """The config's model with a randomly initialised VAN-B0 backbone (plain
    BN, no drop path) and the neck and heads that read it resized."""
    cfg.model.backbone.update(
        arch='b0', init_cfg=None, drop_path_rate=0.,
        norm_cfg=dict(type='BN', requires_grad=True))
    neck = cfg.model.get('neck')
    if neck is not None and 'in_channels' in neck:
        neck.in_channels = B0_DIMS
    head = cfg.model.get('decode_head')
    if head is not None and head.type == 'UPerHead':
        head.in_channels = B0_DIMS
    if head is not None and head.type == 'LightHamHead':
        head.in_channels = [B0_DIMS[i] for i in head.in_index]
    panoptic = cfg.model.get('panoptic_head')
    if panoptic is not None:
        panoptic.in_channels = B0_DIMS
    aux = cfg.model.get('auxiliary_head')
    if aux is not None:
        aux.in_channels = B0_DIMS[aux.in_index]
    return cfg


def lighten(cfg):
    """Fewer proposals and sampled RoIs (and mask points), so two-stage
    and query-based models step quickly on a CPU (mmcv's CPU RoIAlign
    dominates otherwise)."""

    def visit(node):
        if isinstance(node, (list, tuple)):
            for item in node:
                visit(item)
        elif isinstance(node, dict):
            for key in ('rpn', 'rpn_proposal'):
                if isinstance(node.get(key), dict):
                    node[key].update(nms_pre=200, max_per_img=50)
            if isinstance(node.get('sampler'), dict) and \
                    'num' in node['sampler']:
                node['sampler']['num'] = 32
            if 'max_per_img' in node and 'mask_thr_binary' in node:
                node['max_per_img'] = 20  # rcnn test: fewer masks to paste
            for value in node.values():
                visit(value)

    visit(cfg.model.get('train_cfg'))
    visit(cfg.model.get('test_cfg'))
    if cfg.model.get('rpn_head', {}).get('type') == 'EmbeddingRPNHead':
        cfg.model.rpn_head.num_proposals = 20  # Sparse R-CNN
        cfg.model.test_cfg.rcnn.max_per_img = 20
    if 'panoptic_head' in cfg.model:
        # Mask2Former: fewer mask points; batches padded to their largest
        # image instead of the large-scale jitter's fixed 1024x1024
        cfg.model.train_cfg.num_points = 1024
        cfg.model.data_preprocessor.batch_augments = None
    return cfg
