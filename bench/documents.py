"""`python -m bench.documents` (part of `make bench`): the 学龄人口信息采集表 (issue 17).

Starts the whole platform (tests/support/stack.py) on its own database and RabbitMQ vhost as
`python -m bench.run` does; everything removed afterwards. Families ready to print (本市户籍,
submitted, verified) are made through enrollment's use cases on its tables, as its role. Talks
only to 127.0.0.1; every phase is bounded by a count.

Phases, in order:
  warm      one family's form rendered W times in this process after a warm-up: p50 and p95;
  cjk       the same form (CJK) alternating with the same layout whose data has every CJK
            character replaced by a Latin letter, W times each: the p50s' ratio (≤ 1.5);
  pings     `accounts.ping()` from a separate process (bench/ping.py), idle;
  ahead     N families become ready to print (their verification_outcome relayed from
            enrollment's outbox): the service renders each one's form ahead, in its worker
            processes; the time until all N are stored, with the pings running;
  downloads C families' `get_form` at once over RPC (the gateway streams what it answers),
            with the pings running: ping p99 ≤ 3 × idle; every form ≤ 200 KB;
  memory    the RSS of the documents service and its render workers after the N renders
            (≤ 1 GiB).

Writes bench/results/documents.json and documents.md, prints the Markdown, and exits 1 if a
target is missed (results are written either way).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import psycopg_pool

from bench.ping import PingProbe
from bench.report import DocumentsReport, Machine
from bench.run import (
    add_platform_options,
    check_platform,
    run_bench,
    running_platform,
    say,
)
from bench.stats import Latency, percentile
from common.edge.rpc import StandaloneRpc
from common.errors import DomainError
from common.keys import MasterKeys
from common.settings import DEV_KEYS, role_url
from services.documents import render
from services.documents.contract import DocumentsRpc, FormRef
from services.documents.rules.form import render_job, verify_url
from services.documents.tests.samples import form_data
from services.enrollment.contract import FormData
from services.enrollment.settings import EnrollmentSettings
from services.enrollment.storage import Keys, Store
from services.enrollment.tests.samples import ALWAYS_OPEN, verified_family
from services.enrollment.usecases.context import Context

RPC_TIMEOUT_S = 600  # a download waits for the renders queued before it
CJK = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]")


def latin(value):
    """The same data with each CJK character a Latin letter: the same layout, Latin text."""
    if isinstance(value, dict):
        return {key: latin(item) for key, item in value.items()}
    if isinstance(value, list):
        return [latin(item) for item in value]
    return CJK.sub("M", value) if isinstance(value, str) else value


def render_times(job: dict, count: int) -> list[float]:
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        render.render(job)
        seconds.append(time.perf_counter() - started)
    return seconds


def in_process(renders: int) -> tuple[list[float], float, float]:
    """(warm render times, CJK p50 ms, Latin p50 ms)."""
    data = form_data("non_beijing")
    url = verify_url("http://127.0.0.1:8000", "A" * 36)
    cjk = render_job(data, url, datetime.now(UTC))
    latin_job = render_job(FormData.model_validate(latin(data.model_dump(mode="json"))), url,
                           datetime.now(UTC))
    render_times(cjk, 3)
    render_times(latin_job, 3)
    warm = render_times(cjk, renders)
    cjk_s, latin_s = [], []
    for _ in range(renders):
        cjk_s += render_times(cjk, 1)
        latin_s += render_times(latin_job, 1)
    return warm, percentile(sorted(cjk_s), 50) * 1e3, percentile(sorted(latin_s), 50) * 1e3


def rendered_ahead(stack, accounts: list[str], timeout_s: float) -> float:
    """Seconds until the documents service has stored the forms of `accounts`."""
    started = time.perf_counter()
    with psycopg.connect(stack.database_url) as conn:
        while True:
            stored = conn.execute("SELECT count(*) FROM documents.forms "
                                  "WHERE account_no = ANY(%s::bpchar[])",
                                  (accounts,)).fetchone()[0]
            if stored == len(accounts):
                return time.perf_counter() - started
            if time.perf_counter() - started > timeout_s:
                raise TimeoutError(f"{stored} of {len(accounts)} forms rendered ahead")
            time.sleep(0.5)


def families(stack, first: int, count: int) -> list[str]:
    """`count` families ready to print, through enrollment's use cases as its role."""
    master = MasterKeys.parse(stack.env.get("MASTER_KEYS", DEV_KEYS["MASTER_KEYS"]))
    accounts = [f"27{number:06d}" for number in range(first, first + count)]
    url = role_url(stack.database_url, EnrollmentSettings.DATABASE_ROLE)
    with psycopg_pool.ConnectionPool(url, min_size=1, max_size=4,
                                     kwargs={"autocommit": True}) as pool:
        context = Context(Store(pool, Keys(master)), ALWAYS_OPEN,
                          lambda: datetime.now(UTC))
        for account_no in accounts:
            verified_family(context, account_no, hukou_type="beijing")
    return accounts


