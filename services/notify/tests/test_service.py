"""The notify service in a real nameko container, on real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ClusterRpcProxy
from prometheus_client import REGISTRY

from common.errors import DomainError
from services.accounts.contract import ACCOUNT_CANCELLED, ACCOUNT_REGISTERED, SMS_CODE_ISSUED
from services.accounts.contract import SERVICE_NAME as ACCOUNTS
from services.enrollment.contract import REVIEW_OUTCOME, VERIFICATION_OUTCOME
from services.enrollment.contract import SERVICE_NAME as ENROLLMENT
from services.notify.contract import SmsMessage
from services.notify.delivery import (
    HttpBackend,
    OutboxFileBackend,
    account_number_text,
    review_outcome_text,
    verification_outcome_text,
)
from services.notify.service import KILL_WRITE_S, NotifyService, SentMarks
from services.notify.settings import NotifySettings
from services.notify.storage import MessageStore
from services.notify.tests.rows import raw_row
from tests.support.infra import running_service

PHONE = "13712345678"
CODE_TEXT = "您的验证码为 246813，5分钟内有效。"
SIGNED_CODE_TEXT = "【北京市义务教育入学服务平台】" + CODE_TEXT


@pytest.fixture
def outbox(tmp_path):
    return tmp_path / "sms-outbox.jsonl"


@pytest.fixture
def settings(make_settings, outbox, pool):
    return make_settings(NotifySettings, SMS_OUTBOX_PATH=str(outbox))


@pytest.fixture
def notify(amqp_uri):
    """Calls the notify service as another service would."""
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=10) as cluster:
        yield cluster.notify


def sms(message_id=None, **fields):
    return {"message_id": message_id or uuid.uuid4().hex, "phone": PHONE,
            "purpose": "register", "text": CODE_TEXT, **fields}


def issue_code(amqp_uri, message_id=None, event_id=None, **fields):
    """What accounts' outbox relay publishes for a code to text."""
    not_after = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    event_dispatcher({"AMQP_URI": amqp_uri})(ACCOUNTS, SMS_CODE_ISSUED, {
        "event_id": event_id or str(uuid.uuid4()), "not_after": not_after,
        **sms(message_id, **fields)})


def settles(pool, message_id, status, timeout_s=10.0):
    """Waits for the message to reach `status` (sent: once its mark is written)."""
    wait_for(lambda: (row := _row_or_none(pool, message_id)) and row["status"] == status,
             timeout_s)
    return raw_row(pool, message_id)


def _row_or_none(pool, message_id):
    with pool.connection() as conn:
        found = conn.execute("SELECT 1 FROM notify.messages WHERE id = %s",
                             (message_id,)).fetchone()
    return raw_row(pool, message_id) if found else None


def sent_lines(outbox, message_id):
    if not outbox.exists():
        return []
    lines = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line["message_id"] == message_id]


def wait_for(condition, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while not (result := condition()):
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)
    return result


def sms_counted(purpose, result):
    return REGISTRY.get_sample_value(
        "platform_sms_sent_total", {"purpose": purpose, "result": result}) or 0


def events_handled(event=ACCOUNT_REGISTERED):
    return REGISTRY.get_sample_value(
        "platform_events_handled_total",
        {"service": "notify", "event": event, "outcome": "ok"}) or 0


def dispatch_account_registered(amqp_uri, event_id):
    event_dispatcher({"AMQP_URI": amqp_uri})(ACCOUNTS, ACCOUNT_REGISTERED, {
        "event_id": event_id, "account_no": "27123456", "district": "haidian",
        "guardian_phone": PHONE})


def test_ping(settings, notify):
    with running_service(NotifyService, settings):
        assert notify.ping() == {"service": "notify", "ok": True}


def test_a_code_event_sends_one_text_and_keeps_no_readable_personal_data(settings, amqp_uri,
                                                                        outbox, pool):
    with running_service(NotifyService, settings):
        issue_code(amqp_uri, "m-1")
        row = settles(pool, "m-1", "sent")

    [line] = sent_lines(outbox, "m-1")
    assert (line["phone"], line["purpose"], line["text"]) == (PHONE, "register", SIGNED_CODE_TEXT)
    assert (row["attempts"], row["text_enc"]) == (1, None)
    for value in row.values():
        stored = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
        assert PHONE.encode() not in stored
        assert b"246813" not in stored


def test_sent_texts_are_marked_sent_while_the_service_runs(settings, amqp_uri, pool):
    with running_service(NotifyService, settings):
        for message_id in ("m-1", "m-2", "m-3"):
            issue_code(amqp_uri, message_id)
        rows = [settles(pool, message_id, "sent", timeout_s=5)
                for message_id in ("m-1", "m-2", "m-3")]
    assert all(row["text_enc"] is None and row["sent_at"] for row in rows)


