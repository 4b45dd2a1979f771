"""Detection configs: sizes, and a loss and a predict step each."""
import math

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.model import revert_sync_batchnorm

from helpers import DET_PARAMS_M, lighten, load, params_m, to_tiny_b0

register_all_modules()

ARCH = {'b0': 'VAN-Tiny', 'b1': 'VAN-Small', 'b2': 'VAN-Base',
        'b3': 'VAN-Large'}


@pytest.mark.parametrize('name', sorted(DET_PARAMS_M))
def test_params_match_paper(name):
    """Built on the meta device: the count, without allocating weights."""
    cfg = load(name)
    assert cfg.default_scope == 'mmdet'
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert params_m(model) == pytest.approx(DET_PARAMS_M[name], rel=0.01)


# The optimizer each framework trains with and where it comes from:
# (type, lr, weight decay, gradient clipping max norm).
VAN_DET_ADAMW = ('AdamW', 1e-4, 0.05, None)  # the paper's, as Swin's/PVTv2's
RECIPES = {
    'retinanet': VAN_DET_ADAMW,
    'maskrcnn': VAN_DET_ADAMW,
    'faster_rcnn': VAN_DET_ADAMW,  # as the Mask R-CNN configs
    'cascade_maskrcnn': VAN_DET_ADAMW,
    'atss': VAN_DET_ADAMW,  # PVTv2's ATSS/GFL 3x recipes
    'gfl': VAN_DET_ADAMW,
    # mmdet's and PVTv2's Sparse R-CNN: for the dynamic heads
    'sparsercnn': ('AdamW', 2.5e-5, 1e-4, 1),
    # mmdet's Mask2Former panoptic recipe
    'mask2former': ('AdamW', 1e-4, 0.05, 0.01),
}


def framework(name):
    return name[:name.index('_van_')]


def test_every_detection_config_has_a_recipe():
    assert {framework(n) for n in DET_PARAMS_M} == set(RECIPES)


@pytest.mark.parametrize('name', sorted(DET_PARAMS_M))
def test_training_settings(name):
    """The framework's optimizer recipe (RECIPES), 16 images per step,
    pretrained official weights of the configured arch, COCO under
    data/coco/; 3x configs run 36 epochs with multi-scale training."""
    cfg = load(name)
    assert cfg.custom_imports.imports == ['van_mm']
    opt, wrapper = cfg.optim_wrapper.optimizer, cfg.optim_wrapper
    clip = wrapper.get('clip_grad') or {}
    assert (opt.type, opt.lr, opt.weight_decay,
            clip.get('max_norm')) == RECIPES[framework(name)]
    if RECIPES[framework(name)] == VAN_DET_ADAMW:
        assert wrapper.paramwise_cfg.norm_decay_mult == 0
        assert wrapper.paramwise_cfg.custom_keys.layer_scale == dict(
            decay_mult=0.)
        assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=16)
    assert cfg.train_dataloader.batch_size * 8 == 16
    backbone = cfg.model.backbone
    assert backbone.type == 'VAN' and backbone.drop_path_rate > 0
    url = backbone.init_cfg.checkpoint
    assert url.startswith('https://huggingface.co/Visual-Attention-Network/'
                          f'{ARCH[backbone.arch]}-original/')
    assert cfg.train_dataloader.dataset.data_root == 'data/coco/'
    if name.startswith('retinanet'):
        neck = cfg.model.neck
        assert (neck.start_level, neck.add_extra_convs,
                neck.num_outs) == (1, 'on_input', 5)
    if name.endswith('3x.py'):
        assert cfg.train_cfg.max_epochs == 36
        steps = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR']
        assert steps[0].milestones == [27, 33]
        pipeline = str(cfg.train_dataloader.dataset.pipeline)
        assert "'RandomChoiceResize'" in pipeline  # multi-scale training


