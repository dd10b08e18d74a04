"""Publishes a service's transactional outbox (see common/outbox.py).

An event is published as soon as the transaction that recorded it commits, from memory; the
rows of published events are deleted together every `interval_s`. Rows are read back only by
a sweep of what is left over (the broker was away, the process died before publishing).
Events go out with publisher confirms and `mandatory` routing, so an event that no queue is
bound to yet stays in the outbox. A crash between publish and delete republishes: consumers
dedupe on `event_id`.
"""

from __future__ import annotations

import logging
import time

import eventlet
from kombu.entity import PERSISTENT_DELIVERY_MODE as PERSISTENT
from nameko.extensions import Extension
from nameko.standalone.events import get_event_exchange

from common import metrics, outbox
from common.contract_base import owning_service
from common.edge.dependencies import autocommit_pool
from common.edge.publishing import pooled_publisher

log = logging.getLogger(__name__)


class OutboxRelay(Extension):
    """Publishes a service's outbox, `<service>.outbox` (its schema is the service's name, as
    in common/registry.py, whose entry says it `produces_events`). The service's storage hands
    it each committed transaction's events (`publish_committed`); a sweep every `interval_s`
    publishes events left unpublished for `sweep_after_s`. It runs inside the service's Wiring
    provider (`Wiring(build, relay=OutboxRelay())`, common/edge/dependencies.py), which hands
    `publish_committed` to the service's app."""

    def __init__(self, interval_s: float = 0.5, sweep_after_s: float = 5.0, batch: int = 100):
        self.interval_s = interval_s
        self.sweep_after_s = sweep_after_s
        self.batch = batch

    def setup(self):
        settings = self.container.config["settings"]
        self.schema = owning_service(self.container.service_name)
        self.cipher = outbox.cipher(settings.master_keys, self.schema)
        self.exchange = get_event_exchange(self.schema, self.container.config)
        self.publisher = pooled_publisher(settings.AMQP_URI, confirms=True,
                                          ssl=settings.amqp_ssl)
        self.pool = autocommit_pool(settings.DATABASE_URL, f"{self.schema}-outbox",
                                    min_size=1, max_size=2,
                                    reconnect_interval_s=settings.DATABASE_RECONNECT_INTERVAL_S)
        self.committed: list[outbox.NewEvent] = []
        self.published: list[str] = []  # ids whose rows are still to be deleted
        self.wakeup = eventlet.event.Event()
        self.running = False

    def start(self):
        self.pool.open(wait=True, timeout=30)
        self.running = True
        self.container.spawn_managed_thread(self._run, identifier=f"outbox-relay-{self.schema}")

    def stop(self):
        self.running = False
        self._wake()
        try:
            self.delete_published()
        except Exception:  # the sweep republishes them; consumers dedupe
            log.warning("published outbox rows not deleted at shutdown", exc_info=True)
        self.pool.close()

    def kill(self):
        self.running = False
        self._wake()
        self.pool.close(timeout=0)

    def publish_committed(self, events: list[outbox.NewEvent]) -> None:
        """Called once the transaction that recorded `events` has committed."""
        self.committed.extend(events)
        self._wake()

    def _wake(self):
        if not self.wakeup.ready():
            self.wakeup.send(True)

    def _run(self):
        next_chores = time.monotonic()
        while self.running:
            busy = False
            try:
                busy = self.publish_from_memory()
                if time.monotonic() >= next_chores:
                    next_chores = time.monotonic() + self.interval_s
                    self.delete_published()
                    busy = self.sweep() == self.batch or busy
            except Exception:  # broker or database away: the rows stay, the sweep retries
                log.warning("outbox relay failed; will retry", exc_info=True)
            if not busy and self.running:
                with eventlet.Timeout(max(0.0, next_chores - time.monotonic()), False):
                    self.wakeup.wait()
                self.wakeup = eventlet.event.Event()

    def publish_from_memory(self) -> bool:
        """Publishes the committed events handed over since last time; False if none."""
        events, self.committed = self.committed, []
        for event in events:
            if not self._publish(event.event_type, event.body, event.request_id):
                break  # the rest stay in the outbox for the sweep
            self.published.append(event.id)
        return bool(events)

    def delete_published(self) -> None:
        """Deletes the rows of published events (if this is lost, the sweep republishes them
        and consumers dedupe)."""
        if self.published:
            with self.pool.connection() as conn:
                outbox.delete_published(conn, self.schema, self.published)
            self.published = []

    def sweep(self) -> int:
        """Publishes events left over; returns how many."""
        with self.pool.connection() as conn, conn.transaction():
            sent = []
            for event_id, event_type, body, request_id in outbox.claim_batch(
                    conn, self.schema, self.cipher, self.batch, self.sweep_after_s):
                if not self._publish(event_type, body, request_id):
                    break
                sent.append(event_id)
            if sent:
                outbox.delete_published(conn, self.schema, sent)
            return len(sent)

    def _publish(self, event_type: str, body: dict, request_id: str | None) -> bool:
        headers = {"nameko.request_id": request_id} if request_id else {}
        try:
            self.publisher.publish(body, exchange=self.exchange, routing_key=event_type,
                                   delivery_mode=PERSISTENT, mandatory=True, headers=headers,
                                   declare=[self.exchange])
        except Exception:
            metrics.EVENTS_RELAYED.labels(self.container.service_name, event_type,
                                          "failed").inc()
            log.warning("event not published yet", extra={"event_type": event_type},
                        exc_info=True)
            return False
        metrics.EVENTS_RELAYED.labels(self.container.service_name, event_type, "ok").inc()
        return True
