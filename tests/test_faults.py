"""Long runs survive faults: a kill during a save, SIGTERM, a truncated
checkpoint, a NaN loss, unreadable images, a wrong config and a dying
distributed worker; each fault ends with the data intact and a message that
names what went wrong. Semantic FPN VAN-B0 on generated scenes."""
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from helpers import (
    CONFIGS,
    EXACT,
    NO_VAL,
    QUICK_RUN,
    REPO,
    SEG_CONFIG,
    SEG_ITERS,
    iters,
    ok,
    run,
    run_script,
    segmentor_run,
)

pytestmark = pytest.mark.faults

CONFIG = SEG_CONFIG
STOP_EXIT_CODE = 75
ITERS = SEG_ITERS


def checkpoint(path):
    return torch.load(path, map_location='cpu', weights_only=True)


@pytest.fixture(scope='module')
def straight(trained_segmentor):
    """An uninterrupted run (the session's trained segmentor): checkpoints
    at iterations 2, 4 and 5."""
    return trained_segmentor.work_dir


def run_and_signal(args, cwd, pattern, sig=signal.SIGTERM):
    """Run a tool in its own process group, send ``sig`` to the whole group
    when a line of its output matches ``pattern``; (exit code, output,
    seconds from the signal to the exit)."""
    script = os.path.join(REPO, args[0])
    cmd = (['bash', script] if script.endswith('.sh') else
           [sys.executable, script]) + [str(a) for a in args[1:]]
    # as many threads as this process: the signalled run must compute as
    # the session's runs do (the weights are compared)
    env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()),
               PYTHON=sys.executable)
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    lines, sent = [], None
    for line in proc.stdout:
        lines.append(line)
        if sent is None and re.search(pattern, line):
            os.killpg(proc.pid, sig)
            sent = time.monotonic()
    code = proc.wait()
    return code, ''.join(lines), time.monotonic() - (sent or 0)


@pytest.mark.slow
def test_sigterm_saves_the_current_iteration_and_resume_goes_on(
        workspace, straight):
    work = workspace / 'stopped'
    code, log, seconds = run_and_signal(
        ['tools/train.py', *segmentor_run(work)], workspace,
        r'Iter\(train\) \[1/5\]')
    print(f'exit {seconds:.1f} s after SIGTERM')
    assert code == STOP_EXIT_CODE, log[-3000:]
    stopped = int(re.search(r'stopped after iteration (\d+)', log).group(1))
    assert 1 <= stopped < ITERS
    saved = work / f'iter_{stopped}.pth'
    assert checkpoint(saved)['meta']['iter'] == stopped
    assert (work / 'last_checkpoint').read_text() == str(saved)
    assert 'DataLoader worker' not in log  # the worker left it to the parent

    log = ok('train', *segmentor_run(work, resume=True), cwd=workspace)
    assert f'resumed epoch: 0, iter: {stopped}' in log
    assert f'Iter(train) [{stopped + 1}/5]' in log
    assert f'Iter(train) [{stopped}/5]' not in log

    # The same run: iteration count, schedule and weights of the straight
    # one.
    resumed = checkpoint(work / 'iter_5.pth')
    reference = checkpoint(straight / 'iter_5.pth')
    assert resumed['meta']['iter'] == reference['meta']['iter'] == ITERS
    assert resumed['param_schedulers'] == reference['param_schedulers']
    for key, value in reference['state_dict'].items():
        torch.testing.assert_close(resumed['state_dict'][key], value,
                                   rtol=1e-5, atol=1e-6, msg=key)