def test_marks_the_database_refused_are_written_on_a_later_round(settings, amqp_uri, pool):
    with running_service(NotifyService, settings) as container:
        marks = next(d for d in container.dependencies if isinstance(d, SentMarks))
        with marks.pool.connection() as conn:
            backend_pid = conn.info.backend_pid
        with pool.connection() as conn:  # the connection the marks are written on breaks
            conn.execute("SELECT pg_terminate_backend(%s)", (backend_pid,))
        issue_code(amqp_uri, "m-1")
        settles(pool, "m-1", "sent")


def test_a_text_sent_just_before_the_family_cancels_is_deleted_with_the_rest(
        settings, amqp_uri, pool):
    with running_service(NotifyService, settings):
        issue_code(amqp_uri, "m-1")  # the cancellation's code
        settles(pool, "m-1", "sent")
        event_dispatcher({"AMQP_URI": amqp_uri})(ACCOUNTS, ACCOUNT_CANCELLED, {
            "event_id": str(uuid.uuid4()), "account_no": "27123456", "guardian_phone": PHONE})
        with pool.connection() as conn:
            wait_for(lambda: conn.execute("SELECT count(*) FROM notify.messages").fetchone()[0]
                     == 0, timeout_s=10)


def test_the_account_number_handled_after_the_cancellation_is_not_texted(
        settings, amqp_uri, outbox, pool):
    """Events of different kinds come through queues of their own, in no fixed order."""
    cancellations, registrations = events_handled(ACCOUNT_CANCELLED), events_handled()
    skipped = sms_counted("account_registered", "cancelled")
    event_id = str(uuid.uuid4())
    with running_service(NotifyService, settings):
        event_dispatcher({"AMQP_URI": amqp_uri})(ACCOUNTS, ACCOUNT_CANCELLED, {
            "event_id": str(uuid.uuid4()), "account_no": "27123456", "guardian_phone": PHONE})
        wait_for(lambda: events_handled(ACCOUNT_CANCELLED) > cancellations)
        dispatch_account_registered(amqp_uri, event_id)  # of the same account, 27123456
        wait_for(lambda: events_handled() > registrations)
    assert sent_lines(outbox, f"evt-{event_id}") == []
    assert sms_counted("account_registered", "cancelled") == skipped + 1
    with pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM notify.messages").fetchone()[0] == 0


def test_the_same_code_event_twice_sends_one_text(settings, amqp_uri, outbox, pool):
    event_id = str(uuid.uuid4())
    handled = events_handled(SMS_CODE_ISSUED)
    with running_service(NotifyService, settings):
        issue_code(amqp_uri, "m-1", event_id)
        issue_code(amqp_uri, "m-1", event_id)
        wait_for(lambda: events_handled(SMS_CODE_ISSUED) >= handled + 2)
        settles(pool, "m-1", "sent")
    assert len(sent_lines(outbox, "m-1")) == 1


def test_a_withheld_code_event_is_dropped_without_a_trace(settings, amqp_uri, outbox, pool):
    """Forgot-password codes for no matching account travel like the others (the same
    time on the request path) but are owed to nobody."""
    handled = events_handled(SMS_CODE_ISSUED)
    with running_service(NotifyService, settings):
        issue_code(amqp_uri, "m-1", deliver=False)
        wait_for(lambda: events_handled(SMS_CODE_ISSUED) >= handled + 1)
    assert not outbox.exists()
    assert _row_or_none(pool, "m-1") is None


def test_a_text_past_not_after_is_never_sent(settings, amqp_uri, outbox, pool):
    stale = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    with running_service(NotifyService, settings):
        event_dispatcher({"AMQP_URI": amqp_uri})(ACCOUNTS, SMS_CODE_ISSUED, {
            "event_id": str(uuid.uuid4()), **sms("m-1"), "not_after": stale})
        row = settles(pool, "m-1", "expired")

    assert sent_lines(outbox, "m-1") == []
    assert row["text_enc"] is None


@pytest.mark.parametrize("fields", [{"phone": "12345"}, {"not_after": "tomorrow"},
                                    {"not_after": "2027-05-06T10:00:00"}],  # no zone
                         ids=["phone", "not_after", "naive"])
def test_malformed_code_events_are_acknowledged_and_dropped(settings, amqp_uri, outbox, fields):
    handled = events_handled(SMS_CODE_ISSUED)
    with running_service(NotifyService, settings):
        event_dispatcher({"AMQP_URI": amqp_uri})(ACCOUNTS, SMS_CODE_ISSUED, {
            "event_id": str(uuid.uuid4()), **sms("m-1"),
            "not_after": datetime.now(UTC).isoformat(), **fields})
        wait_for(lambda: events_handled(SMS_CODE_ISSUED) >= handled + 1)
    assert not outbox.exists()


