"""All SQL of the verification service.

A check is one row per submitted version of an account's details (`verification.checks`).
It is recorded pending, its request sealed, in the statement that records the event as
handled. A runner claims due checks with a lease (`claimed_until`, `claim_token`: `FOR UPDATE
SKIP LOCKED`, so two runners never take the same check); only the holder of the claim may
finish it, and finishing writes the result and the `check_finished` event in one statement,
unless the check was cancelled (withdrawn, superseded, the account cancelled) meanwhile. A
check the registry could not answer goes back to pending with a later `next_attempt_at`.

The embedded registry (`verification.people`, `verification.permits`) is looked up by keyed
hashes; its records are sealed, each bound to its hash. The demo file it is loaded from is made
up, but the tables have the population registry's fields (names, ID numbers, birth dates,
hukou, permits) and may be loaded from a real extract: they are sealed as personal data are.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import psycopg_pool
from psycopg.types.json import Jsonb

from common import cancelled, consumed, outbox, rotation
from common.crypto import LookupHasher
from common.keys import MasterKeys
from services.verification.contract import CHECK_FINISHED, SERVICE_NAME
from services.verification.registry import RegistryData, RegistryUnavailable
from services.verification.rules.checks import CheckRequest, Outcome, PermitRecord, PersonRecord

# Keys derived from the master keys (common/keys.py), one per kind of sealed record.
_CHECKS_KEY = "verification/checks"
_REGISTRY_KEY = "verification/registry"
_FIRST_TIME = consumed.first_time(SERVICE_NAME).as_string()
# The older pending checks of the account give way to the new version; a version older than
# one already known (events may arrive out of order), or one withdrawn before its submission
# arrived (a cancelled row exists), is not checked.
_RECORD_SUBMITTED = _FIRST_TIME + (
    ", superseded AS (UPDATE verification.checks SET status = 'cancelled', request_enc = NULL, "
    "claimed_until = NULL, claim_token = NULL, finished_at = now() "
    "WHERE account_no = %(account_no)s AND version < %(version)s AND status = 'pending' "
    "AND EXISTS (SELECT 1 FROM first)) "
    "INSERT INTO verification.checks (account_no, version, request_enc) "
    "SELECT %(account_no)s, %(version)s, %(request_enc)s FROM first "
    "WHERE NOT EXISTS (SELECT 1 FROM verification.checks WHERE account_no = %(account_no)s "
    "AND version > %(version)s) AND NOT " + cancelled.was_cancelled(SERVICE_NAME).as_string()
    + " ON CONFLICT (account_no, version) DO NOTHING RETURNING version")
# A withdrawal that arrives before its submission leaves a cancelled row, so that the
# submission is not checked when it comes.
_CANCEL = _FIRST_TIME + (
    " INSERT INTO verification.checks (account_no, version, status, finished_at) "
    "SELECT %(account_no)s, %(version)s, 'cancelled', now() FROM first "
    "ON CONFLICT (account_no, version) DO UPDATE SET status = 'cancelled', request_enc = NULL, "
    "claimed_until = NULL, claim_token = NULL, finished_at = now() "
    "WHERE verification.checks.status = 'pending' RETURNING version")
_LOCK_ACCOUNT = cancelled.lock(SERVICE_NAME).as_string()
_FORGET_ACCOUNT = _FIRST_TIME + cancelled.remember(SERVICE_NAME).as_string() + (
    ", gone AS (DELETE FROM verification.checks WHERE account_no = %(account_no)s "
    "AND EXISTS (SELECT 1 FROM first)) SELECT count(*) FROM first")
_CLAIM = (
    "UPDATE verification.checks c SET attempts = c.attempts + 1, "
    "claimed_until = now() + make_interval(secs => %(lease_s)s), claim_token = %(token)s, "
    # Not due again before the lease runs out: a claimed check leaves the front of the due
    # index, so the next claims need not step over the checks being run.
    "next_attempt_at = now() + make_interval(secs => %(lease_s)s) "
    "FROM (SELECT account_no, version FROM verification.checks WHERE status = 'pending' "
    "AND next_attempt_at <= now() AND (claimed_until IS NULL OR claimed_until < now()) "
    "ORDER BY next_attempt_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED) due "
    "WHERE c.account_no = due.account_no AND c.version = due.version "
    "RETURNING c.account_no, c.version, c.request_enc, c.attempts")
_HELD = ("account_no = %(account_no)s AND version = %(version)s AND status = 'pending' "
         "AND claim_token = %(token)s")
_FINISH = (
    "WITH done AS (UPDATE verification.checks SET status = 'done', result = %(result)s, "
    "items = %(items)s, request_enc = NULL, claimed_until = NULL, claim_token = NULL, "
    "last_error = NULL, finished_at = now() WHERE " + _HELD + " RETURNING 1) "
    + outbox.insert_sql(SERVICE_NAME).as_string() + " FROM done")
_RETRY_LATER = (
    "UPDATE verification.checks SET next_attempt_at = now() + make_interval(secs => "
    "%(delay_s)s), claimed_until = NULL, claim_token = NULL, last_error = %(error)s "
    "WHERE " + _HELD)
_PENDING = ("SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 "
            "FROM verification.checks WHERE status = 'pending'")


def _request_context(account_no: str, version: int) -> str:
    """Associated data: a sealed request opens only in its own row."""
    return f"verification.checks.request_enc:{account_no}:{version}"


@dataclass(frozen=True)
class Claim:
    """A check its runner holds until the lease runs out; `token` proves it."""
    account_no: str
    version: int
    request: CheckRequest
    attempts: int  # including this one
    token: str


class CheckStore:
    def __init__(self, pool: psycopg_pool.ConnectionPool, master: MasterKeys,
                 publish: Callable[[list[outbox.NewEvent]], None] = lambda events: None):
        self._pool = pool
        self._cipher = master.cipher(_CHECKS_KEY)
        self._outbox = outbox.cipher(master, SERVICE_NAME)
        self._publish = publish

    def ping(self) -> None:
        with self._pool.connection() as conn:
            conn.execute("SELECT 1")

    def record_submitted(self, event_id: str, event_type: str, request: CheckRequest) -> bool:
        """Records a pending check of the submitted version, superseding the account's older
        pending ones, unless the event was seen or the version is stale; True if recorded."""
        sealed = self._cipher.encrypt(request.model_dump(mode="json"),
                                      _request_context(request.account_no, request.version))
        params = {"event_id": event_id, "event_type": event_type,
                  "account_no": request.account_no, "version": request.version,
                  "request_enc": sealed}
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(_LOCK_ACCOUNT, params)
            return conn.execute(_RECORD_SUBMITTED, params).fetchone() is not None

    def cancel(self, event_id: str, event_type: str, account_no: str, version: int) -> bool:
        """Cancels the version's check if still pending (a withdrawal); True if it did."""
        with self._pool.connection() as conn:
            return conn.execute(_CANCEL, {
                "event_id": event_id, "event_type": event_type, "account_no": account_no,
                "version": version}).fetchone() is not None

    def forget_account(self, event_id: str, event_type: str, account_no: str) -> bool:
        """Deletes every check of a cancelled account and remembers it as cancelled; False if
        the event was seen."""
        params = {"event_id": event_id, "event_type": event_type, "account_no": account_no}
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(_LOCK_ACCOUNT, params)
            return conn.execute(_FORGET_ACCOUNT, params).fetchone()[0] == 1

    def claim_due(self, limit: int, lease_s: float) -> list[Claim]:
        """Takes up to `limit` due checks nobody holds, longest due first, for `lease_s`."""
        if limit <= 0:
            return []
        token = str(uuid.uuid4())
        with self._pool.connection() as conn:
            rows = conn.execute(_CLAIM, {"limit": limit, "lease_s": lease_s,
                                         "token": token}).fetchall()
        return [Claim(account_no, version, CheckRequest.model_validate(self._cipher.decrypt(
                    sealed, _request_context(account_no, version))), attempts, token)
                for account_no, version, sealed, attempts in rows]

    def finish(self, claim: Claim, outcome: Outcome) -> bool:
        """Records the outcome and its `check_finished` event in one statement, and hands the
        event to the relay; False (nothing written) if the check is no longer pending under
        this claim: cancelled, superseded, deleted, or taken over after the lease ran out."""
        event = outbox.NewEvent.of(self._outbox, CHECK_FINISHED, {
            "account_no": claim.account_no, "version": claim.version,
            "status": outcome.status,
            "items": [item.model_dump() for item in outcome.items]}, None)
        with self._pool.connection() as conn:
            written = conn.execute(_FINISH, {
                **self._held(claim), "result": outcome.status,
                "items": Jsonb([item.model_dump() for item in outcome.items]),
                **event.params}).rowcount == 1
        if written:
            self._publish([event])
        return written

    def retry_later(self, claim: Claim, error: str, delay_s: float) -> bool:
        """Gives the check back, due again in `delay_s`; False if no longer held."""
        with self._pool.connection() as conn:
            return conn.execute(_RETRY_LATER, {**self._held(claim), "error": error[:200],
                                               "delay_s": delay_s}).rowcount == 1

    def pending(self) -> tuple[int, float]:
        """How many checks are pending, and the age in seconds of the oldest (0 if none)."""
        with self._pool.connection() as conn:
            count, oldest = conn.execute(_PENDING).fetchone()
        return count, oldest

    @staticmethod
    def _held(claim: Claim) -> dict:
        return {"account_no": claim.account_no, "version": claim.version, "token": claim.token}


