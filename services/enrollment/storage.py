"""All SQL of the enrollment service: the PostgreSQL store of usecases/store.py.

It behaves as MemoryStore does (usecases/memory_store.py): a transaction's writes are committed
together at its end, or not at all; a save whose expected revision is no longer the stored one
raises StaleRevision (a conditional UPDATE: a concurrent transaction that changed the row first
makes it match nothing once that one commits). Saves and audited accesses are written in one
statement each when the transaction next uses its connection, or at its end. Events are
written to the outbox in the same transaction and handed to `publish_committed` once it
commits.

Personal data is sealed under the family's own data key, itself sealed under a key derived from
the master keys (the accounts approach); deleting the application deletes the key with it.

The bulk district calls' records (usecases/bulk.py) and the schools of each district
(reference data, `SchoolTable`) are at the end.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass, fields, replace
from datetime import date

import psycopg
import psycopg_pool
from psycopg import sql
from psycopg.rows import dict_row

from common import cancelled, consumed, outbox, rotation
from common.crypto import FieldCipher
from common.keys import MasterKeys
from services.enrollment import contract
from services.enrollment.rules.fields import Registration
from services.enrollment.rules.schools import School
from services.enrollment.rules.status import (
    ApplicationState,
    ItemResult,
    Placement,
    Review,
    Verification,
    review_stage,
)
from services.enrollment.usecases.store import (
    Access,
    Application,
    BulkCall,
    Listed,
    Listing,
    Outcome,
    Publication,
    SchoolImport,
    StaleRevision,
    Version,
)

SCHEMA = "enrollment"


def _bound(column: str, account_no: str) -> str:
    """Associated data: the column and the row a ciphertext belongs to."""
    return f"enrollment.{column}:{account_no}"


class Keys:
    """The enrollment service's keys, each derived from the master keys for one purpose."""

    def __init__(self, master: MasterKeys):
        self.family_key_wrap = master.cipher("enrollment/family-key")
        self.outbox = outbox.cipher(master, SCHEMA)

    def new_family_key(self, account_no: str) -> tuple[bytes, FieldCipher]:
        """(the sealed key to store, the cipher of the family's data)."""
        family_key = os.urandom(32)
        return (self.family_key_wrap.seal(family_key, _bound("family_key", account_no)),
                FieldCipher({0: family_key}))

    def family_cipher(self, account_no: str, sealed_key: bytes) -> FieldCipher:
        return FieldCipher({0: self.family_key_wrap.open(sealed_key,
                                                         _bound("family_key", account_no))})


# The state machine's immutable state as a JSON document, and back.

def state_document(state: ApplicationState) -> dict:
    return asdict(state)


def state_from(document: dict) -> ApplicationState:
    verification = document.get("verification")
    review = document.get("review")
    placement = document.get("placement")
    return ApplicationState(
        hukou_type=document["hukou_type"], details=document["details"],
        version=document["version"],
        verification=Verification(**verification) if verification else None,
        review=Review(review["version"], review["status"],
                      tuple(ItemResult(**result) for result in review["results"]))
        if review else None,
        placement=Placement(**placement) if placement else None)


def registration_document(registration: Registration) -> dict:
    return {**asdict(registration), "birth_date": registration.birth_date.isoformat()}


def registration_from(document: dict) -> Registration:
    return Registration(**{**document, "birth_date": date.fromisoformat(document["birth_date"])})


class AlreadyHandled(Exception):
    """The event this transaction handles was handled before: nothing is written."""


