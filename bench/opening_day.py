"""`python -m bench.opening_day` (part of `make bench`): opening day, when more families try to
register than the platform can serve while those already registered keep reading their page.

Starts the whole platform (tests/support/stack.py) on its own database and RabbitMQ vhost as
`python -m bench.run` does; everything removed afterwards. Talks only to 127.0.0.1, and every
phase is bounded by a duration (the last one also by the families' give-up time). The machine is
shared and noisy, so each figure is judged as a ratio against a baseline measured in the same
run: the registrations' sustainable rate R and its p99, and the status reads' p50 and p99 alone.

Status reads, in every phase: F signed-in families (300) GET their status, each once every
F / S seconds (S = 150 reads/s in all, the families staggered), each on a keep-alive connection
of its own from an address of its own. A read is timed from when it was due, so an answer that
delays the family's next read is charged to that read too (no coordinated omission); a read
due while its family still waits for an earlier answer is sent late, or never if the phase ends
first. Served: answered 200 / due. Refused: any other answer (0: none; the connection failed).

Registrations: POST /api/v1/accounts with a prepared body (notice token, captcha of the "fixed"
backend, the SMS code texted to the family), the families of each phase prepared just before it
(not timed; a code lives five minutes), none of them one of the readers.

Phases, in order (T seconds each, 30; before each, the platform is let settle until a read is
answered quickly three times in a row, so that a phase does not inherit the last one's backlog):
  setup        the F readers registered 24 at a time (this also warms the platform up) and
               their applications opened; not timed;
  idle         after a round of reads not counted, the reads alone for T s: their baseline;
  sustainable  registrations in a closed loop, 24 at a time (as `bench.run`; a family put in
               line waits its turn with its ticket, as the waiting page does), for T s or until
               the families prepared for it (--rate-ceiling × T) run out: R = registered/s
               from the first 201 to the last answer, and their p50 and p99 (from the send): the
               registrations' baseline. The readers' registrations already warmed the
               platform up. Before it, a burst of bare argon2id hashes with the platform's
               parameters on two threads (bench/baseline.py), not a target: how R compares
               with the hashing alone on this machine at this moment (`bench.run`'s yardstick);
  1.2 × R      registrations offered in an open loop: family n arrives at n / (k × R) seconds
  2 × R        and sends its POST then, whatever the earlier ones' answers, on an idle
               keep-alive connection of the generator's pool, or a new one (from one of 256
               loopback addresses), for T s of arrivals. Registered/s: the 201s answered within
               those T s, over the time from the first 201 to their end (the first
               registrations' time is no lack of rate; R is counted likewise, from its first
               201 to its last answer); latency from the arrival; any answer is final;
  retrying     the arrivals of 2 × R again, but a family answered 503 waits the retry_after_s
               its answer names (1 s if none) and sends the same POST again: with the header
               `X-Queue-Ticket` if the 503 held a `queue_ticket` (its place in the line, code
               QUEUED), as a fresh arrival if not (line full, SERVICE_UNAVAILABLE); likewise
               after no answer at all, keeping any ticket. It stops at a 201, a 4xx or a 500,
               or when its next try would fall more than G s (120) after its arrival (it gives
               up). The reads go on until the last family stops. Reported: registered/s within
               the T s and until the last family stopped, the share of families registered,
               the time from arrival to 201, the requests per family after its first, and
               fairness among the families that held a ticket at least once: one is overtaken
               when a ticket holder that arrived after it was registered more than R's p99
               before it (two families let in together may finish in either order), or was
               registered while it never was; counted as families and as such pairs, and
               by how much the first later holder led each one registered.

Targets: registered/s at 1.2 × R and at 2 × R ≥ 0.9 × R; their registrations' p99 ≤ 2 × the
p99 at R; in every phase with registrations, reads served ≥ 99 % and read p99 ≤ 3 × idle.
The CPU each part of the platform used in each phase, and the whole machine's, is recorded too.

Writes bench/results/opening_day.json and opening_day.md, prints the Markdown, and exits 1 if a
target is missed (results are written either way).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import math
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from typing import NamedTuple
from urllib.parse import urlsplit

import requests

from bench.baseline import hash_rate
from bench.cpu import CpuMeter
from bench.httpload import Connection, _request
from bench.report import Machine, Offered, OpeningDayReport, Retries, StatusReads
from bench.run import (
    check_platform,
    database_name,
    prepare_families,
    register_all,
    run_bench,
    running_platform,
    wait_applications_opened,
)
from bench.stats import Latency
from tests.support.clients import loopback_address

# What a family's status read is (--read-path): its account and where it stands, as the issue
# measured it (about 1 ms of work); /api/v1/journey adds enrollment's view of its application
# (about 10 ms of CPU in all, measured: 150/s of it alone take 1.4 of this box's 2 cores).
STATUS = "/api/v1/account"
ACCOUNTS = "/api/v1/accounts"
TICKET_HEADER = "X-Queue-Ticket"
OVERLOADS = (1.2, 2.0)  # the open-loop phases, × R; the retrying phase offers the last
SOURCES = 256  # registration client addresses: loopback_address(0 .. 255)
READER_SOURCES = 1000  # reader k connects from loopback_address(READER_SOURCES + k)
# Longer than the gateway takes to answer anything (RPC_TIMEOUT_S is 15 s in the stack).
REQUEST_TIMEOUT_S = 60
DEFAULT_RETRY_S = 1.0  # when a 503 names no retry_after_s
SETTLE_FAST_S = 0.1  # "answered quickly" before the reads' idle p50 is known
SETTLE_TIMEOUT_S = 180
HASHES = 60  # the bare argon2id burst, on two threads: about a second
FAILED = (OSError, EOFError, ValueError, TimeoutError, asyncio.LimitOverrunError)


def say(message: str) -> None:
    print(f"[opening-day {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parsed(body: bytes) -> dict:
    """An answer's JSON object ({} if it is none)."""
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def exchange(conn: Connection, request: bytes) -> tuple[int, dict]:
    """(status, JSON body) of one request; status 0 if no answer came (the connection is
    closed then, and reopened by the next request)."""
    try:
        status, body, _ = await asyncio.wait_for(conn.send(request), REQUEST_TIMEOUT_S)
    except FAILED:  # asyncio.IncompleteReadError is an EOFError
        await conn.close()
        return 0, {}
    return status, parsed(body)


