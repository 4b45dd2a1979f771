"""tools/web_demo.py: which uploads the page takes and how it says no (no
model needed), its HTTP answers (a stand-in model), the model behind it for
a segmentor, and the page itself in a real headless Chromium on a
detector: a bad upload, then an image whose prediction is read back from
the page. The page's model from an exported ONNX file is tested with the
export, in tests/test_tools_export.py."""
import base64
import io
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

import webdriver
from helpers import DET_CONFIG, DET_LIGHT, SEG_CONFIG, run
from van_mm.webdemo import MAX_BYTES, UploadError, make_server, read_upload


def encode(image, fmt='PNG', **kwargs):
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def rgb(w=64, h=48, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (h, w, 3), np.uint8)


# --- which uploads are taken -------------------------------------------------

@pytest.mark.parametrize('fmt', ['PNG', 'JPEG', 'BMP', 'WEBP', 'TIFF'])
def test_8_bit_rgb_files_are_taken_as_they_are(fmt):
    pixels = rgb()
    image, notes = read_upload(encode(Image.fromarray(pixels), fmt))
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    assert notes == []
    if fmt in ('PNG', 'BMP', 'TIFF'):  # lossless
        assert np.array_equal(image, pixels)


def test_grey_and_opaque_alpha_are_converted_with_a_note():
    grey = rgb()[..., 0]
    image, notes = read_upload(encode(Image.fromarray(grey, 'L')))
    assert np.array_equal(image, np.repeat(grey[..., None], 3, 2))
    assert 'grey' in notes[0]
    rgba = np.dstack([rgb(), np.full((48, 64), 255, np.uint8)])
    image, notes = read_upload(encode(Image.fromarray(rgba, 'RGBA')))
    assert np.array_equal(image, rgba[..., :3]) and 'alpha' in notes[0]


def test_exif_orientation_is_applied_with_a_note():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = encode(Image.fromarray(rgb()), 'JPEG', exif=exif.tobytes())
    image, notes = read_upload(data)
    assert image.shape == (64, 48, 3) and 'EXIF' in notes[0]


def sixteen_bit_rgb(ext, channels=3):
    """A 16-bit-a-channel RGB (or RGBA) file written by OpenCV (Pillow
    reads it as 8-bit RGB without a word)."""
    import cv2
    pixels = rgb().astype(np.uint16) * 257
    if channels == 4:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2BGRA)
    ok, buf = cv2.imencode(ext, pixels)
    assert ok
    return buf.tobytes()


# case: (the upload, the HTTP status, words of the message)
REFUSED = {
    'not an image': (lambda: b'%PDF-1.4 not a picture', 415,
                     'not an image'),
    'GIF': (lambda: encode(Image.fromarray(rgb()), 'GIF'), 415, 'GIF'),
    '16-bit grey': (lambda: encode(Image.fromarray(
        rgb()[..., 0].astype(np.uint16) * 257)), 400, '16-bit'),
    '16-bit RGB': (lambda: sixteen_bit_rgb('.png'), 400, '48-bit'),
    '16-bit RGB TIFF': (lambda: sixteen_bit_rgb('.tiff'), 400, '48-bit'),
    '16-bit RGBA': (lambda: sixteen_bit_rgb('.png', 4), 400, '64-bit'),
    'CMYK': (lambda: encode(Image.fromarray(rgb()).convert('CMYK'), 'JPEG'),
             400, 'CMYK'),
    'palette': (lambda: encode(Image.fromarray(rgb()).convert('P')), 400,
                'palette'),
    '1-bit': (lambda: encode(Image.fromarray(rgb()).convert('1')), 400,
              '1-bit'),
    'transparent': (lambda: encode(Image.fromarray(np.dstack(
        [rgb(), np.zeros((48, 64), np.uint8)]), 'RGBA')), 400,
        'transparent'),
    'too many pixels': (lambda: encode(Image.new('RGB', (5000, 20))), 413,
                        '5000x20'),
    'too small': (lambda: encode(Image.new('RGB', (8, 8))), 400,
                  'too small'),
    'truncated': (lambda: encode(Image.fromarray(rgb()), 'JPEG')[:300], 400,
                  'corrupt'),
    'empty': (lambda: b'', 400, 'empty'),
    'too many bytes': (lambda: b'\0' * (MAX_BYTES + 1), 413, 'MiB'),
}


@pytest.mark.parametrize('case', sorted(REFUSED))
def test_bad_uploads_are_refused_with_a_message(case):
    make, status, words = REFUSED[case]
    with pytest.raises(UploadError) as e:
        read_upload(make())
    assert e.value.status == status
    assert words in str(e.value), str(e.value)


