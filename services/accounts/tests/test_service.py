"""The accounts service in a real nameko container, with real notify, RabbitMQ and PostgreSQL."""

import json
import re
import time

import psycopg
import psycopg_pool
import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from common.errors import DomainError
from common.migrations import migrate
from services.accounts.bootstrap import build
from services.accounts.contract import (
    ACCOUNT_REGISTERED,
    AccountRegistered,
    CaptchaRequest,
    Login,
    PasswordChange,
    PasswordReset,
    Registration,
    SmsCodeRequest,
)
from services.accounts.service import AccountsService
from services.accounts.settings import AccountsSettings
from services.accounts.storage import Keys, Store
from services.enrollment.service import EnrollmentService
from services.enrollment.settings import EnrollmentSettings
from services.notify.service import NotifyService
from services.notify.settings import NotifySettings
from tests.support.family import id_number, unique_phone
from tests.support.infra import running_service
from tests.support.limits import GENEROUS_LIMITS


@pytest.fixture
def services(make_settings, database_url, amqp_uri, tmp_path):
    """accounts with the services that handle its events (notify, enrollment)."""
    for name in ("accounts", "notify", "enrollment"):
        migrate(database_url, name)
    outbox = tmp_path / "sms.jsonl"
    accounts = make_settings(AccountsSettings, CAPTCHA_BACKEND="fixed", NOTICE_MIN_READ_S=0,
                             SMS_RESEND_COOLDOWN_S=0, **GENEROUS_LIMITS)
    notify = make_settings(NotifySettings, SMS_OUTBOX_PATH=str(outbox))
    enrollment = make_settings(EnrollmentSettings, SEASON_PHASES="open")
    with running_service(NotifyService, notify), \
            running_service(EnrollmentService, enrollment), \
            running_service(AccountsService, accounts), \
            ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=30) as cluster:
        yield cluster, outbox


def codes_sent(outbox, phone, purpose):
    return [re.search(r"\d{6}", m["text"]).group() for m in texts_to(outbox, phone)
            if m["purpose"] == purpose]


def request_code(cluster, outbox, phone) -> str:
    """The new code, once notify has texted it (from the outbox event)."""
    before = len(codes_sent(outbox, phone, "register"))
    captcha = cluster.accounts.create_captcha({"client_ip": "127.0.0.1"})
    cluster.accounts.request_sms_code({"purpose": "register", "phone": phone,
                                       "captcha_id": captcha["captcha_id"],
                                       "captcha_answer": "2468", "client_ip": "127.0.0.1"})
    deadline = time.monotonic() + 15
    while len(codes := codes_sent(outbox, phone, "register")) == before:
        assert time.monotonic() < deadline, "no code texted"
        time.sleep(0.05)
    return codes[-1]


def registration(cluster, phone, code):
    notice = cluster.accounts.get_notice()
    return {
        "district": "chaoyang", "hukou_type": "non_beijing", "child_name": "王小雨",
        "document_type": "resident_id", "document_number": id_number(region="130102"),
        "sex": "male", "birth_date": "2020-09-01", "hukou_district": "outside",
        "residence_district": "chaoyang", "guardian_name": "王强", "guardian_relation": "mother",
        "guardian_phone": phone, "password": "Spring2027a", "password_confirm": "Spring2027a",
        "sms_code": code, "notice_token": notice["notice_token"], "privacy_consent": True,
        "privacy_policy_version": notice["privacy_policy_version"], "client_ip": "127.0.0.1"}


def test_many_simultaneous_registrations_on_one_phone_never_make_a_fourth(services):
    """Two accounts on the phone, then twelve registrations at once with its one live code
    (a new code supersedes the earlier ones): one account more, then the cap."""
    cluster, outbox = services
    phone = unique_phone()
    for _ in range(2):
        cluster.accounts.register(registration(cluster, phone, request_code(cluster, outbox,
                                                                            phone)))
    code = request_code(cluster, outbox, phone)
    bodies = [registration(cluster, phone, code) for _ in range(12)]

    replies = [cluster.accounts.register.call_async(body) for body in bodies]  # all at once

    def outcome(reply):
        try:
            return reply.result()["account_no"]
        except DomainError as error:
            return error.code

    outcomes = [outcome(reply) for reply in replies]
    assert sorted(o for o in outcomes if not o.isdigit()) == ["SMS_CODE_INVALID"] * 11
    assert len([o for o in outcomes if o.isdigit()]) == 1
    with pytest.raises(DomainError) as full:
        cluster.accounts.register(registration(cluster, phone, request_code(cluster, outbox,
                                                                            phone)))
    assert full.value.code == "PHONE_ACCOUNT_LIMIT"


