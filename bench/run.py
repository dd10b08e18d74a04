"""`python -m bench.run` (`make bench`): the platform measured end to end on this machine.

Starts the population registry simulator (services/verification/simulator.py, answering in
200 ms from a CSV of the bench's children) and the whole platform (tests/support/stack.py) on
its own database and RabbitMQ vhost, verification asking the simulator over HTTP; everything
removed afterwards. Talks only to 127.0.0.1, and stops by itself (every phase is bounded by a
count or a duration). The machine is shared and noisy, so figures are judged as ratios against
baselines measured or set in the same run: the bare argon2id hash rate on two threads, the
registrations' rate, the idle pings, and C checks at a time over the registry's latency. The
CPU each part of the platform used in each phase, and the whole machine's, are recorded too, so
that a disturbed run can be told from a slow platform.

Phases, in order:
  setup      W + N + M families each fetch a notice token, a captcha and an SMS code (not
             timed);
  pings      `accounts.ping()` from a separate process (bench/ping.py), idle;
  warm-up    W registrations through the gateway, reported but not counted: a fresh
             platform's first registrations also open connections, and run each statement
             unprepared on each connection until psycopg prepares it (after five uses), as the
             baseline's threads touch their memory before they are timed;
  register   N registrations through the gateway (bench/httpload.py) in R batches: the
             throughput; before the first batch and after each, a burst of bare argon2id
             hashes with the platform's parameters: the baseline. The machine's speed drifts
             within a run, so the yardstick is taken all along the measured phase;
  probed     M more registrations with the pings running: the cheap-RPC latency under full
             load (the probe's own calls would otherwise be charged to the throughput);
  reads      200 signed-in clients GET /api/v1/account, closed loop then paced;
  resets     200 forgot-password code requests for registered families (number and phone
             match: a code is texted) alternating with 200 for numbers nobody registered (the
             code is withheld), one at a time: the two p50s may differ by at most 5 %;
  submit     S families (those registered above, and more registered untimed if they are
             fewer) submit their details through the gateway, as many at a time as
             registrations: the throughput, against the registrations'. Verification is
             stopped meanwhile; their events wait in its queue;
  checks     verification started again runs their checks against the simulator, C at a
             time (VERIFICATION_CONCURRENCY): checks/s while at least C were pending (read
             from its database), against C / the registry's latency;
  backlog    the simulator stopped (an outage), B `details_submitted` events of children the
             registry knows published as enrollment's outbox relay does, for account
             numbers nobody registered, until verification holds B pending checks; the
             simulator started again: the drain rate from that moment (verification's
             circuit breaker and retry waits included), against C / latency, with the pings
             running (their p99 against the idle one);
  memory     RSS and peak RSS of every process of common/registry.py, summed.

Writes bench/results/latest.json and latest.md, prints the Markdown, and exits 1 if a target is
missed (results are written either way).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

import requests

from bench.baseline import PASSWORD, argon2_defaults, hash_rate
from bench.cpu import CpuMeter, CpuUse
from bench.httpload import Answer, post_all, run_load
from bench.ping import PingProbe
from bench.report import (
    BenchReport,
    Checks,
    Drain,
    HashBaseline,
    Machine,
    Pings,
    Posts,
    ProcessMemory,
    Reads,
    Registrations,
    ResetRequests,
)
from bench.stats import Latency
from bench.verification import (
    busy_rate,
    check_times,
    publish_submissions,
    submission,
    wait_finished,
    wait_pending,
    write_registry_csv,
)
from common.registry import PROCESSES
from gateway.security import SESSION_COOKIE
from services.accounts.rules.age import primary_entry_window
from services.accounts.rules.identity import check_character
from services.accounts.settings import AccountsSettings
from services.enrollment.tests.samples import details_for
from tests.support.clients import loopback_address
from tests.support.family import Family
from tests.support.infra import (
    district_user_prefix,
    drop_amqp_vhost,
    drop_database,
    make_amqp_vhost,
    make_database,
)
from tests.support.registry_simulator import RegistrySimulator
from tests.support.stack import Stack

STACK_OVERRIDES = {
    "NOTICE_MIN_READ_S": 0,
    "CAPTCHA_BACKEND": "fixed",
    "SMS_RESEND_COOLDOWN_S": 0,
    "SMS_DAILY_LIMIT_PER_PHONE": 1_000_000,
    "SMS_DAILY_LIMIT_PER_IP": 1_000_000,
    "LOG_LEVEL": "WARNING",
}
SETUP_THREADS = 8
BASELINE_THREADS = 2  # the yardstick: the bare hash rate on two threads


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# the platform --------------------------------------------------------------------------------
START_ATTEMPTS = 3


class PlatformProblem(RuntimeError):
    """The platform under test is not (or no longer) the one this run started."""


def listeners_on(port: int) -> int:
    """How many sockets listen on TCP `port`. The gateway binds with SO_REUSEPORT (eventlet's
    default), so another program on this shared machine could silently share its port."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                count += state == "0A" and int(local.rsplit(":", 1)[1], 16) == port
    return count


