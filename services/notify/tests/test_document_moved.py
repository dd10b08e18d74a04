"""Enrollment's `document_moved`: the district moved a child's account to its real guardian,
and both phones are texted once each. The texts (pure), then the service in a real nameko
container on real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from nameko.standalone.events import event_dispatcher

from services.enrollment.contract import DOCUMENT_MOVED
from services.enrollment.contract import SERVICE_NAME as ENROLLMENT
from services.notify.delivery import document_moved_texts
from services.notify.service import NotifyService
from services.notify.settings import NotifySettings
from services.notify.tests.test_service import events_handled, sent_lines, sms_counted, wait_for
from tests.support.infra import running_service

FORMER, CLAIMANT = "13712345678", "13987654321"
ACCOUNT = "27123456"


def test_each_side_is_told_what_happened_to_the_account_and_what_to_do():
    texts = document_moved_texts(ACCOUNT)
    assert set(texts) == {"former", "claimant"}
    assert all(ACCOUNT in text and len(text) <= 70 for text in texts.values())
    assert "入学所在区教委" in texts["former"] and "已移交" in texts["former"]
    assert "忘记密码" in texts["claimant"] and "移交给您" in texts["claimant"]


@pytest.fixture
def outbox(tmp_path):
    return tmp_path / "sms-outbox.jsonl"


@pytest.fixture
def settings(make_settings, outbox, pool):
    return make_settings(NotifySettings, SMS_OUTBOX_PATH=str(outbox))


def moved(amqp_uri, event_id, former_phone=FORMER):
    event_dispatcher({"AMQP_URI": amqp_uri})(ENROLLMENT, DOCUMENT_MOVED, {
        "event_id": event_id, "account_no": ACCOUNT, "district": "chaoyang",
        "former_phone": former_phone, "claimant_phone": CLAIMANT})


def test_both_phones_are_texted_once_however_often_the_event_comes(settings, amqp_uri, outbox):
    event_id = str(uuid.uuid4())
    handled = events_handled(DOCUMENT_MOVED)
    duplicates = sms_counted(DOCUMENT_MOVED, "duplicate")
    with running_service(NotifyService, settings):
        for _ in range(2):
            moved(amqp_uri, event_id)
        wait_for(lambda: events_handled(DOCUMENT_MOVED) >= handled + 2)

    texts = document_moved_texts(ACCOUNT)
    for party, phone in (("former", FORMER), ("claimant", CLAIMANT)):
        [line] = sent_lines(outbox, f"evt-{event_id}-{party}")
        assert (line["phone"], line["purpose"]) == (phone, DOCUMENT_MOVED)
        assert line["text"] == settings.SMS_SIGNATURE + texts[party]
    assert sms_counted(DOCUMENT_MOVED, "duplicate") == duplicates + 2


def test_without_the_former_phone_only_the_claimant_is_texted(settings, amqp_uri, outbox):
    event_id = str(uuid.uuid4())
    handled = events_handled(DOCUMENT_MOVED)
    with running_service(NotifyService, settings):
        moved(amqp_uri, event_id, former_phone=None)
        wait_for(lambda: events_handled(DOCUMENT_MOVED) >= handled + 1)
    assert sent_lines(outbox, f"evt-{event_id}-former") == []
    assert len(sent_lines(outbox, f"evt-{event_id}-claimant")) == 1
