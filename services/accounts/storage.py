"""All SQL of the accounts service. Callers work inside `Store.transaction()`."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from common import consumed, outbox, rotation
from common.crypto import DecryptionFailed, FieldCipher
from common.keys import MasterKeys
from services.accounts.rules.audit import Head, entry_digest
from services.accounts.rules.sms_codes import IssuedCode

SCHEMA = "accounts"


def _bound(column: str, account_no: str) -> str:
    """Associated data: the column and the row a ciphertext belongs to, so one pasted into
    another row (or column) does not open."""
    return f"accounts.accounts.{column}:{account_no}"


class Keys:
    """The accounts service's keys, each derived from the master keys for one purpose."""

    def __init__(self, master: MasterKeys):
        self.family_key_wrap = master.cipher("accounts/family-key")
        self.outbox = outbox.cipher(master, SCHEMA)
        self.lookup = master.stable("accounts/lookup")
        self.audit = master.stable("accounts/audit")
        self.anchor = master.stable("accounts/audit-anchor")

    def seal_personal(self, account_no: str, personal: dict) -> tuple[bytes, bytes]:
        """(sealed family key, personal data sealed under it) of a new account."""
        family_key = os.urandom(32)
        return (self.family_key_wrap.seal(family_key, _bound("family_key", account_no)),
                FieldCipher({0: family_key}).encrypt(personal, _bound("personal", account_no)))

    def open_personal(self, account_no: str, sealed_key: bytes | None, personal: bytes) -> dict:
        if sealed_key is None:
            raise DecryptionFailed("the family's key is gone")
        family_key = self.family_key_wrap.open(sealed_key, _bound("family_key", account_no))
        return FieldCipher({0: family_key}).decrypt(personal, _bound("personal", account_no))


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


class RecentCodes(NamedTuple):
    codes: list[tuple[int, IssuedCode]]  # (id, code), newest first
    on_phone: int  # the phone's active accounts (0 when it has no recent code)
    document_taken: bool  # the document is registered (only read when asked for)


@dataclass(frozen=True)
class NewAccount:
    account_no: str
    district: str
    hukou_type: str
    document_type: str
    document_hash: bytes
    phone_hash: bytes
    personal: dict
    password_hash: str
    policy_version: str
    now: datetime

    def params(self, keys: Keys) -> dict:
        family_key, personal = keys.seal_personal(self.account_no, self.personal)
        return {"account_no": self.account_no, "district": self.district,
                "hukou_type": self.hukou_type, "document_type": self.document_type,
                "document_hash": self.document_hash, "phone_hash": self.phone_hash,
                "personal": personal, "family_key": family_key,
                "password_hash": self.password_hash, "policy_version": self.policy_version,
                "now": self.now}


@dataclass(frozen=True)
class NewSession:
    token_hash: bytes
    now: datetime
    expires_at: datetime

    @property
    def params(self) -> dict:
        return {"token_hash": self.token_hash, "session_now": self.now,
                "session_expires_at": self.expires_at}


@dataclass(frozen=True)
class AuditEntry:
    """One link of the chain, sealed onto the digest before it."""
    at: datetime
    action: str
    account_no: str | None
    entry: dict
    previous: str

    @classmethod
    def of(cls, previous: str, action: str, now: datetime, account_no: str | None,
           details: dict) -> AuditEntry:
        entry = {"at": now.isoformat(), "action": action, "account_no": account_no, **details}
        return cls(now, action, account_no, entry, previous)

    def params(self, key: bytes) -> dict:
        return {"audit_at": self.at, "audit_action": self.action,
                "audit_account_no": self.account_no, "audit_entry": Jsonb(self.entry),
                "audit_previous": self.previous,
                "audit_digest": entry_digest(key, self.previous, self.entry)}


_SESSION_INSERT = ("INSERT INTO accounts.sessions (token_hash, account_id, created_at, "
                   "last_seen_at, expires_at) SELECT %(token_hash)s, {account_id}, "
                   "%(session_now)s, %(session_now)s, %(session_expires_at)s")
_ADD_SESSION = _SESSION_INSERT.format(account_id="%(account_id)s")

# An append: `appended` inserts the entry (`{source}`: empty, or a FROM clause that makes it
# conditional), then the head moves onto it.
_AUDIT_APPEND = ("appended AS (INSERT INTO accounts.audit_log (at, action, account_no, entry, "
                 "previous_digest, digest) SELECT %(audit_at)s, %(audit_action)s, "
                 "%(audit_account_no)s, %(audit_entry)s, %(audit_previous)s, %(audit_digest)s"
                 "{source} RETURNING digest)")
_AUDIT_HEAD_MOVE = "UPDATE accounts.audit_head SET digest = appended.digest FROM appended"
_AUDIT = "WITH " + _AUDIT_APPEND.format(source="") + " " + _AUDIT_HEAD_MOVE

