# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Accuracy of a trained detector or segmentor in every engine and
precision, as a user gets it: tools/export_onnx.py, tools/quantize.py
(calibrated on the config's training images), then tools/test.py on the
config's test set for the checkpoint and for each file in each engine.
Prints a Markdown table (bbox/segm mAP or mIoU, and the difference from
PyTorch) with the commands run.

    python benchmarks/int8_accuracy.py CONFIG CHECKPOINT --work-dir DIR
        [--shape H W] [--num-images 32] [--method minmax] [--skip-depthwise]
        [--engines onnxruntime openvino openvino-bf16]

Run it where the config's data root is (its paths are relative to the
current folder). Accuracy only: the times tools/test.py prints are not
what this measures (benchmarks/inference_engines.py is).
"""
import argparse
import os
import os.path as osp
import re
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
METRICS = ('bbox_mAP', 'segm_mAP', 'mIoU', 'mAcc', 'aAcc')


def tool(name, *args, log):
    """Run tools/NAME.py ARGS with this interpreter, its output appended
    to ``log``; the output."""
    cmd = [sys.executable, osp.join(REPO, 'tools', f'{name}.py'),
           *map(str, args)]
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    text = out.stdout + out.stderr
    with open(log, 'a') as f:
        f.write(f'$ {" ".join(cmd)}\n{text}\n')
    print(f'  {name} ({time.perf_counter() - start:.0f} s): '
          f'{" ".join(map(str, args))}', flush=True)
    if out.returncode:
        raise SystemExit(f'{name} failed (exit {out.returncode}):\n'
                         f'{text[-3000:]}')
    return text


def metrics(text):
    """The metrics of tools/test.py's last ``Iter(test)`` line, in points
    (mmdet's mAP from 0-1 to 0-100, as mmseg's mIoU is)."""
    line = text.split('Iter(test)')[-1].splitlines()[0]
    found = dict(re.findall(r'(?:coco/)?(\w+): (-?\d+\.\d+)', line))
    return {k: float(found[k]) * (100 if k.endswith('mAP') else 1)
            for k in METRICS if k in found}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--shape', type=int, nargs=2, default=[192, 256],
                        help="the export's example and check size")
    parser.add_argument('--num-images', type=int, default=32)
    parser.add_argument('--method', default='minmax')
    parser.add_argument('--skip-depthwise', action='store_true')
    parser.add_argument('--engines', nargs='+',
                        default=['onnxruntime', 'openvino', 'openvino-bf16'])
    args = parser.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    log = osp.join(args.work_dir, 'commands.log')
    fp32 = osp.join(args.work_dir, 'model.onnx')
    int8 = osp.join(args.work_dir, 'model_int8.onnx')
    checks = [e for e in args.engines if e != 'onnxruntime']
    print(f'{args.config} {args.checkpoint}; log of every command: {log}')
    text = tool('export_onnx', args.config, args.checkpoint, '--out', fp32,
                '--shape', *args.shape, '--dynamic',
                *(['--check', *checks] if checks else []), log=log)
    text = tool('quantize', args.config, fp32, '--out', int8,
                '--num-images', args.num_images, '--method', args.method,
                *(['--skip-depthwise'] if args.skip_depthwise else []),
                log=log)
    quantized = [line.strip() for line in text.splitlines()
                 if line.startswith(('Calibrating', 'int8 file'))]
    rows = []
    runs = [('PyTorch (checkpoint)', args.checkpoint, 'pytorch')]
    runs += [(f'fp32 file, {e}', fp32, e) for e in args.engines]
    runs += [(f'int8 file, {e}', int8, e) for e in args.engines]
    for name, model, backend in runs:
        work = osp.join(args.work_dir, re.sub(r'\W+', '_', name))
        text = tool('test', args.config, model, '--backend', backend,
                    '--work-dir', work, log=log)
        rows.append((name, metrics(text)))
    keys = [k for k in METRICS if k in rows[0][1]]
    print('\n' + '\n'.join(quantized))
    print('\n| model, engine | ' + ' | '.join(keys) + ' | vs PyTorch |')
    print('|---|' + '---|' * (len(keys) + 1))
    first = keys[0]
    for name, found in rows:
        delta = found.get(first, float('nan')) - rows[0][1][first]
        print(f'| {name} | ' + ' | '.join(
            f'{found.get(k, float("nan")):.2f}' for k in keys) +
            f' | {delta:+.2f} {first} |')


if __name__ == '__main__':
    main()
