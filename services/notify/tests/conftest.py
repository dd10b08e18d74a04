"""Fixtures of the notify tests: its schema in the run's database, and a fake SMS provider."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import psycopg_pool
import pytest

from common.migrations import migrate
from common.settings import role_url
from services.notify.settings import NotifySettings


@pytest.fixture
def pool(database_url):
    """A connection pool on a migrated, empty notify schema, logged in as notify's role."""
    migrate(database_url, "notify")
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("TRUNCATE notify.messages, notify.processed_events, notify.cancellations")
    with psycopg_pool.ConnectionPool(role_url(database_url, NotifySettings.DATABASE_ROLE),
                                     min_size=1, max_size=4, open=True) as pool:
        yield pool


class FakeProvider:
    """An SMS provider's API on 127.0.0.1. It answers each POST with the next status queued in
    `replies` (200 once they run out); "slow" means no answer for a second, the text sent all
    the same. Like a real provider, it texts each Idempotency-Key once: `delivered` holds the
    body of each text that went out, by key, and a repeat is answered but texts nobody. It
    records every request as {"headers", "body"}."""

    def __init__(self):
        self.replies: list[int | str] = []
        self.requests: list[dict] = []
        self.delivered: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_port}/sms"

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with provider._lock:
                    provider.requests.append({"headers": dict(self.headers), "body": body})
                    reply = provider.replies.pop(0) if provider.replies else 200
                    if reply in (200, "slow"):
                        provider.delivered.setdefault(self.headers["Idempotency-Key"], body)
                if reply == "slow":
                    time.sleep(1)
                    return
                self.send_response(reply)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # keeps the test output quiet
                pass

        return Handler

    def __enter__(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def provider():
    with FakeProvider() as provider:
        yield provider
