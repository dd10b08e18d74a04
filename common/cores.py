"""How many OS threads a process gives CPU-heavy work (argon2, captcha images:
common.edge.dependencies.offload). Standard library only: the launcher asks before eventlet
patches anything."""

from __future__ import annotations

import os


def offload_threads() -> int:
    """Every core but one, at least one: the event loops, RabbitMQ and PostgreSQL keep a core
    for cheap work however much hashing waits (measured on 2 cores with 150 status reads/s:
    their p99 beside a full registration load fell from 3.9 to 2.9 times idle, and the
    registrations got about as much CPU as before, which the reads took from them anyway).
    More threads than that would only hold memory (argon2 keeps 19 MiB per thread).
    `EVENTLET_THREADPOOL_SIZE` set in the environment wins."""
    configured = os.environ.get("EVENTLET_THREADPOOL_SIZE")
    return int(configured) if configured else max(1, (os.cpu_count() or 2) - 1)
