"""Fine-tuning a trained model on other classes through ``load_from``: the
keys whose shapes differ only because the class count differs keep their
new initialisation, named in one warning; everything else must fit, and
testing or resuming still refuses them. Tiny models (narrow necks and
heads on VAN-B0) of the four framework types the issue names."""
import copy
import functools
import logging

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

from helpers import (
    DET_CONFIG,
    DET_LIGHT,
    NO_VAL,
    QUICK_RUN,
    SEG_CONFIG,
    iters,
    load,
    ok,
    run,
    to_tiny_b0,
)
from van_mm.apis import build_from_config
from van_mm.checkpoint import CheckpointError, fit_to_model
from van_mm.checkpoint.class_outputs import count_pairs
from van_mm.testing import randomize

WIDTH = 16  # channels of the tiny necks and heads

# The keys that depend on the number of classes, per config: what a
# 3-class checkpoint leaves to the initialisation of a 5-class model.
CLASS_KEYS = {
    'retinanet_van_b0_1x.py': ['bbox_head.retina_cls'],
    'maskrcnn_van_b0_1x.py': ['roi_head.bbox_head.fc_cls',
                              'roi_head.bbox_head.fc_reg',
                              'roi_head.mask_head.conv_logits'],
    'fpn_van_b0_ade20k_40k.py': ['decode_head.conv_seg'],
    'upernet_van_b0_ade20k_160k.py': ['decode_head.conv_seg',
                                      'auxiliary_head.conv_seg'],
}


def tiny(cfg):
    """The config's model on a random VAN-B0 with necks and heads
    ``WIDTH`` channels wide."""
    cfg = to_tiny_b0(cfg)
    model = cfg.model
    if 'neck' in model:
        model.neck.out_channels = WIDTH
    for name in ('decode_head', 'auxiliary_head'):
        head = model.get(name)
        if head is not None:
            head.channels = WIDTH
            if head.type == 'FPNHead':
                head.in_channels = [WIDTH] * 4
    if 'bbox_head' in model:  # RetinaNet
        model.bbox_head.update(in_channels=WIDTH, feat_channels=WIDTH)
    if 'rpn_head' in model:  # Mask R-CNN
        model.rpn_head.update(in_channels=WIDTH, feat_channels=WIDTH)
        roi = model.roi_head
        roi.bbox_roi_extractor.out_channels = WIDTH
        roi.mask_roi_extractor.out_channels = WIDTH
        roi.bbox_head.update(in_channels=WIDTH, fc_out_channels=WIDTH)
        roi.mask_head.update(in_channels=WIDTH, conv_out_channels=WIDTH)
    return cfg


def set_classes(cfg, n):
    for head in [cfg.model.get('decode_head'), cfg.model.get(
            'auxiliary_head'), cfg.model.get('bbox_head')] + (
                [cfg.model.roi_head.bbox_head, cfg.model.roi_head.mask_head]
                if 'roi_head' in cfg.model else []):
        if head is not None:
            head.num_classes = n


@functools.lru_cache(maxsize=None)
def _model(config, classes, arch='b0', seed=0):
    cfg = tiny(load(config))
    if arch != 'b0':
        cfg.model.backbone.arch = arch
    set_classes(cfg, classes)
    init_default_scope(cfg.default_scope)
    torch.manual_seed(seed)
    return randomize(build_from_config(cfg), seed=seed)


def model(config, classes, **kwargs):
    """A tiny model of ``config`` for ``classes`` classes (built once)."""
    return copy.deepcopy(_model(config, classes, **kwargs))


def trained(config, classes, meta=True, **kwargs):
    """A checkpoint as the runner saves it, of a ``classes``-class model,
    its classes in the meta (or no meta)."""
    state = model(config, classes, **kwargs).state_dict()
    names = tuple(f'class_{i}' for i in range(classes))
    return dict(state_dict=state, meta=dict(
        dataset_meta=dict(classes=names)) if meta else {})


