# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""VAN checkpoints in every published layout.

* :mod:`~van_mm.checkpoint.layouts`: the table of layouts (add one here);
* :mod:`~van_mm.checkpoint.files`: reading files safely;
* :mod:`~van_mm.checkpoint.keys`: mapping keys to van_mm's and back;
* :mod:`~van_mm.checkpoint.loading`: loading into a backbone, strictly;
* :mod:`~van_mm.checkpoint.whole_model`: whole detectors and segmentors
  in any layout, and the check that they fit a model;
* :mod:`~van_mm.checkpoint.pretrained`: the table of published ImageNet
  weights.

Nothing here imports the model (:mod:`van_mm.models`, which imports this);
file-to-file conversion, which loads weights into a real ``VAN``, is
:mod:`van_mm.cli.convert_checkpoint`.
"""
from .files import (
    CheckpointError,
    NotVanCheckpoint,
    load_file,
    model_zoo_scheme,
)
from .keys import (
    Converted,
    convert_state_dict,
    detect_layout,
    export_state_dict,
    read_converted,
    unwrap,
)
from .layouts import LAYOUTS, Layout, get_layout
from .loading import check_compatible, infer_arch, load_pretrained
from .whole_model import (
    WholeModel,
    convert_whole_model,
    dataset_meta,
    fit_to_model,
    load_whole_model,
)

__all__ = [
    'CheckpointError', 'NotVanCheckpoint', 'load_file', 'model_zoo_scheme',
    'Converted', 'convert_state_dict',
    'detect_layout', 'export_state_dict', 'read_converted', 'unwrap',
    'LAYOUTS', 'Layout', 'get_layout', 'check_compatible', 'infer_arch',
    'load_pretrained', 'WholeModel', 'convert_whole_model', 'dataset_meta',
    'fit_to_model', 'load_whole_model'
]
