# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Reading images and normalising them as the configs do."""
import os.path as osp
from typing import Optional, Tuple

import numpy as np
import torch

# ImageNet mean and std (RGB, 0-255) of the dense-prediction configs
# (mmdet's and mmseg's data preprocessors, the official VAN-Segmentation).
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def read_image(path: str,
               size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """An RGB uint8 array (H, W, 3), resized to ``size`` (H, W) if given.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: OpenCV cannot decode it (not an image, or corrupt).
    """
    import mmcv
    if not osp.isfile(path):
        raise FileNotFoundError(f'Image not found: {path!r}')
    image = mmcv.imread(path)  # None for a file OpenCV cannot decode
    if image is None:
        raise ValueError(f'Cannot read image {path!r}: not an image file '
                         'or corrupt.')
    image = mmcv.bgr2rgb(image)
    return mmcv.imresize(image, (size[1], size[0])) if size else image


def to_input(image: np.ndarray) -> torch.Tensor:
    """An RGB uint8 (H, W, 3) image as a normalised (1, 3, H, W) float
    tensor (ImageNet mean and std), what a bare backbone takes."""
    x = torch.from_numpy(image).permute(2, 0, 1).float()[None]
    mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None]
    return (x - mean) / std
