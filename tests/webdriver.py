# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""A headless Chromium driven through ChromeDriver's W3C WebDriver HTTP
interface, with the standard library only (no selenium): enough to load a
page, pick a file in an ``<input type=file>``, drop one on an element, run
JavaScript and take a screenshot; and ``tools/web_demo.py`` run in a
process of its own for it (:class:`WebDemoProcess`).

Needs Debian's ``chromium`` and ``chromium-driver`` (``/usr/bin/chromium``,
``/usr/bin/chromedriver``, the same version; ``.ci/run`` installs them).

Run as a script, it takes the screenshot of the docs
(``docs/gallery/web_demo.png``, see ``docs/make_gallery.sh``)::

    python tests/webdriver.py OUT.png IMAGE CONFIG CHECKPOINT [OPTIONS]

(OPTIONS: those of ``tools/web_demo.py``, but ``--port``)
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEB_DEMO = os.path.join(REPO, 'tools', 'web_demo.py')
ELEMENT = 'element-6066-11e4-a52e-4f735466cecf'  # W3C element reference key
CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage'
]


def missing() -> str:
    """Why the browser cannot run here ('' if it can)."""
    lacking = [p for p in ('chromium', 'chromedriver') if not shutil.which(p)]
    return (f'{" and ".join(lacking)} not on PATH (Debian: apt-get install '
            'chromium chromium-driver)') if lacking else ''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class WebDriverError(RuntimeError):
    pass


