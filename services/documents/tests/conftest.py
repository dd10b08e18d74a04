"""Fixtures of the documents tests: its schema and enrollment's in the run's database."""

from __future__ import annotations

import psycopg
import pytest

from common.migrations import migrate


@pytest.fixture
def schemas(database_url):
    """enrollment's and documents' schemas migrated and empty."""
    migrate(database_url, "enrollment")
    migrate(database_url, "documents")
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("TRUNCATE enrollment.applications, enrollment.versions, "
                      "enrollment.outbox, enrollment.processed_events, "
                      "enrollment.cancellations, enrollment.district_access, "
                      "documents.forms, documents.processed_events, documents.cancellations")
    return database_url