def test_personal_data_is_unreadable_in_the_database(services, database_url):
    cluster, outbox = services
    phone = unique_phone()
    body = registration(cluster, phone, request_code(cluster, outbox, phone))
    account_no = cluster.accounts.register(body)["account_no"]
    with psycopg.connect(database_url) as conn:
        dump = "\n".join(str(row) for table in ("accounts", "sms_codes", "audit_log", "outbox",
                                                 "sessions", "captchas")
                         for row in conn.execute(f"SELECT * FROM accounts.{table}"))
    assert account_no in dump
    for secret in (body["document_number"], phone, "王小雨", "王强", body["password"]):
        assert secret not in dump


def test_an_event_its_process_never_published_is_swept_out_of_the_outbox(services, database_url,
                                                                         make_settings):
    """As if accounts had died between its commit and the publish: the relay's sweep sends it."""
    _, outbox = services
    phone = unique_phone()
    settings = make_settings(AccountsSettings)
    with psycopg_pool.ConnectionPool(settings.DATABASE_URL, min_size=1, max_size=1,
                                     kwargs={"autocommit": True}) as pool:
        store = Store(pool, Keys(settings.master_keys))  # no relay
        with store.transaction() as tx:
            tx.add_event(ACCOUNT_REGISTERED, AccountRegistered(
                account_no="27000001", district="haidian", guardian_phone=phone).payload(), None)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not texts_to(outbox, phone):
        time.sleep(0.2)
    assert [t["purpose"] for t in texts_to(outbox, phone)] == ["account_registered"]
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM accounts.outbox").fetchone()[0] == 0


def texts_to(outbox, phone):
    if not outbox.exists():
        return []
    return [m for m in map(json.loads, outbox.read_text().splitlines()) if m["phone"] == phone]


def test_the_audit_chain_holds_under_simultaneous_appends_and_refuses_edits(services,
                                                                             database_url):
    """Registrations on several phones at once each append after the one before; a lockout
    appends twice in one transaction."""
    cluster, outbox = services
    phones = [unique_phone() for _ in range(8)]
    bodies = [registration(cluster, phone, request_code(cluster, outbox, phone))
              for phone in phones]
    replies = [cluster.accounts.register.call_async(body) for body in bodies]  # all at once
    account_nos = [reply.result()["account_no"] for reply in replies]
    for _ in range(5):
        captcha = cluster.accounts.create_captcha()
        with pytest.raises(DomainError):
            cluster.accounts.login({"account_no": account_nos[0], "password": "Wrong2027a",
                                    "captcha_id": captcha["captcha_id"],
                                    "captcha_answer": "2468"})

    assert cluster.accounts.verify_audit_chain()["intact"] is True
    with psycopg.connect(database_url) as conn:
        actions = conn.execute("SELECT action, count(*) FROM accounts.audit_log WHERE "
                               "account_no = ANY(%s) GROUP BY action", (account_nos,)).fetchall()
        assert dict(actions) == {"registered": 8, "login_failed": 5, "account_locked": 1}
        with pytest.raises(psycopg.errors.RaiseException):
            conn.execute("UPDATE accounts.audit_log SET action = 'x'")


def test_the_notice_token_is_refused_until_read_long_enough(make_settings, database_url):
    """Through nameko's entrypoint_hook: the same container, no broker round trip."""
    from nameko.testing.services import entrypoint_hook

    migrate(database_url, "accounts")
    settings = make_settings(AccountsSettings, NOTICE_MIN_READ_S=30)
    with running_service(AccountsService, settings) as container:
        with entrypoint_hook(container, "get_notice") as get_notice:
            notice = get_notice()
        assert notice["min_read_s"] == 30
        body = {"notice_token": notice["notice_token"]}
        with entrypoint_hook(container, "register") as register:
            with pytest.raises(DomainError) as refused:
                register({**registration_stub(), **body})
    assert refused.value.code == "NOTICE_NOT_READ"


def registration_stub():
    return {
        "district": "haidian", "hukou_type": "beijing", "child_name": "赵一",
        "document_type": "resident_id", "document_number": id_number(), "sex": "male",
        "birth_date": "2020-09-01", "hukou_district": "haidian", "residence_district": "haidian",
        "guardian_name": "赵二", "guardian_relation": "father", "guardian_phone": unique_phone(),
        "password": "Spring2027a", "password_confirm": "Spring2027a", "sms_code": "123456",
        "notice_token": "", "privacy_consent": True, "privacy_policy_version": "2027.1"}


def test_the_demo_families_are_registered_once(make_settings, database_url):
    from common.masking import mask_name
    from services.accounts.demo import DEMO_FAMILIES, PASSWORD, demo_app, register_demo_family

    migrate(database_url, "accounts")
    settings = make_settings(AccountsSettings, **GENEROUS_LIMITS)  # 127.0.0.1 is busy
    with psycopg_pool.ConnectionPool(settings.DATABASE_URL, min_size=1, max_size=2,
                                     kwargs={"autocommit": True}) as pool:
        app = demo_app(settings, pool)
        accounts = [register_demo_family(app, family) for family in DEMO_FAMILIES]
        assert [register_demo_family(app, family) for family in DEMO_FAMILIES] == accounts
        signed_in = []
        for account_no in accounts:
            captcha = app.captchas.create(CaptchaRequest(client_ip="127.0.0.1"))
            signed_in.append(app.sessions.login(Login(
                account_no=account_no, password=PASSWORD, captcha_id=captcha.captcha_id,
                captcha_answer="2468")).account.child_name)
    assert len(set(accounts)) == len(DEMO_FAMILIES)
    assert signed_in == [mask_name(family["child_name"]) for family in DEMO_FAMILIES]


