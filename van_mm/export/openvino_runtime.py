# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""OpenVINO: the exported ``.onnx`` file (the same file onnxruntime runs)
compiled by OpenVINO's CPU plugin, where the tools run the PyTorch model
(``--backend openvino`` and ``--backend openvino-bf16``;
:mod:`van_mm.export.backends`).

Precision is always set, never left to the plugin, whose default depends
on the CPU (bf16 on CPUs with AMX, fp32 otherwise):

* ``openvino``: fp32 kernels (``INFERENCE_PRECISION_HINT=f32``), checked
  against PyTorch as onnxruntime is (:data:`van_mm.export.parity.FP32`);
* ``openvino-bf16``: bf16 activations and weights with fp32 accumulation
  (``INFERENCE_PRECISION_HINT=bf16``), on CPUs that have bf16 (AVX512-BF16
  or AMX, as the plugin's ``OPTIMIZATION_CAPABILITIES`` says); elsewhere
  refused, naming what the CPU has, rather than run in fp32 under a bf16
  name (the plugin would silently fall back). Checked within
  :data:`van_mm.export.parity.BF16`.

An int8 file of ``tools/quantize.py`` (QuantizeLinear/DequantizeLinear
around the convolutions) runs its convolutions in int8 with either; the
rest of the graph in the precision above.
"""
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from van_mm.export.backends import DeployedModel

INSTALL_HINT = "pip install 'van-mm[openvino]' (openvino, with the deploy " \
    'extra)'
# precision name -> the CPU plugin's INFERENCE_PRECISION_HINT
PRECISIONS = {'fp32': 'f32', 'bf16': 'bf16'}


def import_openvino():
    """The ``openvino`` module, or an ImportError that says how to get
    it."""
    try:
        import openvino
    except ImportError as e:
        raise ImportError(f'openvino is not installed: {INSTALL_HINT}') \
            from e
    return openvino


def cpu_capabilities() -> List[str]:
    """The CPU plugin's ``OPTIMIZATION_CAPABILITIES`` here (e.g. ``FP32``,
    ``BF16``, ``INT8``)."""
    ov = import_openvino()
    return [str(c) for c in ov.Core().get_property(
        'CPU', 'OPTIMIZATION_CAPABILITIES')]


def cpu_has_bf16() -> bool:
    """Whether OpenVINO's CPU plugin computes in bf16 on this CPU."""
    return 'BF16' in cpu_capabilities()


def compile_config(precision: str = 'fp32', threads: Optional[int] = None,
                   profiling: bool = False) -> Dict[str, str]:
    """The CPU plugin's settings for one caller waiting for each result:
    one stream on ``threads`` threads (as many as PyTorch uses unless
    given, as onnxruntime's sessions get), ``precision`` set explicitly,
    per-node timing with ``profiling``."""
    if precision not in PRECISIONS:
        raise ValueError(f'precision {precision!r} is not one of '
                         f'{", ".join(PRECISIONS)}')
    config = {
        'PERFORMANCE_HINT': 'LATENCY',
        'NUM_STREAMS': '1',
        'INFERENCE_NUM_THREADS': str(threads or torch.get_num_threads()),
        'INFERENCE_PRECISION_HINT': PRECISIONS[precision],
    }
    if profiling:
        config['PERF_COUNT'] = 'YES'
    return config


def compile_model(path: str, precision: str = 'fp32',
                  threads: Optional[int] = None, profiling: bool = False):
    """``path`` (an ``.onnx`` file) compiled for the CPU in ``precision``.

    Raises:
        RuntimeError: bf16 on a CPU without it, or the plugin compiled
            another precision than asked for.
    """
    ov = import_openvino()
    if precision == 'bf16':
        caps = cpu_capabilities()
        if 'BF16' not in caps:
            raise RuntimeError(
                'this CPU has no bf16 that OpenVINO can use (it needs '
                'AVX512-BF16 or AMX; the CPU plugin offers '
                f'{", ".join(caps)}): --backend openvino runs fp32 here, '
                'and an int8 file of tools/quantize.py runs in int8.')
    core = ov.Core()
    compiled = core.compile_model(
        core.read_model(path), 'CPU',
        compile_config(precision, threads, profiling))
    got = str(compiled.get_property('INFERENCE_PRECISION_HINT'))
    want = {'fp32': 'float32', 'bf16': 'bfloat16'}[precision]
    if want not in got:
        raise RuntimeError(f'OpenVINO compiled {path!r} for {got}, asked '
                           f'for {want}.')
    return compiled


def onnx_metadata(path: str) -> Dict[str, str]:
    """An ONNX file's ``van_mm.*`` metadata, prefix removed (OpenVINO's
    model does not carry ONNX metadata, so it is read from the file)."""
    import onnx

    from van_mm.export.runner.models import META_PREFIX
    model = onnx.load(path, load_external_data=False)
    return {p.key[len(META_PREFIX):]: p.value for p in model.metadata_props
            if p.key.startswith(META_PREFIX)}


def node_times(request) -> List[dict]:
    """Per node of an infer request's last run (compiled with
    ``profiling=True``): name, operation type, the kernel the plugin ran
    (``exec_type``, e.g. ``brgconv_avx512_I8``) and microseconds."""
    return [dict(name=p.node_name, type=p.node_type, exec_type=p.exec_type,
                 us=p.real_time.total_seconds() * 1e6)
            for p in request.get_profiling_info()
            if p.status.name == 'EXECUTED']


class OpenVinoModel(DeployedModel):
    """An ONNX file compiled by OpenVINO's CPU plugin in fp32, called as
    its PyTorch host is (:class:`~van_mm.export.backends.DeployedModel`).
    """
    precision = 'fp32'
    backend_name = 'openvino'

    def open(self, path: str, device: str
             ) -> Tuple[Dict[str, str], Dict[str, list]]:
        if not device.startswith('cpu'):
            raise RuntimeError(f'OpenVINO runs on the CPU here, not on '
                               f'{device!r}: use --device cpu.')
        self.compiled = compile_model(path, self.precision)
        self.request = self.compiled.create_infer_request()
        self.outputs = list(self.compiled.outputs)
        inputs = {p.any_name: [d.get_length() if d.is_static else None
                               for d in p.get_partial_shape()]
                  for p in self.compiled.inputs}
        return onnx_metadata(path), inputs

    def infer(self, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        # The request's own output tensors (share_outputs), which its next
        # call overwrites, copied once into memory torch allocates. numpy
        # asks the kernel for huge pages for large arrays (madvise), and
        # where free memory is fragmented the kernel compacts it first:
        # each of the two copies numpy made (OpenVINO's, then ours) stalled
        # up to 1 s at random on a segmentor's 150x512x512 logits.
        results = self.request.infer(
            {k: np.ascontiguousarray(v) for k, v in feeds.items()},
            share_outputs=True)
        return {p.any_name: torch.from_numpy(results[p]).clone().numpy()
                for p in self.outputs}


class OpenVinoBf16Model(OpenVinoModel):
    """The same in bf16 (:func:`compile_model`): refused on a CPU without
    bf16."""
    precision = 'bf16'
    backend_name = 'openvino-bf16'