class Store:
    """`publish_committed` publishes each commit's events (the service's relay); without it,
    they wait in the outbox for a running relay's sweep."""

    def __init__(self, pool: psycopg_pool.ConnectionPool, keys: Keys,
                 publish_committed: Callable[[list[outbox.NewEvent]], None] | None = None,
                 handling: tuple[str, str] | None = None):
        self.pool = pool
        self.keys = keys
        self.publish_committed = publish_committed
        self.handling = handling

    def handling_event(self, event_id: str, event_type: str) -> Store:
        """This store, whose transactions each record the event as handled (common/consumed.py)
        and raise AlreadyHandled, writing nothing, if it was handled before."""
        return Store(self.pool, self.keys, self.publish_committed, (event_id, event_type))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PgTransaction]:
        with self.pool.connection() as conn, conn.transaction():
            conn.row_factory = dict_row
            if self.handling is not None:
                event_id, event_type = self.handling
                first = conn.execute(_FIRST_TIME, {"event_id": event_id,
                                                   "event_type": event_type}).fetchone()
                if first["count"] == 0:
                    raise AlreadyHandled(event_id)
            tx = PgTransaction(conn, self.keys)
            yield tx
            tx.write_pending()
        if tx.events and self.publish_committed:
            self.publish_committed(tx.events)

    def ping(self) -> bool:
        with self.pool.connection() as conn:
            conn.row_factory = dict_row  # every use of a pooled connection says which
            return conn.execute("SELECT 1 AS ok").fetchone()["ok"] == 1

    def forget_family(self, event_id: str, event_type: str, account_no: str) -> bool:
        """Deletes the family's application, its versions and its key, remembers the account
        as cancelled and records the event; False if the event was handled before."""
        params = {"event_id": event_id, "event_type": event_type, "account_no": account_no}
        with self.pool.connection() as conn, conn.transaction():
            conn.row_factory = dict_row
            conn.execute(_LOCK_ACCOUNT, params)
            return conn.execute(_FORGET, params).fetchone()["count"] == 1


_FIRST_TIME = (consumed.first_time(SCHEMA) + sql.SQL(" SELECT count(*) FROM first")).as_string()
# The versions go with their application (ON DELETE CASCADE).
_FORGET = (consumed.first_time(SCHEMA) + cancelled.remember(SCHEMA) + sql.SQL(
    ", gone AS (DELETE FROM enrollment.applications WHERE account_no = %(account_no)s "
    "AND EXISTS (SELECT 1 FROM first)) SELECT count(*) FROM first")).as_string()
_LOCK_ACCOUNT = cancelled.lock(SCHEMA).as_string()
_WAS_CANCELLED = (sql.SQL("SELECT ") + cancelled.was_cancelled(SCHEMA)
                  + sql.SQL(" AS cancelled")).as_string()