def test_http_provider_gets_the_text(settings, make_settings, amqp_uri, provider, pool):
    http = make_settings(NotifySettings, SMS_BACKEND="http", SMS_HTTP_URL=provider.url,
                         SMS_HTTP_TOKEN="t0ken")
    with running_service(NotifyService, http):
        issue_code(amqp_uri, "m-1")
        settles(pool, "m-1", "sent")

    [request] = provider.requests
    assert request["headers"]["Idempotency-Key"] == "m-1"
    assert request["body"] == {"message_id": "m-1", "phone": PHONE, "text": SIGNED_CODE_TEXT}


def test_http_provider_refusal_fails_the_message_without_personal_data(
        settings, make_settings, amqp_uri, provider, pool):
    provider.replies = [400]
    http = make_settings(NotifySettings, SMS_BACKEND="http", SMS_HTTP_URL=provider.url)
    with running_service(NotifyService, http):
        issue_code(amqp_uri, "m-1")
        row = settles(pool, "m-1", "failed")

    assert (row["last_error"], row["text_enc"]) == ("HTTP 400", None)


def test_http_provider_outage_leaves_the_message_pending_for_a_retry(
        settings, make_settings, amqp_uri, provider, pool):
    provider.replies = [503, 503]
    http = make_settings(NotifySettings, SMS_BACKEND="http", SMS_HTTP_URL=provider.url,
                         SMS_HTTP_MAX_ATTEMPTS=2)
    with running_service(NotifyService, http):
        issue_code(amqp_uri, "m-1")
        wait_for(lambda: (row := _row_or_none(pool, "m-1")) and row["last_error"])

    assert len(provider.requests) == 2
    row = raw_row(pool, "m-1")
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 1, "HTTP 503")
    assert row["text_enc"] is not None


def test_retry_loop_sends_what_a_crashed_sender_left_pending(settings, outbox, pool):
    store = MessageStore(pool, settings.master_keys)
    store.record_event(str(uuid.uuid4()), SMS_CODE_ISSUED, SmsMessage(**sms("m-1")), None,
                       lease_s=0)  # its sender died at once

    with running_service(NotifyService, settings):
        wait_for(lambda: sent_lines(outbox, "m-1"))

    assert len(sent_lines(outbox, "m-1")) == 1
    row = raw_row(pool, "m-1")
    assert (row["status"], row["attempts"]) == ("sent", 2)


@pytest.mark.parametrize("backend", ["outbox", "http"])
def test_a_text_sent_by_a_process_killed_before_marking_it_reaches_the_family_once(
        backend, make_settings, outbox, pool, provider):
    settings = make_settings(NotifySettings, SMS_BACKEND=backend, SMS_OUTBOX_PATH=str(outbox),
                             SMS_HTTP_URL=provider.url)
    store = MessageStore(pool, settings.master_keys)
    claim = store.record_event(str(uuid.uuid4()), SMS_CODE_ISSUED, SmsMessage(**sms("m-1")),
                               None, lease_s=0)
    # The killed process's backend sent the text; its sent mark was lost with the process.
    killed = (OutboxFileBackend(outbox) if backend == "outbox"
              else HttpBackend(provider.url, "", timeout_s=2, max_attempts=1))
    killed.send("m-1", PHONE, "register", SIGNED_CODE_TEXT)

    with running_service(NotifyService, settings):
        row = settles(pool, "m-1", "sent")

    assert row["attempts"] == claim.attempts + 1  # sent again, and refused
    if backend == "outbox":
        assert len(sent_lines(outbox, "m-1")) == 1
    else:
        assert len(provider.requests) == 2 and list(provider.delivered) == ["m-1"]


class SlowMarksNotify(NotifyService):
    """Writes its sent marks only when it stops or is killed."""
    sent_marks = SentMarks(interval_s=3600)


def test_a_killed_service_writes_its_batched_sent_marks_first(settings, amqp_uri, pool):
    sent = sms_counted("register", "sent")
    with running_service(SlowMarksNotify, settings) as container:
        issue_code(amqp_uri, "m-1")
        wait_for(lambda: sms_counted("register", "sent") > sent)  # its mark is batched
        assert raw_row(pool, "m-1")["status"] == "pending"
        container.kill()
        assert raw_row(pool, "m-1")["status"] == "sent"


def test_a_kill_does_not_wait_long_for_marks_the_database_holds_up(settings, amqp_uri, pool,
                                                                   database_url):
    sent = sms_counted("register", "sent")
    with running_service(SlowMarksNotify, settings) as container:
        issue_code(amqp_uri, "m-1")
        wait_for(lambda: sms_counted("register", "sent") > sent)
        with psycopg.connect(database_url) as admin:  # holds the row until the kill is over
            admin.execute("SELECT 1 FROM notify.messages WHERE id = 'm-1' FOR UPDATE")
            started = time.monotonic()
            container.kill()
            assert time.monotonic() - started < KILL_WRITE_S + 1


