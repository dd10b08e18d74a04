"""The bench's results: dataclasses, the pass/fail checks, and the JSON and Markdown outputs."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.cpu import PARTS, CpuUse
from bench.httpload import Answer, LoadResult
from bench.stats import Latency

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
MIB = 1024


@dataclass(frozen=True)
class Machine:
    nproc: int
    cpu_model: str
    date: str
    git_commit: str
    python: str
    loadavg_at_start: tuple[float, float, float]

    @classmethod
    def here(cls) -> Machine:
        return cls(nproc=os.cpu_count() or 0, cpu_model=_cpu_model(), date=datetime.now(UTC)
                   .isoformat(timespec="seconds"), git_commit=_git_commit(),
                   python=platform.python_version(),
                   loadavg_at_start=tuple(round(x, 2) for x in os.getloadavg()))

    def describe(self) -> str:
        return (f"{self.nproc} × {self.cpu_model}, Python {self.python}, {self.date}, "
                f"commit `{self.git_commit}`, load average at start "
                f"{' / '.join(map(str, self.loadavg_at_start))}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()
    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


@dataclass(frozen=True)
class HashBaseline:
    threads: int
    hashes_per_burst: int
    memory_kib: int
    time_cost: int
    parallelism: int
    bursts_per_s: list[float]  # one burst before the first registration batch and after each
    bursts_cores: list[float]  # cores the hashing threads got (2 on an otherwise idle machine)

    @property
    def per_s(self) -> float:
        """All bursts' hashes over all their time (equal bursts: the harmonic mean)."""
        return len(self.bursts_per_s) / sum(1 / rate for rate in self.bursts_per_s)

    def around(self, batch: int) -> float:
        """The rate of the two bursts on either side of registration batch `batch`."""
        return (self.bursts_per_s[batch] + self.bursts_per_s[batch + 1]) / 2


@dataclass(frozen=True)
class Posts:
    """One POST per family through the gateway, `concurrency` at a time (closed loop)."""
    families: int
    concurrency: int
    created: int  # answered 201
    statuses: dict[str, int]
    duration_s: float
    per_s: float
    latency: Latency
    cpu: CpuUse

    @classmethod
    def of(cls, answers: list[Answer], duration_s: float, concurrency: int, cpu: CpuUse,
           **more):
        statuses = dict(Counter(str(answer.status) for answer in answers))
        return cls(families=len(answers), concurrency=concurrency,
                   created=statuses.get("201", 0), statuses=statuses,
                   duration_s=round(duration_s, 2), per_s=len(answers) / duration_s,
                   latency=Latency.of([answer.seconds for answer in answers]), cpu=cpu, **more)


@dataclass(frozen=True)
class Registrations(Posts):
    batches_per_s: list[float]  # the registrations' throughput in each batch


@dataclass(frozen=True)
class Checks:
    """verification's checks of the submitted families, the registry answering each lookup
    in `registry_latency_ms`: one lookup a check (本市户籍, no permit), `slots` at once."""
    slots: int  # VERIFICATION_CONCURRENCY
    registry_latency_ms: int
    results: dict[str, int]  # by result ("verified", "failed"), or status if unfinished
    busy_s: float  # how long at least `slots` checks were pending
    finished_busy: int  # checks finished meanwhile
    per_s: float  # finished_busy / busy_s

    @property
    def ideal_per_s(self) -> float:
        """Every slot busy, each check taking exactly the registry's latency."""
        return self.slots / (self.registry_latency_ms / 1e3)


@dataclass(frozen=True)
class Drain:
    """A backlog of pending checks left by a registry outage, drained once it is back."""
    checks: int
    outage_s: float  # the registry stopped while the backlog was published and recorded
    seconds: float  # from the registry's return until no check was pending
    per_s: float
    pings: Latency  # `accounts.ping()` meanwhile
    pings_failed: int
    cpu: CpuUse


@dataclass(frozen=True)
class Pings:
    gap_ms: float  # pause between two calls, idle and loaded alike
    idle: Latency
    loaded: Latency
    idle_failed: int  # answered with an error (the round trip still counts)
    loaded_failed: int

    @classmethod
    def of(cls, gap_ms: float, idle: list[tuple[float, bool]],
           loaded: list[tuple[float, bool]]) -> Pings:
        return cls(gap_ms, Latency.of([t for t, _ in idle]), Latency.of([t for t, _ in loaded]),
                   sum(not ok for _, ok in idle), sum(not ok for _, ok in loaded))

    @property
    def idle_calls_per_s(self) -> float:
        """Sequential throughput of one caller: what one RPC round trip costs."""
        return 1e3 / self.idle.mean_ms


@dataclass(frozen=True)
class Reads:
    load: LoadResult
    cpu: CpuUse


@dataclass(frozen=True)
class ResetRequests:
    """Forgot-password code requests, one at a time, alternating: number and phone of an
    account (a code is texted) and a number nobody registered (the code is withheld). The
    answer must not tell them apart, by its content or by its time."""
    matching: Latency
    non_matching: Latency

    @property
    def p50_difference(self) -> float:
        """|p50 matching - p50 non-matching| / p50 non-matching."""
        return abs(self.matching.p50_ms - self.non_matching.p50_ms) / self.non_matching.p50_ms


@dataclass(frozen=True)
class ProcessMemory:
    name: str
    pid: int
    rss_kib: int
    peak_kib: int  # VmHWM


@dataclass(frozen=True)
class Check:
    name: str
    value: float
    target: str
    passed: bool