def check_platform(stack: Stack) -> None:
    for name, proc in stack.procs.items():
        if proc.poll() is not None:
            raise PlatformProblem(f"{name} exited:\n{stack.log_path(name).read_text()[-1500:]}")
    if listeners_on(stack.port) != 1:
        raise PlatformProblem(f"port {stack.port} is shared with another program")


def start_fresh(cleanup: contextlib.ExitStack, keep_workdir: bool, overrides: dict) -> Stack:
    """A fresh database, vhost and workdir, the platform started on them, and checked."""
    database_url = make_database()
    cleanup.callback(drop_database, database_url)
    amqp_uri = make_amqp_vhost()
    cleanup.callback(drop_amqp_vhost, amqp_uri)
    workdir = Path(tempfile.mkdtemp(prefix="platform-bench-"))
    if keep_workdir:
        cleanup.callback(say, f"logs kept in {workdir}")
    else:
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
    # District systems log in as the run's own users (tests/support/infra.py).
    stack = Stack(database_url, amqp_uri, workdir, **STACK_OVERRIDES,
                  DISTRICT_USER_PREFIX=district_user_prefix(amqp_uri), **overrides)
    cleanup.callback(stack.stop_all)
    stack.start_all()
    time.sleep(1)  # a process may die just after the first health check
    check_platform(stack)
    return stack


@contextlib.contextmanager
def running_platform(keep_workdir: bool, **overrides):
    """The whole platform, started afresh (new database and vhost: nothing left over from a
    failed start) up to START_ATTEMPTS times; everything removed on the way out."""
    for attempt in range(1, START_ATTEMPTS + 1):
        with contextlib.ExitStack() as cleanup:
            try:
                stack = start_fresh(cleanup, keep_workdir, overrides)
            except RuntimeError as problem:  # PlatformProblem, or Stack's "did not start"
                say(f"start attempt {attempt} failed: {str(problem).splitlines()[0]}")
                if attempt == START_ATTEMPTS:
                    raise
                continue
            yield stack
            return


def database_name(stack: Stack) -> str:
    return stack.database_url.rsplit("/", 1)[1]


# 2. registrations --------------------------------------------------------------------------
def document_number(i: int) -> tuple[date, str]:
    """A unique, valid resident ID of a girl of the right age: (birth date, number)."""
    earliest, latest = primary_entry_window(AccountsSettings.model_fields["SEASON_YEAR"].default)
    days = (latest - earliest).days + 1
    birth = earliest + timedelta(days=i % days)
    first17 = f"110108{birth:%Y%m%d}{(i // days) * 2 % 1000:03d}"  # even sequence: female
    return birth, first17 + check_character(first17)


