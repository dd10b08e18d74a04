"""`python -m bench.districts` (part of `make bench`): the district systems' side of the
platform at Beijing scale (issue 16).

Starts the whole platform (tests/support/stack.py) on its own database and RabbitMQ vhost as
`python -m bench.run` does, with a broker user per district system; everything removed
afterwards. Talks only to 127.0.0.1, and every phase is bounded by a count or a duration. The
machine is shared and noisy, so each figure is judged as a ratio against a baseline measured in
the same run.

Phases, in order:
  load      A applications (350,000) over the 18 districts written straight into enrollment's
            tables by COPY (bench/applications.py), sealed as the service seals them, with
            their statuses, schools and versions: how long it took. Among them, S + 2B
            reviewable ones of one district for the decisions below;
  families  F families registered through the gateway, each signed in by its registration
            (not timed);
  pings     `accounts.ping()` from a separate process (bench/ping.py), idle: the baseline of
            the lists;
  lists     L filtered pages of 100 rows (`district_list_applications` over RPC, as the broker
            users of the three largest districts), one call at a time, each filter paged
            through with its cursor: p99 within 10 × the idle ping's;
  single    S review decisions, one `district_review_item` call at a time, each the first item
            of a fresh reviewable application: the baseline of the bulk call;
  bulk      one `district_bulk_review` of B such decisions: items/s at least 10 × single's;
  reads     the F families GET /api/v1/journey through the gateway, 1 request/s each, for R
            seconds idle (the baseline), then while the district makes N more
            `district_bulk_review` calls of B decisions each, back to back (N = 3: one call
            lasts about 2 s, too few reads for a p99): p99 within 3 × idle.

Writes bench/results/districts.json and districts.md, prints the Markdown, and exits 1 if a
target is missed (results are written either way).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from bench import applications
from bench.applications import PERMIT, Population
from bench.cpu import CpuMeter
from bench.httpload import run_load
from bench.ping import PingProbe
from bench.report import Decisions, DistrictReport, Lists, Load, Machine
from bench.run import (
    add_platform_options,
    check_platform,
    database_name,
    prepare_families,
    register_all,
    run_bench,
    running_platform,
    wait_applications_opened,
)
from bench.stats import Latency
from common.districts import DISTRICTS
from common.settings import DEV_KEYS
from services.enrollment.contract import ApplicationQuery, BulkReview, ItemDecision
from services.enrollment.district_client import DistrictClient
from tests.support.infra import drop_process_users, make_district_users

OPERATOR = "bench0016"
DECIDING = "haidian"  # the district whose reviewable applications are decided
LISTING = ("chaoyang", "haidian", "changping")  # the largest: the longest lists
PAGE_ROWS = 100
REGISTRATION_CONCURRENCY = 24
# Longer than any phase's bulk call: the caller's deadline is the call's (RPC_TIMEOUT_S).
BULK_TIMEOUT_S = 300


def say(message: str) -> None:
    print(f"[districts {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def list_filters(district: str) -> dict[str, dict]:
    """What a district's staff filter on, by a label: the review's queue, the pending checks,
    a school's pupils, the pre-registrations to approve, the reviews in progress, the
    drafts."""
    return {"review=not_started, verified, non_beijing": {
                "hukou_type": "non_beijing", "verification": "verified",
                "review": "not_started"},
            "verification=pending": {"details": "submitted", "verification": "pending"},
            "school=a demo 小学": {"school": applications.primary_schools()[district][0]},
            "placement=preregistered": {"placement": "preregistered"},
            "review=in_review": {"review": "in_review"},
            "details=draft": {"details": "draft"}}


def list_pages(clients: dict[str, DistrictClient], calls: int) -> Lists:
    """`calls` pages one at a time, the districts and their filters in turn, each filter
    followed page after page (from the first page again after its last)."""
    plan = [(district, label, query) for district in clients
            for label, query in list_filters(district).items()]
    cursors: dict[int, str | None] = {}
    seconds: dict[str, list[float]] = {}
    rows = 0
    for n in range(calls):
        k = n % len(plan)
        district, label, query = plan[k]
        request = ApplicationQuery(operator=OPERATOR, limit=PAGE_ROWS, cursor=cursors.get(k),
                                   **query)
        started = time.perf_counter()
        page = clients[district].district_list_applications(request)
        seconds.setdefault(label, []).append(time.perf_counter() - started)
        rows += len(page.rows)
        cursors[k] = page.next_cursor
    return Lists(calls, PAGE_ROWS, rows, list(clients),
                 {label: round(Latency.of(times).p99_ms, 1) for label, times in seconds.items()},
                 Latency.of([t for times in seconds.values() for t in times]))


def decision(account_no: str) -> ItemDecision:
    """公安's 通过 of the residence permit: the first item, which starts the review."""
    return ItemDecision(account_no=account_no, version=1, item=PERMIT, passed=True,
                        operator=OPERATOR, agency="公安")


def review_one_at_a_time(client: DistrictClient, account_nos: list[str]) -> Decisions:
    seconds = []
    for account_no in account_nos:
        started = time.perf_counter()
        client.district_review_item(decision(account_no))
        seconds.append(time.perf_counter() - started)
    return Decisions(len(account_nos), len(account_nos), len(account_nos), sum(seconds),
                     Latency.of(seconds))


def review_in_bulk(client: DistrictClient, account_nos: list[str]) -> Decisions:
    request = BulkReview(idempotency_key=f"bench-{uuid.uuid4().hex}",
                         items=[decision(account_no) for account_no in account_nos])
    started = time.perf_counter()
    outcome = client.district_bulk_review(request)
    seconds = time.perf_counter() - started
    return Decisions(len(account_nos), 1, outcome.succeeded, seconds, Latency.of([seconds]))