# --- the HTTP answers, with a stand-in model ---------------------------------

class StandIn:
    """What the server needs of a DemoModel: info, stages, predict (which
    fails on images whose first pixel's red is 7)."""
    config_name, task, backend, stages = 'stand-in.py', 'seg', 'pytorch', 4

    def __init__(self):
        self.calls = []

    def info(self):
        return dict(config=self.config_name, task=self.task,
                    backend=self.backend, stages=self.stages, classes=[],
                    score_thr=0.3, max_bytes=MAX_BYTES, max_side=4096,
                    warnings=[])

    def predict(self, image, stage):
        self.calls.append((image.shape, stage))
        if image[0, 0, 0] == 7:
            raise RuntimeError('boom')
        return dict(prediction='data:,', stage=stage)


@pytest.fixture
def stand_in_server():
    demo = StandIn()
    server = make_server(port=0, demo=demo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield demo, server.url
    server.shutdown()
    server.server_close()


def post(url, data):
    request = urllib.request.Request(url, data=data, method='POST')
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_server_answers_each_request_and_keeps_serving(stand_in_server):
    demo, base = stand_in_server
    with urllib.request.urlopen(base) as r:
        page = r.read().decode()
    assert 'stand-in.py' in page and '"stages": 4' in page
    good = encode(Image.fromarray(rgb()))
    assert post(base + 'predict?stage=1', good) == (
        200, dict(prediction='data:,', stage=1, notes=[]))
    assert post(base + 'predict', good)[1]['stage'] == 3  # the last one
    status, answer = post(base + 'predict?stage=9', good)
    assert status == 400 and '0..3' in answer['error']
    status, answer = post(base + 'predict', b'hello')
    assert status == 415 and 'not an image' in answer['error']
    status, answer = post(base + 'predict', b'\0' * (MAX_BYTES + 1))
    assert status == 413 and 'too large' in answer['error']
    pixels = rgb()
    pixels[0, 0, 0] = 7
    status, answer = post(base + 'predict',
                          encode(Image.fromarray(pixels)))
    assert status == 500 and 'RuntimeError: boom' in answer['error']
    status, answer = post(base + 'elsewhere', good)
    assert status == 404
    assert post(base + 'predict?stage=0', good)[0] == 200  # still serving
    assert [c[1] for c in demo.calls] == [1, 3, 3, 0]


def test_command_line_says_what_is_wrong_before_serving(workspace,
                                                         tmp_path):
    """A missing checkpoint, and a port in use (said before the model
    loads)."""
    result = run('web_demo', DET_CONFIG, tmp_path / 'missing.pth', '--port',
                 0, cwd=workspace)
    assert result.code == 1 and 'Checkpoint not found' in result.err
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run('web_demo', DET_CONFIG, tmp_path / 'missing.pth',
                     '--port', port, cwd=workspace)
    assert result.code == 1
    assert f'Cannot serve on 127.0.0.1:{port}' in result.err
    assert '--port 0' in result.err


# --- the model behind the page, and the page in Chromium ---------------------

def decode_data_url(url):
    assert url.startswith('data:image/png;base64,'), url[:50]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(
        url.split(',', 1)[1]))).convert('RGB'))


@pytest.mark.slow
def test_segmentor_gives_its_classes_and_attention_maps(workspace,
                                                        seg_ckpt):
    """The prediction and the chosen stage's attention map at the image's
    size, the classes predicted with their shares of the image. (From an
    exported ONNX file: tests/test_tools_export.py.)"""
    from van_mm.webdemo import DemoModel
    path = sorted((workspace / 'data/scenes/images/validation').glob(
        '*.jpg'))[0]
    image, _ = read_upload(path.read_bytes())
    demo = DemoModel(SEG_CONFIG, seg_ckpt)
    assert demo.stages == 4 and demo.backend == 'pytorch'
    out = demo.predict(image, 2)
    assert out['legend']['kind'] == 'classes'
    shares = [i['share'] for i in out['legend']['items']]
    assert abs(sum(shares) - 1) < 1e-3 and shares == sorted(shares)[::-1]
    assert {i['name'] for i in out['legend']['items']} <= set(demo.classes)
    prediction = decode_data_url(out['prediction'])
    attention = decode_data_url(out['attention'])
    assert prediction.shape == attention.shape == image.shape
    assert not np.array_equal(prediction, image)
    assert out['attention_size'] == [256, 192]  # the pipeline's scale
    other = decode_data_url(demo.predict(image, 0)['attention'])
    assert not np.array_equal(other, attention)
    with pytest.raises(ValueError, match='0..3'):
        demo.predict(image, 4)