@pytest.fixture
def warnings():
    """The warnings print_log(logger='current') gives during a test."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.mark.parametrize('meta', [True, False], ids=['meta', 'no-meta'])
@pytest.mark.parametrize('config', list(CLASS_KEYS))
def test_only_the_class_outputs_keep_their_new_initialisation(
        config, meta, warnings):
    """3 classes -> 5: the keys of CLASS_KEYS take the model's values,
    every other tensor is the checkpoint's, and one warning names them
    with both class counts (from the meta, or inferred from the shapes)."""
    source = trained(config, 3, meta=meta)
    target = model(config, 5, seed=1)
    own = target.state_dict()
    fit = fit_to_model(copy.deepcopy(source), target, 'trained.pth',
                       new_classes=True)
    expected = {f'{m}.{p}' for m in CLASS_KEYS[config]
                for p in ('weight', 'bias')}
    assert fit.state_dict.keys() == own.keys()
    reshaped = {k for k, v in fit.state_dict.items()
                if v.shape != source['state_dict'][k].shape}
    assert reshaped == expected
    for key, value in fit.state_dict.items():
        reference = own if key in expected else source['state_dict']
        assert torch.equal(value, reference[key]), key
    target.load_state_dict(fit.state_dict)  # strict: covers the model
    # the warnings about the checkpoint (building a model can add
    # mmengine's own about the default scope, after another test's)
    said = [r.getMessage() for r in warnings
            if r.levelno == logging.WARNING and 'trained.pth' in
            r.getMessage()]
    assert len(said) == 1, said
    where = 'its meta' if meta else 'inferred from its shapes'
    assert said[0].startswith(
        f"trained.pth: fine-tuning from 3 classes ({where}) to the model's "
        f'5: {len(expected)} keys of the heads\' class outputs keep their '
        'new initialisation')
    for key in expected:
        assert repr(key) in said[0]


@pytest.mark.parametrize('config', ['maskrcnn_van_b0_1x.py',
                                    'upernet_van_b0_ade20k_160k.py'])
def test_testing_or_resuming_with_other_classes_is_refused(config):
    """Without new_classes (tools/test.py, --resume, demo.py) the class
    outputs do not fit; the refusal says what they are and how to
    fine-tune."""
    with pytest.raises(CheckpointError) as err:
        fit_to_model(trained(config, 3), model(config, 5), 'trained.pth')
    message = str(err.value)
    assert message.startswith('trained.pth does not fit the model')
    assert "These are the class outputs of the heads: the checkpoint was " \
        "trained on 3 classes (its meta) to the model's 5. To test, resume" \
        in message
    assert 'load_from' in message


@pytest.mark.parametrize('source,target,message', [
    (('fpn_van_b0_ade20k_40k.py', 3, 'b1'), ('fpn_van_b0_ade20k_40k.py', 5),
     "its backbone looks like VAN arch 'b1'"),
    (('retinanet_van_b0_1x.py', 3, 'b0'), ('maskrcnn_van_b0_1x.py', 5),
     'model keys are missing from it'),
], ids=['wrong-arch', 'wrong-task'])
def test_a_wrong_arch_or_task_is_still_refused_when_fine_tuning(
        source, target, message):
    config, classes, arch = source
    with pytest.raises(CheckpointError) as err:
        fit_to_model(trained(config, classes, arch=arch), model(*target),
                     'trained.pth', new_classes=True)
    assert message in str(err.value)
    assert 'class outputs' not in str(err.value)


def test_a_meta_that_contradicts_the_shapes_is_refused():
    """The meta says 4 classes, the heads have 3: no class count explains
    the shapes, so nothing is left to the initialisation."""
    config = 'fpn_van_b0_ade20k_40k.py'
    source = trained(config, 3)
    source['meta']['dataset_meta']['classes'] = ('a', 'b', 'c', 'd')
    with pytest.raises(CheckpointError, match='keys have other shapes'):
        fit_to_model(source, model(config, 5), 'trained.pth',
                     new_classes=True)


@pytest.mark.parametrize('ckpt,own,counts,expected', [
    # rows n + 1 (softmax), 4n (box deltas), 9n or 6(n + 1) (anchors)
    ((81, 1024), (3, 1024), [2], {(80, 2)}),
    ((320, 1024), (8, 1024), [2], {(80, 2)}),
    ((720, 256, 3, 3), (18, 256, 3, 3), [2], {(80, 2), (119, 2)}),
    # every count of the model is tried (an RPN has 1): the other keys
    # of the checkpoint must agree on one
    ((80, 256, 1, 1), (2, 256, 1, 1), [1, 2], {(80, 2), (40, 1), (79, 1)}),
    ((150, 128, 1, 1), (150, 64, 1, 1), [150, 5], set()),  # not dim 0
    ((3, 3), (3, 3, 1), [3], set()),  # another rank
], ids=['fc_cls', 'fc_reg', 'retina_cls', 'conv_seg', 'width', 'rank'])
def test_the_class_count_rule_on_shapes(ckpt, own, counts, expected):
    assert count_pairs(ckpt, own, counts) == expected


def test_fine_tuning_a_trained_detector_on_a_subset_of_its_classes(
        workspace, trained_detector, tmp_path):
    """tools/train.py with load_from the session's 3-class Mask R-CNN and
    the config's classes cut to two (circle, triangle): training runs,
    with one warning naming the renewed class outputs and one line
    counting the squares' annotations that are dropped."""
    log = ok('train', DET_CONFIG, '--work-dir', tmp_path, '--cfg-options',
             *DET_LIGHT, *NO_VAL, *iters(1),
             f'load_from={trained_detector.checkpoint(2)}',
             'train_dataloader.dataset.metainfo.classes=[circle,triangle]',
             'train_dataloader.dataset.metainfo.palette=[[0,0,0],[9,9,9]]',
             'model.roi_head.bbox_head.num_classes=2',
             'model.roi_head.mask_head.num_classes=2', cwd=workspace)
    assert log.count('fine-tuning from 3 classes (its meta) to the '
                     "model's 2: 6 keys") == 1
    assert "'roi_head.bbox_head.fc_cls.weight' (4, 1024) -> (3, 1024)" in log
    assert log.count('categories that the config\'s classes leave out are '
                     "dropped, as mmdet drops them ('square' (id 2): ") == 1
    assert 'Iter(train) [1/1]' in log


def test_testing_a_segmentor_on_other_classes_is_refused(workspace,
                                                         trained_segmentor,
                                                         tmp_path):
    """tools/test.py with the session's 5-class segmentor and a 6-class
    config: refused before testing, pointing to fine-tuning."""
    result = run('test', SEG_CONFIG, trained_segmentor.checkpoint(5),
                 '--work-dir', tmp_path, '--cfg-options', *QUICK_RUN,
                 'model.decode_head.num_classes=6',
                 'test_dataloader.dataset.metainfo.classes=[a,b,c,d,e,f]',
                 'test_dataloader.dataset.metainfo.palette='
                 '[[0,0,0],[1,1,1],[2,2,2],[3,3,3],[4,4,4],[5,5,5]]',
                 cwd=workspace)
    assert result.code == 1
    assert "the checkpoint was trained on 5 classes (its meta) to the " \
        "model's 6" in result.err
    assert 'Iter(test)' not in result.log