def test_mask2former_trains_the_backbone_slower_without_decay_on_norms():
    """mmdet's Mask2Former recipe for a VAN: every backbone parameter at
    x0.1 learning rate; no weight decay on the backbone's norms and layer
    scales nor on the head's norms and query/level embeddings; weight decay
    on the rest."""
    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper
    cfg = to_tiny_b0(load('mask2former_van_b2_panoptic_50e.py'))
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('WARNING')  # the constructor logs every parameter
    try:
        optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    finally:
        logger.setLevel(level)
    names = {id(p): n for n, p in model.named_parameters()}
    no_decay = ('norm', 'layer_scale', 'query_embed', 'query_feat',
                'level_embed', '.gn.')
    seen = 0
    for group in optimizer.param_groups:
        for param in group['params']:
            name = names[id(param)]
            lr = 1e-5 if name.startswith('backbone') else 1e-4
            assert group['lr'] == pytest.approx(lr), name
            decay = 0 if any(k in name for k in no_decay) else 0.05
            assert group['weight_decay'] == decay, name
            seen += 1
    assert seen == len(names)


# One config per model: with the VAN-B0 backbone of the tests, the B0-B3
# configs of a framework (and its 1x and 3x schedules) build the same model.
ONE_PER_MODEL = ['atss_van_b2_3x.py', 'cascade_maskrcnn_van_b2_3x.py',
                 'faster_rcnn_van_b0_1x.py', 'gfl_van_b2_3x.py',
                 'maskrcnn_van_b0_1x.py', 'retinanet_van_b0_1x.py',
                 'sparsercnn_van_b2_3x.py']


@pytest.mark.parametrize('name', sorted(
    n for n in DET_PARAMS_M if not n.startswith('mask2former')))
def test_each_tiny_model_is_one_of_those_stepped(name):
    """What makes one loss and predict step per model enough."""
    model = to_tiny_b0(load(name)).model
    assert any(model == to_tiny_b0(load(other)).model
               for other in ONE_PER_MODEL)


@pytest.mark.parametrize('name', ONE_PER_MODEL)
def test_loss_and_predict_step(name):
    """Each model (with a VAN-B0 backbone) trains and predicts on CPU."""
    cfg = lighten(to_tiny_b0(load(name)))
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    with_mask = 'mask_head' in str(cfg.model.get('roi_head', ''))
    packed = demo_mm_inputs(
        2, [(3, 128, 160), (3, 96, 128)], num_items=[3, 2],
        num_classes=80, with_mask=with_mask)
    data = model.data_preprocessor(packed, True)
    model.train()
    losses = model(**data, mode='loss')
    total, _ = model.parse_losses(losses)
    assert math.isfinite(total.item()) and total.item() > 0
    if with_mask:
        assert 'loss_mask' in losses or 's0.loss_mask' in losses
    total.backward()
    assert model.backbone.stages[0].patch_embed.proj.weight.grad is not None

    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(packed, False),
                        mode='predict')
    assert len(results) == 2
    for result, (h, w) in zip(results, [(128, 160), (96, 128)]):
        boxes = result.pred_instances.bboxes
        assert boxes.shape[1] == 4 and len(result.pred_instances.scores) == \
            len(boxes)
        if with_mask:
            assert result.pred_instances.masks.shape[1:] == (h, w)


def test_panoptic_loss_and_predict_step():
    """Mask2Former (with a VAN-B0 backbone) trains on things and stuff and
    predicts a panoptic map and instances for every image."""
    cfg = lighten(to_tiny_b0(load('mask2former_van_b2_panoptic_50e.py')))
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    shapes = [(128, 160), (96, 128)]
    packed = demo_mm_inputs(2, [(3, h, w) for h, w in shapes],
                            num_items=[3, 2], num_classes=80,
                            with_mask=True, with_semantic=True)
    for sample, (h, w) in zip(packed['data_samples'], shapes):
        stuff = torch.full((1, h, w), 90)  # two stuff classes (80-132)
        stuff[:, h // 2:] = 120
        sample.gt_sem_seg.sem_seg = stuff
    model.train()
    losses = model(**model.data_preprocessor(packed, True), mode='loss')
    total, _ = model.parse_losses(losses)
    assert math.isfinite(total.item()) and total.item() > 0
    assert {'loss_cls', 'loss_mask', 'loss_dice'} <= set(losses)
    total.backward()
    assert model.backbone.stages[0].patch_embed.proj.weight.grad is not None

    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(packed, False),
                        mode='predict')
    for result, (h, w) in zip(results, shapes):
        assert result.pred_panoptic_seg.sem_seg.shape == (1, h, w)
        assert result.pred_instances.masks.shape[1:] == (h, w)