# status reads ---------------------------------------------------------------------------------
class Readers:
    """The signed-in families reading their status, paced, in the phase's event loop: `open`
    and `start` it, run the phase, `stop` it, then `result`."""

    def __init__(self, url: str, cookies: list[str], per_s: float):
        self.url = url
        self.per_s = per_s
        self.requests = [_request("GET", self.url, {"Cookie": cookie,
                                                    "Accept": "application/json"})
                         for cookie in cookies]
        self.interval_s = len(cookies) / per_s

    async def open(self) -> None:
        self.conns = [Connection(self.url, loopback_address(READER_SOURCES + k))
                      for k in range(len(self.requests))]
        await asyncio.gather(*(conn.open() for conn in self.conns))
        self.stopped = asyncio.Event()
        self.stop_at = math.inf
        self.sent = 0
        self.latencies: list[float] = []
        self.refused: Counter[str] = Counter()

    def start(self) -> None:
        self.started = time.perf_counter()
        self.tasks = [asyncio.create_task(self._family(k)) for k in range(len(self.conns))]

    def stop(self) -> None:
        """No read due from now on is sent; those on their way are answered."""
        if not self.stopped.is_set():
            self.stop_at = time.perf_counter()
            self.stopped.set()

    def _offset(self, k: int) -> float:
        return k * self.interval_s / len(self.conns)

    async def _family(self, k: int) -> None:
        conn, request = self.conns[k], self.requests[k]
        for i in range(sys.maxsize):
            due = self.started + self._offset(k) + i * self.interval_s
            wait = due - time.perf_counter()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopped.wait(), wait)
            late = time.perf_counter() - due > self.interval_s
            if due >= self.stop_at or (self.stopped.is_set() and late):
                return  # not due before the phase ended, or due while the family still waited
            self.sent += 1
            status, _ = await exchange(conn, request)
            if status == 200:
                self.latencies.append(time.perf_counter() - due)
            else:
                self.refused[str(status)] += 1

    async def result(self) -> StatusReads:
        self.stop()
        await asyncio.gather(*self.tasks)
        await asyncio.gather(*(conn.close() for conn in self.conns))
        seconds = self.stop_at - self.started
        due = sum(max(0, math.ceil((seconds - self._offset(k)) / self.interval_s))
                  for k in range(len(self.conns)))
        return StatusReads(urlsplit(self.url).path, len(self.conns), self.per_s,
                           round(seconds, 2), due, self.sent,
                           len(self.latencies), dict(self.refused),
                           Latency.of(self.latencies))


