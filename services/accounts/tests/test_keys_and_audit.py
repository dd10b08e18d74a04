"""What an attacker with the database, or with one service's login, would try first: rewrite
or cut the audit log, paste one family's sealed data into another row, read a cancelled
family's old ciphertext, read another service's schema. Real PostgreSQL, real roles."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import subprocess
import sys

import psycopg
import psycopg_pool
import pytest
from nameko.testing.services import entrypoint_hook

from common.crypto import DecryptionFailed
from common.keys import MasterKeys
from common.migrations import migrate
from common.registry import OWNER_ROLE
from common.settings import role_url
from services.accounts.bootstrap import build
from services.accounts.contract import (
    AccountCancellation,
    CaptchaRequest,
    Registration,
    SmsCodeRequest,
)
from services.accounts.demo import DEMO
from services.accounts.rules.audit import canonical
from services.accounts.service import AccountsService
from services.accounts.settings import AccountsSettings
from services.accounts.storage import Keys, Store, rotate_keys
from services.accounts.usecases.audit import audit_head, export_audit_anchor, verify_audit_chain
from services.accounts.usecases.context import utcnow
from services.notify.settings import NotifySettings
from tests.support.family import id_number, unique_phone
from tests.support.infra import drop_database, make_database, running_service
from tests.support.limits import GENEROUS_LIMITS

ACCOUNTS_ROLE = AccountsSettings.DATABASE_ROLE
NOTIFY_ROLE = NotifySettings.DATABASE_ROLE


@pytest.fixture
def database_url():
    """A database of its own per test: several tests here tamper with the audit log."""
    url = make_database()
    yield url
    drop_database(url)


@pytest.fixture
def settings(make_settings, database_url):
    for service in ("accounts", "notify"):
        migrate(database_url, service)
    return make_settings(AccountsSettings, CAPTCHA_BACKEND="fixed", NOTICE_MIN_READ_S=0,
                         SMS_RESEND_COOLDOWN_S=0, **GENEROUS_LIMITS)


@pytest.fixture
def app(settings):
    """The accounts use cases in-process, logged in as the accounts role."""
    with psycopg_pool.ConnectionPool(settings.DATABASE_URL, min_size=1, max_size=2,
                                     kwargs={"autocommit": True}) as pool:
        yield build(settings, pool)


@pytest.fixture
def owner(database_url):
    """The schemas' owner: may do anything to the tables, but holds no key."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"SET ROLE {OWNER_ROLE}")
        yield conn


def texted_code(app, request: dict) -> str:
    """Requests an SMS code and reads it from the event that carries it to notify."""
    issued = []
    app.context.store.publish_committed = issued.extend  # as the relay would get it
    captcha = app.captchas.create(CaptchaRequest(client_ip="127.0.0.1"))
    app.sms_codes.request(SmsCodeRequest(**request, captcha_id=captcha.captcha_id,
                                         captcha_answer="2468", client_ip="127.0.0.1"))
    return re.search(r"\d{6}", issued[-1].body["text"]).group()


def register(app) -> tuple[str, str]:
    """A new family: (account number, session token)."""
    phone = unique_phone()
    code = texted_code(app, {"purpose": "register", "phone": phone})
    notice = app.registrations.notice()
    result = app.registrations.register(Registration(**{
        **DEMO, "document_number": id_number(), "guardian_phone": phone, "sms_code": code,
        "notice_token": notice.notice_token,
        "privacy_policy_version": notice.privacy_policy_version}))
    return result.account_no, result.session.session_token


def sealed(conn, account_no: str) -> tuple[bytes | None, bytes | None]:
    return conn.execute("SELECT personal, family_key FROM accounts.accounts WHERE "
                        "account_no = %s", (account_no,)).fetchone()