class PgTransaction:
    """Saves and accesses are written together, in a statement each, when the transaction
    next uses its connection (`conn`) or ends (`write_pending`): a bulk call's chunk makes
    hundreds. So a stale save may raise StaleRevision at a later statement or at the end."""

    def __init__(self, conn: psycopg.Connection, keys: Keys):
        self._conn = conn
        self.keys = keys
        self.events: list[outbox.NewEvent] = []
        self._saves: dict[str, _Save] = {}  # account -> its pending save
        self._accesses: list[Access] = []  # recorded, not yet written
        self._ciphers: dict[str, FieldCipher] = {}  # account -> its family's cipher

    @property
    def conn(self) -> psycopg.Connection:
        """The connection, once what is pending is written: every statement sees it."""
        self.write_pending()
        return self._conn

    def write_pending(self) -> None:
        """The pending saves (StaleRevision if one is stale) and accesses."""
        if self._saves:
            saves, self._saves = list(self._saves.values()), {}
            rows = [(save.application.account_no, save.revision, save.bumps,
                     *self._sealed_state(self._family(save.application.account_no),
                                         save.application), save.application.updated_at)
                    for save in saves]
            saved = self._conn.execute(_WRITE_SAVES, dict(zip(
                _SAVED_COLUMNS, map(list, zip(*rows, strict=True)), strict=True))).fetchall()
            if len(saved) != len(saves):
                raise StaleRevision(*({save.application.account_no for save in saves}
                                      - {row["account_no"] for row in saved}))
        if self._accesses:
            accesses, self._accesses = self._accesses, []
            self._conn.execute(_WRITE_ACCESSES, {
                name: [getattr(access, name) for access in accesses]
                for name in Access.__dataclass_fields__ if name != "at"})

    def _cipher(self, account_no: str, sealed_key: bytes) -> FieldCipher:
        if account_no not in self._ciphers:
            self._ciphers[account_no] = self.keys.family_cipher(account_no, sealed_key)
        return self._ciphers[account_no]

    def _family(self, account_no: str) -> FieldCipher:
        if account_no not in self._ciphers:
            row = self.conn.execute("SELECT family_key FROM enrollment.applications "
                                    "WHERE account_no = %s", (account_no,)).fetchone()
            if row is None:
                raise StaleRevision(account_no)  # deleted meanwhile (a cancellation)
            return self._cipher(account_no, row["family_key"])
        return self._ciphers[account_no]

    def load(self, account_no: str) -> Application | None:
        row = self.conn.execute("SELECT * FROM enrollment.applications WHERE account_no = %s",
                                (account_no,)).fetchone()
        return None if row is None else self._opened(row)

    def load_many(self, account_nos: Collection[str]) -> dict[str, Application]:
        rows = self.conn.execute("SELECT * FROM enrollment.applications "
                                 "WHERE account_no = ANY(%s::bpchar[])",
                                 (list(account_nos),)).fetchall()
        return {row["account_no"]: self._opened(row) for row in rows}

    def _opened(self, row: dict) -> Application:
        account_no = row["account_no"]
        cipher = self._cipher(account_no, row["family_key"])
        data = row["data"]
        return Application(
            account_no=account_no,
            registration=registration_from(
                cipher.decrypt(row["registration"], _bound("registration", account_no))),
            state=state_from(cipher.decrypt(row["state"], _bound("state", account_no))),
            data=cipher.decrypt(data, _bound("data", account_no)) if data is not None else None,
            revision=row["revision"], updated_at=row["updated_at"])

    def cancelled(self, account_no: str) -> bool:
        self.conn.execute(_LOCK_ACCOUNT, {"account_no": account_no})
        return self.conn.execute(_WAS_CANCELLED, {"account_no": account_no}).fetchone()[
            "cancelled"]

    def insert(self, application: Application) -> None:
        values, cipher = self._new_row(application)
        row = self.conn.execute(
            f"INSERT INTO enrollment.applications ({_NEW_COLUMNS}) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, now())) "
            "ON CONFLICT (account_no) DO NOTHING RETURNING account_no", values).fetchone()
        if row is None:
            raise StaleRevision(application.account_no)
        self._ciphers[application.account_no] = cipher

    def _new_row(self, application: Application) -> tuple[tuple, FieldCipher]:
        """The values of _NEW_COLUMNS of a new application, sealed under a new family key,
        and that key's cipher."""
        account_no = application.account_no
        sealed_key, cipher = self.keys.new_family_key(account_no)
        return ((account_no, application.registration.district,
                 application.registration.hukou_type, sealed_key,
                 cipher.encrypt(registration_document(application.registration),
                                _bound("registration", account_no)),
                 *self._sealed_state(cipher, application), application.revision,
                 application.updated_at), cipher)

    def save(self, application: Application) -> Application:
        account_no = application.account_no
        pending = self._saves.get(account_no)
        if pending is not None and application.revision != pending.revision + pending.bumps:
            raise StaleRevision(account_no)
        # Saved again in the transaction: written once (sealed once), checked against the
        # revision the transaction started from.
        self._saves[account_no] = _Save(application, pending.revision if pending else
                                        application.revision,
                                        pending.bumps + 1 if pending else 1)
        return replace(application, revision=application.revision + 1)

    def _sealed_state(self, cipher: FieldCipher, application: Application) -> tuple:
        """(state, details_status, version, verification_status, review_status, school_code,
        placement_status, data) as stored: the statuses and the school in clear, for the
        districts' lists."""
        account_no, state = application.account_no, application.state
        data, placement = application.data, state.placement
        return (cipher.encrypt(state_document(state), _bound("state", account_no)),
                state.details, state.version,
                state.verification.status if state.verification is not None else None,
                review_stage(state),
                placement.school if placement is not None else None,
                placement.status if placement is not None else None,
                cipher.encrypt(dict(data), _bound("data", account_no))
                if data is not None else None)

    def hand_over(self, application: Application) -> Application:
        account_no = application.account_no
        # A new family key: copies of what the former holder entered (backups, the WAL) no
        # longer open with the key the account keeps.
        sealed_key, cipher = self.keys.new_family_key(account_no)
        changed = self.conn.execute(
            "UPDATE enrollment.applications SET family_key = %s, registration = %s "
            "WHERE account_no = %s AND revision = %s",
            (sealed_key, cipher.encrypt(registration_document(application.registration),
                                        _bound("registration", account_no)),
             account_no, application.revision)).rowcount
        if not changed:
            raise StaleRevision(account_no)
        self._ciphers[account_no] = cipher
        self.conn.execute("DELETE FROM enrollment.versions WHERE account_no = %s", (account_no,))
        return self.save(application)

    def append_version(self, version: Version) -> None:
        added = self.conn.execute(
            "INSERT INTO enrollment.versions (account_no, number, data, submitted_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (account_no, number) DO NOTHING",
            _version_row(self._family(version.account_no), version)).rowcount
        if not added:
            raise ValueError(f"version {version.number} of {version.account_no} exists")

    def versions(self, account_no: str) -> list[Version]:
        rows = self.conn.execute(
            "SELECT number, data, submitted_at FROM enrollment.versions WHERE account_no = %s "
            "ORDER BY number", (account_no,)).fetchall()
        if not rows:
            return []
        cipher = self._family(account_no)
        return [Version(account_no, row["number"],
                        cipher.decrypt(row["data"], _bound("versions.data",
                                                           f"{account_no}:{row['number']}")),
                        row["submitted_at"]) for row in rows]

    def record_event(self, event_type: str, payload: dict) -> None:
        event = outbox.NewEvent.of(self.keys.outbox, event_type, payload, None)
        contract.EVENTS[event_type].parse(event.body)  # what consumers will parse
        outbox.write_event(self._conn, SCHEMA, event)  # reads nothing: need not wait
        self.events.append(event)

    def list_applications(self, district: str, listing: Listing, after: str | None,
                          limit: int) -> list[Listed]:
        params = {**asdict(listing), "district": district, "after": after, "limit": limit}
        rows = self.conn.execute(_list_query(params), params).fetchall()
        return [Listed(self._opened(row), row["submitted_at"]) for row in rows]

    def record_access(self, access: Access) -> None:
        self._accesses.append(access)

    def schools(self, district: str, stage: str | None = None) -> list[School]:
        return _schools(self.conn, district, stage)

    def import_schools(self, schools: list[School],
                       replace: tuple[str, ...] = ()) -> SchoolImport:
        return _import_schools(self.conn, schools, replace)

    def accesses(self, account_no: str) -> list[Access]:
        rows = self.conn.execute(
            "SELECT district, staff_id, method, outcome, account_no, purpose, agency, at "
            "FROM enrollment.district_access WHERE account_no = %s ORDER BY at DESC, id DESC",
            (account_no,)).fetchall()
        return [Access(**row) for row in rows]

    # Reference data: read past what is pending, which it does not depend on.
    def school(self, district: str, code: str) -> School | None:
        found = _schools(self._conn, district, code=code)
        return found[0] if found else None

    def publication(self, district: str) -> Publication | None:
        row = self._conn.execute(
            "SELECT district, staff_id, placed, published_at FROM enrollment.publications "
            "WHERE district = %s", (district,)).fetchone()
        return None if row is None else Publication(**row)

    def publish(self, publication: Publication) -> Publication:
        self.conn.execute(
            "INSERT INTO enrollment.publications (district, staff_id, placed) "
            "VALUES (%(district)s, %(staff_id)s, %(placed)s) ON CONFLICT (district) DO NOTHING",
            asdict(publication))
        return self.publication(publication.district)

    # Bulk district calls (their SQL: the section "Bulk district calls" below) ---------------
    def open_bulk_call(self, call: BulkCall) -> str:
        params = _bulk_call(call)
        if self.conn.execute(_OPEN_BULK_CALL, params).fetchone():
            return call.digest
        # A new statement: it sees the row whose insertion the one above waited for.
        return self.conn.execute(_BULK_CALL_DIGEST, params).fetchone()["request_digest"]

    def bulk_outcomes(self, call: BulkCall, indexes: range) -> dict[int, Outcome]:
        params = {**_bulk_call(call), "first": indexes.start, "stop": indexes.stop}
        self.conn.execute(_HOLD_BULK_CALL, params)
        # A new statement, after the wait: it sees what the call's other transaction wrote.
        return {row["index"]: Outcome(**row)
                for row in self.conn.execute(_BULK_OUTCOMES, params).fetchall()}

    def record_outcomes(self, call: BulkCall, outcomes: list[Outcome]) -> None:
        recorded = self.conn.execute(_RECORD_OUTCOMES, {
            **_bulk_call(call), "index": [outcome.index for outcome in outcomes],
            "account_no": [outcome.account_no for outcome in outcomes],
            "ok": [outcome.ok for outcome in outcomes],
            "code": [outcome.code for outcome in outcomes],
            "message": [outcome.message for outcome in outcomes]}).rowcount
        if recorded != len(outcomes):
            raise StaleRevision(call.key)  # decided meanwhile by the same call elsewhere