def child_of(i: int) -> dict:
    """Family i's child, as registered and as the population registry knows her."""
    birth, number = document_number(i)
    return {"name": "李小萌", "document_type": "resident_id", "document_number": number,
            "birth_date": birth.isoformat(), "sex": "female", "hukou_district": "haidian"}


def prepare_one(stack: Stack, i: int) -> dict:
    """Notice token and SMS code requested for family i: its body without the code."""
    family = Family(stack, ip=loopback_address(i))
    try:
        phone = f"139{i:08d}"
        child = child_of(i)
        body = family.registration(
            guardian_phone=phone, child_name=child["name"], sms_code="",
            **{key: child[key] for key in ("document_type", "document_number", "birth_date",
                                           "sex", "hukou_district")})
        response = family.request_code("register", phone=phone)
        if response.status_code != 201:
            raise RuntimeError(f"SMS code for family {i}: {response.status_code} {response.text}")
        return body
    finally:
        family.http.close()


def register_codes(stack: Stack, phones: set[str], timeout_s: float = 60) -> dict[str, str]:
    """The latest registration code texted to each phone, read from the SMS outbox once all
    have arrived (codes are texted a moment after their request is answered)."""
    deadline = time.monotonic() + timeout_s
    while True:
        codes = {m["phone"]: re.search(r"\d{6}", m["text"]).group()
                 for m in stack.sms_messages() if m["purpose"] == "register"}
        if phones <= codes.keys():
            return codes
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(phones - codes.keys())} registration codes not texted")
        time.sleep(0.2)


def prepare_families(stack: Stack, first: int, count: int) -> list[bytes]:
    """Ready-to-send registration bodies (JSON bytes) of families first, first + 1, ..."""
    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        prepared = list(pool.map(lambda i: prepare_one(stack, i), range(first, first + count)))
    codes = register_codes(stack, {body["guardian_phone"] for body in prepared})
    return [json.dumps({**body, "sms_code": codes[body["guardian_phone"]]}).encode()
            for body in prepared]


class Batch(NamedTuple):
    answers: list[Answer]  # one per registration
    seconds: float
    cpu: CpuUse


class Session(NamedTuple):
    """A registered family, signed in by its registration."""
    account_no: str
    cookie: str  # the Cookie header's value
    csrf_token: str


def register_all(stack: Stack, prepared: list[bytes], concurrency: int,
                 meter: CpuMeter) -> tuple[Registrations, list[Session]]:
    return _registrations_of([_register_batch(stack, prepared, concurrency, meter)],
                             concurrency)


