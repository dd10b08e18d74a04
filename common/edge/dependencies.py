"""nameko dependency providers shared by the services."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid

import eventlet
import eventlet.event
import eventlet.patcher
import eventlet.semaphore
import eventlet.tpool
import psycopg
import psycopg_pool
import structlog
from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from psycopg_pool.base import AttemptWithBackoff

from common import metrics
from common.cores import offload_threads

log = logging.getLogger(__name__)

# A service's own database away (a restart, an outage, a pool with no connection in time): not
# a bug, and it passes by itself (RPC callers are told to retry later, events are retried).
DATABASE_AWAY = (psycopg.OperationalError, psycopg_pool.PoolTimeout)


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


_select_module = eventlet.patcher.original("select")  # a plain syscall, never a hub switch


class _SteadyAttempt(AttemptWithBackoff):
    """psycopg_pool's reconnection schedule without the doubling (it waits 1, 2, 4, 8 … s
    between attempts, so service came back up to about an outage's length after the
    database did)."""

    DELAY_BACKOFF = 1.0

    def __init__(self, *, timeout: float, interval_s: float):
        super().__init__(timeout=timeout)
        self.INITIAL_DELAY = interval_s


class ServicePool(psycopg_pool.ConnectionPool):
    """A pool that retries a lost connection every `reconnect_interval_s` and never hands
    out one the server has dropped."""

    def __init__(self, *args, reconnect_interval_s: float, **kwargs):
        self._reconnect_interval_s = reconnect_interval_s
        super().__init__(*args, check=self._discard_if_dropped, **kwargs)

    def _add_connection(self, attempt, growing=False):
        if attempt is None:  # a new series of attempts (psycopg_pool starts one per connection)
            attempt = _SteadyAttempt(timeout=self.reconnect_timeout,
                                     interval_s=self._reconnect_interval_s)
        super()._add_connection(attempt, growing)

    def _discard_if_dropped(self, conn) -> None:
        """On checkout. An idle connection has nothing to read unless the server wrote to it,
        and a server that ends a session (a restart, an administrator) writes its last error
        and closes: then, and only then, a round trip tells. Connections dropped together are
        checked together, instead of one failed checkout at a time."""
        try:
            readable = _select_module.poll()
            readable.register(conn.pgconn.socket, _select_module.POLLIN)
            dropped = bool(readable.poll(0))
        except psycopg.OperationalError:  # no socket any more
            dropped = True
        if dropped:
            try:
                self.check_connection(conn)
            except psycopg.Error:
                self.check()
                raise


def autocommit_pool(database_url: str, name: str, min_size: int, max_size: int,
                    reconnect_interval_s: float, **options) -> ServicePool:
    """A psycopg connection pool, to be opened in a provider's `start()`
    (PSYCOPG_WAIT_FUNC=wait_select keeps it green).

    Connections are in autocommit mode: a single statement costs one round trip, and several
    statements that must hold together say so with `conn.transaction()`.
    """
    return ServicePool(database_url, min_size=min_size, max_size=max_size,
                       kwargs={"autocommit": True}, open=False, name=name,
                       reconnect_interval_s=reconnect_interval_s, **options)


class Wiring(ReadyDependency):
    """A service's app, what its entrypoints use: made once per container by the service's
    bootstrap function, `build(settings, pool)`, on the connection pool this provider owns
    (`autocommit_pool`). With `relay` (an OutboxRelay, common/edge/outbox.py, run by the
    container with this provider), `build` also gets `publish=relay.publish_committed`: the
    store hands it each committed transaction's events."""

    def __init__(self, build, relay=None):
        self.build = build
        self.relay = relay

    def setup(self):
        super().setup()
        settings = settings_of(self.container)
        self.pool = autocommit_pool(settings.DATABASE_URL, self.container.service_name,
                                    min_size=2, max_size=settings.DATABASE_POOL_SIZE,
                                    reconnect_interval_s=settings.DATABASE_RECONNECT_INTERVAL_S,
                                    timeout=10)

    def start(self):
        self.pool.open(wait=True, timeout=30)
        publish = {"publish": self.relay.publish_committed} if self.relay else {}
        self.value = self.build(settings_of(self.container), self.pool, **publish)
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


def let_others_run() -> None:
    """Lets every green thread that is ready to run go first: a long worker (a bulk call)
    calls it between its steps, so that the requests that came meanwhile are not kept
    waiting for its end."""
    eventlet.sleep(0)


# The OS threads (EVENTLET_THREADPOOL_SIZE: common/cores.py) run one job each; as many again
# may wait in eventlet's queue, so a thread that finishes starts the next job at once instead
# of idling until the busy event loop gets round to handing it one.
CPU_SLOTS = eventlet.semaphore.Semaphore(2 * offload_threads())
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
