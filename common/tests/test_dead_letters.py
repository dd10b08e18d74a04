"""Poison events are set aside, not retried for ever, and not in the way of the others; an
outage of the database sets nothing aside; operators list and replay what was (common/
dead_letters.py, common/edge/consuming.py). Real RabbitMQ on a vhost of each test's own, real
nameko containers logged in as notify's own broker user."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime

import eventlet
import psycopg
import psycopg_pool
import pytest
from amqp.exceptions import AccessRefused
from kombu import Connection, Exchange, Queue
from nameko.standalone.events import event_dispatcher
from prometheus_client import REGISTRY

from common import dead_letters
from common.dead_letters import DEAD_LETTER_EXCHANGE, DELIVERY_LIMIT, read
from common.edge.consuming import event_handler, retry_delay, transient
from common.edge.dependencies import Wiring
from common.errors import DomainError
from common.masking import mask_text
from common.settings import ProcessSettings, ServiceSettings
from services.accounts.contract import SERVICE_NAME as ACCOUNTS
from services.accounts.contract import SMS_CODE_ISSUED
from tests.support.infra import drop_database, make_database, running_service, set_outage

QUEUE = "evt-accounts-sms_code_issued--notify.handle_sms_code_issued"
DEAD_LETTERS = "notify.dead-letters"
PHONE, ID_NUMBER, CODE = "13812345678", "11010520190101001X", "246813"
RETRY_WAIT_MAX_S = retry_delay(DELIVERY_LIMIT)

ATTEMPTS: list[tuple[int, str]] = []  # (n, "failed" | "ok") in the order they ended
CURED: list[bool] = []  # not empty: the bug is fixed, poison is handled like the rest


class PoisonedNotify:
    """Stands in for notify (its name, so its queue names and its broker user's permissions)
    with a handler that has a bug one kind of event triggers."""

    name = "notify"

    @event_handler(ACCOUNTS, SMS_CODE_ISSUED, requeue_on_error=True)
    def handle_sms_code_issued(self, payload):
        if payload.get("poison") and not CURED:
            eventlet.sleep(0.1)
            ATTEMPTS.append((payload["n"], "failed"))
            raise ValueError("a bug this event triggers")
        eventlet.sleep(0.01)
        ATTEMPTS.append((payload["n"], "ok"))


@pytest.fixture(autouse=True)
def fresh_state():
    ATTEMPTS.clear()
    CURED.clear()


def event(n: int, poison: bool = False) -> dict:
    return {"n": n, "poison": poison, "event_id": str(uuid.uuid4()), "phone": PHONE,
            "document_number": ID_NUMBER, "guardian_name": "张三",
            "text": f"您的验证码为 {CODE}，5分钟内有效。"}


def settings(amqp_uri: str, **overrides) -> ProcessSettings:
    return ProcessSettings(_env_file=None, AMQP_URI=amqp_uri, **overrides)


def depth(amqp_uri: str, queue: str = DEAD_LETTERS) -> int:
    with Connection(amqp_uri) as conn:
        return conn.default_channel.queue_declare(queue=queue, passive=True).message_count


def wait_for(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        eventlet.sleep(0.1)


def handled(n: int) -> bool:
    return (n, "ok") in ATTEMPTS


def set_aside(own_vhost, *poisons: int) -> None:
    """Runs the poisoned service until the `poisons` events are dead letters."""
    guest, users = own_vhost
    with running_service(PoisonedNotify, settings(users["notify"])):
        dispatch = event_dispatcher({"AMQP_URI": guest})
        for n in poisons:
            dispatch(ACCOUNTS, SMS_CODE_ISSUED, event(n, poison=True))
        wait_for(lambda: depth(guest) == len(poisons))


def test_a_poison_event_is_set_aside_while_the_others_are_handled(own_vhost):
    guest, users = own_vhost
    with running_service(PoisonedNotify, settings(users["notify"], MAX_WORKERS=2,
                                                  DEAD_LETTERS_REFRESH_S=0.2)):
        dispatch = event_dispatcher({"AMQP_URI": guest})
        dispatch(ACCOUNTS, SMS_CODE_ISSUED, event(0, poison=True))
        for n in range(1, 21):
            dispatch(ACCOUNTS, SMS_CODE_ISSUED, event(n))
        wait_for(lambda: depth(guest) == 1 and all(handled(n) for n in range(1, 21)))
        wait_for(lambda: REGISTRY.get_sample_value(
            "platform_dead_letters", {"queue": DEAD_LETTERS}) == 1)
    poison = [i for i, attempt in enumerate(ATTEMPTS) if attempt[0] == 0]
    assert len(poison) == DELIVERY_LIMIT + 1  # tried, then set aside
    # one worker kept failing on the poison meanwhile, the other handled the rest
    assert all(ATTEMPTS.index((n, "ok")) < poison[-1] for n in range(1, 21))
    assert sorted(ATTEMPTS)[len(poison):] == [(n, "ok") for n in range(1, 21)]  # once each
    assert depth(guest, QUEUE) == 0


def test_a_process_user_may_neither_publish_dead_letters_nor_read_them(own_vhost):
    guest, users = own_vhost
    with running_service(PoisonedNotify, settings(users["notify"])):
        pass  # declares and binds notify's dead-letter queue as notify's user
    with Connection(users["notify"], transport_options={"confirm_publish": True}) as conn, \
            pytest.raises(AccessRefused):
        conn.Producer().publish({}, exchange=Exchange(DEAD_LETTER_EXCHANGE, type="topic",
                                                      durable=True),
                                routing_key=QUEUE, retry=False)
    with Connection(users["notify"]) as conn, pytest.raises(AccessRefused):
        Queue(DEAD_LETTERS, no_declare=True)(conn.default_channel).get()


def test_list_shows_each_dead_letter_with_its_personal_data_masked(own_vhost, monkeypatch,
                                                                   capsys):
    guest, _ = own_vhost
    set_aside(own_vhost, 0, 1)
    monkeypatch.setenv("AMQP_URI", guest)
    assert dead_letters.main(["list", "notify"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"2 dead letters in {DEAD_LETTERS}"
    for line in lines[:2]:
        assert QUEUE in line and f" {SMS_CODE_ISSUED} " in line and " delivery_limit " in line
        assert f"{DELIVERY_LIMIT + 1} deliveries" in line
        assert "138****5678" in line and "1101*************X" in line and '"张*"' in line
    assert not any(secret in "\n".join(lines) for secret in (PHONE, ID_NUMBER, CODE, "张三"))
    assert depth(guest) == 2  # listing takes nothing away


def test_replay_puts_the_chosen_dead_letters_back_on_their_queue(own_vhost, monkeypatch,
                                                                 capsys):
    guest, users = own_vhost
    set_aside(own_vhost, 0, 1)
    monkeypatch.setenv("AMQP_URI", guest)
    dead_letters.main(["list", "notify"])
    ids = [line.split()[0] for line in capsys.readouterr().out.splitlines()[:2]]
    CURED.append(True)  # the bug is fixed and deployed
    with running_service(PoisonedNotify, settings(users["notify"])):
        assert dead_letters.main(["replay", "notify", ids[0]]) == 0
        wait_for(lambda: len([a for a in ATTEMPTS if a[1] == "ok"]) == 1)
        assert depth(guest) == 1
        assert dead_letters.main(["replay", "notify", "--all"]) == 0
        wait_for(lambda: handled(0) and handled(1))
        assert depth(guest) == 0
    assert dead_letters.main(["replay", "notify", ids[0]]) == 1  # no longer there


def test_a_dead_letter_whose_queue_is_gone_stays(own_vhost, monkeypatch):
    """It is taken from the dead-letter queue only once the broker has confirmed its copy."""
    guest, _ = own_vhost
    set_aside(own_vhost, 0)
    with Connection(guest) as conn:
        conn.default_channel.queue_delete(QUEUE)
    monkeypatch.setenv("AMQP_URI", guest)
    assert dead_letters.main(["replay", "notify", "--all"]) == 1
    assert depth(guest) == 1


class LedgerService:
    name = "ledger"
    db = Wiring(lambda settings, pool: pool)  # its app: the pool itself

    @event_handler("clerk", "entry", requeue_on_error=True)
    def record(self, payload):
        with self.db.connection() as conn:
            conn.execute("INSERT INTO entries (n) VALUES (%s)", (payload["n"],))


@pytest.fixture
def ledger_database():
    url = make_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE entries (n int NOT NULL)")
    yield url
    drop_database(url)


def entries(url: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return sorted(n for (n,) in conn.execute("SELECT n FROM entries"))


def test_a_minute_without_the_database_sets_no_event_aside(own_vhost, ledger_database):
    """Events keep coming while the database is away for 60 s; afterwards each is recorded
    once, and none was set aside."""
    guest, _ = own_vhost
    service = ServiceSettings(_env_file=None, AMQP_URI=guest, DATABASE_URL=ledger_database)
    with running_service(LedgerService, service):
        dispatch = event_dispatcher({"AMQP_URI": guest})
        for n in range(10):
            dispatch("clerk", "entry", {"n": n})
        wait_for(lambda: entries(ledger_database) == list(range(10)))
        set_outage(ledger_database, down=True)
        try:
            outage_ends = time.monotonic() + 60
            for n in range(10, 30):  # during the first half of the outage
                dispatch("clerk", "entry", {"n": n})
                eventlet.sleep(1.5)
            eventlet.sleep(max(0.0, outage_ends - time.monotonic()))
            assert depth(guest, "ledger.dead-letters") == 0
        finally:
            set_outage(ledger_database, down=False)
        wait_for(lambda: entries(ledger_database) == list(range(30)),
                 timeout_s=RETRY_WAIT_MAX_S + 15)
        assert depth(guest, "ledger.dead-letters") == 0


def test_a_transient_failure_takes_minutes_to_use_up_the_delivery_limit():
    """A message that fails at once each time (the fastest way to the limit) is requeued
    after waits that add up to more than five minutes before it is set aside."""
    assert retry_delay(0) == 1 and RETRY_WAIT_MAX_S == 20
    assert sum(retry_delay(deliveries) for deliveries in range(DELIVERY_LIMIT + 1)) > 5 * 60


@pytest.mark.parametrize("error, expected", [
    (psycopg.OperationalError("server closed the connection"), True),
    (psycopg_pool.PoolTimeout("no connection in 10 s"), True),
    (DomainError("SERVICE_UNAVAILABLE"), True),
    (DomainError("VALIDATION_ERROR"), False),
    (psycopg.errors.UniqueViolation("duplicate key"), False),
    (ValueError("a bug"), False),
])
def test_only_failures_that_pass_by_themselves_wait_before_a_retry(error, expected):
    assert transient(error) is expected


def test_a_dead_letter_is_read_from_the_brokers_headers_with_its_body_masked():
    at = datetime(2027, 5, 6, 7, 8, 9)
    headers = {"x-first-death-reason": "delivery_limit", "x-delivery-count": 3,
               "x-death": [{"count": 2, "reason": "delivery_limit", "queue": QUEUE,
                            "time": at, "exchange": "accounts.events",
                            "routing-keys": [SMS_CODE_ISSUED]}]}
    event_id = "6f1c2d3e-1234-4bbb-8ccc-0123456789ab"
    body = json.dumps({"event_id": event_id, "phone": PHONE, "ids": [ID_NUMBER],
                       "child_name": "欧阳娜娜", "text": f"验证码 {CODE}"},
                      ensure_ascii=False).encode()
    letter = read(headers, body)
    assert (letter.queue, letter.event_type, letter.reason, letter.at) == (
        QUEUE, SMS_CODE_ISSUED, "delivery_limit", at)
    assert letter.deliveries == 2 * (DELIVERY_LIMIT + 1)  # set aside twice (replayed once)
    assert json.loads(letter.body) == {  # an event id is nobody's data: shown whole
        "event_id": event_id, "phone": "138****5678", "ids": ["1101*************X"],
        "child_name": "欧***", "text": "验证码 ******"}
    assert letter.id == read(headers, body).id != read(headers, body + b" ").id
    assert len(read({}, b"x" * 1000).body) == dead_letters.BODY_SHOWN
    assert "x-delivery-count" not in dead_letters.replayed_headers(headers)


def test_free_text_keeps_no_phone_id_number_or_code():
    assert mask_text(f"手机{PHONE}，证件{ID_NUMBER.lower()}，码{CODE}，+86{PHONE}，2027-05-06") == (
        "手机138****5678，证件1101*************x，码******，+*************，2027-05-06")
