"""docs/custom_data.md works as written: every ``bash`` block runs verbatim
in bash, on generated data laid out as the tutorial describes (a CVAT
COCO export; images with index PNG masks and classes files; a new
picture; the VAN-B0 ImageNet file in pretrained/), shortened only by the
variable the tutorial documents for its quick try (VAN_MM_MAX_ITERS=1).

The blocks of a section run in the document's order; a section starts
when the sections whose outputs it reads (``configs/custom/NAME.py``,
``work_dirs/NAME/``) are done, so detection and segmentation run side by
side. ``python`` is this interpreter with van_mm, mmdet and mmseg imported
once (warm_python.py: each command still runs as a script of its own,
with its arguments, directory, environment and exit code); with
``VAN_MM_REAL_PYTHON=1`` every command starts a fresh interpreter. Each
block's time is printed (``pytest -s``)."""
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers import REPO
from warm_python import WarmPython

DOC = Path(REPO) / 'docs' / 'custom_data.md'
SHORT = {'VAN_MM_MAX_ITERS': '1'}
BLOCK = re.compile(r'^```(\w*)\n(.*?)^```', re.S | re.M)


def blocks(text, kind='bash'):
    """The fenced blocks of ``kind`` in a markdown text, in order."""
    return [body for lang, body in BLOCK.findall(text) if lang == kind]


def sections(text):
    """``[(heading, [bash block, ...]), ...]`` of the ``## `` sections that
    have bash blocks, in order."""
    parts = re.split(r'^## ', text, flags=re.M)[1:]
    found = [(p.splitlines()[0], blocks(p)) for p in parts]
    return [(heading, found) for heading, found in found if found]


def names(text, pattern):
    return set(re.findall(pattern, text))


def dependencies(parts):
    """For each section, the earlier sections whose outputs it reads:
    a config a block writes (``--out configs/custom/NAME.py``) and the
    work dir training it fills (``work_dirs/NAME/``)."""
    written = [names(''.join(b), r'--out configs/custom/(\w+)\.py')
               for _, b in parts]
    used = [names(''.join(b), r'(?:configs/custom|work_dirs)/(\w+)')
            for _, b in parts]
    return [[j for j in range(i) if written[j] & (used[i] - written[i])]
            for i in range(len(parts))]


def run_section(section, cwd, env):
    """Its blocks in order: ``[(seconds, returncode, log, block)]`` up to
    the first that fails."""
    done = []
    for block in section:
        start = time.perf_counter()
        out = subprocess.run(['bash', '-euo', 'pipefail', '-c', block],
                             cwd=cwd, env=env, text=True,
                             capture_output=True, timeout=600)
        done.append((time.perf_counter() - start, out.returncode,
                     out.stdout + out.stderr, block))
        if out.returncode:
            break
    return done


@pytest.fixture
def tutorial_folder(tmp_path, official_b0_file):
    """A folder laid out as the tutorial expects: the repository's
    configs/ (linked entry by entry, so that configs/custom/ is written
    here) and tools/, the data, a new picture and pretrained/."""
    import cv2

    from van_mm.synthetic import (
        make_coco_export,
        make_mask_folder,
        scene_picture,
    )
    (tmp_path / 'configs').mkdir()
    for entry in Path(REPO, 'configs').iterdir():
        (tmp_path / 'configs' / entry.name).symlink_to(entry)
    (tmp_path / 'tools').symlink_to(Path(REPO, 'tools'))
    # 5 images each: 4 to train, 1 held out (20%)
    make_coco_export(str(tmp_path / 'data' / 'my_coco'), 5, seed=3)
    make_mask_folder(str(tmp_path / 'data' / 'my_masks'), 5, seed=4)
    (tmp_path / 'data' / 'new_photos').mkdir()
    cv2.imwrite(str(tmp_path / 'data' / 'new_photos' / 'scene.jpg'),
                scene_picture(240, 320, seed=100))
    (tmp_path / 'pretrained').mkdir()
    shutil.copy(official_b0_file, tmp_path / 'pretrained')
    return tmp_path


