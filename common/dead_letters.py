"""Dead letters: events a handler failed on too often, set aside instead of retried for ever.

Every event handler's queue (nameko's `evt-<source>-<event>--<service>.<method>`) is a quorum
queue: the broker counts a message's deliveries, and once one has been delivered
DELIVERY_LIMIT + 1 times without being acknowledged it dead-letters it, through the topic
exchange `platform.dead-letters` with the queue's name as routing key, into the service's
dead-letter queue `<service>.dead-letters` (a quorum queue too). Dead-lettering is
at-least-once (RabbitMQ 3.10 and later, with the `stream_queue` feature flag): the event queue
keeps the message until the dead-letter queue has confirmed it, which RabbitMQ allows only for
queues that refuse publishes when full (`overflow: reject-publish`; event queues have no
length limit, so that never happens). The service declares its dead-letter queue and binds it
before its event queues (common/edge/consuming.py).

    python -m common.dead_letters list <service>
    python -m common.dead_letters replay <service> (--all | ID...)

`list` prints each dead letter of the service: its id, when it was set aside, the queue it
came from, the event type, why (the first death's reason), how many deliveries that took, and
its body with personal data masked (common/masking.py), truncated. `replay` publishes the
chosen dead letters to the queues they came from, with publisher confirms and `mandatory`,
and removes each from the dead-letter queue only once the broker has confirmed its copy: one
whose queue no longer exists stays. Reads AMQP_URI (and AMQP_SSL_CA_FILE) like the services;
replaying publishes through the default exchange, which no process's own user may do, so
operators run it with the administrator's URI. Exit status 0, 1 when something was not found
or not replayed, 2 usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import re
import sys
from datetime import datetime

from amqp.exceptions import NotFound
from kombu import Connection, Exchange, Producer, Queue
from kombu.entity import PERSISTENT_DELIVERY_MODE as PERSISTENT

from common.masking import mask_name, mask_text
from common.settings import ProcessSettings

DEAD_LETTER_EXCHANGE = "platform.dead-letters"
# Deliveries of one message beyond the first before it is set aside. A queue argument: every
# declaration of a queue must repeat it unchanged, so it is a constant, not a setting.
DELIVERY_LIMIT = 20
BODY_SHOWN = 240  # characters of a dead letter's masked body that `list` prints
# An event id or message id, shown whole to find the event in the logs: it is nobody's data
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def dead_letter_queue_name(service: str) -> str:
    return f"{service}.dead-letters"


def event_queue_arguments(queue: str) -> dict:
    """The arguments every declaration of event queue `queue` carries."""
    return {"x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": queue, "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish"}


def dead_letter_queue(service: str, queue: str) -> Queue:
    """`service`'s dead-letter queue, bound to take the dead letters of its event queue `queue`."""
    return Queue(dead_letter_queue_name(service),
                 exchange=Exchange(DEAD_LETTER_EXCHANGE, type="topic", durable=True),
                 routing_key=queue, durable=True, queue_arguments={"x-queue-type": "quorum"})


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    id: str  # the same for the same body from the same queue, so `replay` can name it
    queue: str
    event_type: str
    reason: str
    deliveries: int
    at: datetime  # when it was last set aside (UTC)
    body: str  # masked and truncated


def read(headers: dict, body: bytes | str) -> DeadLetter:
    """A dead letter from its headers (the broker's `x-death`, newest first) and body (py-amqp
    hands over the text of one with a content encoding)."""
    body = body.encode() if isinstance(body, str) else body
    deaths = headers.get("x-death") or [{}]
    queue = deaths[0].get("queue", "")
    return DeadLetter(
        id=hashlib.sha256(queue.encode() + b"\0" + body).hexdigest()[:12],
        queue=queue,
        event_type=(deaths[0].get("routing-keys") or [""])[0],
        reason=headers.get("x-first-death-reason", ""),
        # each time it reached the limit took DELIVERY_LIMIT + 1 deliveries
        deliveries=sum(death.get("count", 0) for death in deaths
                       if death.get("reason") == "delivery_limit") * (DELIVERY_LIMIT + 1),
        at=deaths[0].get("time") or datetime.min,
        body=_masked_body(body))