@dataclass
class BenchReport:
    machine: Machine
    baseline: HashBaseline
    warmup: Registrations  # first, not counted: a fresh platform prepares what it reuses
    registrations: Registrations
    probed_registrations: Registrations  # a second batch, while the pings ran
    pings: Pings
    reads_closed: Reads
    reads_paced: Reads
    resets: ResetRequests
    submissions: Posts
    verification: Checks
    drain: Drain
    memory: list[ProcessMemory]
    read_p99_target_ms: float = 200.0
    memory_target_kib: int = 2 * 1024 * MIB
    checks: list[Check] = field(init=False)

    def __post_init__(self):
        self.checks = [
            Check("registrations / baseline hash rate", round(self.registration_ratio, 3),
                  ">= 0.6", self.registration_ratio >= 0.6),
            Check("all registrations 201", sum(r.created for r in self._all_registrations),
                  f"== {sum(r.families for r in self._all_registrations)}",
                  all(r.created == r.families for r in self._all_registrations)),
            Check("ping p99 loaded / idle", round(self.ping_ratio, 2), "<= 3",
                  self.ping_ratio <= 3),
            Check("pings answered with an error", self.pings.idle_failed
                  + self.pings.loaded_failed, "== 0",
                  self.pings.idle_failed + self.pings.loaded_failed == 0),
            Check("GET /api/v1/account p99 ms, 200 clients paced", round(
                self.reads_paced.load.latency.p99_ms, 1), f"<= {self.read_p99_target_ms:g}",
                self.reads_paced.load.latency.p99_ms <= self.read_p99_target_ms
                and self.reads_paced.load.errors == 0),
            Check("forgot-password code p50, matching vs not", round(
                self.resets.p50_difference, 3), "<= 0.05", self.resets.p50_difference <= 0.05),
            Check("submissions / registrations", round(self.submission_ratio, 2), ">= 4",
                  self.submission_ratio >= 4),
            Check("all submissions 201", self.submissions.created,
                  f"== {self.submissions.families}",
                  self.submissions.created == self.submissions.families),
            Check("checks verified", self.verification.results.get("verified", 0),
                  f"== {self.submissions.families}",
                  self.verification.results.get("verified", 0) == self.submissions.families),
            Check("checks/s / (slots / registry latency)", round(self.check_ratio, 3),
                  ">= 0.8", self.check_ratio >= 0.8),
            Check("backlog drained/s / (slots / registry latency)",
                  round(self.drain_ratio, 3), ">= 0.8", self.drain_ratio >= 0.8),
            Check("ping p99 draining / idle", round(self.drain_ping_ratio, 2), "<= 3",
                  self.drain_ping_ratio <= 3 and self.drain.pings_failed == 0),
            Check("peak RSS sum MiB", round(self.peak_sum_kib / MIB),
                  f"<= {self.memory_target_kib // MIB}",
                  self.peak_sum_kib <= self.memory_target_kib),
        ]

    @property
    def _all_registrations(self) -> list[Registrations]:
        return [self.warmup, self.registrations, self.probed_registrations]

    @property
    def registration_ratio(self) -> float:
        return self.registrations.per_s / self.baseline.per_s

    @property
    def batch_ratios(self) -> list[float]:
        """Each batch's throughput against the baseline bursts on either side of it."""
        return [rate / self.baseline.around(i)
                for i, rate in enumerate(self.registrations.batches_per_s)]

    @property
    def ping_ratio(self) -> float:
        return self.pings.loaded.p99_ms / self.pings.idle.p99_ms

    @property
    def submission_ratio(self) -> float:
        return self.submissions.per_s / self.registrations.per_s

    @property
    def check_ratio(self) -> float:
        return self.verification.per_s / self.verification.ideal_per_s

    @property
    def drain_ratio(self) -> float:
        return self.drain.per_s / self.verification.ideal_per_s

    @property
    def drain_ping_ratio(self) -> float:
        return self.drain.pings.p99_ms / self.pings.idle.p99_ms

    @property
    def peak_sum_kib(self) -> int:
        return sum(p.peak_kib for p in self.memory)

    def _passed(self, *names: str) -> bool:
        return all(c.passed for c in self.checks if c.name in names)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def ratios(self) -> dict[str, float]:
        base = self.baseline.per_s
        return {
            "registrations_per_s / baseline_hashes_per_s": self.registration_ratio,
            "registrations_with_pings_per_s / baseline_hashes_per_s":
                self.probed_registrations.per_s / base,
            "ping_p99_loaded / ping_p99_idle": self.ping_ratio,
            "ping_idle_sequential_calls_per_s / baseline_hashes_per_s":
                self.pings.idle_calls_per_s / base,
            "reads_closed_per_s / baseline_hashes_per_s":
                self.reads_closed.load.throughput_rps / base,
            "reads_paced_per_s / baseline_hashes_per_s":
                self.reads_paced.load.throughput_rps / base,
            "reset_code_p50_difference / p50_non_matching": self.resets.p50_difference,
            "submissions_per_s / registrations_per_s": self.submission_ratio,
            "submissions_per_s / baseline_hashes_per_s": self.submissions.per_s / base,
            "checks_per_s / (slots / registry_latency)": self.check_ratio,
            "backlog_drained_per_s / (slots / registry_latency)": self.drain_ratio,
            "backlog_drained_per_s / checks_per_s": self.drain.per_s / self.verification.per_s,
            "ping_p99_draining / ping_p99_idle": self.drain_ping_ratio,
        }

    # outputs -------------------------------------------------------------------------------
    def to_json(self) -> dict:
        data = asdict(self)
        data["baseline"]["per_s"] = self.baseline.per_s
        data["registrations"]["batch_ratios"] = self.batch_ratios
        data["pings"]["idle_calls_per_s"] = self.pings.idle_calls_per_s
        for key, phase in self._cpu_phases():
            data[key]["cpu"]["per_operation_ms"] = {
                part: round(ms, 2) for part, ms in phase.per_operation_ms().items()}
            data[key]["cpu"]["cores"] = round(phase.cores, 3)
            data[key]["cpu"]["machine_cores"] = round(phase.machine_cores, 3)
        data["verification"]["ideal_per_s"] = self.verification.ideal_per_s
        data["memory_rss_sum_kib"] = sum(p.rss_kib for p in self.memory)
        data["memory_peak_sum_kib"] = self.peak_sum_kib
        data["ratios"] = self.ratios()
        data["passed"] = self.passed
        return data

    def markdown(self) -> str:
        b, r, p = self.baseline, self.registrations, self.pings
        sub, checks, drain = self.submissions, self.verification, self.drain
        base = b.per_s
        mark = {True: "✅", False: "❌"}
        batch_ratios = sorted(self.batch_ratios)
        rows = [
            (f"Baseline: bare argon2id hashes/s on {b.threads} threads (m={b.memory_kib} KiB, "
             f"t={b.time_cost}, p={b.parallelism}; {len(b.bursts_per_s)} bursts of "
             f"{b.hashes_per_burst} hashes, one before the first registration batch and one "
             "after each)",
             f"{', '.join(f'{rate:.1f}' for rate in b.bursts_per_s)}: **{base:.1f}** over all "
             f"(the threads got {min(b.bursts_cores):.2f}–{max(b.bursts_cores):.2f} cores)",
             "1", "", ""),
            self._registration_row(
                self.warmup, " first, to warm the platform up; not counted",
                f"{self.warmup.per_s / base:.2f} × baseline", "", ""),
            self._registration_row(
                r, f" in {len(r.batches_per_s)} batches between the bursts",
                f"**{self.registration_ratio:.2f}** × baseline (batches against the bursts "
                f"around them: {batch_ratios[0]:.2f}–{batch_ratios[-1]:.2f})",
                "≥ 0.6 × baseline",
                mark[self._passed("registrations / baseline hash rate",
                                  "all registrations 201")]),
            (f"`accounts.ping()` (SELECT 1) over RPC, idle ({p.idle.count} sequential calls, "
             f"{p.gap_ms:g} ms apart)",
             f"p50 {p.idle.p50_ms:.1f} ms, p99 {p.idle.p99_ms:.1f} ms; "
             f"{p.idle_calls_per_s:.0f} sequential calls/s{_failed(p.idle_failed)}",
             f"{p.idle_calls_per_s / base:.1f} × baseline", "", ""),
            self._registration_row(
                self.probed_registrations, " more, while the pings below ran",
                f"{self.probed_registrations.per_s / base:.2f} × baseline",
                "", ""),
            (f"`accounts.ping()` during those registrations ({p.loaded.count} calls)",
             f"p50 {p.loaded.p50_ms:.1f} ms, p99 {p.loaded.p99_ms:.1f} ms"
             f"{_failed(p.loaded_failed)}",
             f"p99 **{self.ping_ratio:.2f}** × idle", "p99 ≤ 3 × idle",
             mark[self._passed("ping p99 loaded / idle", "pings answered with an error")]),
            self._read_row(self.reads_closed, "closed loop (next request as soon as the answer "
                                              "arrives)", base,
                           "none (capacity; p99 ≤ 200 ms here would need > 1000 req/s by "
                           "Little's law)", ""),
            self._read_row(self.reads_paced, "paced, 1 request/s each (offered "
                                             f"{self.reads_paced.load.clients} req/s)", base,
                           f"p99 ≤ {self.read_p99_target_ms:g} ms",
                           mark[self._passed("GET /api/v1/account p99 ms, 200 clients paced")]),
            (f"Forgot-password code requests, one at a time, alternating: an account's "
             f"number and phone ({self.resets.matching.count}, texted) and numbers nobody "
             f"registered ({self.resets.non_matching.count}, withheld)",
             f"p50 {self.resets.matching.p50_ms:.1f} ms vs {self.resets.non_matching.p50_ms:.1f} "
             f"ms (p99 {self.resets.matching.p99_ms:.1f} vs "
             f"{self.resets.non_matching.p99_ms:.1f})",
             f"p50 differs by **{self.resets.p50_difference:.1%}**", "≤ 5 %",
             mark[self._passed("forgot-password code p50, matching vs not")]),
            (f"Submissions end to end (POST /api/v1/application/submissions through the "
             f"gateway, {sub.families} families registered above, {sub.concurrency} at a time)",
             f"**{sub.per_s:.1f}/s**; {sub.created}/{sub.families} answered 201; p50 "
             f"{sub.latency.p50_ms:.0f} ms, p99 {sub.latency.p99_ms:.0f} ms",
             f"**{self.submission_ratio:.2f}** × the registrations above; "
             f"{sub.per_s / base:.2f} × baseline", "≥ 4 × registrations",
             mark[self._passed("submissions / registrations", "all submissions 201")]),
            (f"Their checks against the registry simulator (HTTP, {checks.registry_latency_ms} "
             f"ms an answer), {checks.slots} at once (VERIFICATION_CONCURRENCY); counted while "
             f"≥ {checks.slots} were pending ({checks.busy_s:.1f} s, {checks.finished_busy} "
             "checks)",
             f"**{checks.per_s:.1f}/s**; results "
             + ", ".join(f"{n} {result}" for result, n in sorted(checks.results.items())),
             f"**{self.check_ratio:.2f}** × {checks.slots} / {checks.registry_latency_ms} ms "
             f"({checks.ideal_per_s:.0f}/s)", "≥ 0.8 ×, all verified",
             mark[self._passed("checks/s / (slots / registry latency)", "checks verified")]),
            (f"Backlog: {drain.checks} checks recorded while the registry was stopped "
             f"({drain.outage_s:.0f} s; events published as enrollment's relay does), drained "
             "once it was back",
             f"**{drain.per_s:.1f}/s** ({drain.seconds:.1f} s)",
             f"**{self.drain_ratio:.2f}** × {checks.ideal_per_s:.0f}/s; "
             f"{drain.per_s / checks.per_s:.2f} × the checks above", "≥ 0.8 ×",
             mark[self._passed("backlog drained/s / (slots / registry latency)")]),
            (f"`accounts.ping()` during the drain ({drain.pings.count} calls)",
             f"p50 {drain.pings.p50_ms:.1f} ms, p99 {drain.pings.p99_ms:.1f} ms"
             f"{_failed(drain.pings_failed)}",
             f"p99 **{self.drain_ping_ratio:.2f}** × idle", "p99 ≤ 3 × idle",
             mark[self._passed("ping p99 draining / idle")]),
            ("Resident memory after the run: RSS (peak VmHWM)",
             ", ".join(f"{m.name} {m.rss_kib / MIB:.0f} MiB ({m.peak_kib / MIB:.0f})"
                       for m in self.memory)
             + f"; sum {sum(m.rss_kib for m in self.memory) / MIB:.0f} MiB "
               f"(peak sum {self.peak_sum_kib / MIB:.0f})",
             "", "peak sum ≤ 2 GiB", mark[self._passed("peak RSS sum MiB")]),
        ]
        lines = _results_table(self.machine, rows, self.passed)
        lines += self.cpu_markdown()
        reg = self.registrations.cpu
        hash_share = reg.seconds["accounts offload threads"] / reg.total_s
        lines += ["", f"CPU from /proc over each phase, {self.machine.nproc} cores available. "
                      "\"accounts offload threads\" is eventlet's tpool (argon2); the load "
                      "generator is the bench process (not the ping probe). RabbitMQ is shared "
                      "with other users of the machine, so it is not counted among the parts; "
                      "it is in \"whole machine\", with everyone else's work. Hashing was "
                      f"{hash_share:.0%} of these parts' CPU per registration; a ratio of 0.6 "
                      "needs everything else, RabbitMQ included, to cost at most 2/3 of the "
                      "hash."]
        return "\n".join(lines) + "\n"

    @staticmethod
    def _registration_row(r: Registrations, which: str, ratio: str, target: str, passed: str):
        return (f"Registrations end to end (POST /api/v1/accounts through the gateway, "
                f"{r.families} families{which}, {r.concurrency} at a time)",
                f"**{r.per_s:.1f}/s**; {r.created}/{r.families} answered 201; p50 "
                f"{r.latency.p50_ms:.0f} ms, p99 {r.latency.p99_ms:.0f} ms",
                ratio, target, passed)

    @staticmethod
    def _read_row(reads: Reads, shape: str, base: float, target: str, passed: str):
        load, lat = reads.load, reads.load.latency
        return (f"GET /api/v1/account, {load.clients} signed-in clients, {shape}, "
                f"{load.duration_s:.0f} s",
                f"{load.throughput_rps:.0f} req/s, p50 {lat.p50_ms:.0f} ms, p99 "
                f"{lat.p99_ms:.0f} ms, {load.errors} errors",
                f"{load.throughput_rps / base:.1f} × baseline", target, passed)

    def _cpu_phases(self) -> list[tuple[str, CpuUse]]:
        return [("warmup", self.warmup.cpu), ("registrations", self.registrations.cpu),
                ("probed_registrations", self.probed_registrations.cpu),
                ("reads_closed", self.reads_closed.cpu), ("reads_paced", self.reads_paced.cpu),
                ("submissions", self.submissions.cpu), ("drain", self.drain.cpu)]

    def cpu_markdown(self) -> list[str]:
        names = {"warmup": "a registration, warming up",
                 "registrations": "a registration",
                 "probed_registrations": "a registration, pings running",
                 "reads_closed": "a GET, closed loop",
                 "reads_paced": "a GET, paced",
                 "submissions": "a submission (verification stopped)",
                 "drain": "a check, draining the backlog"}
        lines = ["| CPU ms per operation | " + " | ".join(PARTS)
                 + " | total | cores busy: these parts | cores busy: whole machine |",
                 "|---" * (len(PARTS) + 4) + "|"]
        for key, use in self._cpu_phases():
            per_op = use.per_operation_ms()
            lines.append(f"| {names[key]} | " + " | ".join(f"{per_op[p]:.1f}" for p in PARTS)
                         + f" | {use.total_s / use.operations * 1e3:.1f} | {use.cores:.2f} | "
                         f"{use.machine_cores:.2f} |")
        return lines

    def write(self, directory: Path = RESULTS) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "latest.json").write_text(json.dumps(self.to_json(), indent=2,
                                                          ensure_ascii=False) + "\n")
        (directory / "latest.md").write_text(self.markdown())


