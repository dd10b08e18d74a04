"""The eventlet edge must not serialise a service: database calls and CPU work yield the hub."""

import os
import time

import eventlet
import psycopg
from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcProxy

from common.edge.dependencies import Wiring, offload
from common.settings import ServiceSettings
from tests.support.infra import running_service


class SleepyService:
    name = "sleepy"
    db = Wiring(lambda settings, pool: pool)  # the pool itself is the app

    @rpc
    def nap(self, seconds):
        with self.db.connection() as conn:
            conn.execute("SELECT pg_sleep(%s)", (seconds,))
        return True


def test_concurrent_queries_in_one_service_overlap(make_settings, database_url, amqp_uri):
    """Five naps must be in PostgreSQL at the same time, not one after another."""
    settings = make_settings(ServiceSettings, DATABASE_URL=database_url, DATABASE_POOL_SIZE=10)
    with running_service(SleepyService, settings), \
            ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=30) as cluster, \
            psycopg.connect(database_url, autocommit=True) as observer:
        replies = [cluster.sleepy.nap.call_async(2) for _ in range(5)]
        most = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not most >= 5:
            most = max(most, observer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%%' "
                "AND state = 'active' AND datname = current_database()").fetchone()[0])
            time.sleep(0.05)
        assert all(reply.result() for reply in replies)
    assert most == 5


def test_the_hub_keeps_ticking_while_cpu_work_is_offloaded():
    """Argon2-like CPU work in `offload` leaves the hub free: ticks keep coming."""
    from services.accounts.rules.passwords import make_hasher

    hasher = make_hasher(19456, 2, 1)
    gaps = []

    def ticker():
        last = time.perf_counter()
        while True:
            eventlet.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = eventlet.spawn(ticker)
    pile = eventlet.GreenPile()
    started = time.perf_counter()
    for _ in range(20):
        pile.spawn(offload, hasher.hash, "Spring2027a")
    hashes = list(pile)
    elapsed = time.perf_counter() - started
    ticking.kill()
    assert len(hashes) == 20
    # Inline hashing would stall the hub for the whole batch; offloaded, the longest gap
    # between ticks stays a small fraction of it.
    assert max(gaps) < elapsed / 4, (max(gaps), elapsed)


def test_offloaded_work_gets_only_the_cpu_nothing_else_wants():
    """The event loops, PostgreSQL and RabbitMQ must preempt hashing the moment they wake."""
    policies = {offload(os.sched_getscheduler, 0) for _ in range(8)}
    assert policies == {os.SCHED_IDLE}
    assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the event loop itself is untouched
