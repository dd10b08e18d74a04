"""Fixtures of the enrollment tests that need PostgreSQL: its schema in the run's database."""

from __future__ import annotations

import psycopg
import psycopg_pool
import pytest

from common.keys import MasterKeys
from common.migrations import migrate
from common.settings import role_url
from services.enrollment.settings import EnrollmentSettings
from services.enrollment.storage import Keys, Store

MASTER = MasterKeys({1: bytes(range(32))})


@pytest.fixture
def pool(database_url):
    """A connection pool on a migrated, empty enrollment schema, as enrollment's role."""
    migrate(database_url, "enrollment")
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("TRUNCATE enrollment.applications, enrollment.versions, "
                      "enrollment.outbox, enrollment.processed_events, "
                      "enrollment.cancellations, enrollment.district_access, "
                      "enrollment.publications, enrollment.schools")
    with psycopg_pool.ConnectionPool(role_url(database_url, EnrollmentSettings.DATABASE_ROLE),
                                     min_size=1, max_size=4, open=True,
                                     kwargs={"autocommit": True}) as pool:
        yield pool


class RecordingStore(Store):
    """The PostgreSQL store whose committed events are kept in `outbox`, as MemoryStore's:
    (event type, body), oldest first."""

    def __init__(self, pool, master: MasterKeys = MASTER):
        self.outbox: list[tuple[str, dict]] = []
        super().__init__(pool, Keys(master), self._committed)

    def _committed(self, events) -> None:
        self.outbox.extend((event.event_type, event.body) for event in events)


@pytest.fixture
def pg_store(pool):
    return RecordingStore(pool)