def _failed(count: int) -> str:
    return f"; **{count} answered with an error**" if count else ""


def _results_table(machine: Machine, rows: list[tuple[str, ...]], passed: bool) -> list[str]:
    """The machine, a row per measurement (measurement, result, ratio, target, mark), and
    whether every target was met."""
    lines = [f"Machine: {machine.describe()}.", "",
             "| Measurement | Result | Ratio | Target | |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return lines + ["", f"All targets met: {'yes' if passed else 'no'}.", ""]


# The district benchmark (bench/districts.py) ---------------------------------------------------
@dataclass(frozen=True)
class Load:
    """Applications written straight into enrollment's tables (bench/applications.py)."""
    applications: int
    districts: int
    versions: int
    workers: int  # processes sealing and copying, a connection each
    seconds: float  # until loaded and analysed

    @property
    def per_s(self) -> float:
        return self.applications / self.seconds


@dataclass(frozen=True)
class Lists:
    """Filtered pages of `page_rows`, one call at a time, as district systems."""
    calls: int
    page_rows: int
    rows: int  # returned in all
    districts: list[str]
    p99_by_filter_ms: dict[str, float]
    latency: Latency


@dataclass(frozen=True)
class Decisions:
    """Review decisions over district RPC: `calls` calls of `items` items in all."""
    items: int
    calls: int
    succeeded: int
    seconds: float
    latency: Latency  # of each call

    @property
    def per_s(self) -> float:
        return self.items / self.seconds

    @classmethod
    def combined(cls, calls: list[Decisions]) -> Decisions:
        """Calls made one after another, as one run of decisions."""
        return cls(sum(c.items for c in calls), sum(c.calls for c in calls),
                   sum(c.succeeded for c in calls), sum(c.seconds for c in calls),
                   Latency.of([c.seconds for c in calls]))


@dataclass
class DistrictReport:
    machine: Machine
    load: Load
    pings: Latency  # `accounts.ping()`, idle
    pings_failed: int
    lists: Lists
    single: Decisions  # one item a call
    bulk: Decisions  # one call
    reads_idle: LoadResult
    reads_during_bulk: LoadResult
    bulk_during_reads: Decisions
    checks: list[Check] = field(init=False)

    def __post_init__(self):
        decisions = (self.single, self.bulk, self.bulk_during_reads)
        self.checks = [
            Check("list page p99 / idle ping p99", round(self.list_ratio, 2), "<= 10",
                  self.list_ratio <= 10 and self.pings_failed == 0),
            Check("bulk items/s / single items/s", round(self.bulk_ratio, 2), ">= 10",
                  self.bulk_ratio >= 10),
            Check("decisions made", sum(d.succeeded for d in decisions),
                  f"== {sum(d.items for d in decisions)}",
                  all(d.succeeded == d.items for d in decisions)),
            Check("family page p99 during a bulk call / idle", round(self.read_ratio, 2),
                  "<= 3", self.read_ratio <= 3 and self.reads_idle.errors == 0
                  and self.reads_during_bulk.errors == 0),
        ]

    @property
    def list_ratio(self) -> float:
        return self.lists.latency.p99_ms / self.pings.p99_ms

    @property
    def bulk_ratio(self) -> float:
        return self.bulk.per_s / self.single.per_s

    @property
    def read_ratio(self) -> float:
        return self.reads_during_bulk.latency.p99_ms / self.reads_idle.latency.p99_ms

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def _passed(self, *names: str) -> bool:
        return all(c.passed for c in self.checks if c.name in names)

    def to_json(self) -> dict:
        data = asdict(self)
        data["load"]["per_s"] = self.load.per_s
        for key in ("single", "bulk", "bulk_during_reads"):
            data[key]["per_s"] = getattr(self, key).per_s
        data["ratios"] = {"list_p99 / ping_p99_idle": self.list_ratio,
                          "bulk_items_per_s / single_items_per_s": self.bulk_ratio,
                          "family_page_p99_during_bulk / idle": self.read_ratio}
        data["passed"] = self.passed
        return data

    def markdown(self) -> str:
        mark = {True: "✅", False: "❌"}
        load, lists, single, bulk = self.load, self.lists, self.single, self.bulk
        idle, busy, during = self.reads_idle, self.reads_during_bulk, self.bulk_during_reads
        rows = [
            (f"Load: {load.applications:,} applications over {load.districts} districts "
             f"({load.versions:,} versions), sealed as enrollment seals them, COPY from "
             f"{load.workers} processes, then ANALYZE",
             f"**{load.seconds:.1f} s** ({load.per_s:,.0f} applications/s)", "", "", ""),
            (f"`accounts.ping()` (SELECT 1) over RPC, idle ({self.pings.count} sequential "
             "calls)",
             f"p50 {self.pings.p50_ms:.1f} ms, p99 {self.pings.p99_ms:.1f} ms"
             f"{_failed(self.pings_failed)}", "1", "", ""),
            (f"`district_list_applications`, pages of {lists.page_rows} as the district "
             f"systems of {', '.join(lists.districts)} ({lists.calls} calls one at a time, "
             f"{lists.rows:,} rows), each filter paged through",
             f"p50 {lists.latency.p50_ms:.1f} ms, p99 {lists.latency.p99_ms:.1f} ms (p99 by "
             "filter: " + "; ".join(f"{label} {ms:.0f} ms"
                                    for label, ms in lists.p99_by_filter_ms.items()) + ")",
             f"p99 **{self.list_ratio:.2f}** × idle ping", "p99 ≤ 10 × idle ping",
             mark[self._passed("list page p99 / idle ping p99")]),
            (f"`district_review_item`, {single.calls} calls one at a time, each the first "
             "item of a fresh reviewable application (非本市户籍, verified, not started)",
             f"**{single.per_s:.1f} items/s**; {single.succeeded}/{single.items} made; call "
             f"p50 {single.latency.p50_ms:.1f} ms, p99 {single.latency.p99_ms:.1f} ms",
             "1", "", ""),
            (f"`district_bulk_review`, one call of {bulk.items:,} such items",
             f"**{bulk.per_s:.1f} items/s** ({bulk.seconds:.2f} s); "
             f"{bulk.succeeded}/{bulk.items} made",
             f"**{self.bulk_ratio:.1f}** × one at a time", "≥ 10 × one at a time",
             mark[self._passed("bulk items/s / single items/s", "decisions made")]),
            self._read_row(idle, "idle", "1", "", ""),
            self._read_row(
                busy, f"while {during.calls} `district_bulk_review` calls of "
                      f"{during.items // during.calls:,} items ran back to back "
                      f"({during.seconds:.1f} s, {during.succeeded}/{during.items} made)",
                f"p99 **{self.read_ratio:.2f}** × idle", "p99 ≤ 3 × idle",
                mark[self._passed("family page p99 during a bulk call / idle",
                                  "decisions made")]),
        ]
        return "\n".join(_results_table(self.machine, rows, self.passed)) + "\n"

    @staticmethod
    def _read_row(reads: LoadResult, when: str, ratio: str, target: str, passed: str):
        return (f"GET /api/v1/journey, {reads.clients} signed-in families, 1 request/s each, "
                f"{when}, {reads.duration_s:.0f} s",
                f"{reads.throughput_rps:.0f} req/s, p50 {reads.latency.p50_ms:.0f} ms, p99 "
                f"{reads.latency.p99_ms:.0f} ms, {reads.errors} errors", ratio, target, passed)

    def write(self, directory: Path = RESULTS) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "districts.json").write_text(json.dumps(self.to_json(), indent=2,
                                                             ensure_ascii=False) + "\n")
        (directory / "districts.md").write_text(self.markdown())


