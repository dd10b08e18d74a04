"""A light HTTP/1.1 load generator: many keep-alive connections in one asyncio thread, with
requests prebuilt as bytes. The client shares the machine's cores with the platform, so it
should cost as little CPU as possible (about 0.1-0.3 ms a request, against ~1.5 ms with
`requests` in threads).

  post_all  sends prebuilt POSTs, `concurrency` at a time (the registrations, the
            submissions);
  run_load  many signed-in clients GET one path, in one of two shapes:
    closed  each client sends its next request as soon as the previous answer arrives;
    paced   each client sends one request every `interval_s` (staggered across clients).
            Latency is counted from when the request was due, so a slow answer that delays
            the client's next request is charged to that request too (no coordinated
            omission).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

from bench.stats import Latency


def _request(method: str, url: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    parts = urlsplit(url)
    lines = [f"{method} {parts.path} HTTP/1.1", f"Host: {parts.netloc}",
             "Connection: keep-alive", *(f"{k}: {v}" for k, v in headers.items())]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection:
    """One client's keep-alive connection, reopened if the server closes it; from the
    loopback address `source` if given (the gateway tells clients apart by address)."""

    def __init__(self, url: str, source: str | None = None):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.source = source
        self.reader = self.writer = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, local_addr=(self.source, 0) if self.source else None)

    async def close(self) -> None:
        if self.writer:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None

    async def send(self, request: bytes) -> tuple[int, bytes, dict[str, str]]:
        """Sends a prebuilt request and reads the whole answer: (status, body, the cookies it
        sets)."""
        if self.writer is None:
            await self.open()
        self.writer.write(request)
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = [(k.strip().lower(), v.strip()) for k, _, v in
                  (line.partition(":") for line in head[1:] if line)]
        headers = dict(fields)
        # Set-Cookie may come more than once: name=value before the first ";"
        cookies = dict(v.split(";", 1)[0].strip().split("=", 1) for k, v in fields
                       if k == "set-cookie")
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked()
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", 0)))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body, cookies

    async def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size = int((await self.reader.readline()).split(b";")[0], 16)
            chunks.append((await self.reader.readexactly(size + 2))[:-2])
            if size == 0:
                return b"".join(chunks)


# POSTs ----------------------------------------------------------------------------------------
def queued(status: int, body: bytes) -> dict | None:
    """The waiting room's answer (503 QUEUED: queue_ticket, retry_after_s, ...), or None."""
    if status != 503:
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    return answer if answer.get("code") == "QUEUED" else None


class Answer(NamedTuple):
    status: int  # 0: no answer (the connection failed)
    seconds: float
    body: bytes
    cookies: dict[str, str]  # those the answer set


async def _post_all(url: str, bodies: list[bytes], sources: list[str | None],
                    headers: list[dict[str, str]] | None) -> list[Answer]:
    requests = [_request("POST", url, {"Content-Type": "application/json", **extra}, body)
                for body, extra in zip(bodies, headers or [{}] * len(bodies), strict=True)]
    answers = [Answer(0, 0.0, b"", {})] * len(requests)
    todo = iter(range(len(requests)))
    conns = [Connection(url, source) for source in sources[:len(requests)]]
    await asyncio.gather(*(c.open() for c in conns))

    async def worker(conn: Connection):
        for i in todo:  # shared: each index is taken by exactly one worker
            started = time.perf_counter()
            request = requests[i]
            while True:
                try:
                    status, body, cookies = await conn.send(request)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    status, body, cookies = 0, repr(exc).encode(), {}
                    await conn.close()
                if (waiting := queued(status, body)) is None:
                    break
                # in line: back when told, with the ticket (the gateway kept the body)
                await asyncio.sleep(waiting["retry_after_s"])
                request = _request("POST", url, {"X-Queue-Ticket": waiting["queue_ticket"]})
            answers[i] = Answer(status, time.perf_counter() - started, body, cookies)

    await asyncio.gather(*(worker(c) for c in conns))
    await asyncio.gather(*(c.close() for c in conns))
    return answers


def post_all(url: str, bodies: list[bytes], sources: list[str | None],
             headers: list[dict[str, str]] | None = None) -> list[Answer]:
    """POSTs each JSON body, with its own `headers` if given, over one keep-alive connection
    per source address (so as many at a time), as a reverse proxy's pooled upstream
    connections would carry them: the answers, in order. A client put in line (503 QUEUED)
    comes back when told with its ticket, as the waiting page does: its answer is the last,
    its time from its first send."""
    return asyncio.run(_post_all(url, bodies, sources, headers))


# GET loads ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadResult:
    mode: str
    clients: int
    duration_s: float
    completed: int
    errors: int
    throughput_rps: float
    latency: Latency


class _Run:
    def __init__(self):
        self.latencies: list[float] = []
        self.errors = 0

    async def get(self, conn: Connection, request: bytes, due: float) -> None:
        try:
            status, _, _ = await conn.send(request)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.errors += 1
            await conn.close()
            return
        if status == 200:
            self.latencies.append(time.perf_counter() - due)
        else:
            self.errors += 1


async def _closed(clients, duration_s: float, run: _Run, stop: threading.Event) -> None:
    end = time.perf_counter() + duration_s

    async def client(conn, request):
        while (now := time.perf_counter()) < end and not stop.is_set():
            await run.get(conn, request, now)

    await asyncio.gather(*(client(c, r) for c, r in clients))


async def _paced(clients, duration_s: float, interval_s: float, run: _Run,
                 stop: threading.Event) -> None:
    start = time.perf_counter()
    per_client = int(duration_s / interval_s)

    async def client(conn, request, offset):
        for i in range(per_client):
            due = start + offset + i * interval_s
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if stop.is_set():
                return
            await run.get(conn, request, due)

    await asyncio.gather(*(client(c, r, k * interval_s / len(clients))
                           for k, (c, r) in enumerate(clients)))


async def _load(url: str, cookies: list[str], mode: str, duration_s: float,
                interval_s: float, stop: threading.Event) -> LoadResult:
    clients = [(Connection(url), _request("GET", url, {"Cookie": cookie,
                                                        "Accept": "application/json"}))
               for cookie in cookies]
    await asyncio.gather(*(c.open() for c, _ in clients))
    run = _Run()
    started = time.perf_counter()
    if mode == "closed":
        await _closed(clients, duration_s, run, stop)
    else:
        await _paced(clients, duration_s, interval_s, run, stop)
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(c.close() for c, _ in clients))
    return LoadResult(mode, len(clients), round(elapsed, 2), len(run.latencies), run.errors,
                      len(run.latencies) / elapsed, Latency.of(run.latencies))


def run_load(url: str, cookies: list[str], mode: str, duration_s: float,
             interval_s: float = 1.0, stop: threading.Event | None = None) -> LoadResult:
    """`cookies`: one Cookie header value per client. Blocks for about `duration_s`, or until
    `stop` is set (each client sends no more requests once it is)."""
    return asyncio.run(_load(url, cookies, mode, duration_s, interval_s,
                             stop or threading.Event()))
