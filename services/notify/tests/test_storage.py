"""The message store against the real PostgreSQL schema: leases, final states, no clear text."""

from __future__ import annotations

import base64
import os
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from common.crypto import DecryptionFailed, LookupHasher
from common.keys import MasterKeys
from common.settings import DEV_KEYS, role_url
from services.notify.contract import SmsMessage
from services.notify.settings import NotifySettings
from services.notify.storage import MessageStore, rotate_keys
from services.notify.tests.rows import raw_row

PHONE = "13912345678"
ACCOUNT = "27000001"
TEXT = "【平台】您的验证码为 654321，5分钟内有效。"


@pytest.fixture
def store(pool):
    return MessageStore(pool, MasterKeys.parse(DEV_KEYS["MASTER_KEYS"]))


def message(message_id="m-1"):
    return SmsMessage(message_id=message_id, phone=PHONE, purpose="register", text=TEXT)


def record(store, sms, not_after, lease_s):
    """As for an SMS code's event seen for the first time."""
    return store.record_event(str(uuid.uuid4()), "sms_code_issued", sms, not_after, lease_s)


def test_record_claims_a_new_message_for_its_sender_once(store, pool):
    claim = record(store, message(), None, lease_s=60)
    assert (claim.message_id, claim.phone, claim.text, claim.attempts, claim.expired) == (
        "m-1", PHONE, TEXT, 1, False)
    assert record(store, message(), None, lease_s=60) is None
    assert store.claim("m-1", lease_s=60) is None  # its sender still holds it
    row = raw_row(pool, "m-1")
    for column in ("phone_hash", "phone_enc", "text_enc"):
        assert PHONE.encode() not in bytes(row[column])
        assert b"654321" not in bytes(row[column])


def test_a_lapsed_lease_can_be_claimed_again(store):
    record(store, message(), None, lease_s=0)
    assert store.claimable(10) == ["m-1"]
    claim = store.claim("m-1", lease_s=60)
    assert claim.attempts == 2 and claim.text == TEXT
    assert store.claimable(10) == []


def test_a_message_past_not_after_is_claimed_as_expired(store):
    claim = record(store, message(), datetime.now(UTC) - timedelta(seconds=1), lease_s=60)
    assert claim.expired


def test_final_states_erase_the_text(store, pool):
    sent_at = datetime.now(UTC) - timedelta(seconds=1)
    for message_id, finish in (("m-sent", lambda mid: store.mark_sent({mid: sent_at})),
                               ("m-expired", store.mark_expired),
                               ("m-failed", lambda mid: store.mark_failed(mid, "HTTP 400"))):
        record(store, message(message_id), None, lease_s=0)
        finish(message_id)
        row = raw_row(pool, message_id)
        assert row["text_enc"] is None
        assert store.claim(message_id, lease_s=60) is None
    sent = raw_row(pool, "m-sent")
    assert sent["status"] == "sent" and sent["sent_at"] == sent_at
    assert raw_row(pool, "m-failed")["last_error"] == "HTTP 400"
    assert store.claimable(10) == []


def test_many_texts_are_marked_sent_at_once_each_with_its_time(store, pool):
    times = {f"m-{i}": datetime.now(UTC) - timedelta(seconds=i) for i in range(3)}
    for message_id in times:
        record(store, message(message_id), None, lease_s=60)
    store.mark_sent(times)
    for message_id, sent_at in times.items():
        row = raw_row(pool, message_id)
        assert (row["status"], row["sent_at"], row["text_enc"]) == ("sent", sent_at, None)


def test_retry_later_keeps_the_message_pending_until_the_delay_is_over(store, pool):
    record(store, message(), None, lease_s=0)
    store.retry_later("m-1", "HTTP 503", delay_s=60)
    assert store.claimable(10) == []
    row = raw_row(pool, "m-1")
    assert (row["status"], row["last_error"]) == ("pending", "HTTP 503")
    store.retry_later("m-1", "HTTP 503", delay_s=0)
    assert store.claim("m-1", lease_s=60).attempts == 2