def run_phase(readers: Readers, drive: Callable[[Readers], Awaitable]) -> tuple[StatusReads,
                                                                                 object]:
    """The reads from the phase's start, while `drive(readers)` runs (it may stop them
    earlier): (the reads, what `drive` returned)."""
    async def phase():
        await readers.open()
        readers.start()
        try:
            outcome = await drive(readers)
        finally:
            readers.stop()
        return await readers.result(), outcome

    return asyncio.run(phase())


# registrations -------------------------------------------------------------------------------
class Reply(NamedTuple):
    family: int  # its index in the phase's bodies
    due: float  # when the request was due: arrival, retry time, or sent (closed loop)
    answered: float
    status: int  # 0: no answer
    data: dict  # the answer's JSON body

    @property
    def code(self) -> str:
        return str(self.data.get("code", ""))

    @property
    def ticket(self) -> str | None:
        ticket = self.data.get("queue_ticket") if self.status == 503 else None
        return ticket if isinstance(ticket, str) and ticket else None

    @property
    def retry_after_s(self) -> float:
        try:
            return max(0.0, float(self.data["retry_after_s"]))
        except (KeyError, TypeError, ValueError):
            return DEFAULT_RETRY_S


def registration(url: str, body: bytes, ticket: str | None = None) -> bytes:
    headers = {"Content-Type": "application/json"}
    if ticket:
        headers[TICKET_HEADER] = ticket
    return _request("POST", url + ACCOUNTS, headers, body)


class Pool:
    """Keep-alive connections to the gateway: an idle one for each request, or a new one
    from the next of SOURCES addresses."""

    def __init__(self, url: str):
        self.url = url
        self.idle: list[Connection] = []
        self.opened = 0

    async def send(self, request: bytes) -> tuple[int, dict]:
        if self.idle:
            conn = self.idle.pop()
        else:
            conn = Connection(self.url, loopback_address(self.opened % SOURCES))
            self.opened += 1
        answer = await exchange(conn, request)
        if conn.writer is not None:
            self.idle.append(conn)
        return answer

    async def close(self) -> None:
        await asyncio.gather(*(conn.close() for conn in self.idle))


class Sent(NamedTuple):
    """What a phase's driver returns."""
    replies: list[Reply]
    started: float
    window_s: float  # of the arrivals (open loop), until the last answer (closed loop)
    families: int  # sent at least once
    first_sends: list[float]  # each family's first send, late by this much (open loop)
    arrivals: list[float]  # each family's arrival time (open loop)
    connections: int  # opened by the load generator


def closed_loop(url: str, bodies: list[bytes], concurrency: int, seconds: float):
    """Each of `concurrency` clients sends the next body as soon as its previous family is
    done, until `seconds` have passed or the bodies run out. A family put in line (503
    QUEUED) comes back when told with its ticket, as the waiting page does: the sustainable
    rate is that of families who wait their turn, its latency from their first send."""
    async def drive(readers: Readers) -> Sent:
        conns = [Connection(url, loopback_address(n)) for n in range(concurrency)]
        await asyncio.gather(*(conn.open() for conn in conns))
        todo = iter(range(len(bodies)))
        replies: list[Reply] = []
        started = time.perf_counter()
        deadline = started + seconds

        async def client(conn: Connection) -> None:
            for n in todo:  # shared: each body is taken by exactly one client
                sent = time.perf_counter()
                if sent >= deadline:
                    return
                status, data = await exchange(conn, registration(url, bodies[n]))
                while status == 503 and data.get("code") == "QUEUED":
                    await asyncio.sleep(data["retry_after_s"])
                    status, data = await exchange(conn, registration(
                        url, bodies[n], data["queue_ticket"]))
                replies.append(Reply(n, sent, time.perf_counter(), status, data))

        await asyncio.gather(*(client(conn) for conn in conns))
        readers.stop()
        await asyncio.gather(*(conn.close() for conn in conns))
        window = max(reply.answered for reply in replies) - started
        return Sent(replies, started, window, len({r.family for r in replies}), [], [],
                    concurrency)

    return drive