# The documents benchmark (bench/documents.py) --------------------------------------------------
@dataclass
class DocumentsReport:
    machine: Machine
    warm_renders: int  # one form rendered again and again, in-process
    warm_p50_ms: float
    warm_p95_ms: float
    cjk_p50_ms: float  # the form as printed, alternating with
    latin_p50_ms: float  # the same layout with every CJK character of its data Latin
    largest_bytes: int  # of every form served
    pings: Latency  # `accounts.ping()`, idle
    pings_during: Latency  # while the concurrent downloads ran
    pings_failed: int
    ahead_seconds: float  # until every family's form was rendered ahead
    pings_ahead: Latency  # meanwhile
    downloads: Latency  # `get_form`, each of a family whose form was rendered ahead
    downloads_failed: int
    renders: int  # forms the service rendered before its memory was read
    rss_kib: int  # the documents service and its render workers
    checks: list[Check] = field(init=False)

    def __post_init__(self):
        self.checks = [
            Check("CJK form p50 / Latin form p50", round(self.cjk_ratio, 2), "<= 1.5",
                  self.cjk_ratio <= 1.5),
            Check("largest form (bytes)", self.largest_bytes, "<= 200000",
                  self.largest_bytes <= 200_000),
            Check("ping p99 during downloads / idle", round(self.ping_ratio, 2), "<= 3",
                  self.ping_ratio <= 3 and self.pings_failed == 0
                  and self.downloads_failed == 0),
            Check("documents RSS after renders (MiB)", round(self.rss_kib / 1024), "<= 1024",
                  self.rss_kib <= 1024 * 1024),
        ]

    @property
    def cjk_ratio(self) -> float:
        return self.cjk_p50_ms / self.latin_p50_ms

    @property
    def ping_ratio(self) -> float:
        return self.pings_during.p99_ms / self.pings.p99_ms

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_json(self) -> dict:
        data = asdict(self)
        data["ratios"] = {"cjk_p50 / latin_p50": self.cjk_ratio,
                          "ping_p99_during_downloads / idle": self.ping_ratio}
        data["passed"] = self.passed
        return data

    def markdown(self) -> str:
        mark = {check.name: {True: "✅", False: "❌"}[check.passed] for check in self.checks}
        rows = [
            (f"One form rendered again, in-process ({self.warm_renders} times, warm)",
             f"p50 {self.warm_p50_ms:.0f} ms, **p95 {self.warm_p95_ms:.0f} ms**", "", "", ""),
            ("The form as printed (CJK) against the same layout with its data in Latin text",
             f"p50 {self.cjk_p50_ms:.0f} ms against {self.latin_p50_ms:.0f} ms",
             f"**{self.cjk_ratio:.2f}** ×", "≤ 1.5 ×", mark["CJK form p50 / Latin form p50"]),
            ("The largest form served", f"**{self.largest_bytes / 1000:.0f} KB**", "",
             "≤ 200 KB", mark["largest form (bytes)"]),
            (f"`accounts.ping()` over RPC, idle ({self.pings.count} calls)",
             f"p50 {self.pings.p50_ms:.1f} ms, p99 {self.pings.p99_ms:.1f} ms", "1", "", ""),
            (f"{self.renders} families ready to print at once: their forms rendered ahead",
             f"all stored in {self.ahead_seconds:.0f} s "
             f"({self.renders / self.ahead_seconds:.1f} forms/s); pings meanwhile p99 "
             f"{self.pings_ahead.p99_ms:.1f} ms",
             f"ping p99 {self.pings_ahead.p99_ms / self.pings.p99_ms:.2f} × idle", "", ""),
            (f"{self.downloads.count} concurrent `get_form` over RPC"
             f"{_failed(self.downloads_failed)}",
             f"p50 {self.downloads.p50_ms:.0f} ms, p99 {self.downloads.p99_ms:.0f} ms; pings "
             f"meanwhile p99 {self.pings_during.p99_ms:.1f} ms{_failed(self.pings_failed)}",
             f"ping p99 **{self.ping_ratio:.2f}** × idle", "≤ 3 × idle",
             mark["ping p99 during downloads / idle"]),
            (f"RSS of the documents service and its workers after {self.renders} renders",
             f"**{self.rss_kib / 1024:.0f} MiB**", "", "≤ 1 GiB",
             mark["documents RSS after renders (MiB)"]),
        ]
        return "\n".join(_results_table(self.machine, rows, self.passed)) + "\n"

    def write(self, directory: Path = RESULTS) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "documents.json").write_text(json.dumps(self.to_json(), indent=2,
                                                             ensure_ascii=False) + "\n")
        (directory / "documents.md").write_text(self.markdown())