def test_an_event_is_turned_into_a_message_once(store, pool):
    first = store.record_event("e-1", "account_registered", message("evt-e-1"), None,
                               lease_s=60)
    assert first.message_id == "evt-e-1"
    assert store.record_event("e-1", "account_registered", message("evt-e-1"), None,
                              60) is None
    with pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM notify.messages").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM notify.processed_events").fetchone()[0] == 1


def message_ids(pool):
    with pool.connection() as conn:
        return sorted(row[0] for row in conn.execute("SELECT id FROM notify.messages"))


def test_forgetting_a_phone_deletes_its_final_texts_now_and_its_pending_ones_once_final(
        store, pool):
    for message_id in ("m-final", "m-sent-later", "m-failed-later"):
        record(store, message(message_id), None, lease_s=60)
    store.mark_sent({"m-final": datetime.now(UTC)})
    other = SmsMessage(message_id="m-other", phone="13800000000", purpose="register", text=TEXT)
    record(store, other, None, lease_s=60)

    assert store.forget_phone("e-1", "account_cancelled", ACCOUNT, PHONE)
    assert message_ids(pool) == ["m-failed-later", "m-other", "m-sent-later"]  # still owed
    # the event, redelivered
    assert not store.forget_phone("e-1", "account_cancelled", ACCOUNT, PHONE)

    store.mark_sent({"m-sent-later": datetime.now(UTC), "m-other": datetime.now(UTC)})
    store.mark_failed("m-failed-later", "HTTP 400")
    assert message_ids(pool) == ["m-other"]
    assert raw_row(pool, "m-other")["status"] == "sent"


class HeldPool:
    """`pool`, but each transaction waits, its statements run and their locks held, until
    `go` is set before it commits (`ready` is set then): one worker caught mid-way."""

    def __init__(self, pool):
        self.pool, self.ready, self.go = pool, threading.Event(), threading.Event()

    @contextmanager
    def connection(self):
        with self.pool.connection() as conn:
            yield HeldConnection(conn, self)


class HeldConnection:
    def __init__(self, conn, held: HeldPool):
        self._conn, self._held = conn, held

    def __getattr__(self, name):
        return getattr(self._conn, name)

    @contextmanager
    def transaction(self):
        with self._conn.transaction():
            yield
            self._held.ready.set()
            assert self._held.go.wait(10)