def reads_during_bulk(stack, cookies: list[str], client: DistrictClient,
                      account_nos: list[str], per_call: int):
    """The families' reads, paced, from just before the first of the bulk calls (of
    `per_call` items each, back to back) until the last is answered."""
    done = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        def bulk() -> Decisions:
            try:
                return Decisions.combined([
                    review_in_bulk(client, account_nos[start:start + per_call])
                    for start in range(0, len(account_nos), per_call)])
            finally:
                done.set()
        call = pool.submit(bulk)
        reads = run_load(stack.url + "/api/v1/journey", cookies, "paced", BULK_TIMEOUT_S,
                         stop=done)
        return reads, call.result()


# the run ------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.districts",
                                     description=__doc__.split("\n")[0])
    add_platform_options(parser)
    parser.add_argument("--applications", type=int, default=350_000,
                        help="applications loaded (default 350000)")
    parser.add_argument("--load-workers", type=int, default=2,
                        help="processes sealing and copying them (default 2: the cores)")
    # 60 requests/s: what this box serves with room to spare (200 families, 200 journey
    # reads/s of two RPCs each, filled its two cores: p50 1.7 s before any bulk call).
    parser.add_argument("--families", type=int, default=60,
                        help="signed-in families reading their page (default 60)")
    parser.add_argument("--lists", type=int, default=600,
                        help="list pages, one call at a time (default 600)")
    parser.add_argument("--single", type=int, default=500,
                        help="decisions made one call at a time (default 500)")
    parser.add_argument("--bulk", type=int, default=5000,
                        help="decisions in each bulk call (default 5000, the most a call "
                             "takes)")
    parser.add_argument("--bulk-during-reads", type=int, default=3,
                        help="bulk calls made back to back while the families read (default "
                             "3)")
    parser.add_argument("--read-seconds", type=float, default=20,
                        help="duration of the idle reads (default 20)")
    args = parser.parse_args(argv)
    if args.bulk_during_reads < 1:
        parser.error("--bulk-during-reads must be positive")
    if reviewable_needed(args) > args.applications // 10:
        parser.error("--single + (1 + --bulk-during-reads) × --bulk must be at most a tenth "
                     "of --applications")
    return args


def reviewable_needed(args: argparse.Namespace) -> int:
    return args.single + (1 + args.bulk_during_reads) * args.bulk


def measure(args: argparse.Namespace) -> DistrictReport:
    machine = Machine.here()
    population = Population(args.applications, reviewable_needed(args), DECIDING)
    reviewable = population.reviewable_accounts()
    with contextlib.ExitStack() as run:
        stack = run.enter_context(running_platform(args.keep_workdir))
        users = make_district_users(stack.env["AMQP_URI"], set(LISTING) | {DECIDING})
        run.callback(drop_process_users, users)
        clients = {code: run.enter_context(DistrictClient(uri, BULK_TIMEOUT_S))
                   for code, uri in users.items()}
        probe = run.enter_context(contextlib.closing(
            PingProbe(stack.env["AMQP_URI"], args.ping_gap_ms / 1e3)))
        say(f"platform up at {stack.url}; loading {args.applications} applications")
        seconds, versions = applications.load(
            stack.database_url, stack.env.get("MASTER_KEYS", DEV_KEYS["MASTER_KEYS"]),
            population, args.load_workers,
            lambda done: say(f"{done} loaded") if done % 50_000 < applications.CHUNK else None)
        load = Load(args.applications, len(DISTRICTS), versions, args.load_workers,
                    round(seconds, 2))
        say(f"loaded in {seconds:.1f} s ({load.per_s:.0f}/s); registering {args.families} "
            "families")
        meter = CpuMeter(stack.procs, database_name(stack))
        sessions = register_all(stack, prepare_families(stack, 0, args.families),
                                REGISTRATION_CONCURRENCY, meter)[1]
        wait_applications_opened(stack, sessions)
        cookies = [session.cookie for session in sessions]
        say(f"idle pings ({args.pings})")
        idle = probe.count(args.pings)
        say(f"{args.lists} list pages")
        lists = list_pages({code: clients[code] for code in LISTING}, args.lists)
        say(f"list p99 {lists.latency.p99_ms:.1f} ms; {args.single} decisions one at a time")
        single = review_one_at_a_time(clients[DECIDING], reviewable[:args.single])
        say(f"{single.per_s:.1f} items/s; a bulk call of {args.bulk}")
        bulk = review_in_bulk(clients[DECIDING],
                              reviewable[args.single:args.single + args.bulk])
        say(f"{bulk.per_s:.1f} items/s; families' reads, {args.read_seconds:g} s idle")
        reads_idle = run_load(stack.url + "/api/v1/journey", cookies, "paced",
                              args.read_seconds)
        say(f"families' reads during {args.bulk_during_reads} bulk calls")
        reads_busy, during = reads_during_bulk(stack, cookies, clients[DECIDING],
                                               reviewable[args.single + args.bulk:],
                                               args.bulk)
        check_platform(stack)  # still our processes, alone on their port
        say("stopping the platform")
    return DistrictReport(
        machine=machine, load=load, pings=Latency.of([t for t, _ in idle]),
        pings_failed=sum(not ok for _, ok in idle), lists=lists, single=single, bulk=bulk,
        reads_idle=reads_idle, reads_during_bulk=reads_busy, bulk_during_reads=during)


def main(argv: list[str] | None = None) -> int:
    return run_bench(parse_args, measure, argv)


if __name__ == "__main__":
    sys.exit(main())