def open_loop(url: str, bodies: list[bytes], per_s: float, honour: bool, give_up_s: float):
    """Family n arrives at n / per_s seconds and sends its body then, whatever the earlier
    families' answers. `honour`: it then follows each 503's retry_after_s (the module's
    docstring) and the reads go on until the last family stops; otherwise its first answer
    is final and the reads stop with the arrivals."""
    async def drive(readers: Readers) -> Sent:
        pool = Pool(url)
        replies: list[Reply] = []
        lags: list[float] = []
        started = time.perf_counter()
        arrivals = [started + n / per_s for n in range(len(bodies))]

        async def family(n: int) -> None:
            arrival = due = arrivals[n]
            lags.append(time.perf_counter() - arrival)
            ticket = None
            while True:
                status, data = await pool.send(registration(url, bodies[n], ticket))
                reply = Reply(n, due, time.perf_counter(), status, data)
                replies.append(reply)
                if not honour or status not in (0, 503):
                    return
                if status == 503:
                    ticket = reply.ticket  # none: a fresh arrival
                wait = reply.retry_after_s
                due = time.perf_counter() + wait
                if due > arrival + give_up_s:
                    return
                await asyncio.sleep(wait)

        tasks = []
        for n, arrival in enumerate(arrivals):
            wait = arrival - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(family(n)))
        window = len(bodies) / per_s
        await asyncio.sleep(max(0.0, started + window - time.perf_counter()))
        if not honour:
            readers.stop()
        await asyncio.gather(*tasks)
        readers.stop()
        await pool.close()
        return Sent(replies, started, window, len(bodies), lags,
                    [arrival - started for arrival in arrivals], pool.opened)

    return drive


def offered_of(name: str, shape: str, sent: Sent, reads: StatusReads, cpu, settle_s: float,
               retries: Retries | None = None) -> Offered:
    replies = sent.replies
    created = [r for r in replies if r.status == 201]
    refused = [r for r in replies if r.status == 503]
    last = max((r.answered for r in replies), default=sent.started) - sent.started
    # Counted from the first 201: the time the first registrations take is no lack of rate.
    first = min((r.answered for r in created), default=math.inf) - sent.started
    offered = (len(replies) / sent.window_s if shape == "closed"
               else sent.families / sent.window_s)
    return Offered(
        name=name, shape=shape, offered_per_s=round(offered, 2),
        seconds=round(sent.window_s, 2), families=sent.families, requests=len(replies),
        registered=sum(r.answered - sent.started <= sent.window_s for r in created),
        counted_s=round(max(0.0, sent.window_s - first), 3) if created else 0.0,
        registered_all=len(created), until_last_s=round(last, 2),
        refused=dict(Counter(r.code or "(no code)" for r in refused)),
        other=dict(Counter(f"{r.status} {r.code}".strip() for r in replies
                           if r.status not in (201, 503))),
        latency=Latency.of([r.answered - r.due for r in created]),
        refusal_latency=Latency.of([r.answered - r.due for r in refused]),
        send_lag=Latency.of(sent.first_sends), reads=reads, cpu=cpu,
        connections=sent.connections, settle_s=round(settle_s, 1), retries=retries)


