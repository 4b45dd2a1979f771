"""tools/train.py end to end, for the frameworks beside Mask R-CNN and
Semantic FPN: ATSS, GFL and Faster R-CNN on the generated shapes (COCO bbox
AP) and Light-Ham on the generated scenes (mIoU), validated at the end of
training (tools/test.py runs the same evaluation loop: test_tools_det.py,
test_tools_seg.py); Mask2Former on the generated panoptic shapes, then
tools/test.py, whose evaluator adds box and mask AP to the validation's PQ
(mmdet's CocoPanopticMetric)."""
import json
import os
import re

import numpy as np
import pytest

from helpers import CONFIGS, NO_VAL, PANOPTIC, QUICK_RUN, iters, ok
from van_mm.synthetic import SHAPE_CLASSES, STUFF_CLASSES


def test_generated_panoptic_reads_as_coco_panoptic(panoptic_data):
    """mmdet's CocoPanopticDataset and LoadPanopticAnnotations read the
    generated set: every pixel belongs to one segment, things carry boxes
    and masks, stuff only labels."""
    from mmdet.datasets import CocoPanopticDataset
    from mmdet.utils import register_all_modules
    register_all_modules()
    classes = SHAPE_CLASSES + STUFF_CLASSES
    data = panoptic_data
    dataset = CocoPanopticDataset(
        data_root=str(data), ann_file='annotations/panoptic_val2017.json',
        data_prefix=dict(img='val2017/', seg='annotations/panoptic_val2017/'),
        metainfo=dict(classes=classes, thing_classes=SHAPE_CLASSES,
                      stuff_classes=STUFF_CLASSES),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadPanopticAnnotations')])
    assert len(dataset) == PANOPTIC['num_val']
    with open(data / 'annotations' / 'panoptic_val2017.json') as f:
        ann = json.load(f)['annotations'][0]
    sample = dataset[0]
    seg = sample['gt_seg_map']
    assert sum(s['area'] for s in ann['segments_info']) == seg.size
    things = [s for s in ann['segments_info'] if s['category_id'] <= 3]
    assert len(sample['gt_bboxes']) == len(things) >= 1
    assert sample['gt_masks'].masks.shape[0] == len(things)
    stuff_labels = {classes.index(n) for n in STUFF_CLASSES}
    assert stuff_labels <= set(np.unique(seg).tolist())
    for mask, label in zip(sample['gt_masks'].masks,
                           sample['gt_bboxes_labels']):
        assert (seg[mask.astype(bool)] == label).all()


# Scores of single-stage heads start at their prior (0.01), under the test
# threshold (0.05): after two iterations nothing might be left to evaluate.
KEEP_ALL = ['model.test_cfg.score_thr=0.']
# Mask2Former keeps the top max_per_image (query, class) pairs, then its
# instances are the thing classes among them: after two iterations the top
# 50 may all be stuff, leaving box and mask AP nothing to evaluate. Keeping
# every pair (50 queries x 5 classes) keeps every query's thing scores.
EVERY_PAIR = ['model.test_cfg.max_per_image=250']
# config, extra --cfg-options, metrics the run must print
RUNS = {
    'atss': ('shapes/atss_van_b0_shapes.py', KEEP_ALL, ['coco/bbox_mAP']),
    'gfl': ('shapes/gfl_van_b0_shapes.py', KEEP_ALL, ['coco/bbox_mAP']),
    'faster_rcnn': (
        'shapes/faster_rcnn_van_b0_shapes.py',
        ['model.train_cfg.rpn_proposal.max_per_img=50',
         'model.train_cfg.rcnn.sampler.num=32',
         'model.test_cfg.rpn.max_per_img=50'],
        ['coco/bbox_mAP']),
    'mask2former': (
        'shapes/mask2former_van_b0_shapes_panoptic.py', NO_VAL,
        ['coco_panoptic/PQ', 'coco_panoptic/PQ_th', 'coco_panoptic/PQ_st',
         'coco/bbox_mAP', 'coco/segm_mAP']),
    'lightham': ('scenes/lightham_van_b0_scenes.py', [],
                 ['mIoU', 'mAcc', 'aAcc']),
}


@pytest.mark.slow
@pytest.mark.parametrize('framework', list(RUNS))
def test_train_then_validate_prints_metrics(workspace, panoptic_data,
                                            framework, tmp_path):
    config, extra, metrics = RUNS[framework]
    config, work = os.path.join(CONFIGS, config), tmp_path / framework
    log = ok('train', config, '--work-dir', work, '--cfg-options',
             *QUICK_RUN, *extra, *iters(2), cwd=workspace)
    assert 'Iter(train) [2/2]' in log and 'loss' in log
    assert (work / 'iter_2.pth').is_file()
    if extra is NO_VAL:  # its test evaluator reports more than validation
        log = ok('test', config, work / 'iter_2.pth', '--work-dir', work,
                 '--cfg-options', *QUICK_RUN, *EVERY_PAIR, cwd=workspace)
    for metric in metrics:
        assert re.search(rf'{metric}: -?\d+\.\d+', log), metric
    print(*(line for line in log.splitlines()
            if metrics[0] in line), sep='\n')