# A taken number inserts nothing, so nothing else happens either (ON CONFLICT covers the
# document too: a concurrent registration of it wins and this one draws in vain, then sees it).
_REGISTER = sql.SQL(
    "WITH new AS (INSERT INTO accounts.accounts (account_no, district, hukou_type, "
    "document_type, document_hash, phone_hash, personal, family_key, password_hash, "
    "policy_version, created_at, consented_at) VALUES (%(account_no)s, %(district)s, "
    "%(hukou_type)s, %(document_type)s, %(document_hash)s, %(phone_hash)s, %(personal)s, "
    "%(family_key)s, %(password_hash)s, "
    "%(policy_version)s, %(now)s, %(now)s) ON CONFLICT DO NOTHING RETURNING *), "
    "spent AS (UPDATE accounts.sms_codes SET used_at = %(now)s, replay_hash = %(replay_hash)s "
    "WHERE id = %(code_id)s AND "
    "EXISTS (SELECT 1 FROM new)), "
    "signed_in AS ({session}), "
    "recorded AS ({event} FROM new), "
    "{audit}, "
    "moved AS ({head_move}) "
    "SELECT * FROM new").format(
    session=sql.SQL(_SESSION_INSERT.format(account_id="id") + " FROM new"),
    event=outbox.insert_sql(SCHEMA),
    audit=sql.SQL(_AUDIT_APPEND.format(source=" FROM new")),
    head_move=sql.SQL(_AUDIT_HEAD_MOVE)).as_string()  # composed once, not on every execution


_FIRST_TIME = (consumed.first_time(SCHEMA) + sql.SQL(" SELECT count(*) FROM first")).as_string()


class Store:
    """`publish_committed` publishes each commit's events (the service's relay); without it,
    they wait in the outbox for a running relay's sweep."""

    def __init__(self, pool, keys: Keys,
                 publish_committed: Callable[[list[outbox.NewEvent]], None] | None = None):
        self.pool = pool
        self.keys = keys
        self.publish_committed = publish_committed

    @contextlib.contextmanager
    def transaction(self):
        """Statements that hold together: committed at the end, rolled back on an error. The
        events they recorded are handed to `publish_committed` once committed."""
        with self.pool.connection() as conn, conn.transaction():
            conn.row_factory = dict_row
            tx = Tx(conn, self.keys)
            yield tx
        if tx.events and self.publish_committed:
            self.publish_committed(tx.events)

    @contextlib.contextmanager
    def statements(self):
        """Independent statements, each committed on its own (one round trip each)."""
        with self.pool.connection() as conn:
            conn.row_factory = dict_row
            yield Tx(conn, self.keys)

    def ping(self) -> bool:
        with self.statements() as db:
            return db.alive()


