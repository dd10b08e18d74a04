"""Publishing over pooled connections, against the real RabbitMQ."""

import socket
import time
import uuid

import eventlet
import pytest
from kombu import Connection, Exchange, Queue
from kombu.entity import PERSISTENT_DELIVERY_MODE as PERSISTENT
from kombu.exceptions import OperationalError

from common.edge.publishing import pooled_publisher


@pytest.fixture
def exchange(amqp_uri):
    exchange = Exchange(f"test-{uuid.uuid4()}", type="topic", durable=False)
    with Connection(amqp_uri) as conn:
        exchange.declare(channel=conn.default_channel)
        yield exchange
        exchange(conn.default_channel).delete()


def bound_queue(amqp_uri, exchange, routing_key):
    queue = Queue(f"test-{uuid.uuid4()}", exchange=exchange, routing_key=routing_key,
                  durable=False, auto_delete=False)
    with Connection(amqp_uri) as conn:
        queue.declare(channel=conn.default_channel)
    return queue


def drain(amqp_uri, queue):
    with Connection(amqp_uri) as conn:
        bound = queue(conn.default_channel)
        messages = []
        while (message := bound.get(no_ack=True)) is not None:
            messages.append(message)
        bound.delete()
        return messages


def test_a_confirmed_mandatory_message_that_no_queue_takes_is_refused(amqp_uri, exchange):
    """What keeps an event in the outbox until its consumer's queue exists."""
    with pytest.raises(Exception, match="NO_ROUTE"):
        pooled_publisher(amqp_uri, confirms=True).publish(
            {"x": 1}, exchange=exchange, routing_key="nobody.listens",
            delivery_mode=PERSISTENT, mandatory=True)


def test_a_confirmed_message_arrives_with_its_headers_and_properties(amqp_uri, exchange):
    queue = bound_queue(amqp_uri, exchange, "someone.listens")
    pooled_publisher(amqp_uri, confirms=True).publish(
        {"x": 1}, exchange=exchange, routing_key="someone.listens", delivery_mode=PERSISTENT,
        mandatory=True, headers={"nameko.request_id": "r-1"}, correlation_id="c-1")
    [message] = drain(amqp_uri, queue)
    assert message.decode() == {"x": 1}
    assert message.headers == {"nameko.request_id": "r-1"}
    assert message.properties["correlation_id"] == "c-1"
    assert message.delivery_info["routing_key"] == "someone.listens"


def test_green_threads_publishing_at_once_never_mix_their_messages(amqp_uri, exchange):
    """Each publish takes its own producer (and channel) from the pool."""
    queue = bound_queue(amqp_uri, exchange, "many")
    publisher = pooled_publisher(amqp_uri, confirms=False)
    body = "报名" * 20_000  # larger than one frame: interleaved frames would corrupt it
    pool = eventlet.GreenPool(50)
    for i in range(200):
        pool.spawn(publisher.publish, {"i": i, "body": body}, exchange=exchange,
                   routing_key="many", delivery_mode=1)
    pool.waitall()
    received = [message.decode() for message in drain(amqp_uri, queue)]
    assert sorted(m["i"] for m in received) == list(range(200))
    assert all(m["body"] == body for m in received)


@pytest.mark.parametrize("answers", [False, True], ids=["nothing-listens", "no-handshake"])
def test_a_publish_gives_up_at_its_deadline_when_the_broker_is_away(answers):
    """A broker that is down refuses the connection; one that is starting (or hung) accepts it
    and says nothing. Either way the publish ends by its deadline (kombu's retry policies
    would keep it going for many seconds)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        if answers:
            listener.listen(16)  # the kernel completes the TCP handshake; AMQP never starts
        uri = f"amqp://guest:guest@127.0.0.1:{listener.getsockname()[1]}/"
        started = time.monotonic()
        with pytest.raises(OperationalError):
            pooled_publisher(uri, confirms=True).publish(
                {"x": 1}, exchange=Exchange("nameko-rpc", type="topic", durable=True),
                routing_key="accounts.ping", delivery_mode=1, deadline=time.time() + 1.5)
        assert time.monotonic() - started < 2.0