class Clients:
    """`count` clients of documents, connected (each has called `ping`) before they are
    timed: a hundred connections opened at once would load the broker the pings go through."""

    def __init__(self, uri: str, count: int):
        self.rpcs = [StandaloneRpc(uri, "documents", "bench", RPC_TIMEOUT_S)
                     for _ in range(count)]
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(lambda rpc: DocumentsRpc(rpc).ping(), self.rpcs))

    def download_all(self, accounts: list[str], at_once: int) -> list[tuple[float, int]]:
        """(seconds, bytes; 0 for a failure) of each `get_form`, `at_once` at a time (at most
        a client each)."""
        def one(job: tuple[StandaloneRpc, list[str]]) -> list[tuple[float, int]]:
            rpc, mine = job
            return [_download(DocumentsRpc(rpc), account_no) for account_no in mine]
        rpcs = self.rpcs[:at_once]
        shares = [(rpc, accounts[index::len(rpcs)]) for index, rpc in enumerate(rpcs)]
        with ThreadPoolExecutor(len(rpcs)) as pool:
            return [answer for answers in pool.map(one, shares) for answer in answers]

    def close(self) -> None:
        for rpc in self.rpcs:
            rpc.close()


def _download(documents: DocumentsRpc, account_no: str) -> tuple[float, int]:
    """One download, as the gateway's waiting room would make it: a call refused because the
    service runs as many renders as it may (`EXPENSIVE_WORKERS`) is made again when told; its
    time is from the first try."""
    started = time.perf_counter()
    while True:
        try:
            form = documents.get_form(FormRef(account_no=account_no))
            return time.perf_counter() - started, len(base64.b64decode(form.pdf_base64))
        except DomainError as exc:
            if exc.code != "SERVICE_UNAVAILABLE":
                say(f"get_form refused: {exc}")
                return time.perf_counter() - started, 0
            time.sleep(exc.extra.get("retry_after_s", 1))
        except Exception as exc:  # counted, and the run goes on
            say(f"get_form failed: {exc}")
            return time.perf_counter() - started, 0


def rss_kib(pid: int) -> int:
    """The resident memory of a process and its children (the render workers)."""
    def status(of: int) -> int:
        for line in Path(f"/proc/{of}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0
    children = [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                for child in (task / "children").read_text().split()]
    return status(pid) + sum(status(child) for child in children)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.documents", description=__doc__.split(
        "\n\n")[0])
    add_platform_options(parser)
    parser.add_argument("--renders", type=int, default=50,
                        help="in-process renders, each kind (default 50)")
    parser.add_argument("--concurrent", type=int, default=100,
                        help="concurrent downloads (default 100)")
    parser.add_argument("--memory-renders", type=int, default=1000,
                        help="forms the service renders before its RSS is read (default 1000)")
    return parser.parse_args(argv)


def measure(args: argparse.Namespace) -> DocumentsReport:
    machine = Machine.here()
    say(f"{args.renders} warm renders of each kind in-process")
    warm, cjk_ms, latin_ms = in_process(args.renders)
    with contextlib.ExitStack() as run:
        stack = run.enter_context(running_platform(args.keep_workdir))
        uri = stack.env["AMQP_URI"]
        probe = run.enter_context(contextlib.closing(PingProbe(uri, args.ping_gap_ms / 1e3)))
        say(f"platform up; idle pings ({args.pings})")
        idle = probe.count(args.pings)
        renders = max(args.memory_renders, args.concurrent)
        say(f"{renders} families ready to print, their forms rendered ahead")
        probe.start()
        accounts = families(stack, 1, renders)
        ahead_s = rendered_ahead(stack, accounts, timeout_s=renders * 2.0)
        pings_ahead = probe.stop()
        clients = run.enter_context(contextlib.closing(Clients(uri, args.concurrent)))
        say(f"{args.concurrent} downloads at once")
        probe.start()
        downloads = clients.download_all(accounts[:args.concurrent], args.concurrent)
        during = probe.stop()
        memory = rss_kib(stack.procs["documents"].pid)
        check_platform(stack)
        say("stopping the platform")
    return DocumentsReport(
        machine=machine, warm_renders=len(warm),
        warm_p50_ms=percentile(sorted(warm), 50) * 1e3,
        warm_p95_ms=percentile(sorted(warm), 95) * 1e3, cjk_p50_ms=cjk_ms,
        latin_p50_ms=latin_ms, largest_bytes=max(size for _, size in downloads),
        pings=Latency.of([t for t, _ in idle]), pings_during=Latency.of([t for t, _ in during]),
        pings_failed=sum(not ok for _, ok in idle + pings_ahead + during),
        ahead_seconds=ahead_s, pings_ahead=Latency.of([t for t, _ in pings_ahead]),
        downloads=Latency.of([seconds for seconds, _ in downloads]),
        downloads_failed=sum(size == 0 for _, size in downloads), renders=len(accounts),
        rss_kib=memory)


def main(argv: list[str] | None = None) -> int:
    return run_bench(parse_args, measure, argv)


if __name__ == "__main__":
    sys.exit(main())