def register_interleaved(stack: Stack, prepared: list[bytes], concurrency: int,
                         meter: CpuMeter, rounds: int, hashes: int
                         ) -> tuple[Registrations, list[Session], HashBaseline]:
    """Baseline bursts and registration batches in turn, a burst on either side of each batch.

    The machine's speed drifts within a run (the bare hash rate once fell from 58 to 43 hashes/s
    between two bursts 20 s apart), so each batch is judged against the bursts around it rather
    than against two bursts that bracket the whole throughput phase.
    """
    batch, burst = -(-len(prepared) // rounds), hashes // (rounds + 1)
    bursts = [hash_rate(burst, BASELINE_THREADS)]
    batches = []
    for start in range(0, len(prepared), batch):
        batches.append(_register_batch(stack, prepared[start:start + batch], concurrency, meter))
        bursts.append(hash_rate(burst, BASELINE_THREADS))
    memory_kib, time_cost, parallelism = argon2_defaults()
    baseline = HashBaseline(BASELINE_THREADS, burst, memory_kib, time_cost, parallelism,
                            [round(rate, 2) for rate, _ in bursts],
                            [round(cores, 2) for _, cores in bursts])
    registrations, sessions = _registrations_of(batches, concurrency)
    return registrations, sessions, baseline


def _register_batch(stack: Stack, prepared: list[bytes], concurrency: int,
                    meter: CpuMeter) -> Batch:
    meter.start()
    started = time.perf_counter()
    # one keep-alive connection per client address, `concurrency` of them
    answers = post_all(stack.url + "/api/v1/accounts", prepared,
                       [loopback_address(n) for n in range(concurrency)])
    duration = time.perf_counter() - started
    return Batch(answers, duration, meter.stop(len(prepared)))


def _registrations_of(batches: list[Batch], concurrency: int
                      ) -> tuple[Registrations, list[Session]]:
    answers = [answer for batch in batches for answer in batch.answers]
    result = Registrations.of(
        answers, sum(batch.seconds for batch in batches), concurrency,
        CpuUse.combined([batch.cpu for batch in batches]),
        batches_per_s=[round(len(batch.answers) / batch.seconds, 2) for batch in batches])
    return result, [Session(body["account_no"], f"{SESSION_COOKIE}={a.cookies[SESSION_COOKIE]}",
                            body["csrf_token"])
                    for a in answers if a.status == 201 for body in [json.loads(a.body)]]


# 4. reads ----------------------------------------------------------------------------------
def sign_in(stack: Stack, account_nos: list[str]) -> list[str]:
    """Signs each account in on its own; returns one Cookie header value per client."""
    def one(account_no: str) -> str:
        family = Family(stack)
        try:
            response = family.login(account_no, PASSWORD)
            if response.status_code != 201:
                raise RuntimeError(f"sign-in {account_no}: {response.status_code}")
            return f"{SESSION_COOKIE}={family.http.cookies[SESSION_COOKIE]}"
        finally:
            family.http.close()

    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        return list(pool.map(one, account_nos))


def read_load(stack: Stack, cookies: list[str], mode: str, seconds: float,
              meter: CpuMeter) -> Reads:
    meter.start()
    load = run_load(stack.url + "/api/v1/account", cookies, mode, seconds)
    return Reads(load, meter.stop(max(1, load.completed)))


# 5. forgot-password code requests ---------------------------------------------------------
RESET_PACING_S = 0.05  # notify sends a text in a few milliseconds


def reset_code_timing(stack: Stack, registered: int, count: int) -> ResetRequests:
    """`count` code requests with the number and phone of registered family n (a code is
    texted), alternating with `count` for numbers of families never registered (withheld);
    one client, one request at a time, the captcha fetched outside the timed request. Requests
    are paced, as a careful prober would pace them: the text a matching request causes is sent
    after its answer, and must not slow the next request down instead of its own."""
    if count > registered:
        raise RuntimeError(f"only {registered} registered families for {count} resets")
    family = Family(stack)
    seconds: dict[bool, list[float]] = {True: [], False: []}
    try:
        for n in range(count):
            for matching in (True, False):
                i = n if matching else registered + n
                body = {"purpose": "reset_password", "account_ref": document_number(i)[1],
                        "phone": f"139{i:08d}" if matching else f"137{n:08d}",
                        **family.captcha()}
                started = time.perf_counter()
                response = family.call("POST", "/api/v1/sms-codes", json=body)
                seconds[matching].append(time.perf_counter() - started)
                if response.status_code != 201:
                    raise RuntimeError(f"reset code: {response.status_code} {response.text}")
                time.sleep(RESET_PACING_S)
    finally:
        family.http.close()
    return ResetRequests(Latency.of(seconds[True]), Latency.of(seconds[False]))


# 6. submissions and their checks -------------------------------------------------------------
SUBMISSIONS = "/api/v1/application/submissions"


def submitted_details() -> dict:
    """Valid details of a 本市户籍 family whose child's hukou is where she was registered."""
    details = details_for("beijing")
    details["hukou_address"]["district"] = child_of(0)["hukou_district"]
    return details


def wait_applications_opened(stack: Stack, sessions: list[Session], timeout_s: float = 60
                             ) -> None:
    """Until enrollment has opened each family's application: it does so on the
    registration's event, a moment after the registration is answered."""
    def one(session: Session) -> None:
        deadline = time.monotonic() + timeout_s
        with requests.Session() as http:
            while (status := http.get(stack.url + "/api/v1/application", timeout=30, headers={
                    "Cookie": session.cookie}).status_code) != 200:
                if status != 404 or time.monotonic() > deadline:
                    raise RuntimeError(f"application of {session.account_no}: {status}")
                time.sleep(0.2)

    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        list(pool.map(one, sessions))


def submit_all(stack: Stack, sessions: list[Session], concurrency: int,
               meter: CpuMeter) -> Posts:
    """Each family submits its details once, `concurrency` at a time, as registrations do."""
    body = json.dumps({"data": submitted_details()}).encode()
    meter.start()
    started = time.perf_counter()
    answers = post_all(stack.url + SUBMISSIONS, [body] * len(sessions),
                       [loopback_address(n) for n in range(concurrency)],
                       [{"Cookie": s.cookie, "X-CSRF-Token": s.csrf_token, "Origin": stack.url}
                        for s in sessions])
    duration = time.perf_counter() - started
    return Posts.of(answers, duration, concurrency, meter.stop(len(sessions)))


def checks_of(stack: Stack, sessions: list[Session], slots: int, latency_ms: int) -> Checks:
    """Once verification has finished the families' checks: how fast it ran them while every
    slot had one."""
    ideal_per_s = slots / (latency_ms / 1e3)
    account_nos = [s.account_no for s in sessions]
    wait_finished(stack.database_url, account_nos, 60 + 4 * len(sessions) / ideal_per_s,
                  "the submissions' checks")
    created, finished, results = check_times(stack.database_url, account_nos)
    per_s, busy_s, finished_busy = busy_rate(created, finished, slots)
    return Checks(slots, latency_ms, results, round(busy_s, 2), finished_busy, per_s)


# 7. a backlog after a registry outage ------------------------------------------------------
SYNTHETIC_ACCOUNTS = "99"  # account numbers nobody registered: enrollment ignores their results


def backlog_drain(stack: Stack, simulator: RegistrySimulator, probe: PingProbe, meter: CpuMeter,
                  count: int, first_child: int, slots: int, latency_ms: int) -> Drain:
    """The registry stopped, `count` submissions of children first_child, ... published as
    enrollment's relay publishes them, and recorded by verification as pending checks (too
    many families to register through argon2); then the registry started again, and the
    backlog drained with the pings running."""
    bodies = [submission(f"{SYNTHETIC_ACCOUNTS}{n:06d}", child_of(first_child + n))
              for n in range(count)]
    simulator.stop()
    outage = time.perf_counter()
    publish_submissions(stack.env["AMQP_URI"], bodies)
    wait_pending(stack.database_url, lambda pending: pending >= count, 120 + count / 50,
                 "the backlog")
    simulator.start()
    outage_s = time.perf_counter() - outage
    meter.start()
    probe.start()
    started = time.perf_counter()
    try:
        wait_pending(stack.database_url, lambda pending: pending == 0,
                     120 + 4 * count / (slots / (latency_ms / 1e3)), "the drain")
        seconds = time.perf_counter() - started
    finally:
        pings = probe.stop()
    return Drain(count, round(outage_s, 1), round(seconds, 2), count / seconds,
                 Latency.of([t for t, _ in pings]), sum(not ok for _, ok in pings),
                 meter.stop(count))


# 8. memory ---------------------------------------------------------------------------------
def memory_of(stack: Stack) -> list[ProcessMemory]:
    def status_kib(pid: int, key: str) -> int:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    pids = {name: stack.procs[name].pid for name in PROCESSES}  # every process, or a KeyError
    return [ProcessMemory(name, pid, status_kib(pid, "VmRSS"), status_kib(pid, "VmHWM"))
            for name, pid in pids.items()]


# the run ------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split(
        "\n")[0])
    add_platform_options(parser)
    parser.add_argument("--warmup-families", type=int, default=200,
                        help="registrations before the measured ones, not counted (default 200)")
    parser.add_argument("--families", type=int, default=600, help="registrations (default 600)")
    parser.add_argument("--concurrency", type=int, default=24,
                        help="registration client threads (default 24)")
    parser.add_argument("--hashes", type=int, default=200,
                        help="baseline hashes, over all bursts (default 200)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="registration batches, each between two baseline bursts "
                             "(default 3)")
    # A p99 is only as steady as the samples above it: with 1,000 idle pings and the ~800
    # that 1,200 probed registrations take, it rests on about ten of each, not three.
    parser.add_argument("--probed-families", type=int, default=1200,
                        help="registrations while the pings run (default 1200)")
    parser.add_argument("--resets", type=int, default=200,
                        help="forgot-password code requests of each kind (default 200)")
    parser.add_argument("--clients", type=int, default=200, help="reading clients (default 200)")
    parser.add_argument("--read-seconds", type=float, default=20,
                        help="duration of each read load (default 20)")
    # All the families the phases above register: their checks then keep every slot busy
    # for about 15 s, not 7.
    parser.add_argument("--submissions", type=int, default=2000,
                        help="families submitting their details (default 2000; registered "
                             "during setup if the phases above register fewer)")
    parser.add_argument("--verification-concurrency", type=int, default=32,
                        help="the verification service's VERIFICATION_CONCURRENCY (default 32)")
    parser.add_argument("--registry-latency-ms", type=int, default=200,
                        help="the registry simulator's answer time (default 200)")
    parser.add_argument("--backlog", type=int, default=20000,
                        help="pending checks left by the registry outage (default 20000)")
    args = parser.parse_args(argv)
    if args.clients > args.families:
        parser.error("--clients cannot exceed --families")
    return args


