"""`python -m bench.floor`: the CPU floor of one registration's messages in this architecture.

Starts bench/floor_services.py (three bare nameko services on their own RabbitMQ vhost), sends
3,000 POSTs with 24 in flight, as the registration phase of `make bench` does, and reports the
CPU each process, the RabbitMQ broker and the whole machine spent per request. Compare with the
per-registration CPU in bench/results/latest.md: what is above this floor is the platform's
own work (database, hashing, rules, logging, metrics); this floor no code of ours can remove.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.cpu import machine_busy_s, threads_cpu_s
from bench.httpload import post_all
from bench.report import ROOT
from tests.support.infra import drop_amqp_vhost, make_amqp_vhost

PORT = 8093
SERVICES = ("FloorGateway", "FloorAccounts", "FloorNotify")
REQUESTS = 3000
CONCURRENCY = 24


def _pids_named(fragment: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if fragment in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


def _cpu_s(pid: int) -> float:
    return sum(threads_cpu_s(pid).values())


def main() -> int:
    amqp = make_amqp_vhost()
    procs = []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            config = Path(scratch) / "floor.yaml"
            config.write_text(json.dumps({"AMQP_URI": amqp,
                                          "WEB_SERVER_ADDRESS": f"127.0.0.1:{PORT}"}))
            for service in SERVICES:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "nameko", "run", "--config", str(config),
                     f"bench.floor_services:{service}"], cwd=ROOT,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            url = f"http://127.0.0.1:{PORT}/op"
            for _ in range(100):  # until the three are up
                time.sleep(0.3)
                try:
                    if post_all(url, [(b"{}", {})], 1)[0][0] == 201:
                        break
                except OSError:
                    pass
            post_all(url, [(b"{}", {})] * 300, CONCURRENCY)  # warm up
            broker = _pids_named("beam.smp")
            before = {p.pid: _cpu_s(p.pid) for p in procs}
            broker_before = sum(_cpu_s(pid) for pid in broker)
            machine_before = machine_busy_s()
            started = time.perf_counter()
            answers = post_all(url, [(b'{"family": "x"}', {})] * REQUESTS, CONCURRENCY)
            wall = time.perf_counter() - started
            machine = machine_busy_s() - machine_before
            broker_s = sum(_cpu_s(pid) for pid in broker) - broker_before
            parts = {name: _cpu_s(p.pid) - before[p.pid] for name, p in zip(SERVICES, procs,
                                                                            strict=True)}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)
        drop_amqp_vhost(amqp)
    ok = sum(1 for status, _, _ in answers if status == 201)
    per_op = {name: s / REQUESTS * 1e3 for name, s in parts.items()}
    print(f"{ok}/{REQUESTS} answered 201 in {wall:.1f} s: {REQUESTS / wall:.0f} requests/s")
    for name, ms in per_op.items():
        print(f"  {name:14s} {ms:5.2f} ms CPU per request")
    print(f"  {'RabbitMQ':14s} {broker_s / REQUESTS * 1e3:5.2f} ms")
    print(f"  {'three services':14s} {sum(per_op.values()):5.2f} ms; with RabbitMQ "
          f"{sum(per_op.values()) + broker_s / REQUESTS * 1e3:5.2f} ms; whole machine "
          f"{machine / REQUESTS * 1e3:5.2f} ms (load generator and everyone else included)")
    return 0 if ok == REQUESTS else 1


if __name__ == "__main__":
    sys.exit(main())
