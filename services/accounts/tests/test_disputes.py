"""Enrollment's `document_moved` in accounts: the district settled a dispute over a child's
document, and the account goes to the real guardian's phone. The former holder's sessions and
password stop working, the audit chain records it, and the guardian sets a password through
忘记密码. Real PostgreSQL; the handler in a real nameko container on real RabbitMQ."""

from __future__ import annotations

import time
import uuid

import psycopg
import psycopg_pool
import pytest
from nameko.standalone.events import event_dispatcher

from common.errors import DomainError
from common.masking import mask_phone
from common.migrations import migrate
from services.accounts.bootstrap import build
from services.accounts.contract import CaptchaRequest, Login, PasswordReset
from services.accounts.service import AccountsService
from services.accounts.settings import AccountsSettings
from services.accounts.tests.test_keys_and_audit import register, texted_code
from services.accounts.usecases.audit import verify_audit_chain
from services.enrollment import contract as enrollment
from tests.support.family import unique_phone
from tests.support.infra import running_service
from tests.support.limits import GENEROUS_LIMITS

PASSWORD = "Spring2027a"  # the demo family's, which `register` uses


@pytest.fixture
def settings(make_settings, database_url):
    migrate(database_url, "accounts")
    return make_settings(AccountsSettings, CAPTCHA_BACKEND="fixed", NOTICE_MIN_READ_S=0,
                         SMS_RESEND_COOLDOWN_S=0, **GENEROUS_LIMITS)


@pytest.fixture
def app(settings):
    with psycopg_pool.ConnectionPool(settings.DATABASE_URL, min_size=1, max_size=2,
                                     kwargs={"autocommit": True}) as pool:
        yield build(settings, pool)


def login(app, account_no: str, password: str):
    captcha = app.captchas.create(CaptchaRequest(client_ip="127.0.0.1"))
    return app.sessions.login(Login(account_no=account_no, password=password,
                                    captcha_id=captcha.captcha_id, captcha_answer="2468",
                                    client_ip="127.0.0.1"))


def refused(code: str, call, *args) -> None:
    with pytest.raises(DomainError) as caught:
        call(*args)
    assert caught.value.code == code


def audited(database_url, account_no: str) -> list[dict]:
    with psycopg.connect(database_url) as conn:
        return [row[0] for row in conn.execute(
            "SELECT entry FROM accounts.audit_log WHERE account_no = %s AND "
            "action = 'account_moved' ORDER BY id", (account_no,))]


def test_the_moved_account_is_the_claimants_and_the_former_holder_is_out(app, database_url):
    account_no, session = register(app)
    with app.context.store.statements() as db:
        former = db.account_by_no(account_no).personal["guardian_phone"]
    claimant = unique_phone()
    event_id = str(uuid.uuid4())
    moved = (event_id, enrollment.DOCUMENT_MOVED, account_no, "chaoyang", claimant)
    assert app.disputes.document_moved(*moved)
    assert not app.disputes.document_moved(*moved)  # once, however often it comes

    refused("NOT_AUTHENTICATED", app.sessions.get_account, session)
    refused("INVALID_CREDENTIALS", login, app, account_no, PASSWORD)
    [entry] = audited(database_url, account_no)
    assert (entry["district"], entry["former_phone"], entry["phone"]) == (
        "chaoyang", mask_phone(former), mask_phone(claimant))
    assert claimant not in str(entry)
    assert verify_audit_chain(app.context.store).intact

    # The former holder's phone no longer gets a usable reset code for the account (it is
    # withheld); the claimant's does, and sets the password with it.
    def reset(phone: str) -> None:
        code = texted_code(app, {"purpose": "reset_password", "phone": phone,
                                 "account_ref": account_no})
        app.passwords.reset(PasswordReset(account_ref=account_no, phone=phone, sms_code=code,
                                          new_password="Winter2027d",
                                          new_password_confirm="Winter2027d"))
    refused("SMS_CODE_INVALID", reset, former)
    reset(claimant)
    signed_in = login(app, account_no, "Winter2027d")
    assert signed_in.account.account_no == account_no
    assert signed_in.account.guardian_phone == mask_phone(claimant)


def test_an_account_cancelled_meanwhile_is_left_alone(app, database_url):
    account_no, session = register(app)
    with app.context.store.transaction() as tx:
        tx.cancel_account(tx.account_by_no(account_no).id, app.context.edge.clock())
    assert app.disputes.document_moved(str(uuid.uuid4()), enrollment.DOCUMENT_MOVED,
                                       account_no, "chaoyang", unique_phone())
    assert audited(database_url, account_no) == []


def test_the_service_handles_the_event_from_the_bus_once(settings, app, amqp_uri,
                                                         database_url):
    account_no, session = register(app)
    body = enrollment.DocumentMoved(
        event_id=str(uuid.uuid4()), account_no=account_no, district="chaoyang",
        former_phone=None, claimant_phone=unique_phone()).model_dump(mode="json")
    with running_service(AccountsService, settings):
        dispatch = event_dispatcher({"AMQP_URI": amqp_uri})
        for _ in range(2):  # a redelivery, or the relay's republication
            dispatch(enrollment.SERVICE_NAME, enrollment.DOCUMENT_MOVED, body)
        deadline = time.monotonic() + 15
        while not audited(database_url, account_no):
            assert time.monotonic() < deadline, "the event was not handled"
            time.sleep(0.1)
        time.sleep(0.5)
    assert len(audited(database_url, account_no)) == 1
    refused("NOT_AUTHENTICATED", app.sessions.get_account, session)