def measure(args: argparse.Namespace) -> BenchReport:
    machine = Machine.here()
    warmup_end = args.warmup_families
    measured_end = warmup_end + args.families
    registered = measured_end + args.probed_families
    # Children's numbers: the families registered in the phases, those the resets ask about
    # (never registered), those registered for the submissions if more are needed, and those
    # of the backlog. The registry knows them all.
    extra_first = registered + args.resets
    extra = max(0, args.submissions - registered)
    backlog_first = extra_first + extra
    with contextlib.ExitStack() as run:
        scratch = Path(run.enter_context(tempfile.TemporaryDirectory(prefix="bench-registry-")))
        write_registry_csv(scratch / "registry.csv",
                           map(child_of, range(backlog_first + args.backlog)))
        simulator = RegistrySimulator(scratch / "registry.csv", latency_ms=args.registry_latency_ms)
        simulator.start()
        run.callback(simulator.stop)
        stack = run.enter_context(running_platform(
            args.keep_workdir, VERIFICATION_REGISTRY="http", REGISTRY_HTTP_URL=simulator.url,
            VERIFICATION_CONCURRENCY=args.verification_concurrency))
        probe = run.enter_context(contextlib.closing(
            PingProbe(stack.env["AMQP_URI"], args.ping_gap_ms / 1e3)))
        meter = CpuMeter(stack.procs, database_name(stack))
        say(f"platform up at {stack.url}, the registry at {simulator.url}; preparing "
            f"{registered} families")
        prepared = prepare_families(stack, 0, registered)
        say(f"idle pings ({args.pings})")
        idle = probe.count(args.pings)
        say(f"warming up: {warmup_end} registrations, not counted")
        warmup, sessions = register_all(stack, prepared[:warmup_end], args.concurrency, meter)
        say(f"registering {args.families} families, {args.concurrency} at a time, in "
            f"{args.rounds} batches between baseline bursts")
        registrations, measured_sessions, baseline = register_interleaved(
            stack, prepared[warmup_end:measured_end], args.concurrency, meter, args.rounds,
            args.hashes)
        sessions += measured_sessions
        say(f"{registrations.per_s:.1f} registrations/s, baseline {baseline.per_s:.1f} hashes/s")
        say(f"{args.probed_families} more registrations with the pings")
        probe.start()
        try:
            probed, more_sessions = register_all(stack, prepared[measured_end:],
                                                 args.concurrency, meter)
        finally:
            loaded = probe.stop()
        sessions += more_sessions
        say(f"{probed.per_s:.1f} registrations/s with the pings")
        if len(sessions) < args.clients:
            raise RuntimeError(f"only {len(sessions)} accounts for {args.clients} clients")
        say(f"signing in {args.clients} accounts")
        cookies = sign_in(stack, [s.account_no for s in sessions[:args.clients]])
        reads = {}
        for mode in ("closed", "paced"):
            say(f"reads, {mode}, {args.read_seconds:g} s")
            reads[mode] = read_load(stack, cookies, mode, args.read_seconds, meter)
        say(f"forgot-password codes: {args.resets} matching, {args.resets} not, alternating")
        resets = reset_code_timing(stack, registered, args.resets)
        say(f"p50 {resets.matching.p50_ms:.1f} ms matching, {resets.non_matching.p50_ms:.1f} ms "
            f"not: {resets.p50_difference:.1%} apart")
        if extra:
            say(f"registering {extra} more families to submit, not counted")
            sessions += register_all(stack, prepare_families(stack, extra_first, extra),
                                     args.concurrency, meter)[1]
        submitting = sessions[:args.submissions]
        wait_applications_opened(stack, submitting)
        say(f"{len(submitting)} families submit their details, {args.concurrency} at a time, "
            "verification stopped")
        # Their events wait in verification's queue meanwhile, so that its checks then run
        # from a backlog: its capacity, whatever the rate the families submitted at.
        stack.stop("verification")
        submissions = submit_all(stack, submitting, args.concurrency, meter)
        stack.start("verification")
        stack.wait_healthy()
        say(f"{submissions.per_s:.1f} submissions/s; verification started again")
        checks = checks_of(stack, submitting, args.verification_concurrency,
                           args.registry_latency_ms)
        say(f"{checks.per_s:.1f} checks/s over {checks.busy_s:.1f} s with every slot busy")
        say(f"registry stopped; {args.backlog} submissions published and recorded")
        drain = backlog_drain(stack, simulator, probe, meter, args.backlog, backlog_first,
                              args.verification_concurrency, args.registry_latency_ms)
        say(f"registry back after {drain.outage_s:.0f} s; the backlog drained at "
            f"{drain.per_s:.1f} checks/s")
        check_platform(stack)  # still our processes, alone on their port
        memory = memory_of(stack)
        say("stopping the platform")
    return BenchReport(
        machine=machine,
        baseline=baseline,
        warmup=warmup, registrations=registrations, probed_registrations=probed,
        pings=Pings.of(args.ping_gap_ms, idle, loaded),
        reads_closed=reads["closed"], reads_paced=reads["paced"], resets=resets,
        submissions=submissions, verification=checks, drain=drain, memory=memory)


def add_platform_options(parser: argparse.ArgumentParser) -> None:
    """What every benchmark of the running platform takes: the ping probe's, and whether to
    keep the platform's work directory."""
    parser.add_argument("--pings", type=int, default=1000, help="idle pings (default 1000)")
    parser.add_argument("--ping-gap-ms", type=float, default=20,
                        help="pause between two pings (default 20)")
    parser.add_argument("--keep-workdir", action="store_true",
                        help="keep the platform's logs and SMS outbox")


def run_bench(parse_args, measure, argv: list[str] | None) -> int:
    """Measures, writes the report, prints it; 1 if a target is missed."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on `kill` as on Ctrl-C
    report = measure(args)
    report.write()
    print(report.markdown())
    return 0 if report.passed else 1


def main(argv: list[str] | None = None) -> int:
    return run_bench(parse_args, measure, argv)


if __name__ == "__main__":
    sys.exit(main())
