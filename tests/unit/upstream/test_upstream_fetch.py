"""The only HTTP calls to upstream issuers, against local servers: bounded and translated."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from spiffebind.errors import UpstreamUnavailable
from spiffebind.upstream.fetch import MAX_BODY_BYTES, post_form, read_location


class Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, bytes]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        Handler.seen.append((self.path, self.headers.get("Authorization", ""), body))
        status, payload = {
            "/ok": (200, b'{"keys": []}'),
            "/big": (200, b"x" * (MAX_BODY_BYTES + 1)),
            "/error": (503, b"down"),
        }.get(self.path, (404, b""))
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_get_and_file(base: str, tmp_path: Path) -> None:
    assert read_location(f"{base}/ok", 2.0) == b'{"keys": []}'
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes(b'{"keys": [1]}')
    assert read_location(str(jwks), 2.0) == b'{"keys": [1]}'


def test_post_form_with_basic_auth(base: str) -> None:
    post_form(f"{base}/ok", {"token": "a b"}, basic_auth=("id:x", "s&t"), timeout=2.0)
    path, auth, body = Handler.seen[-1]
    assert (path, body) == ("/ok", b"token=a+b")
    assert base64.b64decode(auth.removeprefix("Basic ")) == b"id%3Ax:s%26t"


@pytest.mark.parametrize(("path", "why"), [("/error", "HTTP 503"), ("/big", "larger than")])
def test_bad_answers_are_unavailable(base: str, path: str, why: str) -> None:
    with pytest.raises(UpstreamUnavailable, match=why):
        read_location(f"{base}{path}", 2.0)


def test_nobody_listening_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UpstreamUnavailable, match="unreachable"):
        read_location(f"http://127.0.0.1:{port}/jwks.json", 2.0)


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the kernel accepts the connection; nobody ever answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/jwks.json"
        with pytest.raises(UpstreamUnavailable, match="unreachable"):
            read_location(url, 0.2)


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://example.org/jwks"])
def test_only_http_and_https_urls_are_fetched(location: str) -> None:
    with pytest.raises(UpstreamUnavailable, match="only http and https"):
        read_location(location, 1.0)


def test_a_missing_file_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(UpstreamUnavailable, match="JWKS file"):
        read_location(str(tmp_path / "nope.json"), 1.0)
