"""nameko dependency providers shared by the services."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid

import eventlet.event
import eventlet.patcher
import eventlet.semaphore
import eventlet.tpool
import psycopg_pool
import structlog
from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc

from common import metrics

log = logging.getLogger(__name__)


def settings_of(container):
    """The service's validated settings object, put in the nameko config by the launcher."""
    return container.config["settings"]


class Settings(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return settings_of(self.container)


class ReadyDependency(DependencyProvider):
    """nameko starts entrypoints and dependencies together, so a worker may arrive before
    `start()` has finished: workers wait for `self.ready` (set at the end of `start()`)."""

    def setup(self):
        self.ready = eventlet.event.Event()

    def get_dependency(self, worker_ctx):
        self.ready.wait()
        return self.value


def autocommit_pool(database_url: str, name: str, min_size: int, max_size: int,
                    **options) -> psycopg_pool.ConnectionPool:
    """A psycopg connection pool, to be opened in a provider's `start()`
    (PSYCOPG_WAIT_FUNC=wait_select keeps it green).

    Connections are in autocommit mode: a single statement costs one round trip, and several
    statements that must hold together say so with `conn.transaction()`.
    """
    return psycopg_pool.ConnectionPool(database_url, min_size=min_size, max_size=max_size,
                                       kwargs={"autocommit": True}, open=False, name=name,
                                       **options)


class Database(ReadyDependency):
    """The service's connection pool, one per container (`autocommit_pool`)."""

    def setup(self):
        super().setup()
        settings = settings_of(self.container)
        self.pool = autocommit_pool(settings.DATABASE_URL, self.container.service_name,
                                    min_size=2, max_size=settings.DATABASE_POOL_SIZE, timeout=10)
        self.value = self.pool

    def start(self):
        self.pool.open(wait=True, timeout=30)
        self.ready.send(True)

    def stop(self):
        self.pool.close()

    def kill(self):
        self.pool.close(timeout=0)


class Observability(DependencyProvider):
    """Binds the request id to every log line of a worker and times RPC and event workers.

    (nameko itself logs a worker's unexpected exception with its traceback.)
    """

    def setup(self):
        self._started: dict[str, float] = {}

    @staticmethod
    def _request_id(worker_ctx) -> str:
        # Kept in the worker's context data, so nameko forwards it on every RPC and event.
        if not worker_ctx.data.get("request_id"):
            worker_ctx.data["request_id"] = uuid.uuid4().hex
        return worker_ctx.data["request_id"]

    def get_dependency(self, worker_ctx):  # nameko injects before worker_setup
        return self._request_id(worker_ctx)

    def worker_setup(self, worker_ctx):
        request_id = self._request_id(worker_ctx)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            request_id=request_id, entrypoint=worker_ctx.entrypoint.method_name)
        self._started[worker_ctx.call_id] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self._started.pop(worker_ctx.call_id, None)
        entrypoint = worker_ctx.entrypoint
        service = worker_ctx.service_name
        method = entrypoint.method_name
        if exc_info is None:
            outcome = "ok"
        elif isinstance(exc_info[1], entrypoint.expected_exceptions or ()):
            outcome = "refused"
        else:
            outcome = "error"
        elapsed = time.perf_counter() - started if started is not None else 0.0
        if isinstance(entrypoint, Rpc):
            metrics.RPC_REQUESTS.labels(service, method, outcome).inc()
            metrics.RPC_LATENCY.labels(service, method).observe(elapsed)
        elif isinstance(entrypoint, EventHandler):
            metrics.EVENTS_HANDLED.labels(service, entrypoint.event_type, outcome).inc()
        else:
            return  # timers and HTTP routes account for themselves
        code = getattr(exc_info[1], "code", None) if exc_info else None
        log.info("handled", extra={"outcome": outcome, "error_code": code,
                                   "ms": round(elapsed * 1000, 1)})

    def worker_teardown(self, worker_ctx):
        structlog.contextvars.clear_contextvars()


# The OS threads (EVENTLET_THREADPOOL_SIZE, one per core) run one job each; as many again may
# wait in eventlet's queue, so a thread that finishes starts the next job at once instead of
# idling until the busy event loop gets round to handing it one.
CPU_SLOTS = eventlet.semaphore.Semaphore(2 * (os.cpu_count() or 2))
_thread_state = eventlet.patcher.original("threading").local()


def offload(fn, *args, **kwargs):
    """Runs CPU-heavy work (argon2, rendering) in a real OS thread so the hub keeps ticking.

    One job per core runs at a time (more would only queue in the kernel and take memory:
    argon2 uses 19 MiB each), under Linux's SCHED_IDLE policy, so that under full load the
    event loops, RabbitMQ and PostgreSQL still run as soon as they need to.
    """
    with CPU_SLOTS:
        return eventlet.tpool.execute(_in_idle_time, fn, args, kwargs)


def _in_idle_time(fn, args, kwargs):
    # A waking task preempts a SCHED_IDLE one at once. Under nice 19 the kernel's EEVDF
    # scheduler (Linux 6.6 and later) first lets the running thread finish its time slice:
    # each hop of an RPC then waited up to a slice, and a cheap RPC's p99 under load doubled.
    if not getattr(_thread_state, "idle_policy", False):
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))
        _thread_state.idle_policy = True
    return fn(*args, **kwargs)