def retries_of(sent: Sent, give_up_s: float, slack_s: float) -> Retries:
    """Each family's outcome, and fairness among the ticket holders (the module's
    docstring)."""
    mine: dict[int, list[Reply]] = defaultdict(list)
    for reply in sent.replies:
        mine[reply.family].append(reply)
    outcomes: Counter[str] = Counter()
    to_registered, retries, holders = [], [], []
    for n, arrival in enumerate(sent.arrivals):
        replies = sorted(mine[n], key=lambda r: r.answered)
        last = replies[-1]
        retries.append(len(replies) - 1)
        if last.status == 201:
            outcomes["201"] += 1
            to_registered.append(last.answered - sent.started - arrival)
        elif last.status in (0, 503):
            outcomes["gave up"] += 1
        else:
            outcomes[f"{last.status} {last.code}".strip()] += 1
        if any(r.ticket for r in replies):
            holders.append((arrival, last.answered if last.status == 201 else math.inf))
    holders.sort()
    overtaken = pairs = 0
    by: list[float] = []  # how much earlier than each overtaken one the first later one was
    later: list[float] = []  # registration times of the holders after this one, sorted
    for _, done in reversed(holders):
        ahead = bisect.bisect_left(later, done - slack_s)  # registered that much earlier
        overtaken += ahead > 0
        pairs += ahead
        if done < math.inf:
            if ahead:
                by.append(done - later[0])
            bisect.insort(later, done)
    return Retries(
        give_up_s=give_up_s, families=len(sent.arrivals), registered=outcomes["201"],
        outcomes=dict(outcomes), to_registered=Latency.of(to_registered),
        retries_mean=round(sum(retries) / max(1, len(retries)), 3),
        retries_max=max(retries, default=0), ticket_holders=len(holders),
        overtaken=overtaken, overtaking_pairs=pairs, overtaken_by=Latency.of(by),
        slack_ms=round(slack_s * 1e3, 1))


# between phases ---------------------------------------------------------------------------------
def settle(url: str, cookie: str, fast_s: float) -> float:
    """Seconds until three reads in a row were answered 200 within `fast_s`: the platform has
    worked off what the last phase left queued (capped at SETTLE_TIMEOUT_S)."""
    started = time.perf_counter()
    streak = 0
    with requests.Session() as http:
        while streak < 3 and time.perf_counter() - started < SETTLE_TIMEOUT_S:
            sent = time.perf_counter()
            try:
                ok = http.get(url, timeout=30, headers={
                    "Cookie": cookie, "Accept": "application/json"}).status_code == 200
            except requests.RequestException:
                ok = False
            streak = streak + 1 if ok and time.perf_counter() - sent < fast_s else 0
            time.sleep(0.5)
    if streak < 3:
        say(f"the platform did not settle within {SETTLE_TIMEOUT_S} s; going on")
    return time.perf_counter() - started


class Families:
    """Hands out fresh family indexes (each a child, a phone and SMS codes of its own)."""

    def __init__(self, first: int):
        self.next = first

    def prepare(self, stack, count: int) -> list[bytes]:
        first, self.next = self.next, self.next + count
        started = time.perf_counter()
        bodies = prepare_families(stack, first, count)
        say(f"{count} families prepared in {time.perf_counter() - started:.0f} s")
        return bodies


# the run ------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.opening_day",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads-per-s", type=float, default=150,
                        help="status reads offered per second, S (default 150)")
    parser.add_argument("--readers", type=int, default=300,
                        help="signed-in families sharing them, F (default 300: one read "
                             "every 2 s each)")
    parser.add_argument("--read-path", default=STATUS,
                        help=f"what a status read GETs (default {STATUS})")
    parser.add_argument("--seconds", type=float, default=30,
                        help="duration of each phase, T (default 30)")
    parser.add_argument("--concurrency", type=int, default=24,
                        help="registration clients of the sustainable phase (default 24)")
    parser.add_argument("--rate-ceiling", type=float, default=80,
                        help="registrations/s the sustainable phase prepares families for "
                             "(× T; default 80): it ends early if the platform is faster")
    parser.add_argument("--give-up-s", type=float, default=120,
                        help="a retrying family gives up this long after arriving "
                             "(default 120)")
    parser.add_argument("--keep-workdir", action="store_true",
                        help="keep the platform's logs and SMS outbox")
    args = parser.parse_args(argv)
    if args.readers < 1 or args.reads_per_s <= 0 or args.seconds <= 0:
        parser.error("--readers, --reads-per-s and --seconds must be positive")
    return args