@dataclass(frozen=True)
class _Save:
    """A save not yet written: the application as last saved, to be written if its stored
    revision is still `revision`, bumped by `bumps` (the transaction's saves of it)."""
    application: Application
    revision: int
    bumps: int


_SAVED_COLUMNS = ("account_no", "revision", "bumps", "state", "details_status", "version",
                  "verification_status", "review_status", "school_code", "placement_status",
                  "data", "updated_at")
_WRITE_SAVES = """
UPDATE enrollment.applications a SET state = s.state, details_status = s.details_status,
    version = s.version, verification_status = s.verification_status,
    review_status = s.review_status, school_code = s.school_code,
    placement_status = s.placement_status, data = s.data, revision = a.revision + s.bumps,
    updated_at = coalesce(s.updated_at, now())
FROM unnest(%(account_no)s::bpchar[], %(revision)s::int[], %(bumps)s::int[], %(state)s::bytea[],
            %(details_status)s::text[], %(version)s::int[], %(verification_status)s::text[],
            %(review_status)s::text[], %(school_code)s::text[], %(placement_status)s::text[],
            %(data)s::bytea[], %(updated_at)s::timestamptz[])
     AS s(account_no, revision, bumps, state, details_status, version, verification_status,
          review_status, school_code, placement_status, data, updated_at)
WHERE a.account_no = s.account_no AND a.revision = s.revision
RETURNING a.account_no
"""
# In the order recorded (the family's list of accesses is newest first by id).
_WRITE_ACCESSES = """
INSERT INTO enrollment.district_access (district, staff_id, method, outcome, account_no,
                                        purpose, agency)
SELECT district, staff_id, method, outcome, account_no, purpose, agency
FROM unnest(%(district)s::text[], %(staff_id)s::text[], %(method)s::text[],
            %(outcome)s::text[], %(account_no)s::bpchar[], %(purpose)s::text[],
            %(agency)s::text[]) WITH ORDINALITY
     AS a(district, staff_id, method, outcome, account_no, purpose, agency, n)
ORDER BY n
"""

