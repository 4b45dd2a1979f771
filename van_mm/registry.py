# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""van_mm's registry node and the one function that registers its models.

A model registered with :func:`register_model` can be built

* as ``type='VAN'`` from mmdet, mmseg or any other OpenMMLab scope whose
  registry does not define its own ``VAN`` (they fall back to mmengine's root
  registry, where it is registered), after ``custom_imports=dict(
  imports=['van_mm'])``;
* as ``type='van_mm.VAN'`` from any scope, mmpretrain's included (mmpretrain
  ships its own ``VAN``, which wins there for a bare ``type='VAN'``). The
  scoped form needs no ``custom_imports``: mmengine imports
  ``van_mm.registry``, whose ``locations`` import the models.
"""
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

MODELS = Registry(
    'model', parent=MMENGINE_MODELS, scope='van_mm',
    locations=['van_mm.models'])


def register_model(cls):
    """Class decorator: register ``cls`` in van_mm's and the root registry."""
    MODELS.register_module(module=cls)
    MMENGINE_MODELS.register_module(module=cls)
    return cls
