"""The ADE20K test protocol of the official results, single-scale and
multi-scale + flip (tools/test.py --tta), and which configs can test with
augmentation."""
import numpy as np
import pytest

from helpers import load
from van_mm.apis import use_tta

RATIOS = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]  # mmseg 0.x's --aug-test


def ade_shapes(pipeline, h, w):
    """The (H, W) of every image a pipeline of resizes and flips gives for
    an ``h`` x ``w`` image, in order."""
    from mmcv.transforms import TestTimeAug
    from mmseg.registry import TRANSFORMS
    from mmseg.utils import register_all_modules
    register_all_modules()
    if isinstance(pipeline, list):
        transforms = [TRANSFORMS.build(t) for t in pipeline]
        results = dict(img=np.zeros((h, w, 3), np.uint8), img_shape=(h, w),
                       ori_shape=(h, w))
        for t in transforms:
            results = t(results)
        return [results['img'].shape[:2]]
    aug = TestTimeAug(transforms=pipeline['transforms'][:-2])  # no labels
    out = aug(dict(img=np.zeros((h, w, 3), np.uint8), img_shape=(h, w),
                   ori_shape=(h, w)))
    return [img.shape[:2] for img in out['img']]


def official_shape(h, w, ratio=1.0):
    """mmseg 0.x's MultiScaleFlipAug: target scale int(2048 * r) x
    int(512 * r), keep_ratio Resize, then ResizeToMultiple(32) (rounding
    up)."""
    long, short = int(2048 * ratio), int(512 * ratio)
    factor = min(long / max(h, w), short / min(h, w))
    h, w = int(h * factor + 0.5), int(w * factor + 0.5)
    return -(-h // 32) * 32, -(-w // 32) * 32


@pytest.mark.parametrize('name', ['fpn_van_b2_ade20k_40k.py',
                                  'upernet_van_b6_22k_ade20k_160k.py'])
def test_ade20k_pipelines_follow_the_official_protocol(name):
    """An image whose short side is not 512: single scale and each of the
    12 augmented views have the official sizes (mmseg 1.x's own
    tta_pipeline would scale the original 300x500 image by r instead)."""
    cfg = load(name)
    single = cfg.test_dataloader.dataset.pipeline
    assert single == cfg.val_dataloader.dataset.pipeline
    assert ade_shapes(single[1:3], 300, 500) == [official_shape(300, 500)]
    assert ade_shapes(cfg.tta_pipeline[1], 300, 500) == [
        official_shape(300, 500, r) for r in RATIOS for _ in range(2)]
    assert official_shape(300, 500) == (512, 864)  # not 300x500
    assert cfg.tta_model.type == 'SegTTAModel'


def test_detector_tta_merges_several_scales_and_flips(tmp_path):
    """tools/test.py --tta for a detector: the test set is fed through the
    config's tta_pipeline and DetTTAModel gets each image at every scale
    and flip of it (3 x 2 here), then merges their boxes into one set in
    the image's own coordinates."""
    import cv2
    import torch
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.dataset import Compose, pseudo_collate

    from helpers import lighten, to_tiny_b0
    from van_mm.synthetic import scene_picture
    from van_mm.testing import randomize
    register_all_modules()
    cfg = lighten(to_tiny_b0(load('retinanet_van_b0_1x.py')))
    cfg.model.test_cfg.score_thr = 0.
    use_tta(cfg)
    assert cfg.model.type == 'DetTTAModel'
    assert cfg.test_dataloader.dataset.pipeline == cfg.tta_pipeline
    # small stand-ins for mmdet's 666x400 .. 2000x1200
    scales = [(160, 96), (224, 128), (288, 160)]
    for resize, scale in zip(cfg.tta_pipeline[1].transforms[0], scales):
        resize.scale = scale
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    randomize(model.module.backbone)
    path = str(tmp_path / 'scene.jpg')
    cv2.imwrite(path, scene_picture(120, 200))
    data = pseudo_collate([Compose(cfg.tta_pipeline)(
        dict(img_path=path, img_id=0))])

    views = []
    merge = model.merge_preds

    def recording_merge(predictions):
        views.extend((tuple(p.img_shape), p.flip, len(p.pred_instances))
                     for p in predictions[0])
        return merge(predictions)

    model.merge_preds = recording_merge
    with torch.no_grad():
        (result, ) = model.test_step(data)
    assert len(views) == 6 and all(found > 0 for *_, found in views)
    assert len({shape for shape, _, _ in views}) == 3
    assert {flip for _, flip, _ in views} == {True, False}
    boxes = result.pred_instances.bboxes
    assert 0 < len(boxes) <= 100  # tta_cfg's max_per_img
    assert boxes[:, 0::2].max() <= 200 and boxes[:, 1::2].max() <= 120


@pytest.mark.parametrize('name,message', [
    ('maskrcnn_van_b0_1x.py', 'DetTTAModel merges boxes only'),
    ('sparsercnn_van_b2_3x.py', 'defines no tta_model or tta_pipeline'),
])
def test_configs_without_augmentation_say_why(name, message):
    with pytest.raises(ValueError, match=message):
        use_tta(load(name))
