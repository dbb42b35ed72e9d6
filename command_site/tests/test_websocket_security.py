"""The workstream socket against a real daphne: origins are checked exactly (scheme, host and
port), and malformed messages get an error frame instead of closing the socket."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from command_site.testing import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def _socket(daphne_url: str, *, origin: str | None, cookie: str, host: str | None = None):
    """A websocket to the daphne under test; `host` is the Host it is addressed to (the name a
    browser would have used), while the connection always goes to daphne's own address."""
    parts = urlsplit(daphne_url)
    return connect(
        f"ws://{host or parts.netloc}/ws/workstream/",
        sock=socket.create_connection((parts.hostname, parts.port), timeout=10),
        origin=origin,
        additional_headers={"Cookie": f"sessionid={cookie}"},
        open_timeout=10,
    )


def _refused(daphne_url, **kwargs) -> bool:
    try:
        with _socket(daphne_url, **kwargs) as ws:
            ws.send(json.dumps({"type": "ping"}))
            ws.recv(timeout=5)
    except InvalidStatus as exc:
        return exc.response.status_code == 403
    return False


def test_a_page_on_another_port_or_scheme_cannot_open_the_socket_with_the_victims_cookie(daphne_url, owner):
    cookie = session_cookie(owner)
    port = urlsplit(daphne_url).port
    for origin in (
        "http://127.0.0.1:8299",
        "http://localhost:8299",
        "http://[::1]:8299",
        f"https://127.0.0.1:{port}",
        f"http://localhost:{port}",  # another host name is another origin
        "http://127.0.0.1",
        "null",
        None,
    ):
        assert _refused(daphne_url, origin=origin, cookie=cookie), origin
    # A rebinding host name is not one of the site's hosts.
    assert _refused(daphne_url, origin=f"http://evil.example:{port}", cookie=cookie, host=f"evil.example:{port}")


def test_the_sites_own_page_opens_the_socket(daphne_url, owner):
    cookie = session_cookie(owner)
    port = urlsplit(daphne_url).port
    for origin, host in ((f"http://127.0.0.1:{port}", None), (f"http://localhost:{port}", f"localhost:{port}")):
        with _socket(daphne_url, origin=origin, cookie=cookie, host=host) as ws:
            ws.send(json.dumps({"type": "ping"}))
            assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}


@pytest.mark.parametrize(
    "message",
    [
        "[]",
        "null",
        "not json",
        "42",
        '"subscribe"',
        '{"type": "subscribe", "runs": 5}',
        '{"type": "subscribe", "runs": {"run": 1}}',
        '{"type": "subscribe", "runs": [{"run": "RUN", "after": 99999999999999999999999999}]}',
        '{"type": "subscribe", "runs": [{"run": "RUN", "after": "soon"}]}',
        '{"type": "subscribe", "runs": ["RUN"]}',
        '{"type": "subscribe", "runs": [{"run": 99999999999999999999, "after": 0}]}',
        '{"type": "subscribe", "runs": [{"run": -1, "after": -5}]}',
        '{"type": "unsubscribe", "runs": 7}',
        '{"type": 5}',
    ],
)
def test_a_malformed_message_gets_an_error_frame_and_the_socket_stays_open(daphne_url, owner, message):
    from tasks.models import PlanRevision, Task, TaskRun

    task = Task.objects.create(owner=owner, raw_prompt="x", title="x")
    run = TaskRun.objects.create(task=task, owner=owner, plan_revision=PlanRevision.objects.create(task=task, number=1))
    port = urlsplit(daphne_url).port
    with _socket(daphne_url, origin=f"http://127.0.0.1:{port}", cookie=session_cookie(owner)) as ws:
        ws.send(message.replace('"RUN"', str(run.pk)))
        reply = json.loads(ws.recv(timeout=5))
        assert reply["type"] == "error" and reply["message"], reply
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}


def test_a_socket_with_an_idle_session_is_treated_as_signed_out(daphne_url, owner):
    import time

    from django.contrib.sessions.backends.db import SessionStore

    from command_site.idle_sessions import LAST_SEEN

    cookie = session_cookie(owner)
    session = SessionStore(session_key=cookie)
    session[LAST_SEEN] = int(time.time()) - 9 * 3600  # past the default 8 hours
    session.save()
    port = urlsplit(daphne_url).port
    with (
        _socket(daphne_url, origin=f"http://127.0.0.1:{port}", cookie=cookie) as ws,
        pytest.raises(ConnectionClosed) as closed,
    ):
        ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4401