def _masked_body(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    try:
        shown = json.dumps(_masked(json.loads(text)), ensure_ascii=False)
    except ValueError:
        shown = mask_text(text)
    return shown if len(shown) <= BODY_SHOWN else shown[:BODY_SHOWN - 1] + "…"


def _masked(value, key: str = ""):
    if isinstance(value, dict):
        return {name: _masked(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, key) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str) and key.endswith("name"):
        return mask_name(value)
    if isinstance(value, str) and _UUID.fullmatch(value):
        return value
    masked = mask_text(str(value))
    return value if masked == str(value) else masked


def replayed_headers(headers: dict) -> dict:
    """A dead letter's headers for its copy: its `x-death` history stays (a second death counts
    on), its delivery count from the dead-letter queue does not."""
    return {name: value for name, value in headers.items() if name != "x-delivery-count"}


def _take_all(channel, queue: str) -> list:
    """Every message of `queue`, unacknowledged: each goes back to the queue when the channel
    closes, unless acknowledged before."""
    bound = Queue(queue, no_declare=True)(channel)
    messages = []
    while (message := bound.get(no_ack=False)) is not None:
        messages.append(message)
    return messages


def _replay(connection: Connection, chosen: list) -> int:
    """Publishes each (message, letter) to its queue, and acknowledges the message once the
    copy is confirmed; stops at the first failure. Returns how many were replayed."""
    producer = Producer(connection.channel())
    for replayed, (message, letter) in enumerate(chosen):
        try:
            producer.publish(message.body, exchange="", routing_key=letter.queue, retry=False,
                             mandatory=True, delivery_mode=PERSISTENT,
                             content_type=message.content_type,
                             content_encoding=message.content_encoding,
                             headers=replayed_headers(message.headers))
        except Exception as exc:  # NO_ROUTE (its queue is gone), a nack, the broker away
            print(f"{letter.id} not replayed to {letter.queue}: {exc}; it stays",
                  file=sys.stderr)
            return replayed
        message.ack()
        print(f"{letter.id} replayed to {letter.queue}")
    return len(chosen)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.dead_letters", description=(
        "Lists and replays the events a service set aside after failing on them "
        f"{DELIVERY_LIMIT + 1} times. Reads AMQP_URI."))
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="each dead letter, personal data masked")
    listing.add_argument("service")
    replay = sub.add_parser("replay", help="publish dead letters to the queues they came from")
    replay.add_argument("service")
    replay.add_argument("--all", action="store_true", help="every dead letter of the service")
    replay.add_argument("ids", nargs="*", metavar="ID", help="ids that `list` printed")
    args = parser.parse_args(argv)
    if args.command == "replay" and args.all == bool(args.ids):
        parser.error("replay needs --all or ids, not both")

    settings = ProcessSettings()
    queue = dead_letter_queue_name(args.service)
    with Connection(settings.AMQP_URI, ssl=settings.amqp_ssl or False,
                    transport_options={"confirm_publish": True}) as connection:
        channel = connection.channel()
        try:
            channel.queue_declare(queue=queue, passive=True)
        except NotFound:
            print(f"no queue {queue}: {args.service} has no event handlers, or never started",
                  file=sys.stderr)
            return 1
        taken = [(message, read(message.headers, message.body))
                 for message in _take_all(channel, queue)]
        if args.command == "list":
            for _, letter in sorted(taken, key=lambda pair: pair[1].at):
                print(f"{letter.id}  {letter.at:%Y-%m-%d %H:%M:%S}  {letter.queue}  "
                      f"{letter.event_type}  {letter.reason}  {letter.deliveries} deliveries  "
                      f"{letter.body}")
            print(f"{len(taken)} dead letters in {queue}")
            return 0
        missing = set(args.ids) - {letter.id for _, letter in taken}
        if missing:
            print(f"not in {queue}: {', '.join(sorted(missing))} (nothing replayed)",
                  file=sys.stderr)
            return 1
        chosen = [(message, letter) for message, letter in taken
                  if args.all or letter.id in args.ids]
        replayed = _replay(connection, chosen)
        print(f"{replayed} of {len(chosen)} dead letters replayed from {queue}")
        return 0 if replayed == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