_NEW_COLUMNS = ("account_no, district, hukou_type, family_key, registration, state, "
                "details_status, version, verification_status, review_status, school_code, "
                "placement_status, data, revision, updated_at")


def _version_row(cipher: FieldCipher, version: Version) -> tuple:
    """(account_no, number, data, submitted_at) of enrollment.versions, the data sealed."""
    account_no = version.account_no
    return (account_no, version.number,
            cipher.encrypt(dict(version.data),
                           _bound("versions.data", f"{account_no}:{version.number}")),
            version.submitted_at)


def copy_applications(conn: psycopg.Connection, keys: Keys,
                      applications: list[tuple[Application, list[Version]]]) -> None:
    """New applications with their versions, each sealed as a transaction's insert and
    append_version seal them, written by COPY (many at once, for the district benchmark's
    load): in the caller's transaction, with no outbox event; `updated_at` must be set."""
    sealing = PgTransaction(conn, keys)
    versions = []
    with conn.cursor().copy(f"COPY enrollment.applications ({_NEW_COLUMNS}) FROM STDIN") as copy:
        for application, its_versions in applications:
            values, cipher = sealing._new_row(application)
            copy.write_row(values)
            versions += [_version_row(cipher, version) for version in its_versions]
    with conn.cursor().copy("COPY enrollment.versions (account_no, number, data, submitted_at) "
                            "FROM STDIN") as copy:
        for values in versions:
            copy.write_row(values)


