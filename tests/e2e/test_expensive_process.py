"""Enrollment serves its expensive methods (a district's bulk calls, a publication, an import)
from a process of its own at the lowest CPU priority (common/edge/expensive_process.py), which
lives and dies with the service's own process."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest
import requests

from services.enrollment.contract import BulkReview, ItemDecision
from tests.support.infra import district_clients

ADMITTED = ('platform_admissions_total{cost="expensive",outcome="admitted",'
            'process="enrollment-expensive"}')


def children(pid: int) -> list[int]:
    return [int(child) for child in
            Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def admitted(stack) -> float:
    """The expensive process's count of admitted calls."""
    port = stack.expensive_metrics_ports["enrollment"]
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return next((float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                 if line.startswith(ADMITTED + " ")), 0.0)


@pytest.fixture
def haidian(stack):
    with district_clients(stack.env["AMQP_URI"], ("haidian",)) as clients:
        yield clients["haidian"]


def test_a_bulk_call_is_served_by_the_expensive_process_at_idle_priority(stack, haidian):
    service = stack.procs["enrollment"].pid
    [expensive] = children(service)
    assert os.sched_getscheduler(expensive) == os.SCHED_IDLE
    assert os.sched_getscheduler(service) == os.SCHED_OTHER

    before = admitted(stack)
    outcome = haidian.district_bulk_review(BulkReview(
        idempotency_key=uuid.uuid4().hex, items=[ItemDecision(
            account_no="00000000", version=1, item="permit", passed=True,
            operator="hd0042", agency="公安")]))
    assert [item.code for item in outcome.items] == ["NOT_YOUR_DISTRICT"]
    assert admitted(stack) == before + 1


def test_the_service_stops_when_its_expensive_process_dies_and_starts_both_again(stack):
    service = stack.procs["enrollment"]
    [expensive] = children(service.pid)
    os.kill(expensive, signal.SIGKILL)
    assert service.wait(timeout=30) == 1  # a supervisor starts it again: both, then
    stack.start("enrollment")
    stack.wait_healthy()
    deadline = time.monotonic() + 30
    while not children(stack.procs["enrollment"].pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(children(stack.procs["enrollment"].pid)) == 1
