# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""What VAN looks at: LKA attention maps and Grad-CAM, per stage.

``lka``: the attention map ``attn`` of the last block's LKA in each chosen
stage (before it multiplies its input), averaged over channels.
``gradcam``: Grad-CAM (Captum's ``LayerGradCam``) on each chosen stage's
output, for the score of

* a detector (a two-stage mmdet model): the class logit of its most
  confident proposal and class (its top detection);
* a segmentor (mmseg): the logits of the most frequent predicted class,
  summed over the pixels predicted as it;
* a classifier (a bare VAN whose checkpoint has a linear head, e.g. an
  official ``.pth.tar``): the top class logit of global-average pooling +
  head.

Used by ``tools/visualize_attention.py`` and
``benchmarks/attention_in_masks.py``.
"""
import math

import torch
import torch.nn.functional as F

from van_mm.apis import build_from_config, data_sample, load_config, task_of
from van_mm.images import to_input


class Target:
    """A VAN backbone, the tensor it is fed, and the score Grad-CAM
    explains (``score(images) -> (N,)``; None for the LKA method)."""

    def __init__(self, backbone, inputs, score=None):
        self.backbone, self.inputs, self.score = backbone, inputs, score


def arch_targets(arch, checkpoint):
    """Targets of a bare VAN (and a linear head if the checkpoint has one):
    weights loaded once, a function ``(image, with_score=True)`` to the
    image's :class:`Target` (the score costs a prediction; only Grad-CAM
    needs it)."""
    from van_mm.checkpoint import load_pretrained
    from van_mm.models import VAN
    backbone = VAN(arch=arch).eval()
    head = None
    if checkpoint:
        converted = load_pretrained(backbone, checkpoint)
        if converted.head:
            head = torch.nn.Linear(*converted.head['weight'].shape[::-1])
            head.load_state_dict(converted.head)

    def logits(inputs):
        return head(backbone(inputs)[-1].mean((2, 3)))

    def target(image, with_score=True):
        x = to_input(image)
        if head is None or not with_score:
            return Target(backbone, x)
        with torch.no_grad():
            label = int(logits(x).argmax())
        return Target(backbone, x, lambda inputs: logits(inputs)[:, label])

    return target


def config_targets(config, checkpoint):
    """Targets of a detector's or segmentor's backbone: the model built
    once, a function ``(image, with_score=True)`` to the image's
    pre-processed input and the score of the model's prediction
    (:class:`Target`)."""
    from mmengine.registry import init_default_scope
    cfg = load_config(config)
    init_default_scope(cfg.default_scope)
    model = build_from_config(cfg, checkpoint=checkpoint)
    score_of = detection_score if task_of(cfg) == 'det' else \
        segmentation_score

    def target(image, with_score=True):
        inputs, samples = model_input(model, cfg, image)
        return Target(model.backbone, inputs, score_of(
            model, inputs, samples) if with_score else None)

    return target


def model_input(model, cfg, image):
    """What a detector or segmentor of ``cfg`` is fed for an RGB uint8
    image (H, W, 3), unscaled: the image in BGR through the model's data
    preprocessor (normalised, padded as the config pads), and its data
    samples."""
    data = model.data_preprocessor(dict(
        inputs=[torch.from_numpy(image[..., ::-1].copy()).permute(2, 0, 1)],
        data_samples=[data_sample(cfg, *image.shape[:2])]), False)
    return data['inputs'], data['data_samples']


def crop_padding(m, height, width, padded_height, padded_width):
    """The part of a map ``m`` (h, w) of a padded input (``padded_height``
    x ``padded_width``) that covers the ``height`` x ``width`` image at its
    top left, where data preprocessors put it."""
    h = math.ceil(m.shape[0] * height / padded_height)
    w = math.ceil(m.shape[1] * width / padded_width)
    return m[:h, :w]


def detection_score(model, inputs, samples):
    """The class logit of a two-stage detector's most confident (proposal,
    class) pair: its top detection before score threshold and NMS."""
    from mmdet.structures.bbox import bbox2roi
    roi_head = getattr(model, 'roi_head', None)
    if roi_head is None or isinstance(
            getattr(roi_head, 'bbox_head', None), torch.nn.ModuleList):
        raise ValueError(
            'Grad-CAM of a detector needs a two-stage model with one box '
            'head (Mask/Faster R-CNN); use --method lka for others.')
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        boxes = model.rpn_head.predict(feats, samples,
                                       rescale=False)[0].bboxes
        probs = roi_head._bbox_forward(feats, bbox2roi(
            [boxes]))['cls_score'].softmax(-1)[:, :-1]
    top = int(probs.flatten().argmax())
    box, label = boxes[top // probs.shape[1]][None], top % probs.shape[1]

    def score(x):
        rois = bbox2roi([box] * x.shape[0])
        return roi_head._bbox_forward(model.extract_feat(x),
                                      rois)['cls_score'][:, label]

    return score


def segmentation_score(model, inputs, samples):
    """A segmentor's logits of its most frequent predicted class, summed
    over the pixels predicted as it."""
    with torch.no_grad():
        labels = model.predict(inputs, samples)[0].pred_sem_seg.data[0]
    label = int(labels.flatten().mode().values)
    metas = [s.metainfo for s in samples]

    def score(x):
        logits = model.encode_decode(x, metas)
        mask = (labels == label).to(logits.dtype)
        return (logits[:, label] * mask).sum((1, 2))

    return score


def lka_maps(target, stages):
    """Channel mean of the last block's LKA map in each stage, (h, w): the
    output of LKA's last conv, taken as the forward computes it."""
    maps, hooks = {}, []
    for i in stages:
        lka = target.backbone.stages[i].blocks[-1].attn.spatial_gating_unit

        def hook(module, args, output, i=i):
            maps[i] = output.mean(1)[0]
        hooks.append(lka.conv1.register_forward_hook(hook))
    backbone = target.backbone
    out_indices = backbone.out_indices
    backbone.out_indices = (max(stages), )
    try:
        with torch.no_grad():
            backbone(target.inputs)
    finally:
        backbone.out_indices = out_indices
        for h in hooks:
            h.remove()
    return [maps[i] for i in stages]


