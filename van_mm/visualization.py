# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Visualization for van_mm's configs and tools.

:func:`build_visualizer`: a config's Det/SegLocalVisualizer that draws to
files only, as the picture tools use it.

:class:`TensorboardIfInstalledVisBackend`: a TensorBoard backend that is on
when ``tensorboard`` is installed.

Every van_mm config logs through ``vis_backends=[dict(type=
'LocalVisBackend'), dict(type='TensorboardIfInstalledVisBackend')]``: the
scalars always go to ``WORK_DIR/<timestamp>/vis_data/scalars.json``, and to
TensorBoard event files in the same folder when ``pip install tensorboard``
has been run. Without it the backend logs one line saying so and writes
nothing, where mmengine's own ``TensorboardVisBackend`` would fail the run.
A config file cannot make that choice itself: an ``import`` in a config
turns it into a lazy-import config, which mmengine refuses to mix with
plain ones in some environments.
"""
import importlib.util
from typing import Dict

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.visualization import TensorboardVisBackend

from van_mm.registry import VISBACKENDS, register


@register(VISBACKENDS)
class TensorboardIfInstalledVisBackend(TensorboardVisBackend):
    """mmengine's ``TensorboardVisBackend`` when ``tensorboard`` can be
    imported; otherwise a backend that writes nothing.

    Args:
        save_dir (str): Where the event files go (mmengine passes
            ``vis_data/`` of the run).
    """

    def _init_env(self):
        self._tensorboard = None
        if importlib.util.find_spec('tensorboard') is None:
            print_log('tensorboard is not installed: no TensorBoard event '
                      'files (`pip install tensorboard` turns them on); '
                      'scalars are still written to vis_data/scalars.json.',
                      logger='current')
            return
        super()._init_env()

    def add_config(self, config, **kwargs) -> None:
        if self.experiment is not None:
            super().add_config(config, **kwargs)

    def add_image(self, name, image, step=0, **kwargs) -> None:
        if self.experiment is not None:
            super().add_image(name, image, step, **kwargs)

    def add_scalar(self, name, value, step=0, **kwargs) -> None:
        if self.experiment is not None:
            super().add_scalar(name, value, step, **kwargs)

    def add_scalars(self, scalar_dict, step=0, file_path=None,
                    **kwargs) -> None:
        if self.experiment is not None:
            super().add_scalars(scalar_dict, step, file_path, **kwargs)

    def close(self) -> None:
        if getattr(self, '_tensorboard', None) is not None:
            super().close()


def build_visualizer(cfg: Config, name: str, dataset_meta: Dict):
    """The config's visualizer (Det/SegLocalVisualizer), drawing only to the
    ``out_file`` given to ``add_datasample`` (no ``save_dir``).

    Classes without a palette get random colours with the seed mmseg's
    datasets use (mmseg's visualizer would otherwise pair them with the
    Cityscapes palette and fail).
    """
    import numpy as np
    from mmengine.registry import VISUALIZERS, init_default_scope
    init_default_scope(cfg.default_scope)
    vis_cfg = cfg.visualizer.copy()
    vis_cfg.pop('save_dir', None)
    vis_cfg.update(vis_backends=[dict(type='LocalVisBackend')], name=name)
    visualizer = VISUALIZERS.build(vis_cfg)
    meta = dict(dataset_meta or {})
    if meta.get('classes') and not meta.get('palette'):
        meta['palette'] = [tuple(c) for c in np.random.RandomState(
            42).randint(0, 255, (len(meta['classes']), 3)).tolist()]
    visualizer.dataset_meta = meta
    return visualizer