# A district's applications after an account number, filtered (a NULL filter: any); the
# submission dates are Beijing's days of the current version's submission.
# A district's list: the filters that are set, and nothing for the others, so that each
# combination gets a plan of its own. (One statement of `%(x)s IS NULL OR ...` for all became a
# generic plan once prepared, which could not use the page's `account_no > after` as an index
# bound: every page read the district from its first application.) The submission dates are
# Beijing's days of the current version's submission.
_LIST_FILTERS = {
    "after": "a.account_no > %(after)s",
    "details": "a.details_status = %(details)s",
    "hukou_type": "a.hukou_type = %(hukou_type)s",
    "verification": "a.details_status = 'submitted' AND a.verification_status = %(verification)s",
    "review": "a.review_status = %(review)s",
    "school": "a.school_code = %(school)s",
    "placement": "coalesce(a.placement_status, 'none') = %(placement)s",
    "submitted_from": "a.details_status = 'submitted' AND v.submitted_at "
                      ">= %(submitted_from)s::timestamp AT TIME ZONE 'Asia/Shanghai'",
    "submitted_to": "a.details_status = 'submitted' AND v.submitted_at "
                    "< (%(submitted_to)s::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'",
}


def _list_query(params: dict) -> str:
    """The query of the filters set in `params` (fixed fragments only; the values are bound)."""
    conditions = ["a.district = %(district)s"] + [
        f"({condition})" for name, condition in _LIST_FILTERS.items()
        if params[name] is not None]
    return ("SELECT a.*, v.submitted_at FROM enrollment.applications a "
            "LEFT JOIN enrollment.versions v ON v.account_no = a.account_no "
            "AND v.number = a.version WHERE " + " AND ".join(conditions)
            + " ORDER BY a.account_no LIMIT %(limit)s")


def rotate_keys(database_url: str, master: MasterKeys, batch: int = 1000) -> int:
    """Re-seals the family keys and the outbox payloads sealed under an older master key
    (`python -m common.keys rotate enrollment`); the data stays sealed under its family key.
    Returns how many rows."""
    keys = Keys(master)
    return rotation.reseal(database_url, SCHEMA, keys.outbox, [rotation.SealedColumn(
        "applications", "family_key", ("account_no",), keys.family_key_wrap,
        lambda account_no: _bound("family_key", account_no))], batch)


# ---------------------------------------------------------------------------------------------
# Bulk district calls (usecases/bulk.py): the calls by district and idempotency key, and each
# item's outcome, written in the transaction of the item's decision. Kept as written (the
# service's role may not change or delete them).
# ---------------------------------------------------------------------------------------------

def _bulk_call(call: BulkCall) -> dict:
    return {"district": call.district, "key": call.key, "digest": call.digest}


_OPEN_BULK_CALL = (
    "INSERT INTO enrollment.bulk_calls (district, idempotency_key, request_digest) "
    "VALUES (%(district)s, %(key)s, %(digest)s) ON CONFLICT DO NOTHING RETURNING true")
_BULK_CALL_DIGEST = ("SELECT request_digest FROM enrollment.bulk_calls "
                     "WHERE district = %(district)s AND idempotency_key = %(key)s")
# A transaction-level lock of its own per call: the service's role may not lock the call's
# row (FOR UPDATE needs the UPDATE right the migration takes away); two calls whose hashes
# meet only ever make one wait.
_HOLD_BULK_CALL = ("SELECT pg_advisory_xact_lock(hashtext('enrollment.bulk_calls'), "
                   "hashtext(%(district)s || ':' || %(key)s))")
_BULK_OUTCOMES = (
    "SELECT index, account_no, code, message FROM enrollment.bulk_items "
    "WHERE district = %(district)s AND idempotency_key = %(key)s "
    "AND index >= %(first)s AND index < %(stop)s")