# The opening-day benchmark (bench/opening_day.py) ----------------------------------------------
@dataclass(frozen=True)
class StatusReads:
    """The signed-in families' status reads (GET `path`) over one phase, paced: each family
    one read every families / offered_per_s seconds, timed from when it was due."""
    path: str
    families: int
    offered_per_s: float
    seconds: float  # from the phase's start until the reads were stopped
    due: int  # reads due meanwhile
    sent: int
    served: int  # answered 200
    refused: dict[str, int]  # the other answers, by status (0: none, the connection failed)
    latency: Latency  # of the 200s, from when each was due

    @property
    def served_share(self) -> float:
        """Answered 200 / due: a read never sent (its family still waited for an earlier
        answer when the phase ended) is not served either."""
        return self.served / self.due if self.due else math.nan

    @property
    def served_per_s(self) -> float:
        return self.served / self.seconds

    @property
    def refused_count(self) -> int:
        return sum(self.refused.values())

    @property
    def unsent(self) -> int:
        return max(0, self.due - self.sent)


@dataclass(frozen=True)
class Retries:
    """Families that honour retry_after_s: each sends again after a 503 (with its ticket, if
    the 503 gave one) until a final answer or its give-up time."""
    give_up_s: float
    families: int
    registered: int  # eventually
    outcomes: dict[str, int]  # each family's last answer: "201", "gave up", "409 CODE", ...
    to_registered: Latency  # from the family's arrival to its 201
    retries_mean: float  # requests per family after its first
    retries_max: int
    ticket_holders: int  # families that got a queue_ticket at least once
    overtaken: int  # ticket holders registered later (or never) than a later ticket holder
    overtaking_pairs: int  # (earlier, later) ticket holders in that order
    overtaken_by: Latency  # of the overtaken registered: the first later holder's lead
    slack_ms: float  # "later" means by more than this (the registrations' p99 at R)


