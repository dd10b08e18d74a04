"""CPU time used by each part of the platform during a phase, from /proc (Linux), and by the
whole machine (/proc/stat), so that a phase disturbed by other users of a shared machine shows.

Each process of common/registry.py is a part; the accounts process is split into its main
thread (the eventlet hub: all the Python work) and its other threads (eventlet's tpool: argon2
and captcha rendering). PostgreSQL counts only the
backends serving the bench's own database. RabbitMQ is left out: the broker is shared with other
users of the machine, so its CPU time cannot be attributed to this run.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from common.registry import PROCESSES

TICK_S = 1 / os.sysconf("SC_CLK_TCK")
OFFLOADING = "accounts"  # the process whose offload threads are a part of their own
PARTS = (*(part for name in PROCESSES for part in (
    (f"{name} hub", f"{name} offload threads") if name == OFFLOADING else (name,))),
    "postgres", "load generator")


def _stat_cpu_s(stat_path: Path) -> float:
    fields = stat_path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S  # utime + stime


def with_children_cpu_s(pid: int) -> float:
    """A process's CPU and its live children's: a service's expensive process counts as the
    service's (common/edge/expensive_process.py)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = _stat_cpu_s(Path(f"/proc/{pid}/stat"))
    for child in children:
        try:
            total += _stat_cpu_s(Path(f"/proc/{child}/stat"))
        except OSError:  # a child that just ended
            pass
    return total


def threads_cpu_s(pid: int) -> dict[int, float]:
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out[int(task.name)] = _stat_cpu_s(task / "stat")
        except (OSError, ValueError):  # a thread that just ended
            pass
    return out


def machine_busy_s() -> float:
    """CPU seconds all cores spent on anything but idle and I/O wait since boot."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
    return (user + nice + system + irq + softirq + steal) * TICK_S


def _postgres_cpu_s(database: str) -> float:
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            title = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if title.startswith("postgres: ") and f" {database} " in title:
                total += _stat_cpu_s(proc / "stat")
        except OSError:
            pass
    return total


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds per part over `wall_s` seconds, for `operations` operations; `machine_s`:
    CPU seconds of the whole machine meanwhile (the parts, RabbitMQ, and everyone else)."""
    seconds: dict[str, float]
    wall_s: float
    operations: int
    machine_s: float

    def per_operation_ms(self) -> dict[str, float]:
        return {part: s / self.operations * 1e3 for part, s in self.seconds.items()}

    @classmethod
    def combined(cls, uses: list[CpuUse]) -> CpuUse:
        """One phase measured in several pieces, as if it had been one."""
        return cls({part: round(sum(u.seconds[part] for u in uses), 3) for part in PARTS},
                   round(sum(u.wall_s for u in uses), 3), sum(u.operations for u in uses),
                   round(sum(u.machine_s for u in uses), 3))

    @property
    def total_s(self) -> float:
        return sum(self.seconds.values())

    @property
    def cores(self) -> float:
        """Mean number of cores the measured parts kept busy."""
        return self.total_s / self.wall_s

    @property
    def machine_cores(self) -> float:
        """Mean number of cores busy on the whole machine."""
        return self.machine_s / self.wall_s


class CpuMeter:
    """`meter.start()`, run a phase, then `meter.stop(operations)` gives its CpuUse.

    `procs`: the platform's processes by name, read at each snapshot: a process stopped for
    a whole phase counts no CPU (one restarted within a phase would be miscounted)."""

    def __init__(self, procs: Mapping[str, subprocess.Popen], database: str):
        self.procs = procs
        self.database = database
        self._before: dict[str, float] = {}
        self._started = 0.0

    def snapshot(self) -> dict[str, float]:
        seconds = {"machine": machine_busy_s()}
        for name in PROCESSES:
            if name not in self.procs:
                seconds[name] = 0.0
                continue
            pid = self.procs[name].pid
            if name == OFFLOADING:
                threads = threads_cpu_s(pid)
                seconds[f"{name} hub"] = threads.pop(pid, 0.0)
                # tpool threads live as long as the process, so none is lost between snapshots
                seconds[f"{name} offload threads"] = sum(threads.values())
            else:
                seconds[name] = with_children_cpu_s(pid)
        me = os.times()
        seconds["postgres"] = _postgres_cpu_s(self.database)
        seconds["load generator"] = me.user + me.system  # the bench process (not the ping probe)
        return seconds

    def start(self) -> None:
        self._before = self.snapshot()
        self._started = time.perf_counter()

    def stop(self, operations: int) -> CpuUse:
        wall = time.perf_counter() - self._started
        after = self.snapshot()
        used = {part: round(after[part] - self._before[part], 3) for part in PARTS}
        return CpuUse(used, round(wall, 3), operations,
                      round(after["machine"] - self._before["machine"], 3))