class Browser:
    """A headless Chromium session; a context manager that ends it and its
    ChromeDriver."""

    def __init__(self, width=1280, height=900, timeout=30):
        self.profile = tempfile.mkdtemp(prefix='van-mm-chromium-')
        port = free_port()
        self.base = f'http://127.0.0.1:{port}'
        self.driver = subprocess.Popen(
            ['chromedriver', f'--port={port}'], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            self._wait_ready(timeout)
            options = {'args': CHROMIUM_ARGS + [
                f'--user-data-dir={self.profile}',
                f'--window-size={width},{height}']}
            chromium = shutil.which('chromium')
            if chromium:
                options['binary'] = chromium
            value = self._call('POST', '/session', {'capabilities': {
                'alwaysMatch': {'browserName': 'chrome',
                                'goog:chromeOptions': options}}})
            self.session = f'/session/{value["sessionId"]}'
        except BaseException:
            self.close()
            raise

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.driver.poll() is not None:
                raise WebDriverError(f'chromedriver exited with '
                                     f'{self.driver.returncode}')
            try:
                if self._call('GET', '/status').get('ready'):
                    return
            except (OSError, WebDriverError):
                pass
            time.sleep(0.1)
        raise WebDriverError(f'chromedriver not ready after {timeout} s')

    def _call(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method,
            headers={'Content-Type': 'application/json'})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as r:
                return json.loads(r.read())['value']
        except urllib.error.HTTPError as e:
            value = json.loads(e.read() or b'{}').get('value', {})
            raise WebDriverError(f'{method} {path}: {value.get("error")}: '
                                 f'{value.get("message", "")[:500]}')

    def get(self, url):
        self._call('POST', self.session + '/url', {'url': url})

    def js(self, script, *args):
        """Run ``script`` (a function body: ``return ...``) in the page."""
        return self._call('POST', self.session + '/execute/sync',
                          {'script': script, 'args': list(args)})

    def choose_file(self, css, path):
        """Pick the local file ``path`` in the file input ``css``."""
        found = self._call('POST', self.session + '/element',
                           {'using': 'css selector', 'value': css})
        self._call('POST', f'{self.session}/element/{found[ELEMENT]}/value',
                   {'text': os.path.abspath(path)})

    def drop_file(self, css, path, kind='application/octet-stream'):
        """Drop the local file ``path`` on the element ``css``, as a drag
        from the desktop does: a ``drop`` event whose ``dataTransfer`` holds
        it (WebDriver has no native file drag)."""
        with open(path, 'rb') as f:
            data = base64.b64encode(f.read()).decode()
        self.js(
            'const [css, name, data, kind] = arguments;'
            'const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));'
            'const dt = new DataTransfer();'
            'dt.items.add(new File([bytes], name, {type: kind}));'
            'document.querySelector(css).dispatchEvent(new DragEvent('
            "'drop', {dataTransfer: dt, bubbles: true, cancelable: true}));",
            css, os.path.basename(path), data, kind)

    def wait_for(self, script, timeout=60, poll=0.1):
        """Poll ``script`` until it returns something truthy; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(script)
            if value:
                return value
            time.sleep(poll)
        raise TimeoutError(f'no result after {timeout} s: {script}')

    def screenshot(self, path):
        """Save the visible page as PNG."""
        png = base64.b64decode(self._call('GET',
                                          self.session + '/screenshot'))
        with open(path, 'wb') as f:
            f.write(png)

    def close(self):
        if getattr(self, 'session', None):
            try:
                self._call('DELETE', self.session, timeout=10)
            except (OSError, WebDriverError):
                pass
            self.session = None
        if self.driver.poll() is None:
            self.driver.terminate()
            try:
                self.driver.wait(10)
            except subprocess.TimeoutExpired:
                self.driver.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class WebDemoProcess:
    """``python tools/web_demo.py ARGS --port 0`` in a process of its own,
    its log (stderr) in the file ``log``; the context gives the address it
    prints."""

    def __init__(self, args, log, timeout=180):
        self.log_path = log
        self.log = open(log, 'w')
        env = dict(os.environ)
        env.setdefault('OMP_NUM_THREADS', '2')
        self.proc = subprocess.Popen(
            [sys.executable, WEB_DEMO, *map(str, args), '--port', '0'],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        self.url, self.printed = None, []
        self.found = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.found.wait(timeout) or self.url is None:
            code, log = self.proc.poll(), self.tail()
            self.close()
            said = f'exited with {code}' if code is not None else \
                f'printed no address in {timeout} s'
            raise AssertionError(f'tools/web_demo.py {said} before '
                                 f'serving:\n{log}')

    def _read(self):
        """Find the address; keep the pipe drained until it closes."""
        for line in self.proc.stdout:
            self.printed.append(line)
            if self.url is None and ' at http://' in line:
                self.url = line.split(' at ', 1)[1].split()[0]
                self.found.set()
        self.found.set()  # exited: no address

    def tail(self):
        self.log.flush()
        with open(self.log_path) as f:
            return (''.join(self.printed) + f.read())[-3000:]

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def __enter__(self):
        return self.url

    def __exit__(self, *exc):
        self.close()


def screenshot_page(out, image, demo_args, width=1200, height=760):
    """Start ``tools/web_demo.py DEMO_ARGS``, open its page, pick ``image``,
    wait for the answer and save the page as PNG at ``out``; the page's
    final state ('done' or 'error')."""
    if missing():
        raise SystemExit(missing())
    with tempfile.TemporaryDirectory() as tmp, \
            WebDemoProcess(demo_args, os.path.join(tmp, 'log')) as url, \
            Browser(width=width, height=height) as browser:
        browser.get(url)
        browser.js("document.body.dataset.state = 'idle'")
        browser.choose_file('#file', image)
        state = browser.wait_for(
            "const s = document.body.dataset.state; "
            "return (s === 'done' || s === 'error') && s", timeout=300)
        browser.screenshot(out)
    return state


if __name__ == '__main__':
    if len(sys.argv) < 5:
        raise SystemExit(__doc__)
    start = time.perf_counter()
    state = screenshot_page(sys.argv[1], sys.argv[2], sys.argv[3:])
    print(f'{sys.argv[1]}: {state} after {time.perf_counter() - start:.1f} s')