@dataclass(frozen=True)
class Offered:
    """Registrations offered during one phase (POST /api/v1/accounts), the reads meanwhile."""
    name: str  # "sustainable", "1.2 × R", ...
    shape: str  # "closed", "open" or "retrying"
    offered_per_s: float  # arrivals/s (open loop), requests sent/s (closed loop)
    seconds: float  # the window: of the arrivals (open loop), until the last answer (closed)
    families: int  # prepared bodies sent at least once
    requests: int  # in all, retries included
    registered: int  # answered 201 within the window
    counted_s: float  # from the first 201 until the window's end
    registered_all: int  # answered 201 at all
    until_last_s: float  # from the start until the last answer
    refused: dict[str, int]  # 503 answers by the body's code (QUEUED, SERVICE_UNAVAILABLE)
    other: dict[str, int]  # any other answer than 201 and 503: "status CODE" (0: no answer)
    latency: Latency  # of the 201s: from the arrival or retry time (open loop), the send
    refusal_latency: Latency  # of the 503s, timed likewise
    send_lag: Latency  # how late the load generator sent each family's first request
    reads: StatusReads
    cpu: CpuUse
    connections: int  # the load generator opened for the registrations
    settle_s: float  # waited before the phase for the previous one's backlog to clear
    retries: Retries | None = None

    @property
    def registered_per_s(self) -> float:
        """201s answered within the window, over the time from the first one to its end."""
        return self.registered / self.counted_s if self.counted_s > 0 else 0.0

    @property
    def refused_count(self) -> int:
        return sum(self.refused.values())


