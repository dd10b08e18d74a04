"""Consuming from RabbitMQ: one connection per container, shared by RPC entrypoints, reply
listeners and event handlers (nameko's SharedExtension keys it by class), that keeps up
heartbeats under any traffic, comes back quickly after the broker does, and never takes the
service down because an acknowledgement could not be sent.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

from nameko.events import EventHandler
from nameko.messaging import QueueConsumer

log = logging.getLogger(__name__)

# Between reconnection attempts (kombu's consumers wait 2, 4, 6 … up to 30 s): a broker
# restart takes seconds, and an attempt against a broker that is still down costs one
# refused TCP connection.
RECONNECT_INTERVAL_S = 0.5


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


class ResilientEventHandler(EventHandler):
    queue_consumer = ResilientQueueConsumer()


event_handler = ResilientEventHandler.decorator
