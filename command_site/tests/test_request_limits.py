"""Request bodies over the limit are refused with 413 before they are read, by the real web
process (Content-Length and chunked) and by the ASGI layer; uploads stream to disk."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.test import RequestFactory

from command_site.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

MB = 1024 * 1024


def _connect(web) -> socket.socket:
    parts = urlsplit(web.url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def _head(web, path: str, extra: str) -> bytes:
    host = urlsplit(web.url).netloc
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=xyz\r\n{extra}\r\n"
    ).encode()


def _send_until_answered(sock: socket.socket, chunks, limit_bytes: int) -> tuple[bytes, int]:
    """Send `chunks` while watching for an answer; returns (answer, bytes sent)."""
    sent = 0
    answer = b""
    sock.setblocking(False)
    try:
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                try:
                    n = sock.send(view)
                    sent += n
                    view = view[n:]
                except BlockingIOError:
                    time.sleep(0.001)
                except (BrokenPipeError, ConnectionResetError):
                    return answer, sent
                try:
                    data = sock.recv(65536)
                    if not data:
                        return answer, sent
                    answer += data
                except BlockingIOError:
                    pass
                except ConnectionResetError:
                    return answer, sent
            if sent > limit_bytes:
                break
    finally:
        sock.setblocking(True)
    sock.settimeout(5)
    try:
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    except (TimeoutError, ConnectionResetError):
        pass
    return answer, sent


def test_an_anonymous_80_mb_login_post_is_refused_before_it_is_read(web):
    before = web.peak_memory_kb()
    with _connect(web) as sock:
        sock.sendall(_head(web, "/accounts/login/", f"Content-Length: {80 * MB}\r\n"))
        sock.settimeout(5)
        answer = sock.recv(65536)  # before a single byte of the body was sent
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"too large" in answer
        _send_until_answered(sock, (bytes(MB) for _ in range(80)), 80 * MB)
    assert web.peak_memory_kb() - before < 30 * 1024, "the web process buffered the body"


def test_a_streamed_chunked_body_is_cut_off_at_the_limit(web):
    before = web.peak_memory_kb()
    chunk = b"%x\r\n" % MB + bytes(MB) + b"\r\n"
    with _connect(web) as sock:
        sock.sendall(_head(web, "/accounts/login/", "Transfer-Encoding: chunked\r\n"))
        answer, sent = _send_until_answered(sock, (chunk for _ in range(80)), 80 * MB)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert web.peak_memory_kb() - before < 30 * 1024, "the web process buffered the body"


def test_small_requests_and_uploads_under_their_own_limit_still_go_through(web):
    with _connect(web) as sock:
        # 12 MB is over the ordinary limit but within the upload pages' limit: the page answers
        # (it refuses this nonsense body in its own words), not the size guard.
        sock.sendall(_head(web, "/workspaces/", f"Content-Length: {12 * MB}\r\n"))
        answer, _ = _send_until_answered(sock, (bytes(MB) for _ in range(12)), 13 * MB)
    assert answer.startswith(b"HTTP/1.1 ") and not answer.startswith(b"HTTP/1.1 413"), answer[:200]
    with _connect(web) as sock:
        sock.sendall(_head(web, "/accounts/login/", "Content-Length: 10\r\n") + b"0123456789")
        sock.settimeout(10)
        assert not sock.recv(65536).startswith(b"HTTP/1.1 413")


async def _asgi_post(path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]]):
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    app = ApplicationCommunicator(application, scope)
    for i, chunk in enumerate(chunks):
        await app.send_input({"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1})
    start = await app.receive_output(10)
    return start


async def test_the_asgi_layer_refuses_a_declared_length_over_the_limit(settings):
    settings.COMMAND_REQUEST_MAX_BYTES = 64 * 1024
    start = await _asgi_post("/accounts/login/", [b""], [(b"content-length", str(MB).encode())])
    assert start["type"] == "http.response.start" and start["status"] == 413


async def test_the_asgi_layer_cuts_off_a_streamed_body(settings):
    settings.COMMAND_REQUEST_MAX_BYTES = 64 * 1024
    start = await _asgi_post("/accounts/login/", [bytes(32 * 1024)] * 4, [])
    assert start["type"] == "http.response.start" and start["status"] == 413


def test_uploads_are_streamed_to_a_temporary_file_not_held_in_memory():
    request = RequestFactory().post("/", {"file": _named(b"x" * 1000, "a.txt")})
    upload = request.FILES["file"]
    assert isinstance(upload, TemporaryUploadedFile)
    upload.close()


def _named(data: bytes, name: str):
    import io

    f = io.BytesIO(data)
    f.name = name
    return f