_RECORD_OUTCOMES = (
    "INSERT INTO enrollment.bulk_items (district, idempotency_key, index, account_no, ok, code, "
    "message) SELECT %(district)s, %(key)s, * FROM unnest(%(index)s::int[], "
    "%(account_no)s::text[], %(ok)s::boolean[], %(code)s::text[], %(message)s::text[]) "
    "ON CONFLICT DO NOTHING")


# ---------------------------------------------------------------------------------------------
# Schools: reference data per district (rules/schools.py), nothing personal, nothing sealed.
# ---------------------------------------------------------------------------------------------

# One statement for the whole file, each column an array. A school whose values are the same
# is left alone, its updated_at too; `xmax = 0` only on a row this statement inserted.
_UPSERT_SCHOOLS = """
    INSERT INTO enrollment.schools (district, code, name, kind, stage, address, plan_seats, demo)
    SELECT * FROM unnest(%(district)s::text[], %(code)s::text[], %(name)s::text[],
                         %(kind)s::text[], %(stage)s::text[], %(address)s::text[],
                         %(plan_seats)s::int[], %(demo)s::boolean[])
    ON CONFLICT (district, code) DO UPDATE SET
        name = EXCLUDED.name, kind = EXCLUDED.kind, stage = EXCLUDED.stage,
        address = EXCLUDED.address, plan_seats = EXCLUDED.plan_seats, demo = EXCLUDED.demo,
        updated_at = now()
    WHERE (schools.name, schools.kind, schools.stage, schools.address, schools.plan_seats,
           schools.demo) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.kind, EXCLUDED.stage,
                                           EXCLUDED.address, EXCLUDED.plan_seats, EXCLUDED.demo)
    RETURNING xmax = 0 AS added"""
_REMOVE_OTHER_SCHOOLS = (
    "DELETE FROM enrollment.schools s WHERE s.district = ANY(%(replaced)s::text[]) "
    "AND NOT EXISTS (SELECT 1 FROM unnest(%(district)s::text[], %(code)s::text[]) "
    "AS f(district, code) WHERE f.district = s.district AND f.code = s.code)")


class SchoolTable:
    """enrollment.schools: imports and reads outside the use cases (the import command)."""

    def __init__(self, pool: psycopg_pool.ConnectionPool):
        self.pool = pool

    def import_schools(self, schools: list[School],
                       replace: tuple[str, ...] = ()) -> SchoolImport:
        """As a transaction's (usecases/store.py), in a transaction of its own."""
        with self.pool.connection() as conn, conn.transaction():
            conn.row_factory = dict_row
            return _import_schools(conn, schools, replace)

    def schools(self, district: str, stage: str | None = None) -> list[School]:
        with self.pool.connection() as conn:
            conn.row_factory = dict_row
            return _schools(conn, district, stage)


def _import_schools(conn: psycopg.Connection, schools: list[School],
                    replace: tuple[str, ...]) -> SchoolImport:
    arrays = {column.name: [getattr(school, column.name) for school in schools]
              for column in fields(School)}
    written = conn.execute(_UPSERT_SCHOOLS, arrays).fetchall()
    removed = conn.execute(_REMOVE_OTHER_SCHOOLS, {**arrays, "replaced": list(replace)}).rowcount
    added = sum(row["added"] for row in written)
    return SchoolImport(added=added, changed=len(written) - added,
                        unchanged=len(schools) - len(written), removed=removed)


def _schools(conn: psycopg.Connection, district: str, stage: str | None = None,
             code: str | None = None) -> list[School]:
    """The district's schools, of one stage or the one school `code` if given, by code."""
    rows = conn.execute(
        "SELECT district, code, name, kind, stage, address, plan_seats, demo "
        "FROM enrollment.schools WHERE district = %(district)s "
        "AND (%(stage)s::text IS NULL OR stage = %(stage)s) "
        "AND (%(code)s::text IS NULL OR code = %(code)s) ORDER BY code",
        {"district": district, "stage": stage, "code": code}).fetchall()
    return [School(**row) for row in rows]
