"""Fixtures of the automation tests: Celery in-process (except in the real-worker module), an organization
with a connection, channels and automations, and a local HTTP server that answers with the statuses a
test queues (to fail, time out, then succeed)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from automations import actions
from automations.models import Automation, Channel
from tests.factories import CloudConnectionFactory


@pytest.fixture(autouse=True)
def _eager_celery(request):
    """Tasks run in-process even when REDIS_URL points Celery at a broker (CI), except where a module
    says ``REAL_WORKER = True``."""
    if getattr(request.module, "REAL_WORKER", False):
        yield
        return
    from cloustral.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def conn(org):
    return CloudConnectionFactory(org=org, name="Prod")


@pytest.fixture
def email_channel(org, owner):
    return actions.do_create_channel(org, user=owner, kind=Channel.Kind.EMAIL, name="Owners", roles=["owner"]).channel


def make_automation(org, user, **fields) -> Automation:
    fields.setdefault("name", "Daily summary")
    return actions.do_create_automation(org, user=user, **fields)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class LocalServer:
    """``answers``: statuses to answer in order (then 200); "timeout" sleeps past the client's timeout."""

    url: str = ""
    answers: list = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    delay: float = 0.0


@pytest.fixture
def http_server(settings):
    settings.AUTOMATIONS_WEBHOOK_ALLOW_LOCAL = True
    state = LocalServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            state.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            answer = state.answers.pop(0) if state.answers else 200
            if answer == "timeout":
                time.sleep(state.delay or 1.5)
                answer = 200
            payload = b'{"ok": true}' if answer < 400 else b"upstream says no"
            try:
                self.send_response(answer)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()
