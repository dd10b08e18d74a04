"""A machine where the platform ran before event queues were quorum queues has classic queues
of the names the services now declare as quorum queues (which RabbitMQ refuses):
`python -m common.broker provision`, which `make run` and `deploy/setup.sh` run, makes them
quorum queues with their events and bindings (common/broker.py)."""

from __future__ import annotations

import time
from urllib.parse import quote

import eventlet
import requests
from kombu import Connection, Exchange, Queue
from nameko.standalone.events import event_dispatcher

from common import broker
from common.dead_letters import event_queue_arguments
from common.edge.consuming import event_handler
from common.settings import ProcessSettings
from services.accounts.contract import ACCOUNT_CANCELLED, SMS_CODE_ISSUED
from services.accounts.contract import SERVICE_NAME as ACCOUNTS
from tests.support.infra import RABBIT_API, running_service

CODES = "evt-accounts-sms_code_issued--notify.handle_sms_code_issued"
CANCELLED = "evt-accounts-account_cancelled--notify.handle_account_cancelled"
SOMEONE_ELSES = "evt-accounts-sms_code_issued--audit.handle_sms_code_issued"
EVENTS = Exchange("accounts.events", type="topic", durable=True)
RECEIVED: list[tuple[str, int]] = []


class Notify:
    name = "notify"

    @event_handler(ACCOUNTS, SMS_CODE_ISSUED, requeue_on_error=True)
    def handle_sms_code_issued(self, payload):
        RECEIVED.append((SMS_CODE_ISSUED, payload["n"]))

    @event_handler(ACCOUNTS, ACCOUNT_CANCELLED, requeue_on_error=True)
    def handle_account_cancelled(self, payload):
        RECEIVED.append((ACCOUNT_CANCELLED, payload["n"]))


def classic(amqp_uri: str, queue: str, event_type: str) -> None:
    """Declares `queue` as nameko did before: durable, classic, bound to the event type."""
    with Connection(amqp_uri) as conn:
        Queue(queue, exchange=EVENTS, routing_key=event_type, durable=True)(
            conn.default_channel).declare()


def provision(own_vhost, tmp_path) -> int:
    env = tmp_path / "notify.env"
    env.write_text(f"AMQP_URI={own_vhost[1]['notify']}\n")
    return broker.main(["provision", "--api", RABBIT_API, "--env", f"notify={env}"])


def queues(amqp_uri: str) -> dict[str, dict]:
    vhost = amqp_uri.rsplit("/", 1)[1]
    return {queue["name"]: queue
            for queue in requests.get(f"{RABBIT_API}/queues/{vhost}", timeout=10).json()}


def test_classic_event_queues_become_quorum_queues_with_their_events(own_vhost, tmp_path):
    guest, users = own_vhost
    classic(guest, CODES, SMS_CODE_ISSUED)
    classic(guest, SOMEONE_ELSES, SMS_CODE_ISSUED)  # not notify's: left alone
    # a run cut short: account_cancelled's queue is gone, its events wait in its parking queue
    classic(guest, CANCELLED + broker.MIGRATING, ACCOUNT_CANCELLED)
    dispatch = event_dispatcher({"AMQP_URI": guest})
    for n in range(5):
        dispatch(ACCOUNTS, SMS_CODE_ISSUED, {"n": n})
    for n in range(5, 7):
        dispatch(ACCOUNTS, ACCOUNT_CANCELLED, {"n": n})

    assert provision(own_vhost, tmp_path) == 0

    found = queues(guest)
    assert not [name for name in found if name.endswith(broker.MIGRATING)]
    assert found[SOMEONE_ELSES]["type"] == "classic"
    vhost = quote(guest.rsplit("/", 1)[1], safe="")
    for queue, event_type in ((CODES, SMS_CODE_ISSUED), (CANCELLED, ACCOUNT_CANCELLED)):
        assert found[queue]["type"] == "quorum"
        assert found[queue]["arguments"] == event_queue_arguments(queue)
        bindings = requests.get(f"{RABBIT_API}/queues/{vhost}/{quote(queue, safe='')}/bindings",
                                timeout=10).json()
        assert {(b["source"], b["routing_key"]) for b in bindings if b["source"]} == {
            ("accounts.events", event_type)}
    assert provision(own_vhost, tmp_path) == 0  # nothing left to do

    # notify starts on them (its declarations match) and gets every event, in order
    with running_service(Notify, ProcessSettings(_env_file=None, AMQP_URI=users["notify"],
                                                 MAX_WORKERS=1)):
        deadline = time.monotonic() + 15
        while len(RECEIVED) < 7:
            assert time.monotonic() < deadline, RECEIVED
            eventlet.sleep(0.1)
    assert [n for event, n in RECEIVED if event == SMS_CODE_ISSUED] == [0, 1, 2, 3, 4]
    assert sorted(n for event, n in RECEIVED if event == ACCOUNT_CANCELLED) == [5, 6]


def test_a_queue_something_consumes_is_left_alone(own_vhost, tmp_path, capsys):
    guest, _ = own_vhost
    classic(guest, CODES, SMS_CODE_ISSUED)
    vhost = guest.rsplit("/", 1)[1]
    with Connection(guest) as conn:
        conn.Consumer(Queue(CODES, no_declare=True), callbacks=[]).consume()
        deadline = time.monotonic() + 15  # the management API lists a consumer within 5 s
        while not requests.get(f"{RABBIT_API}/consumers/{vhost}", timeout=10).json():
            assert time.monotonic() < deadline
            eventlet.sleep(0.5)
        assert provision(own_vhost, tmp_path) == 1
    assert f"{CODES} on vhost" in capsys.readouterr().err
    assert queues(guest)[CODES]["type"] == "classic"