def test_account_registered_event_delivered_twice_sends_one_text(settings, amqp_uri, outbox):
    event_id = str(uuid.uuid4())
    handled = events_handled()
    duplicates = sms_counted("account_registered", "duplicate")
    with running_service(NotifyService, settings):
        dispatch_account_registered(amqp_uri, event_id)
        dispatch_account_registered(amqp_uri, event_id)
        wait_for(lambda: events_handled() >= handled + 2)

    [line] = sent_lines(outbox, f"evt-{event_id}")
    assert line["phone"] == PHONE and line["purpose"] == "account_registered"
    assert line["text"] == settings.SMS_SIGNATURE + account_number_text("27123456")
    assert sms_counted("account_registered", "duplicate") == duplicates + 1


@pytest.mark.parametrize(("event_type", "status", "text_of"), [
    (VERIFICATION_OUTCOME, "verified", verification_outcome_text),
    (VERIFICATION_OUTCOME, "failed", verification_outcome_text),
    (REVIEW_OUTCOME, "approved", review_outcome_text),
    (REVIEW_OUTCOME, "returned", review_outcome_text)])
def test_an_outcome_delivered_twice_is_texted_once(settings, amqp_uri, outbox, event_type,
                                                   status, text_of):
    event_id = str(uuid.uuid4())
    handled = events_handled(event_type)
    duplicates = sms_counted(event_type, "duplicate")
    with running_service(NotifyService, settings):
        for _ in range(2):
            event_dispatcher({"AMQP_URI": amqp_uri})(ENROLLMENT, event_type, {
                "event_id": event_id, "account_no": "27123456", "version": 2,
                "status": status, "guardian_phone": PHONE})
        wait_for(lambda: events_handled(event_type) >= handled + 2)

    [line] = sent_lines(outbox, f"evt-{event_id}")
    assert line["phone"] == PHONE and line["purpose"] == event_type
    assert line["text"] == settings.SMS_SIGNATURE + text_of(status)
    assert "27123456" not in line["text"]
    assert sms_counted(event_type, "duplicate") == duplicates + 1


def test_malformed_event_is_acknowledged_and_dropped(settings, amqp_uri, outbox):
    handled = events_handled()
    with running_service(NotifyService, settings):
        event_dispatcher({"AMQP_URI": amqp_uri})(ACCOUNTS, ACCOUNT_REGISTERED,
                                                 {"event_id": "e-1", "guardian_phone": "1"})
        # Handled without an error, so acknowledged: requeueing could never fix it.
        wait_for(lambda: events_handled() >= handled + 1)
    assert not outbox.exists()


def test_event_published_while_the_service_is_stopped_is_sent_after_restart(
        settings, amqp_uri, outbox):
    with running_service(NotifyService, settings):
        pass  # declares the durable event queue, as a first deployment does
    event_id = str(uuid.uuid4())
    dispatch_account_registered(amqp_uri, event_id)

    with running_service(NotifyService, settings):
        wait_for(lambda: sent_lines(outbox, f"evt-{event_id}"))

    assert len(sent_lines(outbox, f"evt-{event_id}")) == 1


def test_dev_messages_show_the_outbox_newest_first_with_masked_phones(settings, notify,
                                                                     amqp_uri, outbox):
    with running_service(NotifyService, settings):
        for message_id, text in (("m-1", "first"), ("m-2", "second")):
            issue_code(amqp_uri, message_id, text=text)
            wait_for(lambda message_id=message_id: sent_lines(outbox, message_id))
        messages = notify.list_dev_messages(5)

    assert [m["text"] for m in messages] == [settings.SMS_SIGNATURE + "second",
                                             settings.SMS_SIGNATURE + "first"]
    assert messages[0]["phone_masked"] == "137****5678"
    assert set(messages[0]) == {"phone_masked", "purpose", "text", "sent_at"}


@pytest.mark.parametrize("overrides", [
    {"PLATFORM_ENV": "production",
     "MASTER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode()},
    {"PLATFORM_ENV": "development"},
], ids=["production", "http-backend"])
def test_dev_messages_are_refused_outside_development_with_the_outbox(
        make_settings, pool, notify, provider, overrides):
    settings = make_settings(NotifySettings, SMS_BACKEND="http", SMS_HTTP_URL=provider.url,
                             **overrides)
    with running_service(NotifyService, settings):
        with pytest.raises(DomainError) as refused:
            notify.list_dev_messages(20)
    assert refused.value.code == "NOT_FOUND"
