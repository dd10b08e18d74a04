"""notify killed (SIGKILL) after texting families but before recording the texts as sent:
started again, it sends them again under the same message ids, and each family still gets
each text exactly once."""

from __future__ import annotations

import collections
import signal
import time

import psycopg
import pytest

from services.notify.settings import NotifySettings
from tests.support.family import Family
from tests.support.infra import drop_amqp_vhost, make_amqp_vhost
from tests.support.stack import platform_on


@pytest.fixture
def platform(tmp_path):
    """A platform of its own (the test takes a right away from notify's database login), whose
    leases end a second after the longest send, so that the retry loop comes round soon."""
    amqp_uri = make_amqp_vhost()
    try:
        with platform_on(amqp_uri, tmp_path, SMS_LEASE_MARGIN_S=1) as stack:
            yield stack
    finally:
        drop_amqp_vhost(amqp_uri)


def test_texts_sent_before_a_kill_reach_each_family_exactly_once(platform):
    role = NotifySettings.DATABASE_ROLE
    with psycopg.connect(platform.database_url, autocommit=True) as admin:
        # No sent mark can be written (the database refuses notify's updates), so the kill
        # below lands after the texts went out and before they were recorded as sent.
        admin.execute(f"REVOKE UPDATE ON notify.messages FROM {role}")
        accounts = {}
        for family in (Family(platform) for _ in range(3)):
            registration = family.registration()
            response = family.call("POST", "/api/v1/accounts", json=registration)
            assert response.status_code == 201, response.text
            phone = registration["guardian_phone"]
            platform.wait_sms(phone, "account_registered")
            accounts[phone] = response.json()["account_no"]
        assert admin.execute("SELECT status, count(*) FROM notify.messages GROUP BY status"
                             ).fetchall() == [("pending", 6)]  # a code and a number each

        platform.procs["notify"].send_signal(signal.SIGKILL)
        platform.procs["notify"].wait()
        admin.execute(f"GRANT UPDATE ON notify.messages TO {role}")
        platform.start("notify")

        deadline = time.monotonic() + 30
        while admin.execute("SELECT count(*) FROM notify.messages WHERE status = 'sent'"
                            ).fetchone()[0] < 6:
            assert time.monotonic() < deadline, "the texts were not recorded as sent"
            time.sleep(0.2)
        # each was sent again after the restart (the outbox file refused the repeat)
        assert admin.execute("SELECT DISTINCT attempts FROM notify.messages").fetchall() == [(2,)]

    sent = [message["message_id"] for message in platform.sms_messages()]
    assert len(sent) == 6 and len(set(sent)) == 6
    for phone, account_no in accounts.items():
        texts = platform.sms_messages(phone)
        assert collections.Counter(m["purpose"] for m in texts) == {
            "register": 1, "account_registered": 1}
        [number] = [m for m in texts if m["purpose"] == "account_registered"]
        assert account_no in number["text"]
