"""Publishing to RabbitMQ over kombu's pooled connections.

nameko's Publisher builds a kombu Connection, and finds the producer pool for it, on every
message; a registration sends three messages (the RPC request, its reply, the event), and that
bookkeeping cost about 0.1 ms of CPU each, as much as the publish itself. A `PooledPublisher`
keeps its Connection, the pool's key, for the life of the process. Each message still takes a
producer from kombu's pool, so concurrent green threads never share a channel.
"""

from __future__ import annotations

from kombu import Connection
from kombu.pools import producers
from nameko.constants import DEFAULT_RETRY_POLICY, DEFAULT_TRANSPORT_OPTIONS


class PooledPublisher:
    """Publishes messages (JSON unless told otherwise). With `confirms`, each publish waits
    for the broker's ack and raises if the message was not accepted (amqp's MessageNacked,
    e.g. a full queue that rejects publishes), not permitted (AccessRefused) or, `mandatory`,
    routed to no queue. `ssl`: kombu's TLS options (ProcessSettings.amqp_ssl)."""

    def __init__(self, amqp_uri: str, confirms: bool, ssl: dict | None = None):
        self._connection = Connection(amqp_uri, ssl=ssl or False, transport_options={
            **DEFAULT_TRANSPORT_OPTIONS, "confirm_publish": confirms})

    def publish(self, payload, *, exchange, routing_key: str, delivery_mode: int,
                mandatory: bool = False, headers: dict | None = None, declare=(),
                serializer: str = "json", **properties) -> None:
        with producers[self._connection].acquire(block=True) as producer:
            producer.publish(payload, exchange=exchange, routing_key=routing_key,
                             serializer=serializer, delivery_mode=delivery_mode,
                             mandatory=mandatory, headers=headers or {}, declare=list(declare),
                             retry=True, retry_policy=DEFAULT_RETRY_POLICY, **properties)


_publishers: dict[tuple, PooledPublisher] = {}


def pooled_publisher(amqp_uri: str, confirms: bool, ssl: dict | None = None) -> PooledPublisher:
    """The process's publisher for this broker, confirm mode and TLS options."""
    key = (amqp_uri, confirms, tuple(sorted((ssl or {}).items())))
    if key not in _publishers:
        _publishers[key] = PooledPublisher(amqp_uri, confirms, ssl)
    return _publishers[key]
