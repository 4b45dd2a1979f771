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
    cfg = load(name)
    assert cfg.default_scope == 'mmdet'
    model = MODELS.build(cfg.model)
    assert params_m(model) == pytest.approx(DET_PARAMS_M[name], rel=0.01)


@pytest.mark.parametrize('name', sorted(DET_PARAMS_M))
def test_training_settings(name):
    """The paper's detection setting: AdamW 1e-4, wd 0.05, 16 images per
    step, pretrained official weights of the configured arch, COCO under
    data/coco/."""
    cfg = load(name)
    assert cfg.custom_imports.imports == ['van_mm']
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 1e-4, 0.05)
    assert cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == 0
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys.layer_scale == dict(
        decay_mult=0.)
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=16)
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


@pytest.mark.parametrize('name', sorted(DET_PARAMS_M))
def test_loss_and_predict_step(name):
    """Each config (with a VAN-B0 backbone) trains and predicts on CPU."""
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
