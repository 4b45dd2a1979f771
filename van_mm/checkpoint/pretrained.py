# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""The published ImageNet weights of VAN: one table.

Each entry says where a file is published, the checkpoint layout it is in
(:mod:`van_mm.checkpoint.layouts`), the LayerNorm epsilon it was trained
with, its ImageNet top-1 and licence, as timm's ``default_cfgs`` do. The
per-arch config bases (``configs/_base_/models/van_b*.py``) name the same
files (:attr:`Weights.checkpoint`; configs cannot import this table;
``tests/test_model_zoo.py`` keeps the two equal), and
``tools/model_zoo.py`` renders it into README.
"""
from dataclasses import dataclass
from typing import Dict, Optional


@dataclass(frozen=True)
class Weights:
    """One published checkpoint of a VAN backbone.

    Attributes:
        arch: The arch (``b0``-``b6``).
        url: Where to download it.
        layout: Its checkpoint layout's name.
        ln_eps: LayerNorm epsilon of the stage norms it was trained with.
        dataset: What it was trained on.
        top1: ImageNet-1K top-1 accuracy (%) as published, if any.
        licence: The licence it is published under.
        source: Who publishes it, and where the figures come from.
        file: The file's name in the folder ``url``, where only the folder
            is published (no link per file); None when ``url`` is the file.
    """
    arch: str
    url: str
    layout: str
    ln_eps: float
    dataset: str
    top1: Optional[float]
    licence: str
    source: str
    file: Optional[str] = None

    @property
    def checkpoint(self) -> str:
        """What configs name: the URL, or for a file published only in a
        folder ``pretrained/FILE`` (downloaded by hand), as the official
        VAN-Segmentation configs name it."""
        return self.url if self.file is None else f'pretrained/{self.file}'

    @property
    def filename(self) -> str:
        """The file's name."""
        return self.file or self.url.rsplit('/', 1)[-1]


_HF = 'https://huggingface.co/Visual-Attention-Network'
_OFFICIAL = ('VAN-Classification (official), README; files on Hugging Face '
             '(Visual-Attention-Network/VAN-*-original)')
# The folder of backbone weights that VAN-Segmentation's README links
# ("Pre-trained models can be found in TsingHua Cloud"); its configs name
# them pretrained/van_b4.pth, pretrained/van_b4_22k.pth, ... and load them
# with the official module names (mmcv's PretrainedInit, no prefix), so
# they are in the official layout. They come from the official
# classification code (LayerNorm eps 1e-6).
_SEG_FOLDER = 'https://cloud.tsinghua.edu.cn/d/0100f0cea37d41ba8d08/'
_SEG = ('VAN-Segmentation (official), README and configs '
        '(configs/upernet/*/upernet_van_b[456]_*.py); ')

PRETRAINED: Dict[str, Weights] = {
    'van_b0.in1k': Weights(
        'b0', f'{_HF}/VAN-Tiny-original/resolve/main/van_tiny_754.pth.tar',
        'official', 1e-6, 'ImageNet-1K', 75.4, 'Apache-2.0', _OFFICIAL),
    'van_b1.in1k': Weights(
        'b1', f'{_HF}/VAN-Small-original/resolve/main/van_small_811.pth.tar',
        'official', 1e-6, 'ImageNet-1K', 81.1, 'Apache-2.0', _OFFICIAL),
    'van_b2.in1k': Weights(
        'b2', f'{_HF}/VAN-Base-original/resolve/main/van_base_828.pth.tar',
        'official', 1e-6, 'ImageNet-1K', 82.8, 'Apache-2.0', _OFFICIAL),
    'van_b3.in1k': Weights(
        'b3', f'{_HF}/VAN-Large-original/resolve/main/van_large_839.pth.tar',
        'official', 1e-6, 'ImageNet-1K', 83.9, 'Apache-2.0', _OFFICIAL),
    'van_b4.in1k': Weights(
        'b4', _SEG_FOLDER, 'official', 1e-6, 'ImageNet-1K', 84.2,
        'Apache-2.0', _SEG + 'top-1: the paper (arXiv:2202.09741); '
        "mmclassification 0.x measured 84.13 on the official file "
        '(its docs, papers/van)',
        file='van_b4.pth'),
    'van_b4.in22k': Weights(
        'b4', _SEG_FOLDER, 'official', 1e-6, 'ImageNet-22K', None,
        'Apache-2.0', _SEG + 'pre-trained on ImageNet-22K',
        file='van_b4_22k.pth'),
    'van_b5.in22k': Weights(
        'b5', _SEG_FOLDER, 'official', 1e-6, 'ImageNet-22K', None,
        'Apache-2.0', _SEG + 'pre-trained on ImageNet-22K',
        file='van_b5_22k.pth'),
    'van_b6.in22k': Weights(
        'b6', _SEG_FOLDER, 'official', 1e-6, 'ImageNet-22K', None,
        'Apache-2.0', _SEG + 'pre-trained on ImageNet-22K',
        file='van_b6_22k.pth'),
}
