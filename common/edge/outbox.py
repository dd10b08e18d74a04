"""Publishes a service's transactional outbox (see common/outbox.py).

Events go out with publisher confirms and `mandatory` routing, so an event that no queue is
bound to yet stays in the outbox; then they are deleted. A crash between publish and delete
republishes: consumers dedupe on `event_id`.
"""

from __future__ import annotations

import logging

import eventlet
import psycopg_pool
from nameko.amqp.publish import Publisher
from nameko.extensions import DependencyProvider
from nameko.standalone.events import get_event_exchange

from common import metrics, outbox
from common.crypto import FieldCipher, decode_key

log = logging.getLogger(__name__)


class OutboxRelay(DependencyProvider):
    """Publishes a service's outbox; injected as a callable that wakes the relay up early."""

    def __init__(self, schema: str, interval_s: float = 0.5, batch: int = 100):
        self.schema = schema
        self.interval_s = interval_s
        self.batch = batch

    def setup(self):
        settings = self.container.config["settings"]
        self.cipher = FieldCipher(decode_key(settings.DATA_ENCRYPTION_KEY, "DATA_ENCRYPTION_KEY"))
        self.exchange = get_event_exchange(self.container.service_name, self.container.config)
        self.publisher = Publisher(settings.AMQP_URI, serializer="json", mandatory=True,
                                   declare=[self.exchange])
        self.pool = psycopg_pool.ConnectionPool(settings.DATABASE_URL, min_size=1, max_size=2,
                                                open=False, name=f"{self.schema}-outbox")
        self.wakeup = eventlet.event.Event()
        self.running = False

    def start(self):
        self.pool.open(wait=True, timeout=30)
        self.running = True
        self.container.spawn_managed_thread(self._run, identifier=f"outbox-relay-{self.schema}")

    def stop(self):
        self.running = False
        self._wake()
        self.pool.close()

    def kill(self):
        self.running = False
        self._wake()
        self.pool.close(timeout=0)

    def get_dependency(self, worker_ctx):
        return self._wake

    def _wake(self):
        if not self.wakeup.ready():
            self.wakeup.send(True)

    def _run(self):
        while self.running:
            try:
                published = self.relay_once()
            except Exception:  # broker or database away: keep everything, try again later
                log.warning("outbox relay failed; will retry", exc_info=True)
                published = 0
            if published < self.batch and self.running:
                with eventlet.Timeout(self.interval_s, False):
                    self.wakeup.wait()
                self.wakeup = eventlet.event.Event()

    def relay_once(self) -> int:
        with self.pool.connection() as conn, conn.transaction():
            sent = []
            for event_id, event_type, body, request_id in outbox.claim_batch(
                    conn, self.schema, self.cipher, self.batch):
                headers = {"nameko.request_id": request_id} if request_id else {}
                try:
                    self.publisher.publish(body, exchange=self.exchange, routing_key=event_type,
                                           headers=headers)
                except Exception:
                    metrics.EVENTS_RELAYED.labels(self.container.service_name, event_type,
                                                  "failed").inc()
                    log.warning("event not published yet", extra={"event_type": event_type},
                                exc_info=True)
                    break
                metrics.EVENTS_RELAYED.labels(self.container.service_name, event_type, "ok").inc()
                sent.append(event_id)
            if sent:
                outbox.delete_published(conn, self.schema, sent)
            return len(sent)