def measure(args: argparse.Namespace) -> OpeningDayReport:
    machine = Machine.here()
    seconds = args.seconds
    with contextlib.ExitStack() as run:
        stack = run.enter_context(running_platform(args.keep_workdir))
        meter = CpuMeter(stack.procs, database_name(stack))
        url = stack.url
        families = Families(0)
        say(f"platform up at {url}; registering {args.readers} reading families")
        sessions = register_all(stack, families.prepare(stack, args.readers), args.concurrency,
                                meter)[1]
        if len(sessions) < args.readers:
            raise RuntimeError(f"only {len(sessions)} of {args.readers} readers registered")
        wait_applications_opened(stack, sessions)
        cookies = [session.cookie for session in sessions]
        readers = Readers(url + args.read_path, cookies, args.reads_per_s)
        say("one round of reads to warm up, not counted")
        run_phase(readers, lambda _: asyncio.sleep(readers.interval_s))

        def phase(drive, fast_s: float) -> tuple[StatusReads, Sent, object, float]:
            settled = settle(url + args.read_path, cookies[0], fast_s)
            meter.start()
            reads, sent = run_phase(readers, drive)
            operations = reads.sent + (len(sent.replies) if sent else 0)
            return reads, sent, meter.stop(max(1, operations)), settled

        def reads_line(reads: StatusReads) -> str:
            return (f"reads {reads.served_share:.1%} served, p50 {reads.latency.p50_ms:.0f} "
                    f"ms, p99 {reads.latency.p99_ms:.0f} ms")

        say(f"idle: {args.reads_per_s:g} status reads/s from {args.readers} families for "
            f"{seconds:g} s")
        idle, _, idle_cpu, _ = phase(lambda _: asyncio.sleep(seconds), SETTLE_FAST_S)
        say(reads_line(idle))
        fast_s = max(SETTLE_FAST_S, 3 * idle.latency.p50_ms / 1e3)

        bodies = families.prepare(stack, math.ceil(args.rate_ceiling * seconds))
        hashes_per_s, hash_cores = hash_rate(HASHES, 2)
        say(f"bare argon2id: {hashes_per_s:.1f} hashes/s on two threads; sustainable: "
            f"closed loop, {args.concurrency} at a time, for {seconds:g} s")
        reads, sent, cpu, settled = phase(
            closed_loop(url, bodies, args.concurrency, seconds), fast_s)
        sustainable = offered_of("sustainable", "closed", sent, reads, cpu, settled)
        r_per_s = sustainable.registered_per_s
        say(f"R = {r_per_s:.1f}/s, p99 {sustainable.latency.p99_ms:.0f} ms; "
            f"{reads_line(reads)}")
        if not r_per_s > 0:
            raise RuntimeError(f"nothing registered in the sustainable phase: "
                               f"{sustainable.other or sustainable.refused}")

        overloads = []
        for multiple in OVERLOADS:
            name = f"{multiple:g} × R"
            per_s = multiple * r_per_s
            bodies = families.prepare(stack, math.ceil(per_s * seconds))
            say(f"{name}: {per_s:.1f} arrivals/s, open loop, for {seconds:g} s")
            reads, sent, cpu, settled = phase(
                open_loop(url, bodies, per_s, False, args.give_up_s), fast_s)
            overloads.append(offered_of(name, "open", sent, reads, cpu, settled))
            o = overloads[-1]
            say(f"{o.registered_per_s:.1f}/s registered, {o.refused_count} refused, "
                f"{sum(o.other.values())} other; p99 {o.latency.p99_ms:.0f} ms; "
                f"{reads_line(reads)}")

        name = f"{OVERLOADS[-1]:g} × R, retrying"
        per_s = OVERLOADS[-1] * r_per_s
        bodies = families.prepare(stack, math.ceil(per_s * seconds))
        say(f"{name}: {per_s:.1f} arrivals/s for {seconds:g} s, each family retrying up to "
            f"{args.give_up_s:g} s")
        reads, sent, cpu, settled = phase(
            open_loop(url, bodies, per_s, True, args.give_up_s), fast_s)
        retries = retries_of(sent, args.give_up_s, sustainable.latency.p99_ms / 1e3)
        retrying = offered_of(name, "retrying", sent, reads, cpu, settled, retries)
        say(f"{retries.registered}/{retries.families} registered by "
            f"{retrying.until_last_s:.0f} s; {reads_line(reads)}")
        check_platform(stack)  # still our processes, alone on their port
        say("stopping the platform")
    return OpeningDayReport(machine=machine, hashes_per_s=round(hashes_per_s, 2),
                            hash_cores=round(hash_cores, 2), idle=idle, idle_cpu=idle_cpu,
                            sustainable=sustainable, overloads=overloads, retrying=retrying)


def main(argv: list[str] | None = None) -> int:
    return run_bench(parse_args, measure, argv)


if __name__ == "__main__":
    sys.exit(main())