class RegistryTable:
    """The embedded registry in verification's schema: a RegistryStore (registry.py)."""

    def __init__(self, pool: psycopg_pool.ConnectionPool, master: MasterKeys):
        self._pool = pool
        self._cipher = master.cipher(_REGISTRY_KEY)
        self._hash = LookupHasher(master.stable("verification/lookup"))

    def _person_hash(self, document_type: str, document_number: str) -> bytes:
        return self._hash("person", f"{document_type}:{document_number.upper()}")

    def _permit_hash(self, permit_number: str) -> bytes:
        return self._hash("permit", permit_number.upper())

    def find_person(self, document_type: str, document_number: str) -> PersonRecord | None:
        found = self._find("people", self._person_hash(document_type, document_number))
        return None if found is None else PersonRecord.model_validate(found)

    def find_permit(self, permit_number: str) -> PermitRecord | None:
        found = self._find("permits", self._permit_hash(permit_number))
        return None if found is None else PermitRecord.model_validate(found)

    def _find(self, table: str, lookup_hash: bytes) -> dict | None:
        try:
            with self._pool.connection() as conn:
                row = conn.execute(f"SELECT record_enc FROM verification.{table} "  # noqa: S608
                                   "WHERE lookup_hash = %s", (lookup_hash,)).fetchone()
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout):
            raise RegistryUnavailable("database") from None
        if row is None:
            return None
        return self._cipher.decrypt(row[0], _record_context(table, lookup_hash))

    def load(self, data: RegistryData) -> tuple[int, int]:
        """Upserts every record of `data` (loading the same file again changes nothing);
        returns how many people and permits it holds."""
        people = [(key, self._cipher.encrypt(record.model_dump(mode="json"),
                                             _record_context("people", key)))
                  for record in data.persons
                  for key in [self._person_hash(record.document_type, record.document_number)]]
        permits = [(key, self._cipher.encrypt(record.model_dump(mode="json"),
                                              _record_context("permits", key)))
                   for record in data.permits
                   for key in [self._permit_hash(record.permit_number)]]
        with self._pool.connection() as conn, conn.transaction():
            for table, rows in (("people", people), ("permits", permits)):
                conn.cursor().executemany(
                    f"INSERT INTO verification.{table} (lookup_hash, record_enc) "  # noqa: S608
                    "VALUES (%s, %s) ON CONFLICT (lookup_hash) DO UPDATE SET "
                    "record_enc = EXCLUDED.record_enc, loaded_at = now()", rows)
        return len(people), len(permits)


def _record_context(table: str, lookup_hash: bytes) -> str:
    return f"verification.{table}.record_enc:{lookup_hash.hex()}"


def rotate_keys(database_url: str, master: MasterKeys, batch: int = 1000) -> int:
    """Re-seals the pending checks' requests, the registry's records and the outbox payloads
    sealed under an older master key (`python -m common.keys rotate verification`); returns how
    many rows. Only the sealed column changes: a check in flight keeps its claim and finishes
    with the request its runner opened."""
    registry = master.cipher(_REGISTRY_KEY)
    return rotation.reseal(database_url, SERVICE_NAME, outbox.cipher(master, SERVICE_NAME), [
        rotation.SealedColumn("checks", "request_enc", ("account_no", "version"),
                              master.cipher(_CHECKS_KEY), _request_context),
        *(rotation.SealedColumn(table, "record_enc", ("lookup_hash",), registry,
                                functools.partial(_record_context, table))
          for table in ("people", "permits"))], batch)
