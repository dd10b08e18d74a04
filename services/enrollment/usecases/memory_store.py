"""The store protocol in memory, for the unit tests and demos.

Not a mock: a transaction stages its writes and commits them together at its end, and a save
whose expected revision is no longer the committed one raises StaleRevision (at the save, or
at the commit when another transaction committed in between), as the PostgreSQL store's
conditional UPDATE does. Values are copied in and out, as a database would.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import replace
from datetime import datetime

from services.enrollment import contract
from services.enrollment.rules.schools import School
from services.enrollment.rules.season import BEIJING
from services.enrollment.rules.status import SUBMITTED, review_stage
from services.enrollment.usecases.store import (
    Access,
    Application,
    Listed,
    Listing,
    Publication,
    SchoolImport,
    StaleRevision,
    Version,
)

_ABSENT = -1  # the expected revision of an application this transaction inserts


class MemoryStore:
    def __init__(self):
        self._lock = threading.Lock()
        self._applications: dict[str, Application] = {}
        self._versions: dict[str, list[Version]] = {}
        self.outbox: list[tuple[str, dict]] = []  # committed (event type, body), oldest first
        self.cancellations: set[str] = set()
        self._handled: set[str] = set()  # event ids
        self._accesses: list[Access] = []  # oldest first
        self._publications: dict[str, Publication] = {}
        self._schools: dict[tuple[str, str], School] = {}  # (district, code) -> school

    def forget_family(self, event_id: str, event_type: str, account_no: str) -> bool:
        """As the PostgreSQL store's: the family's data goes, the cancellation is kept."""
        with self._lock:
            if event_id in self._handled:
                return False
            self._handled.add(event_id)
            self._applications.pop(account_no, None)
            self._versions.pop(account_no, None)
            self.cancellations.add(account_no)
            return True

    @contextmanager
    def transaction(self) -> Iterator[MemoryTransaction]:
        tx = MemoryTransaction(self)
        yield tx  # an exception in the block skips the commit: nothing is written
        tx.commit()


class MemoryTransaction:
    def __init__(self, store: MemoryStore):
        self._store = store
        self._expected: dict[str, int] = {}  # account -> committed revision it was based on
        self._staged: dict[str, Application] = {}
        self._versions: list[Version] = []
        self._handed_over: set[str] = set()  # accounts whose committed versions go
        self._events: list[tuple[str, dict]] = []
        self._accesses: list[Access] = []
        self._publications: dict[str, Publication] = {}
        self._schools: dict[tuple[str, str], School] | None = None  # all of them, once written

    def load(self, account_no: str) -> Application | None:
        if account_no in self._staged:
            return deepcopy(self._staged[account_no])
        with self._store._lock:
            return deepcopy(self._store._applications.get(account_no))

    def cancelled(self, account_no: str) -> bool:
        with self._store._lock:
            return account_no in self._store.cancellations

    def insert(self, application: Application) -> None:
        if self.load(application.account_no) is not None:
            raise StaleRevision(application.account_no)
        self._expected.setdefault(application.account_no, _ABSENT)
        self._staged[application.account_no] = deepcopy(application)

    def save(self, application: Application) -> Application:
        current = self.load(application.account_no)
        if current is None or current.revision != application.revision:
            raise StaleRevision(application.account_no)
        self._expected.setdefault(application.account_no, application.revision)
        stored = replace(deepcopy(application), revision=application.revision + 1)
        self._staged[application.account_no] = stored
        return deepcopy(stored)

    def hand_over(self, application: Application) -> Application:
        saved = self.save(application)
        self._handed_over.add(application.account_no)
        self._versions = [v for v in self._versions if v.account_no != application.account_no]
        return saved

    def append_version(self, version: Version) -> None:
        if any(v.number == version.number for v in self.versions(version.account_no)):
            raise ValueError(f"version {version.number} of {version.account_no} exists")
        self._versions.append(deepcopy(version))

    def versions(self, account_no: str) -> list[Version]:
        with self._store._lock:
            committed = [] if account_no in self._handed_over else deepcopy(
                self._store._versions.get(account_no, []))
        staged = [deepcopy(v) for v in self._versions if v.account_no == account_no]
        return sorted(committed + staged, key=lambda version: version.number)

    def record_event(self, event_type: str, payload: dict) -> None:
        body = {**payload, "event_id": str(uuid.uuid4())}
        contract.EVENTS[event_type].parse(body)  # what consumers will parse
        self._events.append((event_type, body))

    def list_applications(self, district: str, listing: Listing, after: str | None,
                          limit: int) -> list[Listed]:
        with self._store._lock:
            accounts = set(self._store._applications) | set(self._staged)
        found = []
        for account_no in sorted(accounts):
            application = self.load(account_no)
            submitted_at = next((version.submitted_at for version in self.versions(account_no)
                                 if version.number == application.state.version), None)
            if (after is None or account_no > after) and \
                    application.registration.district == district and \
                    _selected(listing, application, submitted_at):
                found.append(Listed(application, submitted_at))
        return found[:limit]

    def record_access(self, access: Access) -> None:
        self._accesses.append(access)

    def accesses(self, account_no: str) -> list[Access]:
        with self._store._lock:
            committed = list(self._store._accesses)
        return [access for access in reversed(committed + self._accesses)
                if access.account_no == account_no]

    def school(self, district: str, code: str) -> School | None:
        return self._current_schools().get((district, code))

    def publication(self, district: str) -> Publication | None:
        if district in self._publications:
            return self._publications[district]
        with self._store._lock:
            return self._store._publications.get(district)

    def publish(self, publication: Publication) -> Publication:
        if self.publication(publication.district) is None:
            self._publications[publication.district] = replace(
                publication, published_at=datetime.now(BEIJING))
        return self.publication(publication.district)
    def schools(self, district: str, stage: str | None = None) -> list[School]:
        return sorted((school for school in self._current_schools().values()
                       if school.district == district and stage in (None, school.stage)),
                      key=lambda school: school.code)

    def import_schools(self, schools: list[School],
                       replace: tuple[str, ...] = ()) -> SchoolImport:
        current = self._current_schools()
        given = {(school.district, school.code): school for school in schools}
        added = sum(key not in current for key in given)
        changed = sum(key in current and current[key] != school for key, school in given.items())
        gone = [key for key in current if key[0] in replace and key not in given]
        for key in gone:
            del current[key]
        current.update(given)
        self._schools = current
        return SchoolImport(added, changed, len(schools) - added - changed, len(gone))

    def _current_schools(self) -> dict[tuple[str, str], School]:
        if self._schools is not None:
            return dict(self._schools)
        with self._store._lock:
            return dict(self._store._schools)

    def commit(self) -> None:
        store = self._store
        with store._lock:
            for account_no, expected in self._expected.items():
                committed = store._applications.get(account_no)
                if (committed.revision if committed else _ABSENT) != expected:
                    raise StaleRevision(account_no)
            store._applications.update(self._staged)
            for account_no in self._handed_over:
                store._versions.pop(account_no, None)
            for version in self._versions:
                store._versions.setdefault(version.account_no, []).append(version)
            store.outbox.extend(self._events)
            now = datetime.now(BEIJING)
            store._accesses.extend(replace(access, at=now) for access in self._accesses)
            for district, publication in self._publications.items():
                store._publications.setdefault(district, publication)
            if self._schools is not None:
                store._schools = self._schools


def _selected(listing: Listing, application: Application, submitted_at: datetime | None) -> bool:
    """As the PostgreSQL store's query selects."""
    state = application.state
    submitted = state.details == SUBMITTED
    day = submitted_at.astimezone(BEIJING).date() if submitted and submitted_at else None
    verification = state.verification.status if submitted and state.verification else None
    placement = state.placement
    return all((
        listing.school in (None, placement.school if placement else None),
        listing.placement in (None, placement.status if placement else "none"),
        listing.details in (None, state.details),
        listing.hukou_type in (None, state.hukou_type),
        listing.verification in (None, verification),
        listing.review in (None, review_stage(state)),
        listing.submitted_from is None or (day is not None and day >= listing.submitted_from),
        listing.submitted_to is None or (day is not None and day <= listing.submitted_to)))