def gradcam_maps(target, stages):
    """Grad-CAM (Captum) of the target's score on each stage's output."""
    if target.score is None:
        raise ValueError(
            'Grad-CAM needs a score to explain: a detector or segmentor, or '
            'a bare VAN with a checkpoint that has a classification head '
            '(e.g. the official .pth.tar).')
    from captum.attr import LayerGradCam
    maps = []
    for i in stages:
        cam = LayerGradCam(target.score, target.backbone.stages[i])
        maps.append(cam.attribute(target.inputs.clone().requires_grad_(),
                                  relu_attributions=True)[0, 0].detach())
    return maps


def to_image_size(m, height, width):
    """A map upsampled to the image and scaled to [0, 1]."""
    m = F.interpolate(m[None, None].float(), size=(height, width),
                      mode='bilinear', align_corners=False)[0, 0]
    m = m - m.min()
    return (m / m.max() if m.max() > 0 else m).numpy()


def attention_maps(targets, image, method, stages):
    """Maps (image size, in [0, 1]) of ``stages`` for one image;
    ``targets`` comes from :func:`arch_targets` or :func:`config_targets`."""
    target = targets(image, with_score=method == 'gradcam')
    if any(i not in range(len(target.backbone.stages)) for i in stages):
        raise ValueError(f'stages must be in 0..'
                         f'{len(target.backbone.stages) - 1}, got {stages}')
    maps = (lka_maps if method == 'lka' else gradcam_maps)(target, stages)
    return [to_image_size(m, *image.shape[:2]) for m in maps]


