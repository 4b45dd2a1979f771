"""Segmentation configs: sizes, settings, and a loss and a predict step."""
import math

import pytest
import torch
from mmengine.model import revert_sync_batchnorm
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import register_all_modules

from helpers import SEG_PARAMS_M, load, params_m, to_tiny_b0
from van_mm.checkpoint.pretrained import PRETRAINED

register_all_modules()


# Drop path and images per GPU of the official VAN-Segmentation configs
# (configs/sem_fpn/*.py, configs/upernet/{1k,22k}_pretrained/*.py).
DROP_PATH = {'b0': 0.1, 'b1': 0.1, 'b2': 0.1, 'b3': 0.3, 'b4': 0.4,
             'b5': 0.4, 'b6': 0.5}
FPN_DROP_PATH = {'b0': 0.2, 'b1': 0.2, 'b2': 0.2, 'b3': 0.3, 'b4': 0.4}
UPERNET_BATCH = {'b4': 4}  # others 2


@pytest.mark.parametrize('name', sorted(SEG_PARAMS_M))
def test_params_match_paper(name):
    """Built on the meta device: the count, without allocating weights."""
    cfg = load(name)
    assert cfg.default_scope == 'mmseg'
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert params_m(model) == pytest.approx(SEG_PARAMS_M[name], rel=0.01)


@pytest.mark.parametrize('name', sorted(SEG_PARAMS_M))
def test_training_settings(name):
    """The official VAN-Segmentation settings for Semantic FPN and UperNet;
    for Light-Ham, SegNeXt's recipe as the VAN + Light-Ham configs of
    Enjoy-Hamburger use it."""
    cfg = load(name)
    assert cfg.custom_imports.imports == ['van_mm']
    backbone = cfg.model.backbone
    weights = f'van_{backbone.arch}.in22k' if '_22k_' in name else \
        f'van_{backbone.arch}.in1k'
    assert backbone.init_cfg.checkpoint == PRETRAINED[weights].checkpoint
    if name.startswith('lightham'):
        assert backbone.drop_path_rate == (0.25 if backbone.arch == 'b3'
                                           else 0.1)
    else:
        assert backbone.drop_path_rate == (FPN_DROP_PATH if name.startswith(
            'fpn') else DROP_PATH)[backbone.arch]
    assert cfg.crop_size == (512, 512)
    assert cfg.model.data_preprocessor.size == (512, 512)
    assert cfg.train_dataloader.dataset.data_root == \
        'data/ade/ADEChallengeData2016'
    assert cfg.train_dataloader.dataset.type == 'ADE20KDataset'
    assert cfg.model.decode_head.num_classes == 150
    opt = cfg.optim_wrapper.optimizer
    if name.startswith('fpn'):
        assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 2e-4, 1e-4)
        assert cfg.model.neck.out_channels == 256
        assert cfg.model.decode_head.channels == 128
        assert cfg.train_dataloader.batch_size == 4
        assert cfg.train_cfg.max_iters == 40000
        (poly, ) = cfg.param_scheduler
        assert (poly.type, poly.power) == ('PolyLR', 0.9)
    elif name.startswith('lightham'):
        assert (opt.type, opt.lr, opt.weight_decay,
                opt.betas) == ('AdamW', 6e-5, 0.01, (0.9, 0.999))
        # no decay on the backbone's norms; no x10 rate on the head
        assert cfg.optim_wrapper.paramwise_cfg == dict(
            custom_keys={'norm': dict(decay_mult=0.)})
        head = cfg.model.decode_head
        width = 256 if backbone.arch in ('b0', 'b1') else 512
        assert (head.type, head.in_index, head.channels,
                head.ham_channels) == ('LightHamHead', [1, 2, 3], width, width)
        assert head.ham_kwargs.MD_R == (16 if width == 256 else 64)
        assert head.norm_cfg == dict(type='GN', num_groups=32,
                                     requires_grad=True)
        assert cfg.train_dataloader.batch_size == 2
        assert cfg.train_cfg.max_iters == 160000
        warmup, poly = cfg.param_scheduler
        assert (warmup.type, warmup.end) == ('LinearLR', 1500)
        assert (poly.type, poly.power, poly.begin) == ('PolyLR', 1.0, 1500)
    else:
        assert (opt.type, opt.lr, opt.weight_decay,
                opt.betas) == ('AdamW', 6e-5, 0.01, (0.9, 0.999))
        assert cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == 0
        assert cfg.model.decode_head.channels == 512
        aux = cfg.model.auxiliary_head
        assert (aux.in_index, aux.loss_decode.loss_weight) == (2, 0.4)
        assert cfg.train_dataloader.batch_size == UPERNET_BATCH.get(
            backbone.arch, 2)
        assert cfg.train_cfg.max_iters == 160000
        warmup, poly = cfg.param_scheduler
        assert (warmup.type, warmup.end) == ('LinearLR', 1500)
        assert (poly.type, poly.power, poly.begin) == ('PolyLR', 1.0, 1500)


def _seg_inputs(shapes, num_classes=150):
    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for h, w in shapes:
        inputs.append(torch.randint(0, 256, (3, h, w), dtype=torch.uint8,
                                    generator=g))
        sample = SegDataSample(metainfo=dict(img_shape=(h, w),
                                             ori_shape=(h, w),
                                             pad_shape=(h, w)))
        label = torch.randint(0, num_classes, (1, h, w), generator=g)
        label[:, :4] = 255  # ignored pixels
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


# One config per model: with the VAN-B0 backbone of the tests, the B0-B6
# configs of a framework build the same model, except Light-Ham's head,
# which is twice as wide from B2 on.
ONE_PER_MODEL = ['fpn_van_b0_ade20k_40k.py', 'lightham_van_b0_ade20k_160k.py',
                 'lightham_van_b2_ade20k_160k.py',
                 'upernet_van_b0_ade20k_160k.py']


@pytest.mark.parametrize('name', sorted(SEG_PARAMS_M))
def test_each_tiny_model_is_one_of_those_stepped(name):
    """What makes one loss and predict step per model enough."""
    model = to_tiny_b0(load(name)).model
    assert any(model == to_tiny_b0(load(other)).model
               for other in ONE_PER_MODEL)


@pytest.mark.parametrize('name', ONE_PER_MODEL)
def test_loss_and_predict_step(name):
    """Each model (with a VAN-B0 backbone) trains and predicts on CPU."""
    cfg = to_tiny_b0(load(name))
    cfg.model.data_preprocessor.size = (64, 96)
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    packed = _seg_inputs([(64, 96), (64, 96)])
    model.train()
    losses = model(**model.data_preprocessor(packed, True), mode='loss')
    total, _ = model.parse_losses(losses)
    assert math.isfinite(total.item()) and total.item() > 0
    if 'auxiliary_head' in cfg.model:
        assert 'aux.loss_ce' in losses
    total.backward()
    assert model.backbone.stages[0].patch_embed.proj.weight.grad is not None

    model.eval()
    packed = _seg_inputs([(70, 90)])
    with torch.no_grad():
        (result, ) = model(**model.data_preprocessor(packed, False),
                           mode='predict')
    assert result.pred_sem_seg.data.shape == (1, 70, 90)
    assert result.seg_logits.data.shape == (150, 70, 90)
