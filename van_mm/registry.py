# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""van_mm's registry nodes and the decorator that registers into them.

A class registered with :func:`register` can be built

* by its bare name (``type='VAN'``) from mmdet, mmseg or any other
  OpenMMLab scope whose registry does not define that name itself (they
  fall back to mmengine's root registry, where it is registered), after
  ``custom_imports=dict(imports=['van_mm'])``;
* by its scoped name (``type='van_mm.VAN'``) from any scope, mmpretrain's
  included (mmpretrain ships its own ``VAN``, which wins there for a bare
  ``type='VAN'``). The scoped form needs no ``custom_imports``: mmengine
  imports the node's ``locations`` first.
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import Registry

MODELS = Registry(
    'model', parent=MMENGINE_MODELS, scope='van_mm',
    locations=['van_mm.models'])
VISBACKENDS = Registry(
    'vis_backend', parent=MMENGINE_VISBACKENDS, scope='van_mm',
    locations=['van_mm.visualization'])
HOOKS = Registry(
    'hook', parent=MMENGINE_HOOKS, scope='van_mm',
    locations=['van_mm.engine'])
DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, scope='van_mm',
    locations=['van_mm.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope='van_mm',
    locations=['van_mm.engine.mixed_precision'])

_ROOTS = {id(MODELS): MMENGINE_MODELS, id(VISBACKENDS): MMENGINE_VISBACKENDS,
          id(HOOKS): MMENGINE_HOOKS, id(DATASETS): MMENGINE_DATASETS,
          id(OPTIM_WRAPPERS): MMENGINE_OPTIM_WRAPPERS}


def register(registry: Registry):
    """Class decorator: register into ``registry`` (van_mm's node) and into
    mmengine's root registry above it."""

    def decorator(cls):
        registry.register_module(module=cls)
        _ROOTS[id(registry)].register_module(module=cls)
        return cls

    return decorator


def register_model(cls):
    """Class decorator: register a model in van_mm's and the root registry."""
    return register(MODELS)(cls)
