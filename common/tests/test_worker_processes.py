"""CPU work in worker processes (common/edge/processes.py): the event loop keeps ticking while
they work, a worker is replaced after its share of tasks and after a failure."""

from __future__ import annotations

import math
import os
import signal
import time

import eventlet
import pytest

from common.edge.processes import WorkerFailed, WorkerPool

TARGET = "common.tests.test_worker_processes:spin"


def spin(seconds: float) -> int:
    """The target: CPU for `seconds` (negative: raises; NaN: the worker dies); its pid."""
    if math.isnan(seconds):
        os.kill(os.getpid(), signal.SIGKILL)
    if seconds < 0:
        raise ValueError("negative")
    started = time.process_time()
    while time.process_time() - started < seconds:
        math.sqrt(2)
    return os.getpid()


@pytest.fixture
def pool():
    pool = WorkerPool(TARGET, size=2, tasks_per_worker=3, timeout_s=30)
    pool.start()
    yield pool
    pool.stop()


def test_the_hub_keeps_ticking_while_workers_compute(pool):
    longest = [0.0]

    def ticker():
        last = time.monotonic()
        while True:
            eventlet.sleep(0.005)
            now = time.monotonic()
            longest[0], last = max(longest[0], now - last), now
    ticking = eventlet.spawn(ticker)
    pids = list(eventlet.GreenPool(8).imap(pool.run, [0.2] * 8))
    ticking.kill()
    assert os.getpid() not in pids
    assert longest[0] < 0.1


def test_a_worker_is_replaced_after_its_tasks_and_after_a_failure(pool):
    first = {pool.run(0.0) for _ in range(6)}
    assert len(first) >= 2  # each worker took at most 3
    with pytest.raises(WorkerFailed, match="ValueError: negative"):
        pool.run(-1)
    with pytest.raises(WorkerFailed, match="exited"):
        pool.run(math.nan)
    assert pool.run(0.0) > 0
    assert len(pool.pids) == 2