def test_no_password_is_hashed_before_the_request_proves_it_holds_a_code(make_settings,
                                                                         database_url):
    """Registration, reset and change of password with a wrong code cost no argon2 at all."""
    migrate(database_url, "accounts")
    settings = make_settings(AccountsSettings, CAPTCHA_BACKEND="fixed", NOTICE_MIN_READ_S=0,
                             SMS_RESEND_COOLDOWN_S=0, **GENEROUS_LIMITS)
    hashed = []
    texts = []

    def offload(fn, *args):  # all slow work passes here: count the password hashes
        if fn.__name__ == "hash":
            hashed.append(1)
        return fn(*args)

    with psycopg_pool.ConnectionPool(settings.DATABASE_URL, min_size=1, max_size=2,
                                     kwargs={"autocommit": True}) as pool:
        app = build(settings, pool, publish=texts.extend, offload=offload)
        hashed.clear()  # the decoy hash made at start

        def code_for(purpose, **fields):
            captcha = app.captchas.create(CaptchaRequest(client_ip="127.0.0.1"))
            app.sms_codes.request(SmsCodeRequest(
                purpose=purpose, captcha_id=captcha.captcha_id, captcha_answer="2468",
                client_ip="127.0.0.1", **fields))
            return re.search(r"\d{6}", texts[-1].body["text"]).group()

        def refused(call, request):
            with pytest.raises(DomainError) as caught:
                call(request)
            assert caught.value.code == "SMS_CODE_INVALID"
            assert hashed == []

        body = {**registration_stub(), "notice_token": app.registrations.notice().notice_token}
        register = app.registrations.register
        refused(register, Registration(**{**body, "sms_code": "000000"}))  # no code at all
        code = code_for("register", phone=body["guardian_phone"])
        refused(register, Registration(**{**body, "sms_code": f"{(int(code) + 1) % 10**6:06d}"}))
        session = register(Registration(**{**body, "sms_code": code})).session
        hashed.clear()
        new = {"new_password": "Autumn2027c", "new_password_confirm": "Autumn2027c"}
        refused(app.passwords.change, PasswordChange(session_token=session.session_token,
                                                     sms_code="000000", **new))
        refused(app.passwords.reset, PasswordReset(account_ref=session.account.account_no,
                                                   phone=body["guardian_phone"],
                                                   sms_code="000000", **new))


def test_the_platform_sms_budget_is_gauged_alerted_once_and_enforced(make_settings,
                                                                     database_url, caplog):
    from prometheus_client import REGISTRY

    migrate(database_url, "accounts")
    settings = make_settings(AccountsSettings, CAPTCHA_BACKEND="fixed", SMS_RESEND_COOLDOWN_S=0,
                             **{**GENEROUS_LIMITS, "SMS_PLATFORM_BUDGET_PER_MIN": 3},
                             SMS_BUDGET_ALERT_RATIO=0.5)
    from nameko.testing.services import entrypoint_hook

    with psycopg.connect(database_url, autocommit=True) as conn:  # other tests' codes
        conn.execute("DELETE FROM accounts.attempts WHERE kind = 'sms_platform'")
    outcomes = []
    with running_service(AccountsService, settings) as container:
        for _ in range(12):  # the budget is per minute: a window may turn over once
            with entrypoint_hook(container, "create_captcha") as create_captcha:
                captcha = create_captcha({"client_ip": "127.0.0.1"})
            with entrypoint_hook(container, "request_sms_code") as request_sms_code:
                try:
                    request_sms_code({"purpose": "register", "phone": unique_phone(),
                                      "captcha_id": captcha["captcha_id"],
                                      "captcha_answer": "2468", "client_ip": "127.0.0.1"})
                    outcomes.append("sent")
                except DomainError as error:
                    outcomes.append(error)
            if isinstance(outcomes[-1], DomainError):
                break
    busy = outcomes[-1]
    assert isinstance(busy, DomainError) and busy.code == "SMS_BUSY", outcomes
    assert busy.http_status == 503 and 0 < busy.extra["retry_after_s"] <= 60
    assert outcomes.count("sent") <= 6  # at most two windows' budgets
    assert REGISTRY.get_sample_value("platform_sms_budget_usage_ratio") == 1.0
    assert REGISTRY.get_sample_value("platform_sms_codes_this_minute") == 3
    alerts = [r for r in caplog.records if r.getMessage() == "SMS budget nearly used up"]
    assert 1 <= len(alerts) <= 2