def race(pool, first, then) -> None:
    """`first(store)` runs up to its commit and holds there while `then(store)` starts and
    waits for its locks; then both finish. Each is a MessageStore method, as it is."""
    keys = MasterKeys.parse(DEV_KEYS["MASTER_KEYS"])
    held = HeldPool(pool)
    threads = [threading.Thread(target=first, args=(MessageStore(held, keys),))]
    threads[0].start()
    assert held.ready.wait(10)
    threads.append(threading.Thread(target=then, args=(MessageStore(pool, keys),)))
    threads[1].start()
    with pool.connection() as conn:  # the second is waiting for the first's locks
        wait_for(lambda: conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()").fetchone()[0] > 0)
    held.go.set()
    for thread in threads:
        thread.join(10)


def wait_for(condition, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_text_marked_sent_as_its_phone_is_forgotten_is_deleted(store, pool):
    record(store, message("m-racing"), None, lease_s=60)
    race(pool, lambda store: store.mark_sent({"m-racing": datetime.now(UTC)}),
         lambda store: store.forget_phone("e-1", "account_cancelled", ACCOUNT, PHONE))
    assert message_ids(pool) == []


def test_a_phone_forgotten_as_its_text_is_marked_sent_loses_that_text(store, pool):
    record(store, message("m-racing"), None, lease_s=60)
    race(pool, lambda store: store.forget_phone("e-1", "account_cancelled", ACCOUNT, PHONE),
         lambda store: store.mark_sent({"m-racing": datetime.now(UTC)}))
    assert message_ids(pool) == []


def test_a_cancelled_accounts_texts_arriving_late_are_neither_recorded_nor_sent(store, pool):
    assert store.forget_phone("e-1", "account_cancelled", ACCOUNT, PHONE)
    # events of other kinds come in no fixed order: the account's number, after all
    assert store.record_event("e-2", "account_registered", message("evt-e-2"), None, 60,
                              account_no=ACCOUNT) is None
    assert store.record_event("e-3", "account_registered", message("evt-e-3"), None, 60,
                              account_no="27000002") is not None  # another account on the phone
    assert record(store, message("code-1"), None, lease_s=60) is not None  # a code, to anyone
    assert message_ids(pool) == ["code-1", "evt-e-3"]


def test_a_text_recorded_as_its_account_is_cancelled_is_forgotten(store, pool):
    race(pool, lambda store: store.forget_phone("e-1", "account_cancelled", ACCOUNT, PHONE),
         lambda store: store.record_event("e-2", "account_registered", message("evt-e-2"),
                                          None, 60, account_no=ACCOUNT))
    assert message_ids(pool) == []


def test_look_ups_are_keyed_apart_from_the_cipher(store, pool):
    """One leaked key must not give both: the phone hashes use a key of their own."""
    master = MasterKeys.parse(DEV_KEYS["MASTER_KEYS"])
    record(store, message(), None, lease_s=60)
    lookup_key = master.stable("notify/lookup")
    assert raw_row(pool, "m-1")["phone_hash"] == LookupHasher(lookup_key)("phone", PHONE)
    assert lookup_key != master.derive(master.current_id, "notify/data")


def test_a_phone_pasted_into_another_message_does_not_open(store, pool, database_url):
    record(store, message("m-1"), None, lease_s=0)
    record(store, SmsMessage(message_id="m-2", phone="13700000000", purpose="register",
                            text=TEXT), None, lease_s=0)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("UPDATE notify.messages SET phone_enc = (SELECT phone_enc FROM "
                      "notify.messages WHERE id = 'm-1') WHERE id = 'm-2'")
    with pytest.raises(DecryptionFailed):
        store.claim("m-2", lease_s=60)


def test_texts_to_phones_that_never_registered_are_forgotten_after_the_retention_period(
        store, pool, database_url):
    registered = "13600000000"
    record(store, message("code-old"), None, lease_s=0)  # a registration never finished
    record(store, message("code-new"), None, lease_s=0)
    record(store, message("code-pending"), None, lease_s=0)
    record(store, SmsMessage(message_id="code-reg", phone=registered, purpose="register",
                            text=TEXT), None, lease_s=0)
    record(store, SmsMessage(message_id="evt-reg", phone=registered,
                            purpose="account_registered", text=TEXT), None, lease_s=0)
    store.mark_sent({mid: datetime.now(UTC) for mid in ("code-old", "code-new", "code-reg",
                                                        "evt-reg")})
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("UPDATE notify.messages SET created_at = now() - interval '31 days' "
                      "WHERE id <> 'code-new'")

    assert store.purge_unregistered(retention_days=30) == 1
    with pool.connection() as conn:
        left = {row[0] for row in conn.execute("SELECT id FROM notify.messages")}
    # still pending: it may yet be sent; a registered family's texts go when it cancels
    assert left == {"code-new", "code-pending", "code-reg", "evt-reg"}


def test_rotation_reseals_phones_and_texts_under_the_newest_master_key(pool, database_url):
    old = MasterKeys.parse(DEV_KEYS["MASTER_KEYS"])
    record(MessageStore(pool, old), message(), None, lease_s=0)
    new_key = base64.b64encode(os.urandom(32)).decode()
    rotated = MasterKeys.parse(f"2:{new_key},{DEV_KEYS['MASTER_KEYS']}")
    assert rotate_keys(role_url(database_url, NotifySettings.DATABASE_ROLE), rotated) == 1
    assert MessageStore(pool, rotated).rotate_keys() == 0
    only_new = MessageStore(pool, MasterKeys.parse(f"2:{new_key}"))
    claim = only_new.claim("m-1", lease_s=60)
    assert (claim.phone, claim.text) == (PHONE, TEXT)