class Tx:
    def __init__(self, conn, keys: Keys):
        self.conn = conn
        self.keys = keys
        self.events: list[outbox.NewEvent] = []  # recorded here, published after the commit

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
        self.conn.execute("DELETE FROM accounts.attempts WHERE window_start < %s - interval "
                          "'2 days'", (now,))

    # throttles --------------------------------------------------------------------------
    def count_attempts(self, attempts: list[tuple[str, bytes, datetime]]) -> dict[str, int]:
        """Counts one attempt for each (kind, subject hash, window start), all in one
        statement; returns each kind's count in its window, this attempt included."""
        kinds, subjects, windows = (list(column) for column in zip(*attempts, strict=True))
        rows = self.conn.execute(
            "INSERT INTO accounts.attempts AS a (kind, subject_hash, window_start, count) "
            "SELECT kind, subject_hash, window_start, 1 FROM unnest(%s::text[], %s::bytea[], "
            "%s::timestamptz[]) AS t (kind, subject_hash, window_start) ON CONFLICT (kind, "
            "subject_hash, window_start) DO UPDATE SET count = a.count + 1 "
            "RETURNING kind, count", (kinds, subjects, windows)).fetchall()
        return {row["kind"]: row["count"] for row in rows}

    def attempts_so_far(self, kind: str, subject_hash: bytes, window_start: datetime) -> int:
        row = self._one("SELECT count FROM accounts.attempts WHERE kind = %s AND "
                        "subject_hash = %s AND window_start = %s",
                        (kind, subject_hash, window_start))
        return row["count"] if row else 0

    # SMS codes --------------------------------------------------------------------------
    def lock_phone(self, phone_hash: bytes) -> None:
        """Serialises everything done for one phone (code issuing, the 3-account cap)."""
        self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                          (phone_hash.hex(),))

    def code_counts(self, cooldown_hash: bytes, phone_hash: bytes, ip_hash: bytes,
                    since: datetime):
        """(last code time for the cooldown key, codes texted to the phone since, codes
        requested from the IP since)."""
        row = self._one(
            "SELECT (SELECT max(created_at) FROM accounts.sms_codes WHERE cooldown_hash = %(c)s) "
            "AS last, (SELECT count(*) FROM accounts.sms_codes WHERE phone_hash = %(p)s AND "
            "delivered AND created_at >= %(s)s) AS phone, (SELECT count(*) FROM "
            "accounts.sms_codes WHERE ip_hash = %(i)s AND created_at >= %(s)s) AS ip",
            {"c": cooldown_hash, "p": phone_hash, "i": ip_hash, "s": since})
        return row["last"], row["phone"], row["ip"]

    def add_code(self, phone_hash: bytes, ip_hash: bytes, cooldown_hash: bytes, purpose: str,
                 code_hash: bytes, now: datetime, expires_at: datetime, delivered: bool) -> int:
        return self._one(
            "INSERT INTO accounts.sms_codes (phone_hash, ip_hash, cooldown_hash, purpose, "
            "code_hash, created_at, expires_at, delivered) VALUES (%s, %s, %s, %s, %s, %s, %s, "
            "%s) RETURNING id",
            (phone_hash, ip_hash, cooldown_hash, purpose, code_hash, now, expires_at,
             delivered))["id"]

    def recent_codes(self, phone_hash: bytes, purpose: str, since: datetime,
                     document_hash: bytes | None = None, lock: bool = True) -> RecentCodes:
        """The codes texted to the phone for a purpose since `since`, newest first (locked
        unless `lock` is false), with the obstacles to a registration read in the same round
        trip."""
        rows = self.conn.execute(
            "SELECT id, code_hash, expires_at, wrong_tries, used_at, replay_hash, (SELECT "
            "count(*) FROM accounts.accounts WHERE phone_hash = %(p)s AND status = 'active') "
            "AS on_phone, EXISTS (SELECT 1 FROM accounts.accounts WHERE document_hash = %(d)s "
            "AND status = 'active') AS taken FROM accounts.sms_codes WHERE phone_hash = %(p)s "
            "AND purpose = %(purpose)s AND delivered AND created_at >= %(since)s ORDER BY "
            "created_at DESC, id DESC" + (" FOR UPDATE OF sms_codes" if lock else ""),
            {"p": phone_hash, "d": document_hash, "purpose": purpose,
             "since": since}).fetchall()
        codes = [(row["id"], IssuedCode(
            bytes(row["code_hash"]), row["expires_at"], row["wrong_tries"],
            row["used_at"] is not None,
            bytes(row["replay_hash"]) if row["replay_hash"] is not None else None))
                 for row in rows]
        if not rows:
            return RecentCodes(codes, 0, False)
        return RecentCodes(codes, rows[0]["on_phone"], rows[0]["taken"])

    def count_wrong_code(self, code_id: int) -> None:
        self.conn.execute("UPDATE accounts.sms_codes SET wrong_tries = wrong_tries + 1 "
                          "WHERE id = %s", (code_id,))

    def use_code(self, code_id: int, now: datetime) -> None:
        self.conn.execute("UPDATE accounts.sms_codes SET used_at = %s WHERE id = %s",
                          (now, code_id))

    def record_replay(self, code_id: int, replay_hash: bytes) -> None:
        """The spent code's action completed: a retry repeating `replay_hash` gets its answer."""
        self.conn.execute("UPDATE accounts.sms_codes SET replay_hash = %s WHERE id = %s",
                          (replay_hash, code_id))

    def replayable(self, purpose: str, replay_hash: bytes, now: datetime) -> bool:
        """A spent, unexpired code for `purpose` whose completed action recorded `replay_hash`
        (for a retry that can no longer name the phone: a cancelled account's)."""
        return self._one("SELECT 1 AS x FROM accounts.sms_codes WHERE replay_hash = %s AND "
                         "purpose = %s AND used_at IS NOT NULL AND expires_at > %s",
                         (replay_hash, purpose, now)) is not None

    # accounts ---------------------------------------------------------------------------
    def document_registered(self, document_hash: bytes) -> bool:
        return self._one("SELECT 1 AS x FROM accounts.accounts WHERE document_hash = %s AND "
                         "status = 'active'", (document_hash,)) is not None

    def add_account(self, account: NewAccount, code_id: int, replay_hash: bytes,
                    session: NewSession, event: outbox.NewEvent,
                    audit: AuditEntry) -> AccountRow | None:
        """Creates the account with everything that comes with it in one statement: the SMS
        code spent (recording `replay_hash`), the session, the event, the audit entry. None if
        `account.account_no` is taken (draw again); the caller holds the audit head
        (`audit_head()`)."""
        row = self._one(_REGISTER, {
            **account.params(self.keys), "code_id": code_id, "replay_hash": replay_hash,
            **session.params,
            **event.params, **audit.params(self.keys.audit)})
        if row is None:
            return None
        self.events.append(event)
        return self._account(row, personal=account.personal)  # no need to decrypt it back

    def _account(self, row, personal: dict | None = None) -> AccountRow | None:
        if row is None:
            return None
        account_no = row["account_no"].strip()
        if personal is None and row["personal"]:
            personal = self.keys.open_personal(account_no, row["family_key"], row["personal"])
        return AccountRow(row["id"], account_no, row["district"],
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
        """Erases the family's data and its key (copies of its ciphertext elsewhere no longer
        open); the row keeps only the number (never reused) and dates."""
        self.conn.execute(
            "UPDATE accounts.accounts SET status = 'cancelled', personal = NULL, "
            "family_key = NULL, document_hash = NULL, phone_hash = NULL, password_hash = NULL, "
            "cancelled_at = %s WHERE id = %s", (now, account_id))
        self.conn.execute("DELETE FROM accounts.sessions WHERE account_id = %s", (account_id,))

    def move_account(self, account: AccountRow, personal: dict, phone_hash: bytes) -> None:
        """The account to another guardian (a dispute over the child's document, settled by
        the district): `personal` sealed under a new family key, the phone's look-up moved, no
        password until the guardian sets one by SMS code, no session left."""
        family_key, sealed = self.keys.seal_personal(account.account_no, personal)
        self.conn.execute(
            "UPDATE accounts.accounts SET personal = %s, family_key = %s, phone_hash = %s, "
            "password_hash = NULL, failed_logins = 0, locked_until = NULL WHERE id = %s",
            (sealed, family_key, phone_hash, account.id))
        self.conn.execute("DELETE FROM accounts.sessions WHERE account_id = %s", (account.id,))

    # sessions ---------------------------------------------------------------------------
    def add_session(self, session: NewSession, account_id: int) -> None:
        self.conn.execute(_ADD_SESSION,
                          {**session.params, "account_id": account_id})

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
    def first_time(self, event_id: str, event_type: str) -> bool:
        """Records another service's event as handled, in this transaction; False if it was
        handled before (common/consumed.py)."""
        return self._one(_FIRST_TIME, {"event_id": event_id,
                                       "event_type": event_type})["count"] == 1

    def new_event(self, event_type: str, payload: dict,
                  request_id: str | None) -> outbox.NewEvent:
        return outbox.NewEvent.of(self.keys.outbox, event_type, payload, request_id)

    def drop_events(self, event_ids: list[str]) -> None:
        """Removes recorded events before any relay publishes them (the demo texts nobody)."""
        outbox.delete_published(self.conn, SCHEMA, event_ids)

    def add_event(self, event_type: str, payload: dict, request_id: str | None) -> None:
        event = self.new_event(event_type, payload, request_id)
        outbox.write_event(self.conn, SCHEMA, event)
        self.events.append(event)

    def audit_head(self) -> str:
        """Locks the audit chain until the commit; returns its latest digest."""
        return self._one("SELECT digest FROM accounts.audit_head FOR UPDATE")["digest"]

    def audit(self, action: str, now: datetime, account_no: str | None = None,
              **details) -> None:
        """Appends to the hash chain; masked values only in `details`."""
        entry = AuditEntry.of(self.audit_head(), action, now, account_no, details)
        self.conn.execute(_AUDIT, entry.params(self.keys.audit))

    def audit_chain(self):
        """(id, entry, previous_digest, digest) in order, streamed."""
        cursor = self.conn.cursor(name="audit_chain")
        cursor.execute("SELECT id, entry, previous_digest, digest FROM accounts.audit_log "
                       "ORDER BY id")
        for row in cursor:
            yield row["id"], row["entry"], row["previous_digest"], row["digest"]

    def audit_newest(self) -> Head | None:
        """The newest entry (what an anchor records), without locking the chain."""
        row = self._one("SELECT id, digest, at FROM accounts.audit_log ORDER BY id DESC LIMIT 1")
        return Head(row["id"], row["digest"], row["at"].isoformat()) if row else None


def rotate_keys(database_url: str, master: MasterKeys, batch: int = 1000) -> int:
    """Re-seals what is sealed under an older master key (family keys, outbox payloads) under
    the newest; returns how many rows. The personal data stays sealed under its family key;
    a cancelled account has no family key left."""
    keys = Keys(master)
    return rotation.reseal(database_url, SCHEMA, keys.outbox, [rotation.SealedColumn(
        "accounts", "family_key", ("account_no",), keys.family_key_wrap,
        lambda account_no: _bound("family_key", account_no.strip()))], batch)

