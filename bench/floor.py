"""`python -m bench.floor`: the CPU floor of one registration's messages in this architecture.

Starts bench/floor_services.py (three bare nameko services on their own RabbitMQ vhost), sends
3,000 POSTs with 24 in flight, as the registration phase of `make bench` does, and reports the
CPU each process, the RabbitMQ broker and the whole machine spent per request. Compare with the
per-registration CPU in bench/results/latest.md: what is above this floor is the platform's
own work (database, hashing, rules, logging, metrics); this floor no code of ours can remove.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.baseline import hash_rate
from bench.cpu import machine_busy_s, threads_cpu_s
from bench.httpload import post_all
from bench.report import ROOT
from common.cores import offload_threads
from tests.support.infra import drop_amqp_vhost, make_amqp_vhost

PORT = 8093
SERVICES = ("FloorGateway", "FloorAccounts", "FloorNotify")
REQUESTS = 3000
HASHED_REQUESTS = 600  # as many as the registrations of `make bench`
HASHES = 200
# The hashing's OS threads, as common/edge/launcher.py sets them for the platform.
THREADS_AS_PLATFORM = {"EVENTLET_THREADPOOL_SIZE": str(offload_threads())}
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


def _measure(url: str, requests: int, procs: list, broker: list[int]) -> dict:
    """Sends `requests` POSTs, `CONCURRENCY` in flight; CPU ms per request by part."""
    before = {p.pid: _cpu_s(p.pid) for p in procs}
    broker_before = sum(_cpu_s(pid) for pid in broker)
    machine_before = machine_busy_s()
    started = time.perf_counter()
    answers = post_all(url, [b'{"family": "x"}'] * requests, [None] * CONCURRENCY)
    wall = time.perf_counter() - started
    per_op = {name: (_cpu_s(p.pid) - before[p.pid]) / requests * 1e3
              for name, p in zip(SERVICES, procs, strict=True)}
    per_op["RabbitMQ"] = (sum(_cpu_s(pid) for pid in broker) - broker_before) / requests * 1e3
    return {"ok": sum(1 for answer in answers if answer.status == 201), "requests": requests,
            "per_s": requests / wall, "cpu_ms": per_op,
            "machine_ms": (machine_busy_s() - machine_before) / requests * 1e3}


def _report(title: str, run: dict) -> None:
    print(f"{title}: {run['ok']}/{run['requests']} answered 201, {run['per_s']:.1f} requests/s")
    for name, ms in run["cpu_ms"].items():
        print(f"  {name:14s} {ms:6.2f} ms CPU per request")
    print(f"  {'all of these':14s} {sum(run['cpu_ms'].values()):6.2f} ms; whole machine "
          f"{run['machine_ms']:6.2f} ms (load generator and everyone else included)")


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
                    env={**os.environ, **THREADS_AS_PLATFORM},
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            url = f"http://127.0.0.1:{PORT}/op"
            for _ in range(100):  # until the three are up
                time.sleep(0.3)
                try:
                    if post_all(url, [b"{}"], [None])[0].status == 201:
                        break
                except OSError:
                    pass
            post_all(url, [b"{}"] * 300, [None] * CONCURRENCY)  # warm up
            broker = _pids_named("beam.smp")
            messages = _measure(url, REQUESTS, procs, broker)
            before, _ = hash_rate(HASHES, threads=2)
            hashed = _measure(url + "-hashed", HASHED_REQUESTS, procs, broker)
            after, _ = hash_rate(HASHES, threads=2)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)
        drop_amqp_vhost(amqp)
    _report("Messages only (/op)", messages)
    _report("Messages and the password hash (/op-hashed)", hashed)
    baseline = (before + after) / 2
    print(f"Bare argon2id hash rate on 2 threads: {before:.1f} before, {after:.1f} after, "
          f"{baseline:.1f} mean.")
    print(f"Hashed requests/s against it: {hashed['per_s'] / baseline:.2f} "
          f"(the platform's registrations must reach 0.6).")
    return 0 if messages["ok"] == REQUESTS and hashed["ok"] == HASHED_REQUESTS else 1


if __name__ == "__main__":
    sys.exit(main())
