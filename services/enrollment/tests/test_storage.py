"""What the PostgreSQL store adds to the behaviour both stores share (test_usecases.py):
concurrency between connections, sealing per family, erasure, event handling once, rotation."""

from __future__ import annotations

import psycopg
import pytest

from common.crypto import DecryptionFailed
from common.keys import MasterKeys
from services.enrollment.rules.status import (
    SUBMITTED,
    VERIFIED,
    ApplicationState,
    Review,
    Verification,
)
from services.enrollment.storage import AlreadyHandled, copy_applications, rotate_keys
from services.enrollment.tests.conftest import MASTER, RecordingStore
from services.enrollment.tests.samples import SEASON, Clock, at, details_for, registration
from services.enrollment.usecases import details, review
from services.enrollment.usecases.context import Context
from services.enrollment.usecases.store import Application, Listing, StaleRevision, Version


@pytest.fixture
def context(pg_store):
    return Context(pg_store, SEASON, Clock())


def open_two(context):
    for account_no in ("27000001", "27000002"):
        details.open_application(context, registration(account_no=account_no))
        details.submit(context, account_no, details_for("beijing"))


def test_a_save_based_on_a_revision_another_connection_changed_is_stale(context, pg_store):
    details.open_application(context, registration())
    with pytest.raises(StaleRevision), pg_store.transaction() as first:
        application = first.load("27000001")
        with pg_store.transaction() as second:  # commits first
            second.save(second.load("27000001"))
        first.save(application)
    with pg_store.transaction() as tx:
        assert tx.load("27000001").revision == 1


def test_a_sealed_column_pasted_into_another_family_does_not_open(context, pg_store,
                                                                 database_url):
    open_two(context)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("UPDATE enrollment.applications SET data = (SELECT data FROM "
                      "enrollment.applications WHERE account_no = '27000001') "
                      "WHERE account_no = '27000002'")
    with pytest.raises(DecryptionFailed), pg_store.transaction() as tx:
        tx.load("27000002")


def test_forgetting_a_family_deletes_its_rows_once(context, pg_store, database_url):
    open_two(context)
    assert pg_store.forget_family("e-1", "account_cancelled", "27000001")
    assert not pg_store.forget_family("e-1", "account_cancelled", "27000001")
    with psycopg.connect(database_url) as admin:
        left = admin.execute("SELECT account_no FROM enrollment.applications UNION ALL "
                             "SELECT account_no FROM enrollment.versions").fetchall()
    assert sorted(left) == [("27000002",), ("27000002",)]


def test_an_event_handled_before_writes_nothing(context, pg_store):
    handling = Context(pg_store.handling_event("e-2", "family_registered"), SEASON, Clock())
    details.open_application(handling, registration())
    pg_store.forget_family("e-3", "account_cancelled", "27000001")
    with pytest.raises(AlreadyHandled):
        details.open_application(handling, registration())
    with pg_store.transaction() as tx:
        assert tx.load("27000001") is None


def test_rotation_reseals_family_keys_and_the_outbox_under_the_newest_key(context, pool,
                                                                         database_url):
    open_two(context)
    newer = MasterKeys({1: bytes(range(32)), 2: bytes(range(1, 33))})
    settings_url = pool.conninfo
    assert rotate_keys(settings_url, newer) == 2 + 2  # two families, two events
    assert rotate_keys(settings_url, newer) == 0
    with RecordingStore(pool, newer).transaction() as tx:
        assert tx.load("27000001").state.version == 1
    with pytest.raises(DecryptionFailed), RecordingStore(pool, MASTER).transaction() as tx:
        tx.load("27000001")  # the old key alone no longer opens it


def test_applications_copied_in_bulk_open_list_and_change_as_inserted_ones(context, pg_store,
                                                                            pool):
    submitted_at = at(2027, 5, 12)
    data = details_for("non_beijing")
    copied = Application("27000009", registration("non_beijing", guardian_phone="13800000009",
                                                  account_no="27000009"),
                         ApplicationState("non_beijing", SUBMITTED, 1,
                                          Verification(1, VERIFIED)),
                         data, revision=2, updated_at=submitted_at)
    with pool.connection() as conn, conn.transaction():
        copy_applications(conn, pg_store.keys,
                          [(copied, [Version("27000009", 1, data, submitted_at)])])
    with pg_store.transaction() as tx:
        assert tx.load("27000009") == copied
        assert tx.versions("27000009") == [Version("27000009", 1, data, submitted_at)]
        queue = tx.list_applications("chaoyang", Listing(verification=VERIFIED,
                                                         review="not_started"), None, 10)
        assert [(row.application, row.submitted_at) for row in queue] == [
            (copied, submitted_at)]
    review.start_review(context, "27000009", 1)
    with pg_store.transaction() as tx:
        assert tx.load("27000009").state.review == Review(1)