@dataclass
class OpeningDayReport:
    machine: Machine
    hashes_per_s: float  # bare argon2id on two threads, just before the sustainable phase
    hash_cores: float  # the cores those threads got
    idle: StatusReads  # the reads alone: their baseline
    idle_cpu: CpuUse
    sustainable: Offered  # closed loop: R and its p99, the registrations' baseline
    overloads: list[Offered]  # open loop at 1.2 × R and 2 × R
    retrying: Offered  # 2 × R, the families honouring retry_after_s
    checks: list[Check] = field(init=False)

    def __post_init__(self):
        self.checks = []
        for phase in self.overloads:
            goodput, p99 = self.goodput_ratio(phase), self.p99_ratio(phase)
            self.checks += [
                Check(f"goodput at {phase.name} / R", round(goodput, 3), ">= 0.9",
                      goodput >= 0.9),
                Check(f"registration p99 at {phase.name} / at R", round(p99, 2), "<= 2",
                      p99 <= 2)]
        for phase in self.loaded:
            share, p99 = phase.reads.served_share, self.read_ratio(phase.reads)
            self.checks += [
                Check(f"reads served, {phase.name}", round(share, 4), ">= 0.99",
                      share >= 0.99),
                Check(f"read p99, {phase.name} / idle", round(p99, 2), "<= 3", p99 <= 3)]

    @property
    def loaded(self) -> list[Offered]:
        return [self.sustainable, *self.overloads, self.retrying]

    @property
    def r_per_s(self) -> float:
        return self.sustainable.registered_per_s

    def goodput_ratio(self, phase: Offered) -> float:
        return phase.registered_per_s / self.r_per_s

    def p99_ratio(self, phase: Offered) -> float:
        return phase.latency.p99_ms / self.sustainable.latency.p99_ms

    def read_ratio(self, reads: StatusReads) -> float:
        return reads.latency.p99_ms / self.idle.latency.p99_ms

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_json(self) -> dict:
        data = asdict(self)
        data["r_per_s"] = self.r_per_s
        data["r_per_s / hashes_per_s"] = self.r_per_s / self.hashes_per_s
        data["idle"]["served_share"] = self.idle.served_share
        for phase, out in zip(self.loaded, [data["sustainable"], *data["overloads"],
                                            data["retrying"]], strict=True):
            out["registered_per_s"] = phase.registered_per_s
            out["reads"]["served_share"] = phase.reads.served_share
            out["ratios"] = {"registered_per_s / R": self.goodput_ratio(phase),
                             "registration_p99 / p99_at_R": self.p99_ratio(phase),
                             "read_p99 / idle_read_p99": self.read_ratio(phase.reads)}
        data["passed"] = self.passed
        return data

    # the Markdown --------------------------------------------------------------------------
    def markdown(self) -> str:
        idle, s = self.idle, self.sustainable
        lines = [f"Machine: {self.machine.describe()}.", "",
                 f"Status reads: {idle.families} signed-in families each GET {idle.path} "
                 f"once every {idle.families / idle.offered_per_s:g} s "
                 f"({idle.offered_per_s:g} reads/s offered, staggered), timed from when each "
                 "was due; served = answered 200 / due. Registrations: POST /api/v1/accounts, "
                 f"each phase's families prepared just before it. R = **{self.r_per_s:.1f} "
                 f"registrations/s** (closed loop, {s.latency.count} registered, p99 "
                 f"{s.latency.p99_ms:.0f} ms; {self.r_per_s / self.hashes_per_s:.2f} × the "
                 f"bare argon2id rate on two threads just before, {self.hashes_per_s:.1f} "
                 f"hashes/s on {self.hash_cores:.2f} cores): the rates and registration "
                 "latencies below are against R and its p99, the reads' against their idle p50 "
                 "and p99.", "",
                 "| offered registrations | registered | refused (503) | other answers "
                 "| registration p50 / p99 | status reads served | reads refused "
                 "| read p50 / p99 |", "|---|---|---|---|---|---|---|---|"]
        lines.append("| none (status reads only, "
                     f"{idle.seconds:.0f} s) | | | | | {self._served(idle)} | "
                     f"{self._refused(idle)} | {idle.latency.p50_ms:.0f} / "
                     f"{idle.latency.p99_ms:.0f} ms (1 / 1) |")
        for phase in self.loaded:
            lines.append("| " + " | ".join(self._cells(phase)) + " |")
        lines += ["", *self._retry_lines(), "", self._generator_line(), "",
                  "| Target | Measured | Against (same run) | Ratio | |", "|---|---|---|---|---|"]
        lines += [self._target_row(check) for check in self.checks]
        lines += ["", f"All targets met: {'yes' if self.passed else 'no'}.", ""]
        lines += self._cpu_lines()
        return "\n".join(lines) + "\n"

    def _cells(self, phase: Offered) -> list[str]:
        r_p50, r_p99 = self.sustainable.latency.p50_ms, self.sustainable.latency.p99_ms
        if phase.shape == "closed":
            offered = (f"sustainable: closed loop, {phase.connections} at a time "
                       f"({phase.offered_per_s:.1f} sent/s, {phase.seconds:.0f} s)")
            registered = (f"**{phase.registered_per_s:.1f}/s** = R; "
                          f"{phase.registered}/{phase.families}")
        else:
            multiple = phase.offered_per_s / self.r_per_s
            offered = (f"{phase.name}: {phase.offered_per_s:.1f}/s open loop "
                       f"({multiple:.2f} × R), {phase.families} arrivals in "
                       f"{phase.seconds:.0f} s, {phase.connections} connections")
            registered = (f"**{phase.registered_per_s:.1f}/s** (**{self.goodput_ratio(phase):.2f}"
                          f"** × R): {phase.registered} from the first 201 at "
                          f"{phase.seconds - phase.counted_s:.1f} s to the arrivals' end; "
                          f"{phase.registered_all} in all by {phase.until_last_s:.0f} s")
        if phase.retries:
            offered += ", clients honour retry_after_s"
            retries = phase.retries
            registered += (f" ({phase.registered_all / phase.until_last_s:.1f}/s, "
                           f"{phase.registered_all / self.r_per_s / phase.until_last_s:.2f} × "
                           f"R); {retries.registered / retries.families:.1%} of the families "
                           "registered")
        refused = f"{phase.refused_count}" + (
            f" ({_counts(phase.refused)}; p99 {phase.refusal_latency.p99_ms:.0f} ms, "
            f"{phase.refusal_latency.p99_ms / r_p99:.2f} × R's p99)" if phase.refused else "")
        if phase.retries:
            refused += f" over {phase.requests} requests"
        other = f"**{sum(phase.other.values())}**: {_counts(phase.other)}" if phase.other \
            else "0"
        lat = phase.latency
        latency = (f"{lat.p50_ms:.0f} / {lat.p99_ms:.0f} ms ({lat.p50_ms / r_p50:.2f} / "
                   f"**{lat.p99_ms / r_p99:.2f}** × R's)")
        if phase.retries:
            to = phase.retries.to_registered
            latency += (f"; from arrival to 201: {to.p50_ms / 1e3:.1f} / "
                        f"{to.p99_ms / 1e3:.1f} s")
        reads = phase.reads
        read = (f"{reads.latency.p50_ms:.0f} / {reads.latency.p99_ms:.0f} ms "
                f"({reads.latency.p50_ms / self.idle.latency.p50_ms:.2f} / "
                f"**{self.read_ratio(reads):.2f}** × idle)")
        return [offered, registered, refused, other, latency, self._served(reads),
                self._refused(reads), read]

    @staticmethod
    def _served(reads: StatusReads) -> str:
        return (f"{reads.served_per_s:.1f}/s, **{reads.served_share:.2%}** of {reads.due} due"
                + (f" ({reads.unsent} never sent: the family still waited)" if reads.unsent
                   else ""))

    @staticmethod
    def _refused(reads: StatusReads) -> str:
        if not reads.refused:
            return "0"
        return (f"{reads.refused_count} ({reads.refused_count / reads.due:.2%}: "
                f"{_counts(reads.refused)})")

    def _retry_lines(self) -> list[str]:
        phase, retries = self.retrying, self.retrying.retries
        return [
            f"Honouring retry_after_s ({phase.name}, giving up {retries.give_up_s:g} s after "
            f"arriving): {retries.registered} of {retries.families} families registered "
            f"({retries.registered / retries.families:.1%}); last answers: "
            f"{_counts(retries.outcomes)}. Requests per family after the first: mean "
            f"{retries.retries_mean:.2f}, max {retries.retries_max}. From arrival to 201: p50 "
            f"{retries.to_registered.p50_ms / 1e3:.2f} s, p99 "
            f"{retries.to_registered.p99_ms / 1e3:.2f} s. {retries.ticket_holders} families "
            "got a queue_ticket; fairness among them: "
            f"**{retries.overtaken} overtaken** (registered more than {retries.slack_ms:.0f} "
            "ms, R's p99, after a ticket holder that arrived later, or never registered while "
            f"one did), {retries.overtaking_pairs} such pairs; those registered were overtaken "
            f"by p50 {retries.overtaken_by.p50_ms / 1e3:.1f} s, p99 "
            f"{retries.overtaken_by.p99_ms / 1e3:.1f} s, at most "
            f"{retries.overtaken_by.max_ms / 1e3:.1f} s (the first later holder's lead)."]

    def _generator_line(self) -> str:
        opened = [p for p in self.loaded if p.shape != "closed"]
        return ("Before each phase the platform settled (three fast reads in a row) in "
                + ", ".join(f"{p.settle_s:.1f} s" for p in self.loaded)
                + ". The load generator sent the open loops' arrivals late by p99 "
                + ", ".join(f"{p.send_lag.p99_ms:.0f} ms" for p in opened)
                + f" ({', '.join(p.name for p in opened)}).")

    def _target_row(self, check: Check) -> str:
        mark = {True: "✅", False: "❌"}[check.passed]
        name = check.name
        if name.startswith("goodput"):
            phase = self._phase(name.removeprefix("goodput at ").removesuffix(" / R"))
            return (f"| Registered/s at {phase.name} | {phase.registered_per_s:.1f}/s | "
                    f"≥ 0.9 × R ({self.r_per_s:.1f}/s) | **{check.value:.2f}** | {mark} |")
        if name.startswith("registration p99"):
            phase = self._phase(name.removeprefix("registration p99 at ")
                                .removesuffix(" / at R"))
            return (f"| Registration p99 at {phase.name} | {phase.latency.p99_ms:.0f} ms | "
                    f"≤ 2 × p99 at R ({self.sustainable.latency.p99_ms:.0f} ms) | "
                    f"**{check.value:.2f}** | {mark} |")
        if name.startswith("reads served"):
            phase = self._phase(name.removeprefix("reads served, "))
            return (f"| Status reads served, {phase.name} | {phase.reads.served}/"
                    f"{phase.reads.due} | ≥ 99 % | **{check.value:.2%}** | {mark} |")
        phase = self._phase(name.removeprefix("read p99, ").removesuffix(" / idle"))
        return (f"| Status read p99, {phase.name} | {phase.reads.latency.p99_ms:.0f} ms | "
                f"≤ 3 × idle p99 ({self.idle.latency.p99_ms:.0f} ms) | **{check.value:.2f}** | "
                f"{mark} |")

    def _phase(self, name: str) -> Offered:
        return next(phase for phase in self.loaded if phase.name == name)

    def _cpu_lines(self) -> list[str]:
        lines = ["| CPU: cores busy | " + " | ".join(PARTS)
                 + " | these parts | whole machine |", "|---" * (len(PARTS) + 3) + "|"]
        for name, use in [("status reads only", self.idle_cpu),
                          *((phase.name, phase.cpu) for phase in self.loaded)]:
            lines.append(f"| {name} | " + " | ".join(f"{use.seconds[part] / use.wall_s:.2f}"
                                                     for part in PARTS)
                         + f" | {use.cores:.2f} | {use.machine_cores:.2f} |")
        return lines + ["", "CPU from /proc over each phase (its settling and preparation "
                            f"excluded), {self.machine.nproc} cores available; RabbitMQ is in "
                            "the whole machine's figure only."]

    def write(self, directory: Path = RESULTS) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "opening_day.json").write_text(json.dumps(self.to_json(), indent=2,
                                                               ensure_ascii=False) + "\n")
        (directory / "opening_day.md").write_text(self.markdown())


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} × {n}" for key, n in sorted(counts.items(), key=lambda kv: -kv[1]))
