"""All SQL of the accounts service. Callers work inside `Store.transaction()`."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from common import outbox
from common.crypto import FieldCipher
from common.errors import DomainError
from services.accounts.rules.audit import GENESIS, entry_digest
from services.accounts.rules.sms_codes import IssuedCode

SCHEMA = "accounts"
PERSONAL = "accounts.personal"  # associated data of the encrypted personal document
_AUDIT_LOCK = 0x61756469  # one chain: appends take turns


@dataclass(frozen=True)
class AccountRow:
    id: int
    account_no: str
    district: str
    hukou_type: str
    school_stage: str
    document_type: str
    personal: dict | None
    password_hash: str | None
    status: str
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime


class Store:
    def __init__(self, pool, cipher: FieldCipher):
        self.pool = pool
        self.cipher = cipher

    @contextlib.contextmanager
    def transaction(self):
        """Statements that hold together: committed at the end, rolled back on an error."""
        with self.pool.connection() as conn, conn.transaction():
            conn.row_factory = dict_row
            yield Tx(conn, self.cipher)

    @contextlib.contextmanager
    def statements(self):
        """Independent statements, each committed on its own (one round trip each)."""
        with self.pool.connection() as conn:
            conn.row_factory = dict_row
            yield Tx(conn, self.cipher)

    def ping(self) -> bool:
        with self.statements() as db:
            return db.alive()


class Tx:
    def __init__(self, conn, cipher: FieldCipher):
        self.conn = conn
        self.cipher = cipher

    def _one(self, query, params=()):
        return self.conn.execute(query, params).fetchone()

    def alive(self) -> bool:
        return self._one("SELECT 1 AS ok")["ok"] == 1

    # captchas ---------------------------------------------------------------------------
    def add_captcha(self, captcha_id: str, answer_hash: bytes, expires_at: datetime) -> None:
        self.conn.execute("INSERT INTO accounts.captchas (id, answer_hash, expires_at) "
                          "VALUES (%s, %s, %s)", (captcha_id, answer_hash, expires_at))

    def take_captcha(self, captcha_id: str, now: datetime) -> bytes | None:
        """A captcha is good for one try: it is removed whatever the answer."""
        row = self._one("DELETE FROM accounts.captchas WHERE id = %s RETURNING answer_hash, "
                        "expires_at", (captcha_id,))
        if row is None or row["expires_at"] <= now:
            return None
        return bytes(row["answer_hash"])

    def purge_expired(self, now: datetime) -> None:
        self.conn.execute("DELETE FROM accounts.captchas WHERE expires_at < %s", (now,))
        self.conn.execute("DELETE FROM accounts.sms_codes WHERE created_at < %s - interval "
                          "'2 days'", (now,))

    # SMS codes --------------------------------------------------------------------------
    def lock_phone(self, phone_hash: bytes) -> None:
        """Serialises everything done for one phone (code issuing, the 3-account cap)."""
        self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                          (phone_hash.hex(),))

    def code_counts(self, phone_hash: bytes, ip_hash: bytes, since: datetime):
        """(last code time for the phone, codes for the phone since, codes for the IP since)."""
        row = self._one(
            "SELECT (SELECT max(created_at) FROM accounts.sms_codes WHERE phone_hash = %(p)s) "
            "AS last, (SELECT count(*) FROM accounts.sms_codes WHERE phone_hash = %(p)s AND "
            "created_at >= %(s)s) AS phone, (SELECT count(*) FROM accounts.sms_codes WHERE "
            "ip_hash = %(i)s AND created_at >= %(s)s) AS ip",
            {"p": phone_hash, "i": ip_hash, "s": since})
        return row["last"], row["phone"], row["ip"]

    def add_code(self, phone_hash: bytes, ip_hash: bytes, purpose: str, code_hash: bytes,
                 now: datetime, expires_at: datetime) -> int:
        return self._one(
            "INSERT INTO accounts.sms_codes (phone_hash, ip_hash, purpose, code_hash, "
            "created_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (phone_hash, ip_hash, purpose, code_hash, now, expires_at))["id"]

    def drop_code(self, code_id: int) -> None:
        self.conn.execute("DELETE FROM accounts.sms_codes WHERE id = %s", (code_id,))

    def recent_codes(self, phone_hash: bytes, purpose: str,
                     since: datetime) -> list[tuple[int, IssuedCode]]:
        """The phone's codes for a purpose issued since `since`, newest first, locked."""
        rows = self.conn.execute(
            "SELECT id, code_hash, expires_at, wrong_tries, used_at FROM accounts.sms_codes "
            "WHERE phone_hash = %s AND purpose = %s AND created_at >= %s "
            "ORDER BY created_at DESC, id DESC FOR UPDATE", (phone_hash, purpose, since))
        return [(row["id"], IssuedCode(bytes(row["code_hash"]), row["expires_at"],
                                       row["wrong_tries"], row["used_at"] is not None))
                for row in rows]

    def count_wrong_code(self, code_id: int) -> None:
        self.conn.execute("UPDATE accounts.sms_codes SET wrong_tries = wrong_tries + 1 "
                          "WHERE id = %s", (code_id,))

    def use_code(self, code_id: int, now: datetime) -> None:
        self.conn.execute("UPDATE accounts.sms_codes SET used_at = %s WHERE id = %s",
                          (now, code_id))

    # accounts ---------------------------------------------------------------------------
    def active_accounts_on_phone(self, phone_hash: bytes) -> int:
        return self._one("SELECT count(*) AS n FROM accounts.accounts WHERE phone_hash = %s "
                         "AND status = 'active'", (phone_hash,))["n"]

    def document_registered(self, document_hash: bytes) -> bool:
        return self._one("SELECT 1 AS x FROM accounts.accounts WHERE document_hash = %s AND "
                         "status = 'active'", (document_hash,)) is not None

    def registration_obstacles(self, document_hash: bytes, phone_hash: bytes) -> tuple[bool, int]:
        """(document already registered, active accounts on the phone) in one round trip."""
        row = self._one(
            "SELECT EXISTS (SELECT 1 FROM accounts.accounts WHERE document_hash = %s AND "
            "status = 'active') AS taken, (SELECT count(*) FROM accounts.accounts WHERE "
            "phone_hash = %s AND status = 'active') AS on_phone", (document_hash, phone_hash))
        return row["taken"], row["on_phone"]

    def add_account(self, *, new_account_no, district, hukou_type, document_type,
                    document_hash, phone_hash, personal: dict, password_hash,
                    policy_version, now: datetime) -> AccountRow:
        """Inserts with a fresh random number, drawing again on the rare collision."""
        sealed = self.cipher.encrypt(personal, PERSONAL)
        for _ in range(20):
            row = self._one(
                "INSERT INTO accounts.accounts (account_no, district, hukou_type, "
                "document_type, document_hash, phone_hash, personal, password_hash, "
                "policy_version, created_at, consented_at) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING *",
                (new_account_no(), district, hukou_type, document_type, document_hash,
                 phone_hash, sealed, password_hash, policy_version, now, now))
            if row is not None:
                return self._account(row)
            if self.document_registered(document_hash):  # else: the number was taken, redraw
                raise DomainError("ID_ALREADY_REGISTERED",
                                  fields={"document_number": "该证件号码已注册。"})
        raise RuntimeError("no free account number after 20 draws")

    def _account(self, row) -> AccountRow | None:
        if row is None:
            return None
        personal = self.cipher.decrypt(row["personal"], PERSONAL) if row["personal"] else None
        return AccountRow(row["id"], row["account_no"].strip(), row["district"],
                          row["hukou_type"], row["school_stage"], row["document_type"],
                          personal, row["password_hash"], row["status"], row["failed_logins"],
                          row["locked_until"], row["created_at"])

    def account_by_no(self, account_no: str, for_update: bool = False) -> AccountRow | None:
        lock = " FOR UPDATE" if for_update else ""
        return self._account(self._one(
            "SELECT * FROM accounts.accounts WHERE account_no = %s AND status = 'active'" + lock,
            (account_no,)))

    def account_by_document(self, document_hash: bytes) -> AccountRow | None:
        return self._account(self._one(
            "SELECT * FROM accounts.accounts WHERE document_hash = %s AND status = 'active' "
            "FOR UPDATE", (document_hash,)))

    def account_by_id(self, account_id: int) -> AccountRow | None:
        return self._account(self._one(
            "SELECT * FROM accounts.accounts WHERE id = %s AND status = 'active' FOR UPDATE",
            (account_id,)))

    def set_login_state(self, account_id: int, failures: int,
                        locked_until: datetime | None) -> None:
        self.conn.execute("UPDATE accounts.accounts SET failed_logins = %s, locked_until = %s "
                          "WHERE id = %s", (failures, locked_until, account_id))

    def set_password(self, account_id: int, password_hash: str) -> None:
        self.conn.execute("UPDATE accounts.accounts SET password_hash = %s, failed_logins = 0, "
                          "locked_until = NULL WHERE id = %s", (password_hash, account_id))

    def cancel_account(self, account_id: int, now: datetime) -> None:
        """Erases the family's data; the row keeps only the number (never reused) and dates."""
        self.conn.execute(
            "UPDATE accounts.accounts SET status = 'cancelled', personal = NULL, "
            "document_hash = NULL, phone_hash = NULL, password_hash = NULL, cancelled_at = %s "
            "WHERE id = %s", (now, account_id))
        self.conn.execute("DELETE FROM accounts.sessions WHERE account_id = %s", (account_id,))

    # sessions ---------------------------------------------------------------------------
    def add_session(self, token_hash: bytes, account_id: int, now: datetime,
                    expires_at: datetime) -> None:
        self.conn.execute("INSERT INTO accounts.sessions (token_hash, account_id, created_at, "
                          "last_seen_at, expires_at) VALUES (%s, %s, %s, %s, %s)",
                          (token_hash, account_id, now, now, expires_at))

    def live_session(self, token_hash: bytes, now: datetime, idle_since: datetime,
                     touch_every: timedelta) -> AccountRow | None:
        """The account of a live session, or None. Last use is written at most every
        `touch_every`, so most reads are one statement (the idle timeout is that coarse)."""
        row = self._one(
            "SELECT a.*, s.last_seen_at AS session_seen FROM accounts.sessions s JOIN "
            "accounts.accounts a ON a.id = s.account_id WHERE s.token_hash = %s AND "
            "s.last_seen_at > %s AND s.expires_at > %s AND a.status = 'active'",
            (token_hash, idle_since, now))
        if row is None:
            return None
        if now - row["session_seen"] >= touch_every:
            self.conn.execute("UPDATE accounts.sessions SET last_seen_at = %s "
                              "WHERE token_hash = %s", (now, token_hash))
        return self._account(row)

    def end_session(self, token_hash: bytes) -> None:
        self.conn.execute("DELETE FROM accounts.sessions WHERE token_hash = %s", (token_hash,))

    def end_other_sessions(self, account_id: int, keep_token_hash: bytes | None) -> None:
        self.conn.execute("DELETE FROM accounts.sessions WHERE account_id = %s AND "
                          "token_hash IS DISTINCT FROM %s", (account_id, keep_token_hash))

    # events and audit -------------------------------------------------------------------
    def add_event(self, event_type: str, payload: dict, request_id: str | None) -> str:
        return outbox.write_event(self.conn.cursor(), SCHEMA, self.cipher, event_type, payload,
                                  request_id)

    def audit(self, action: str, now: datetime, account_no: str | None = None,
              **details) -> None:
        """Appends to the hash chain; masked values only in `details`."""
        self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_AUDIT_LOCK,))
        last = self._one("SELECT digest FROM accounts.audit_log ORDER BY id DESC LIMIT 1")
        previous = last["digest"] if last else GENESIS
        entry = {"at": now.isoformat(), "action": action, "account_no": account_no, **details}
        self.conn.execute(
            "INSERT INTO accounts.audit_log (at, action, account_no, entry, previous_digest, "
            "digest) VALUES (%s, %s, %s, %s, %s, %s)",
            (now, action, account_no, Jsonb(entry), previous, entry_digest(previous, entry)))

    def audit_chain(self):
        """(id, entry, previous_digest, digest) in order, streamed."""
        cursor = self.conn.cursor(name="audit_chain")
        cursor.execute("SELECT id, entry, previous_digest, digest FROM accounts.audit_log "
                       "ORDER BY id")
        for row in cursor:
            yield row["id"], row["entry"], row["previous_digest"], row["digest"]
