"""What the use cases need of storage. The PostgreSQL store and MemoryStore (memory_store.py,
for the unit tests) implement it with the same behaviour."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from services.enrollment.rules.fields import Registration
from services.enrollment.rules.schools import School
from services.enrollment.rules.status import ApplicationState


@dataclass(frozen=True)
class Application:
    """One child's application: what registration gave, where it stands, its details."""
    account_no: str
    registration: Registration
    state: ApplicationState
    data: Mapping | None = None  # the details: a draft, or the submitted version's
    revision: int = 0  # bumped by every save; the optimistic-concurrency check compares it
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Version:
    """A submission, kept for good (the family's history)."""
    account_no: str
    number: int
    data: Mapping
    submitted_at: datetime


@dataclass(frozen=True)
class Listing:
    """Which applications of a district to list: each filter set must match."""
    details: str | None = None
    hukou_type: str | None = None
    verification: str | None = None  # the current version's check
    review: str | None = None  # rules/status.py review_stage
    submitted_from: date | None = None  # the current version's, Beijing time, inclusive
    submitted_to: date | None = None
    school: str | None = None  # pre-registered (or approved) at this school
    placement: str | None = None  # "none", or a Placement status


@dataclass(frozen=True)
class Listed:
    application: Application
    submitted_at: datetime | None  # the current version's


@dataclass(frozen=True)
class Access:
    """One call of a district system, as audited."""
    district: str  # a district code, from the caller's broker user
    staff_id: str
    method: str
    outcome: str  # "ok", or "refused" (another district's family)
    account_no: str | None = None  # None: a list
    purpose: str | None = None
    agency: str | None = None  # a review item's reviewing agency
    at: datetime | None = None  # set when recorded


@dataclass(frozen=True)
class Publication:
    """A district's results, published."""
    district: str
    staff_id: str
    placed: int  # families with an approved place, texted
    published_at: datetime | None = None  # set when recorded


@dataclass(frozen=True)
class SchoolImport:
    """What an import of schools did, school by school."""
    added: int
    changed: int
    unchanged: int
    removed: int


class StaleRevision(Exception):
    """The application changed (or appeared) since it was loaded: nothing of the transaction
    is written; load it again and decide again."""


class Transaction(Protocol):
    """Everything done through one transaction is written together at its end, or not at all
    (when it raises)."""

    def load(self, account_no: str) -> Application | None:
        """As committed, or as this transaction left it."""

    def cancelled(self, account_no: str) -> bool:
        """Whether the account's cancellation was handled: nothing may be opened for it. Waits
        for a cancellation being handled at this moment (common/cancelled.py)."""

    def insert(self, application: Application) -> None:
        """A new application; StaleRevision if the account already has one."""

    def save(self, application: Application) -> Application:
        """Stores `application` if the stored revision is still `application.revision` (else
        StaleRevision, here or at commit); returns it as stored, with the revision bumped."""

    def hand_over(self, application: Application) -> Application:
        """As `save`, and also stores the registration and deletes the account's versions,
        under a new family key: the account changed hands (a dispute over the document)."""

    def append_version(self, version: Version) -> None:
        """A new submission; its number is the next one (unique per account)."""

    def versions(self, account_no: str) -> list[Version]:
        """The account's submissions, oldest first."""

    def record_event(self, event_type: str, payload: dict) -> None:
        """An outbox event (contract.EVENTS), published once the transaction commits; the
        outbox adds its `event_id`."""

    def list_applications(self, district: str, listing: Listing, after: str | None,
                          limit: int) -> list[Listed]:
        """Up to `limit` of the district's applications `listing` selects whose account
        number is after `after`, in account order."""

    def record_access(self, access: Access) -> None:
        """Audits a district system's call (`at`: the transaction's time)."""

    def accesses(self, account_no: str) -> list[Access]:
        """The audited calls for the account, newest first."""

    def school(self, district: str, code: str) -> School | None:
        """A school of the district's reference data."""

    def publication(self, district: str) -> Publication | None:
        """The district's publication of its results, if it published."""

    def publish(self, publication: Publication) -> Publication:
        """Records the district's publication (`published_at`: the transaction's time); the
        one recorded before, if any, is kept and returned."""
    def schools(self, district: str, stage: str | None = None) -> list[School]:
        """The schools of a district (of one stage, if given), by code."""

    def import_schools(self, schools: list[School],
                       replace: tuple[str, ...] = ()) -> SchoolImport:
        """Adds the schools new to the table and changes those whose values differ;
        importing the same schools again changes nothing. A school of one of the districts in
        `replace` that `schools` does not hold is removed; any other missing one is kept."""


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[Transaction]:
        """A transaction, committed when the block ends normally."""
