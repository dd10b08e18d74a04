"""Consuming from RabbitMQ: one connection per container, shared by RPC entrypoints, reply
listeners and event handlers (nameko's SharedExtension keys it by class), that keeps up
heartbeats under any traffic, comes back quickly after the broker does, and never takes the
service down because an acknowledgement could not be sent.

Event handlers consume quorum queues that set a message aside in their service's dead-letter
queue once it has failed DELIVERY_LIMIT + 1 times (common/dead_letters.py), so one poison
message is neither retried for ever nor in the way of the others. A failure that passes by
itself is requeued only after a wait, so that an outage does not use up the limit.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from functools import partial

import eventlet
from kombu import Connection
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY
from nameko.events import EventHandler
from nameko.extensions import SharedExtension
from nameko.messaging import QueueConsumer

from common import metrics
from common.dead_letters import dead_letter_queue, dead_letter_queue_name, event_queue_arguments
from common.edge.dependencies import DATABASE_AWAY, settings_of
from common.errors import DomainError

log = logging.getLogger(__name__)

# Between reconnection attempts (kombu's consumers wait 2, 4, 6 … up to 30 s): a broker
# restart takes seconds, and an attempt against a broker that is still down costs one
# refused TCP connection.
RECONNECT_INTERVAL_S = 0.5
# A transient failure is requeued after a wait that doubles with each delivery, from 1 s to
# 20 s: failing at once, a message then takes about 6 minutes to reach the delivery limit
# (`retry_delay`), and one that waits for the pool's timeout (10 s) each time longer still.
RETRY_BACKOFF_S = 1.0
RETRY_BACKOFF_MAX_S = 20.0


def retry_delay(deliveries: int) -> float:
    """The wait before requeueing a message that failed transiently, `deliveries` being its
    earlier deliveries (the `x-delivery-count` a quorum queue adds)."""
    return min(RETRY_BACKOFF_MAX_S, RETRY_BACKOFF_S * 2 ** min(deliveries, 16))


def transient(exc: BaseException) -> bool:
    """A failure that passes by itself: the service's database away, or a service it called
    answering that it is unavailable."""
    return isinstance(exc, DATABASE_AWAY) or (
        isinstance(exc, DomainError) and exc.code == "SERVICE_UNAVAILABLE")


class ResilientQueueConsumer(QueueConsumer):
    _live = None  # the connection the consume loop drains, once it is up

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        self._live = connection
        super().on_consume_ready(connection, channel, consumers, **kwargs)

    def on_iteration(self):
        # kombu sends heartbeats only when a second passes with nothing to read; a connection
        # that receives steadily and sends nothing (a reply listener takes replies without
        # acknowledging them) then misses them, and the broker closes it with the replies in
        # flight. Checking on every iteration is cheap: py-amqp sends one only when it is due.
        if self._live is not None:
            self._live.heartbeat_check()
        super().on_iteration()

    def get_consumers(self, consumer_cls, channel):
        # after every (re)connection, each event queue's dead-letter queue before the queue
        # itself, so that a message set aside always has somewhere to go
        for provider in self._providers:
            if isinstance(provider, ResilientEventHandler):
                provider.dead_letters(channel).declare()
        return super().get_consumers(consumer_cls, channel)

    @contextmanager
    def establish_connection(self):
        with self.create_connection() as conn:
            conn.ensure_connection(self.on_connection_error, self.connect_max_retries,
                                   interval_start=RECONNECT_INTERVAL_S, interval_step=0,
                                   interval_max=RECONNECT_INTERVAL_S)
            yield conn

    # The broker redelivers an unacknowledged message once the connection is gone (or it
    # expires with its deadline); nameko would let the error kill the service.
    def ack_message(self, message):
        _unless_disconnected("acknowledgement", super().ack_message, message)

    def requeue_message(self, message):
        _unless_disconnected("requeue", super().requeue_message, message)


def _unless_disconnected(what: str, settle, message) -> None:
    try:
        settle(message)
    except Exception as exc:
        log.warning(f"{what} not sent: the broker connection is down",
                    extra={"error": type(exc).__name__})


class DeadLetterGauge(SharedExtension):
    """`platform_dead_letters{queue}`: the depth of the service's dead-letter queue, read every
    DEAD_LETTERS_REFRESH_S by a passive declare over a connection of its own (no heartbeats:
    it is used a moment at a time, and a dead one is replaced after the next failed read)."""

    _gt = None  # its thread, once started

    def start(self):
        self._gt = self.container.spawn_managed_thread(self._run, identifier="dead-letter-gauge")

    def stop(self):
        if self._gt is not None:
            self._gt.kill()

    def _run(self):
        config = self.container.config
        queue = dead_letter_queue_name(self.container.service_name)
        connection = Connection(config[AMQP_URI_CONFIG_KEY],
                                ssl=config.get(AMQP_SSL_CONFIG_KEY) or False, heartbeat=0)
        try:
            while True:
                # the first read after a wait: by then the queue consumer has declared the queue
                eventlet.sleep(settings_of(self.container).DEAD_LETTERS_REFRESH_S)
                try:
                    with connection.channel() as channel:
                        depth = channel.queue_declare(queue=queue, passive=True).message_count
                except Exception as exc:
                    log.warning("dead letters not counted",
                                extra={"queue": queue, "error": type(exc).__name__})
                    connection.collect()
                    continue
                metrics.DEAD_LETTERS.labels(queue).set(depth)
        finally:
            connection.release()


class ResilientEventHandler(EventHandler):
    """nameko's EventHandler (SERVICE_POOL, reliable delivery) on a quorum queue that
    dead-letters into its service's dead-letter queue. With `requeue_on_error`, a transient
    failure is requeued after `retry_delay`, any other at once."""

    queue_consumer = ResilientQueueConsumer()
    dead_letter_gauge = DeadLetterGauge()

    def setup(self):
        super().setup()
        self.queue.queue_arguments = event_queue_arguments(self.queue.name)
        self.dead_letters = dead_letter_queue(self.container.service_name, self.queue.name)

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None or not self.requeue_on_error or not transient(exc_info[1]):
            super().handle_message_processed(message, result, exc_info)
            return
        deliveries = (message.headers or {}).get("x-delivery-count", 0)
        delay = retry_delay(deliveries)
        log.warning("event not handled yet: requeued after a wait", extra={
            "queue": self.queue.name, "deliveries": deliveries + 1, "retry_in_s": delay,
            "error": type(exc_info[1]).__name__})
        # The worker ends now; the message stays unacknowledged meanwhile (if the container
        # stops first, the broker takes it back when the connection closes).
        self.container.spawn_managed_thread(partial(self._requeue_after, delay, message),
                                            identifier="event-requeue-after-wait")

    def _requeue_after(self, delay: float, message) -> None:
        eventlet.sleep(delay)
        self.queue_consumer.requeue_message(message)


event_handler = ResilientEventHandler.decorator


def parse_event(model, payload):
    """The event as `model` (a contract model), or None: requeueing cannot fix a malformed
    event, so it is dropped loudly instead of looping."""
    try:
        return model.parse(payload)
    except DomainError as exc:
        log.error("malformed event dropped",
                  extra={"event_type": model.__name__, "fields": sorted(exc.fields)})
        return None
