"""A population registry simulator: the JSON API of REGISTRY_API.md over a registry CSV file,
for tests, benchmarks and development; never for production.

    python -m services.verification.simulator --csv services/verification/demo_registry.csv \\
        --port 8701 [--host 127.0.0.1] [--token T] [--latency-ms 200] [--fail-rate 0.1]

Once it accepts requests it prints `listening on http://HOST:PORT` (with --port 0, the port it
got). Stop it with a signal; start it again on the same port. Controls, JSON, without
authentication (bind to loopback only):

- `POST /_admin/config` changes any of: `latency_ms` (every answer waits so long),
  `fail_rate` (this share of requests answers `fail_status`, 500 or 503), and `script`, a list
  of one-off behaviours taken by the next requests in order, before the settings above:
  `{"status": 503}` answers that status, `{"delay_ms": 1500}` waits, then answers as usual,
  `{"answer": ...}` answers 200 with that JSON instead (a registry breaking the contract).
- `GET /_admin/stats`: `requests`, `in_flight`, `max_in_flight` (the most at once),
  `statuses` (answers by HTTP status) and `idempotency_keys` ([lookup, key] in arrival order).
- `POST /_admin/reset`: empties the stats and the keys remembered, and restores the settings
  the process started with.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from services.verification.registry import MemoryStore, load_csv

_LOOKUPS = {"/v1/person-lookups": ("person", {"document_type", "document_number"}),
            "/v1/permit-lookups": ("permit", {"permit_number"})}
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


class Registry:
    """The simulated registry's data, settings and what it saw; one lock guards all of it."""

    def __init__(self, store: MemoryStore, token: str, latency_ms: int, fail_rate: float,
                 fail_status: int, seed: int):
        self.store, self.token = store, token
        self._defaults = {"latency_ms": latency_ms, "fail_rate": fail_rate,
                          "fail_status": fail_status, "script": []}
        self._random = random.Random(seed)  # the same failures on every run
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.settings = {**self._defaults, "script": []}
            self.requests = self.in_flight = self.max_in_flight = 0
            self.statuses: Counter[int] = Counter()
            self.keys: list[list[str]] = []
            self.bodies: dict[str, tuple[str, str]] = {}  # key -> the lookup and body it named

    def configure(self, changes: dict) -> None:
        with self.lock:
            unknown = set(changes) - set(self._defaults)
            if unknown:
                raise ValueError(f"unknown settings {sorted(unknown)}")
            self.settings.update(changes)
            self.settings["script"] = list(self.settings["script"])

    def stats(self) -> dict:
        with self.lock:
            return {"requests": self.requests, "in_flight": self.in_flight,
                    "max_in_flight": self.max_in_flight,
                    "statuses": {str(status): n for status, n in self.statuses.items()},
                    "idempotency_keys": [list(seen) for seen in self.keys]}

    def enter(self) -> None:
        with self.lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self, status: int) -> None:
        with self.lock:
            self.in_flight -= 1
            self.statuses[status] += 1

    def behave(self, lookup: str, key: str, body: str) -> tuple[float, dict]:
        """Records a key; returns how long to wait and what to do: a script step, a simulated
        failure ({"status": ...}) or nothing special ({}). A key already seen with another
        lookup or body is a conflict (409)."""
        with self.lock:
            self.keys.append([lookup, key])
            if self.bodies.setdefault(key, (lookup, body)) != (lookup, body):
                return 0.0, {"status": 409}
            settings = self.settings
            step = settings["script"].pop(0) if settings["script"] else {}
            delay_s = step.get("delay_ms", settings["latency_ms"]) / 1000
            if not step and self._random.random() < settings["fail_rate"]:
                step = {"status": settings["fail_status"]}
            return delay_s, step


def handler_for(registry: Registry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps connections open, as a real registry would
        # Headers and body leave in two writes: with Nagle's algorithm the body would wait
        # for the client's delayed ACK, 40 ms an answer.
        disable_nagle_algorithm = True

        def do_GET(self):
            if self.path == "/_admin/stats":
                self._answer(200, registry.stats())
            else:
                self._answer(404, {"error": "not_found"})

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith("/_admin/"):
                self._admin(body)
            elif self.path in _LOOKUPS:
                self._lookup(*_LOOKUPS[self.path], body)
            else:
                self._answer(404, {"error": "not_found"})

        def _admin(self, body: bytes):
            if self.path == "/_admin/reset":
                registry.reset()
            elif self.path == "/_admin/config":
                try:
                    registry.configure(json.loads(body or b"{}"))
                except ValueError as exc:
                    self._answer(400, {"error": str(exc)})
                    return
            else:
                self._answer(404, {"error": "not_found"})
                return
            self._answer(200, {"ok": True})

        def _lookup(self, lookup: str, fields: set[str], body: bytes):
            registry.enter()
            status = 500  # should answering itself fail
            try:
                status, payload = self._lookup_answer(lookup, fields, body)
                self._answer(status, payload)
            finally:
                registry.leave(status)

        def _lookup_answer(self, lookup: str, fields: set[str], body: bytes) -> tuple[int, dict]:
            if registry.token and self.headers.get("Authorization") != f"Bearer {registry.token}":
                return 401, {"error": "unauthorized"}
            key = self.headers.get("Idempotency-Key", "")
            if not _KEY.match(key):
                return 400, {"error": "idempotency_key_required"}
            try:
                query = json.loads(body)
                if set(query) != fields or not all(isinstance(v, str) for v in query.values()):
                    raise ValueError
            except (ValueError, TypeError):
                return 400, {"error": "invalid_request"}
            delay_s, step = registry.behave(lookup, key, json.dumps(query, sort_keys=True))
            time.sleep(delay_s)
            if step.get("status") == 409:
                return 409, {"error": "idempotency_key_reused"}
            if "status" in step:
                return step["status"], {"error": "unavailable"}
            if "answer" in step:
                return 200, step["answer"]
            if lookup == "person":
                record = registry.store.find_person(query["document_type"],
                                                    query["document_number"].upper())
            else:
                record = registry.store.find_permit(query["permit_number"].upper())
            if record is None:
                return 200, {"found": False}
            return 200, {"found": True, lookup: record.model_dump(mode="json")}

        def _answer(self, status: int, payload: dict):
            data = json.dumps(payload, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except ConnectionError:  # the client timed out and left: nothing to tell it
                self.close_connection = True

        def log_message(self, *args):  # a line per request would drown the tests' output
            pass

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops a burst's connections (retried after 1 s)

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", required=True, help="the registry, in load_csv's format")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--token", default="", help="require Authorization: Bearer TOKEN")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--fail-status", type=int, choices=(500, 503), default=503)
    parser.add_argument("--seed", type=int, default=0, help="of the simulated failures")
    args = parser.parse_args(argv)
    registry = Registry(MemoryStore(load_csv(args.csv)), args.token, args.latency_ms,
                        args.fail_rate, args.fail_status, args.seed)
    server = Server((args.host, args.port), handler_for(registry))
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