DONE = ("const s = document.body.dataset.state; "
        "return (s === 'done' || s === 'error') && s")


def upload(browser, path, drop=False):
    """Pick ``path`` in the page's file input (or drop it on the drop
    zone) and wait for the answer: 'done' or 'error'."""
    browser.js("document.body.dataset.state = 'idle'")
    if drop:
        browser.drop_file('#drop', path)
    else:
        browser.choose_file('#file', path)
    return browser.wait_for(DONE, timeout=120)


def text_of(browser, element):
    return browser.js(f"return document.getElementById('{element}')"
                      '.textContent')


def shapes_image(workspace):
    """The first validation image of the shapes set and its objects'
    boxes (x, y, w, h)."""
    ann = json.loads((workspace / 'data/shapes/annotations/'
                      'instances_val2017.json').read_text())
    first = ann['images'][0]
    boxes = [a['bbox'] for a in ann['annotations']
             if a['image_id'] == first['id']]
    return workspace / 'data/shapes/val2017' / first['file_name'], boxes


def changed_in_boxes(before, after, boxes, tol=8):
    """Per box, the share of its pixels that changed by more than ``tol``."""
    diff = np.abs(after.astype(int) - before.astype(int)).max(-1) > tol
    return [float(diff[int(y):int(y + h), int(x):int(x + w)].mean())
            for x, y, w, h in boxes]


@pytest.mark.slow
def test_page_in_headless_chromium(workspace, det_ckpt, tmp_path):
    """tools/web_demo.py as a process, its page in Chromium: a text file
    dropped gets a message and no picture; an image picked gets the
    prediction, which differs from the image in every object's box, and
    the attention map; another stage gives another map."""
    if webdriver.missing():  # CI sets VAN_MM_REQUIRE_BROWSER=1: a failure
        if os.environ.get('VAN_MM_REQUIRE_BROWSER') == '1':
            pytest.fail(webdriver.missing())
        pytest.skip(webdriver.missing())
    image_path, boxes = shapes_image(workspace)
    original = np.asarray(Image.open(image_path).convert('RGB'))
    bad = tmp_path / 'holiday.png'
    bad.write_text('not a picture at all')
    # score threshold 0: the random model's boxes and masks are all drawn;
    # 20 of them (DET_LIGHT's test settings), as the other tool tests
    light = [o for o in DET_LIGHT if o.startswith('model.test_cfg.')]
    start = time.perf_counter()
    with webdriver.WebDemoProcess(
            [DET_CONFIG, det_ckpt, '--score-thr', 0, '--cfg-options',
             *light], tmp_path / 'server.log') as url, \
            webdriver.Browser(width=1200, height=760) as browser:
        ready = time.perf_counter()
        browser.get(url)
        assert 'maskrcnn_van_b0_shapes.py' in browser.js(
            'return document.title')

        assert upload(browser, bad, drop=True) == 'error'
        message = text_of(browser, 'error')
        assert 'holiday.png: This is not an image' in message, message
        assert browser.js("return document.getElementById('result')"
                          '.hidden')

        assert upload(browser, image_path) == 'done', text_of(browser,
                                                              'error')
        prediction = decode_data_url(browser.js(
            "return document.getElementById('prediction').src"))
        attention = decode_data_url(browser.js(
            "return document.getElementById('attention').src"))
        assert prediction.shape == attention.shape == original.shape
        changed = changed_in_boxes(original, prediction, boxes)
        print(f'\nshare of pixels changed in each object box: '
              f'{[round(c, 2) for c in changed]}')
        assert min(changed) > 0.02, changed
        assert np.abs(attention.astype(int) - original).mean() > 20
        assert 'detection' in text_of(browser, 'legend')
        assert ' ms' in text_of(browser, 'pcap')
        assert 'stage 3' in text_of(browser, 'acap')

        browser.js("const s = document.getElementById('stage'); "
                   "s.value = '0'; document.body.dataset.state = 'idle'; "
                   "s.dispatchEvent(new Event('change'))")
        assert browser.wait_for(DONE, timeout=120) == 'done'
        assert 'stage 0' in text_of(browser, 'acap')
        stage0 = decode_data_url(browser.js(
            "return document.getElementById('attention').src"))
        assert not np.array_equal(stage0, attention)
    print(f'web demo: server up in {ready - start:.1f} s, browser part '
          f'{time.perf_counter() - ready:.1f} s')