# roles --------------------------------------------------------------------------------------
@pytest.mark.parametrize("statement", [
    "UPDATE accounts.audit_log SET action = 'x'",
    "DELETE FROM accounts.audit_log",
    "TRUNCATE accounts.audit_log",
    "ALTER TABLE accounts.audit_log DISABLE TRIGGER audit_log_append_only",
])
def test_the_accounts_login_can_neither_rewrite_nor_empty_the_audit_log(settings, statement):
    with psycopg.connect(settings.DATABASE_URL, autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == ACCOUNTS_ROLE
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


@pytest.mark.parametrize("role, table", [(ACCOUNTS_ROLE, "notify.messages"),
                                         (NOTIFY_ROLE, "accounts.accounts"),
                                         (NOTIFY_ROLE, "accounts.audit_log")])
def test_no_service_login_reads_another_services_schema(settings, database_url, role, table):
    with psycopg.connect(role_url(database_url, role), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SELECT * FROM {table}")


# the audit chain ----------------------------------------------------------------------------
def test_an_entry_the_owner_rewrites_with_recomputed_sha256_digests_fails_verification(
        app, owner):
    register(app)
    assert verify_audit_chain(app.context.store).intact
    newest_id, previous = owner.execute("SELECT id, previous_digest FROM accounts.audit_log "
                                        "ORDER BY id DESC LIMIT 1").fetchone()
    forged = {"at": "2027-05-06T08:00:00+00:00", "action": "login", "account_no": None}
    digest = hashlib.sha256(previous.encode() + canonical(forged)).hexdigest()
    owner.execute("ALTER TABLE accounts.audit_log DISABLE TRIGGER audit_log_append_only")
    owner.execute("UPDATE accounts.audit_log SET entry = %s, action = 'login', digest = %s "
                  "WHERE id = %s", (json.dumps(forged), digest, newest_id))
    owner.execute("UPDATE accounts.audit_head SET digest = %s", (digest,))
    owner.execute("ALTER TABLE accounts.audit_log ENABLE TRIGGER audit_log_append_only")

    report = verify_audit_chain(app.context.store)
    assert (report.intact, report.first_broken_id) == (False, newest_id)


def test_the_newest_entries_cut_off_by_the_owner_fail_verification_against_the_anchor(
        app, owner, settings, tmp_path):
    register(app)
    register(app)
    anchor = tmp_path / "anchor.json"
    env = {**os.environ, "DATABASE_URL": settings.DATABASE_URL,
           "MASTER_KEYS": settings.MASTER_KEYS}
    command = [sys.executable, "-m", "services.accounts.audit_anchor"]
    subprocess.run([*command, "export", str(anchor)], env=env, check=True)
    verified = subprocess.run([*command, "verify", str(anchor)], env=env, capture_output=True,
                              text=True)
    assert (verified.returncode, verified.stdout) == (0, "intact\n")

    owner.execute("ALTER TABLE accounts.audit_log DISABLE TRIGGER audit_log_append_only")
    owner.execute("DELETE FROM accounts.audit_log WHERE id > (SELECT max(id) - 2 FROM "
                  "accounts.audit_log)")
    owner.execute("UPDATE accounts.audit_head SET digest = (SELECT digest FROM "
                  "accounts.audit_log ORDER BY id DESC LIMIT 1)")
    owner.execute("ALTER TABLE accounts.audit_log ENABLE TRIGGER audit_log_append_only")

    assert verify_audit_chain(app.context.store).intact  # a shorter chain still links
    report = verify_audit_chain(app.context.store, json.loads(anchor.read_text()))
    assert not report.intact and "missing" in report.problem
    verified = subprocess.run([*command, "verify", str(anchor)], env=env, capture_output=True,
                              text=True)
    assert verified.returncode == 1 and verified.stdout.startswith("NOT INTACT")


def test_an_anchor_is_signed_with_a_key_the_database_does_not_hold(app):
    register(app)
    anchor = export_audit_anchor(app.context.store, utcnow())
    assert verify_audit_chain(app.context.store, anchor).intact
    assert not verify_audit_chain(app.context.store, {**anchor, "entry_id": 1}).intact


# family keys --------------------------------------------------------------------------------
def test_a_sealed_document_pasted_into_another_account_does_not_open(app, owner):
    victim, _ = register(app)
    attacker, _ = register(app)
    owner.execute("UPDATE accounts.accounts SET personal = v.personal FROM accounts.accounts v "
                  "WHERE v.account_no = %s AND accounts.accounts.account_no = %s",
                  (victim, attacker))
    with app.context.store.statements() as db, pytest.raises(DecryptionFailed):
        db.account_by_no(attacker)
    # the family key too: it is bound to its own row as well
    owner.execute("UPDATE accounts.accounts SET family_key = v.family_key FROM "
                  "accounts.accounts v WHERE v.account_no = %s AND "
                  "accounts.accounts.account_no = %s", (victim, attacker))
    with app.context.store.statements() as db, pytest.raises(DecryptionFailed):
        db.account_by_no(attacker)
    with app.context.store.statements() as db:
        assert db.account_by_no(victim).personal["guardian_phone"]


def test_a_cancelled_familys_ciphertext_no_longer_opens_even_with_the_master_key(
        app, owner, settings):
    account_no, token = register(app)
    copy, _ = sealed(owner, account_no)  # as a backup or the WAL would keep it
    code = texted_code(app, {"purpose": "cancel_account", "session_token": token})
    app.cancellations.cancel(AccountCancellation(session_token=token, sms_code=code))

    assert sealed(owner, account_no) == (None, None)
    keys = Keys(settings.master_keys)
    with pytest.raises(DecryptionFailed):
        keys.open_personal(account_no, None, copy)
    for (family_key,) in owner.execute("SELECT family_key FROM accounts.accounts "
                                       "WHERE family_key IS NOT NULL"):
        with pytest.raises(DecryptionFailed):
            keys.open_personal(account_no, family_key, copy)


def test_rotation_reseals_every_family_key_under_the_newest_master_key(app, owner, settings):
    account_no, _ = register(app)
    register(app)
    new_key = base64.b64encode(os.urandom(32)).decode()
    rotated = MasterKeys.parse(f"2:{new_key},{settings.MASTER_KEYS}")
    assert rotate_keys(settings.DATABASE_URL, rotated, batch=1) >= 2  # one account at a time
    assert rotate_keys(settings.DATABASE_URL, rotated) == 0  # nothing left under key 1

    personal, family_key = sealed(owner, account_no)
    only_new = Keys(MasterKeys.parse(f"2:{new_key}"))
    assert only_new.open_personal(account_no, family_key, personal)["child_name"] == "王小明"
    with pytest.raises(DecryptionFailed):
        Keys(settings.master_keys).open_personal(account_no, family_key, personal)
    rotated_app = Store(app.context.store.pool, Keys(rotated))
    with rotated_app.statements() as db:
        assert db.account_by_no(account_no).personal["child_name"] == "王小明"


def test_the_service_logs_the_audit_head_as_an_anchor(app, settings, caplog):
    register(app)
    newest = audit_head(app.context.store)
    with running_service(AccountsService, settings) as container, \
            entrypoint_hook(container, "log_audit_head") as log_audit_head, \
            caplog.at_level(logging.INFO, logger="services.accounts.service"):
        log_audit_head()
    [record] = [r for r in caplog.records if r.getMessage() == "audit head"]
    assert (record.entry_id, record.digest) == (newest.entry_id, newest.digest)
