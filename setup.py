# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""van-mm: Visual Attention Network backbones for OpenMMLab detection and
segmentation.

torch and mmcv (with compiled ops) are not install requirements: pip would
pull a CUDA torch or build mmcv in an isolated environment where torch is
missing. ``scripts/install.sh`` installs the whole stack in the right order.
The package installs ``van_mm`` and nothing else: no file outside it, no
code run at interpreter start.
"""
import os.path as osp

from setuptools import find_packages, setup


def version():
    scope = {}
    with open(osp.join(osp.dirname(__file__), 'van_mm', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


DEPLOY = ['onnx>=1.23', 'onnxruntime>=1.30', 'onnxscript>=0.7']
# --backend openvino[-bf16]: OpenVINO's CPU plugin runs the exported ONNX
# files (tested with 2026.4.1: cp311/cp312 manylinux wheels, numpy<2.6)
OPENVINO = ['openvino>=2026.0']

setup(
    name='van-mm',
    version=version(),
    description='Visual Attention Network (VAN) backbones for mmdet, mmseg '
    'and mmpretrain',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.8',
    packages=find_packages(include=['van_mm', 'van_mm.*']),
    # setuptools<81: mmengine 0.10 finds the packages of mmdet:: and
    # mmseg:: config bases through pkg_resources, which setuptools 81
    # removed (docs/compatibility.md)
    # Pillow: the demo page reads uploads with it (the stack has it too)
    install_requires=['mmengine>=0.10.0,<1.0.0', 'setuptools<81', 'numpy',
                      'safetensors', 'Pillow'],
    extras_require={
        # panopticapi-lite pins numpy<2 that its code does not need:
        # scripts/install.sh installs it with --no-deps
        'det': ['mmdet>=3.3.0,<3.4.0'],
        'seg': ['mmsegmentation>=1.2.2,<1.3.0', 'ftfy', 'regex'],
        # tools/visualize_attention.py --method gradcam
        'vis': ['captum', 'matplotlib'],
        # tools/export_onnx.py, --backend onnxruntime (torch.onnx's
        # exporter needs onnx and onnxscript)
        'deploy': DEPLOY,
        # the deploy extra and OpenVINO; int8 files (tools/quantize.py)
        # need only onnxruntime's quantizer, part of the deploy extra
        'openvino': DEPLOY + OPENVINO,
        # transformers 5 dropped models/deprecated/van (HF equality tests);
        # the deploy packages and OpenVINO for the export and engine tests
        'tests': ['pytest<9', 'pytest-xdist', 'transformers>=4.30,<5'] +
        DEPLOY + OPENVINO,
    },
)