def test_a_kill_during_a_save_leaves_the_previous_checkpoint(tmp_path):
    """SIGKILL while a checkpoint is being written (the save of AtomicLocal-
    Backend, through which the checkpoint hook writes)."""
    target = tmp_path / 'iter_4.pth'
    child = textwrap.dedent(f"""
        import io, sys, torch
        from van_mm.engine import AtomicLocalBackend
        def blob(value, mib):
            f = io.BytesIO()
            torch.save({{'w': torch.full((mib * 2 ** 18, ), value)}}, f)
            return f.getvalue()
        backend = AtomicLocalBackend()
        backend.put(blob(1., 1), {str(target)!r})
        big = blob(2., 200)
        print('writing', flush=True)
        while True:
            backend.put(big, {str(target)!r})
    """)
    proc = subprocess.Popen([sys.executable, '-c', child], cwd=REPO,
                            stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.stdout.readline().strip() == 'writing'
    time.sleep(0.05)
    proc.kill()
    proc.wait()
    weights = checkpoint(target)['w']  # complete: the old file or a new one
    assert weights.unique().numel() == 1
    if weights[0] == 1:
        assert list(tmp_path.glob('iter_4.pth.*.partial'))


@pytest.mark.slow
def test_resume_skips_a_truncated_checkpoint(workspace, straight):
    work = workspace / 'torn'
    shutil.copytree(straight, work)
    newest = work / 'iter_5.pth'
    newest.write_bytes(newest.read_bytes()[:1000000])  # mmengine's torn save
    (work / 'iter_6.pth.0a1b2c3d.partial').write_bytes(b'half')

    log = ok('train', *segmentor_run(work, n=6, interval=1, resume=True),
             cwd=workspace)
    assert f'skipping {newest}: truncated or not a checkpoint' in log
    assert f'resuming from {work / "iter_4.pth"} (iteration 4)' in log
    assert 'Removing' in log and 'iter_6.pth.0a1b2c3d.partial' in log
    assert not list(work.glob('*.partial'))
    assert checkpoint(work / 'iter_6.pth')['meta']['iter'] == 6

    # Asked for by name, an unreadable checkpoint fails naming it.
    newest.write_bytes(b'not a zip archive')
    result = run('train', CONFIG, '--work-dir', work, '--resume', newest,
                 '--cfg-options', *EXACT, cwd=workspace)
    assert result.code == 1
    assert f'--resume: cannot resume from {newest}: truncated' in result.err


@pytest.mark.slow
def test_a_nan_loss_stops_naming_iteration_term_and_checkpoint(
        workspace, straight):
    work = workspace / 'nan'
    shutil.copytree(straight, work)
    result = run('train', *segmentor_run(
        work, 'model.decode_head.loss_decode.loss_weight=nan', n=7,
        interval=1, resume=True), cwd=workspace)
    log = result.log
    assert result.code == 1
    assert ('Training diverged at iteration 6: loss decode.loss_ce=nan'
            in log)
    assert f'last good checkpoint: {work / "iter_5.pth"}' in log
    assert 'optim_wrapper.clip_grad.max_norm' in log
    assert not (work / 'iter_6.pth').exists()


@pytest.fixture()
def broken_data(workspace, tmp_path):
    """A copy of the scenes with a split file: one training image corrupt,
    one missing."""
    shutil.copytree(workspace / 'data', tmp_path / 'data')
    images = tmp_path / 'data' / 'scenes' / 'images' / 'training'
    names = sorted(p.stem for p in images.glob('*.jpg'))
    (tmp_path / 'data' / 'scenes' / 'train.txt').write_text(
        '\n'.join(names) + '\n')
    (images / f'{names[0]}.jpg').write_bytes(os.urandom(3000))
    (images / f'{names[1]}.jpg').unlink()
    return tmp_path, [f'data/scenes/images/training/{n}.jpg'
                      for n in names[:2]]


@pytest.mark.slow
def test_training_skips_and_counts_unreadable_images(broken_data):
    root, (corrupt, missing) = broken_data
    log = ok('train', *segmentor_run(
        root / 'work', 'train_dataloader.dataset.ann_file=train.txt', n=3,
        interval=3), cwd=root)
    assert f'Skipped unreadable training sample {corrupt} (cannot be ' \
           'decoded)' in log
    assert f'Skipped unreadable training sample {missing} (file not ' \
           'found)' in log
    assert '2 skipped so far, the limit is 10' in log
    assert 'Iter(train) [3/3]' in log


@pytest.mark.slow
def test_training_stops_past_the_limit_of_unreadable_images(broken_data):
    root, files = broken_data
    config = root / 'strict.py'
    config.write_text(textwrap.dedent(f"""
        _base_ = {CONFIG!r}
        train_dataloader = dict(dataset=dict(ann_file='train.txt'))
        custom_hooks = [dict(type='UnreadableSampleHook', max_skipped=1)]
    """))
    result = run('train', config, '--work-dir', root / 'work',
                 '--cfg-options', *QUICK_RUN, *NO_VAL, *iters(3), cwd=root)
    log = result.log
    assert result.code == 1
    assert '2 unreadable files skipped, more than the limit of 1' in log
    assert all(f in log for f in files)
    assert 'tools/check_dataset.py' in log


@pytest.mark.slow
def test_testing_fails_naming_an_unreadable_image(workspace, straight,
                                                  tmp_path):
    shutil.copytree(workspace / 'data', tmp_path / 'data')
    image = sorted((tmp_path / 'data/scenes/images/validation').glob('*'))[1]
    image.write_bytes(b'\xff\xd8 not a jpeg')
    result = run('test', CONFIG, straight / 'iter_5.pth', '--work-dir',
                 tmp_path / 'work', '--cfg-options', *QUICK_RUN,
                 cwd=tmp_path)
    log = result.log
    assert result.code == 1
    assert f'Cannot read data/scenes/images/validation/{image.name}' in log
    assert 'mIoU' not in log.split('Cannot read')[-1]


def test_check_dataset_lists_every_bad_file(workspace, tmp_path):
    import cv2
    shutil.copytree(workspace / 'data', tmp_path / 'data')
    scenes = tmp_path / 'data' / 'scenes'
    images = sorted((scenes / 'images/training').glob('*.jpg'))
    labels = sorted((scenes / 'annotations/training').glob('*.png'))
    images[0].write_bytes(os.urandom(3000))  # corrupt
    images[1].unlink()  # missing: its label map is left alone
    images[2].write_bytes(images[2].read_bytes()[:3000])  # cut short
    label = cv2.imread(str(labels[3]), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(labels[3]), label[:100])  # size mismatch
    label = cv2.imread(str(labels[4]), cv2.IMREAD_UNCHANGED)
    label[:10] = 9
    cv2.imwrite(str(labels[4]), label)  # class 8 of 5
    cv2.imwrite(str(labels[5]), label * 0)  # only ignored pixels

    out = run_script(['tools/check_dataset.py', CONFIG, '--split', 'train',
                      '--workers', '2'], cwd=tmp_path)  # as a process
    assert out.returncode == 1
    rel = 'data/scenes/'
    for line in [
            f'{rel}images/training/{images[0].name}: not an image',
            f'{rel}images/training/{images[1].name}: image not found for '
            f'label map {labels[1].name}',
            f'{rel}images/training/{images[2].name}: not an image the '
            'decoder knows (cut short)',
            f'{rel}annotations/training/{labels[3].name}: label map 256x100',
            f'{rel}annotations/training/{labels[4].name}: values [8]',
            f'{rel}annotations/training/{labels[5].name}: every pixel is '
            'ignored']:
        assert line in out.stdout, line
    assert '5 error(s), 1 warning(s)' in out.stdout


def test_check_dataset_reads_coco_annotations_as_stored(tmp_path):
    import json

    from van_mm.synthetic import make_coco_shapes
    make_coco_shapes(str(tmp_path / 'data' / 'shapes'), num_train=3,
                     num_val=1, seed=3)
    ann_file = tmp_path / 'data/shapes/annotations/instances_train2017.json'
    coco = json.loads(ann_file.read_text())
    second = coco['images'][1]['id']
    coco['annotations'] = [a for a in coco['annotations']
                           if a['image_id'] != second]
    coco['annotations'][0].update(category_id=7)
    ann_file.write_text(json.dumps(coco))
    image = tmp_path / 'data/shapes/train2017' / coco['images'][2][
        'file_name']
    image.write_bytes(b'')

    result = run('check_dataset', os.path.join(
        CONFIGS, 'shapes', 'maskrcnn_van_b0_shapes.py'), '--split', 'train',
                 '--workers', '1', cwd=tmp_path)
    assert result.code == 1
    assert f'{image.name}: empty file' in result.out
    assert 'category 7 is not defined by the file\'s categories [1, 2, 3]' \
        in result.out
    assert re.search(rf'train_{second - 1:05d}.jpg: no objects', result.out)


@pytest.mark.slow
def test_a_killed_distributed_worker_ends_the_job(workspace):
    """SIGKILL to rank 1 of dist_train.sh CONFIG 2: torchrun ends the whole
    job within 30 s (rank 0 would otherwise wait for it forever) and says
    which worker failed and how."""
    args = ['tools/dist_train.sh', CONFIG, 2, '--work-dir',
            workspace / 'dist_kill', '--cfg-options', *QUICK_RUN, *NO_VAL,
            *iters(40)]
    script = os.path.join(REPO, args[0])
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable,
               PORT='29641')
    proc = subprocess.Popen(['bash', script, *map(str, args[1:])],
                            cwd=workspace, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if re.search(r'Iter\(train\) \[\s*1/40\]', line):
            break
    rank1 = next(pid for pid in _children(proc.pid)
                 if b'LOCAL_RANK=1\0' in _environ(pid))
    os.kill(rank1, signal.SIGKILL)
    killed = time.monotonic()
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail('the job still ran 30 s after its worker was killed')
    seconds = time.monotonic() - killed
    log = ''.join(lines) + proc.stdout.read()
    print(f'job ended {seconds:.1f} s after the kill')
    assert code != 0
    # torchrun's report: the failed local rank, its pid, the signal
    assert re.search(r'local_rank\s*:\s*1', log), log[-3000:]
    assert f'pid: {rank1}' in log or f'pid {rank1}' in log, log[-3000:]
    assert 'SIGKILL' in log or 'Signal 9' in log, log[-3000:]


def _children(pid):
    with open(f'/proc/{pid}/task/{pid}/children') as f:
        return [int(p) for p in f.read().split()]


def _environ(pid):
    with open(f'/proc/{pid}/environ', 'rb') as f:
        return f.read()