def test_the_quick_try_is_documented():
    """The only shortening the test applies is the tutorial's own."""
    text = DOC.read_text()
    (name, value), = SHORT.items()
    assert any(f'export {name}=' in b for b in blocks(text, 'text'))
    assert name not in ''.join(blocks(text))  # the blocks run as written
    assert '](docs/custom_data.md)' in Path(REPO, 'README.md').read_text()


@pytest.mark.slow
def test_every_shell_block_runs_as_written(tutorial_folder, tmp_path_factory):
    text = DOC.read_text()
    parts = sections(text)
    assert sum(len(b) for _, b in parts) == len(blocks(text)) >= 5
    needs = dependencies(parts)
    env = dict(os.environ, **SHORT)
    env.setdefault('OMP_NUM_THREADS', '1')
    bindir = tmp_path_factory.mktemp('bin')
    warm = None
    if os.environ.get('VAN_MM_REAL_PYTHON') == '1':
        # (not a link: a venv's python finds its packages by its own path)
        (bindir / 'python').write_text(f'#!/bin/sh\nexec {sys.executable} '
                                       '"$@"\n')
        (bindir / 'python').chmod(0o755)
    else:
        warm = WarmPython(str(bindir), env)
    env['PATH'] = f'{bindir}{os.pathsep}{env["PATH"]}'
    start = time.perf_counter()
    cpu = None
    try:
        with ThreadPoolExecutor(len(parts)) as pool:
            futures = []

            def after(i, section):
                if any(not all(code == 0 for _, code, _, _ in
                               futures[j].result()) for j in needs[i]):
                    return []
                return run_section(section, tutorial_folder, env)

            for i, (_, section) in enumerate(parts):
                futures.append(pool.submit(after, i, section))
            results = [f.result() for f in futures]
        if warm is not None:
            cpu = warm.cpu_seconds()
    finally:
        if warm is not None:
            warm.close()
    wall = time.perf_counter() - start
    logs = {}
    for (heading, section), done in zip(parts, results):
        assert len(done) == len(section), f'{heading}: not run (a section ' \
            'it needs failed)'
        for seconds, code, log, block in done:
            first = block.strip().splitlines()[0]
            assert code == 0, (f'{heading}: `{first} ...` exited {code}:'
                               f'\n{log[-5000:]}')
            print(f'{seconds:5.1f} s  {heading[:28]:28}  {first[:60]}')
        logs[heading.split()[0]] = [log for _, _, log, _ in done]
    print(f'{wall:5.1f} s  all blocks; commands: {cpu:.1f} s of CPU, the '
          f'warm python {warm.start_seconds:.1f} s to start' if warm else
          f'{wall:5.1f} s  all blocks (a fresh interpreter each)')

    detection = ''.join(logs['Detection'])
    assert re.search(r'Iter\(val\) \[1/1\] +coco/bbox_mAP: [\d.]+ .*'
                     r'coco/segm_mAP: [\d.]+', detection)
    assert re.search(r'Iter\(test\) \[1/1\] +coco/bbox_mAP: [\d.]+',
                     detection)
    segmentation = ''.join(logs['Semantic'])
    assert re.search(r'Iter\(test\) \[1/1\] +aAcc: [\d.]+ +mIoU: [\d.]+',
                     segmentation)
    tuning = ''.join(logs['Fine-tuning'])
    said = re.findall(r"\S+iter_1\.pth: fine-tuning from 5 classes \(its "
                      r"meta\) to the model's 6: 2 keys of the heads' class "
                      r'outputs keep their new initialisation', tuning)
    assert len(said) == 1, tuning[-3000:]
    assert 'Iter(train) [1/1]' in tuning
    work = tutorial_folder / 'work_dirs'
    assert (work / 'fpn_my_masks_background' / 'iter_1.pth').is_file()
    assert (work / 'fpn_my_masks' / 'model.onnx').is_file()
    assert (work / 'fpn_my_masks' / 'scene_pred.jpg').is_file()
    assert 'scene_pred.jpg (onnxruntime' in ''.join(logs['Export'])
