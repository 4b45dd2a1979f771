# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""The demo page's HTTP server (``http.server``, a thread per request, one
prediction at a time).

* ``GET /``: the page (:mod:`van_mm.webdemo.page`);
* ``POST /predict?stage=N`` with the image file as the body (no multipart
  form): the prediction as JSON (:meth:`DemoModel.predict`), or
  ``{"error": MESSAGE}`` with a 4xx status for a bad upload
  (:func:`read_upload`) and 500 for an image the model failed on, whose
  traceback goes to the server's log. The server goes on serving either
  way.
"""
import json
import sys
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import parse_qs, urlsplit

from .page import render_page
from .uploads import MAX_BYTES, UploadError, read_upload, too_large


class DemoHandler(BaseHTTPRequestHandler):
    """Answers the page's requests with the server's ``demo`` model."""

    server_version = 'van-mm-web-demo'
    timeout = 120  # seconds a client may stall mid-request

    @property
    def demo(self):
        return self.server.demo

    def do_GET(self):
        if urlsplit(self.path).path not in ('/', '/index.html'):
            return self._json({'error': f'No page {self.path!r} here: the '
                               'demo is at /.'}, HTTPStatus.NOT_FOUND)
        self._send(HTTPStatus.OK, 'text/html; charset=utf-8',
                   self.server.page)

    def do_POST(self):
        url = urlsplit(self.path)
        length = self.headers.get('Content-Length')
        if url.path != '/predict':
            self._drain(length)
            return self._json({'error': f'No {url.path!r} here: post '
                               'images to /predict.'}, HTTPStatus.NOT_FOUND)
        if length is None or not length.isdigit():
            self.close_connection = True
            return self._json({'error': 'The upload has no Content-Length.'},
                              HTTPStatus.LENGTH_REQUIRED)
        length = int(length)
        if length > MAX_BYTES:
            self._drain(length)
            return self._json({'error': too_large(length)},
                              HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        data = self.rfile.read(length)
        try:
            stage = self._stage(parse_qs(url.query).get('stage', [''])[0])
            image, notes = read_upload(data)
        except UploadError as e:
            return self._json({'error': str(e)}, e.status)
        try:
            answer = self.demo.predict(image, stage)
        except Exception as e:  # the page says it; the server goes on
            traceback.print_exc()
            return self._json({'error': f'The model failed on this image: '
                               f'{type(e).__name__}: {e}'},
                              HTTPStatus.INTERNAL_SERVER_ERROR)
        answer['notes'] = notes + answer.get('notes', [])
        self._json(answer, HTTPStatus.OK)

    def _stage(self, text: str) -> Optional[int]:
        """The stage asked for: the last one by default, None without
        attention maps."""
        stages = self.demo.stages
        if not stages:
            return None
        if not text:
            return stages - 1
        if not text.isdigit() or int(text) >= stages:
            raise UploadError(f'stage must be 0..{stages - 1}, got '
                              f'{text!r}.')
        return int(text)

    def _drain(self, length):
        """Read a body that is not used, so that the client gets the
        answer instead of a reset connection."""
        left = int(length) if str(length).isdigit() else 0
        while left > 0:
            chunk = self.rfile.read(min(left, 2**20))
            if not chunk:
                break
            left -= len(chunk)

    def _json(self, obj, status):
        self._send(status, 'application/json',
                   json.dumps(obj).encode('utf-8'))

    def _send(self, status, kind, body: bytes):
        self.send_response(status)
        self.send_header('Content-Type', kind)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Cache-Control', 'no-store')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write(f'[web_demo] {self.address_string()} '
                         f'{format % args}\n')


class DemoServer(ThreadingHTTPServer):
    """An HTTP server of the demo page, bound when made; it serves the
    model given to :meth:`attach`."""

    daemon_threads = True
    demo = None
    page = b''

    def attach(self, demo) -> None:
        """Serve ``demo`` (a :class:`~van_mm.webdemo.DemoModel`, or what
        has its ``info``, ``stages`` and ``predict``)."""
        self.page = render_page(demo.info())
        self.demo = demo

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f'http://{host}:{port}/'


def make_server(host: str = '127.0.0.1', port: int = 8000,
                demo=None) -> DemoServer:
    """A :class:`DemoServer` bound to ``host:port`` (port 0: a free one),
    serving ``demo`` if given; ``serve_forever()`` runs it.

    Raises:
        SystemExit: The address cannot be bound (in use, not this
            machine's), with a message that says what to do.
    """
    try:
        server = DemoServer((host, port), DemoHandler)
    except OSError as e:
        raise SystemExit(f'Cannot serve on {host}:{port}: '
                         f'{e.strerror or e} (another port: --port N; any '
                         'free one: --port 0).')
    if demo is not None:
        server.attach(demo)
    return server


def serve(server: DemoServer) -> None:
    """Serve the attached model until Ctrl-C, printing the address
    first."""
    demo = server.demo
    for warning in demo.warnings:
        print(f'Warning: {warning}', file=sys.stderr)
    print(f'van-mm demo of {demo.config_name} ({demo.task}, {demo.backend}'
          f'{"" if demo.stages else ", no attention map"}) at {server.url} '
          '(Ctrl-C stops it)', flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
