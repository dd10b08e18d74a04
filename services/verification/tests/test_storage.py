"""The verification store on PostgreSQL without the service around it: key rotation and a
cancelled account's erasure."""

from __future__ import annotations

import base64
import os

import pytest

from common import outbox
from common.crypto import key_id
from common.keys import MasterKeys
from services.verification.contract import SERVICE_NAME
from services.verification.events import check_request
from services.verification.registry import load_csv
from services.verification.rules.checks import Outcome
from services.verification.settings import VerificationSettings
from services.verification.storage import CheckStore, RegistryTable, rotate_keys
from services.verification.tests.conftest import DEMO_CSV
from services.verification.tests.support import WANG, account_no, check_rows, submitted

VERIFIED = Outcome(status="verified")


@pytest.fixture
def settings(make_settings, pool):
    return make_settings(VerificationSettings)


def record(store: CheckStore, account: str, version: int = 1):
    request = check_request(submitted(account, version))
    assert store.record_submitted(os.urandom(8).hex(), "details_submitted", request)
    return request


def finish_one(store: CheckStore) -> None:
    [claim] = store.claim_due(1, lease_s=60)
    assert store.finish(claim, VERIFIED)


def sealed_key_ids(pool) -> set[int]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT request_enc FROM verification.checks WHERE request_enc IS NOT NULL "
            "UNION ALL SELECT record_enc FROM verification.people "
            "UNION ALL SELECT record_enc FROM verification.permits "
            "UNION ALL SELECT payload FROM verification.outbox").fetchall()
    return {key_id(bytes(blob)) for (blob,) in rows}


def test_rotation_reseals_every_row_and_leaves_checks_in_flight_alone(settings, pool):
    store = CheckStore(pool, settings.master_keys)
    assert RegistryTable(pool, settings.master_keys).load(load_csv(DEMO_CSV)) == (12, 3)
    record(store, account_no())
    finish_one(store)  # its request is erased; its event waits in the outbox
    in_flight, waiting = account_no(), account_no()
    record(store, in_flight)
    [claim] = store.claim_due(1, lease_s=60)
    assert claim.account_no == in_flight
    waiting_request = record(store, waiting)
    lease = {k: v for k, v in check_rows(pool, in_flight)[1].items() if k != "request_enc"}
    assert sealed_key_ids(pool) == {1}

    new_key = base64.b64encode(os.urandom(32)).decode()
    rotated = MasterKeys.parse(f"2:{new_key},{settings.MASTER_KEYS}")
    assert rotate_keys(pool.conninfo, rotated, batch=1) == 2 + 12 + 3 + 1  # one row a time
    assert rotate_keys(pool.conninfo, rotated) == 0
    assert sealed_key_ids(pool) == {2}

    # look-up hashes stay under key 1, so the registry needs both keys; the rest key 2 alone
    assert RegistryTable(pool, rotated).find_person(
        WANG["document_type"], WANG["document_number"]).name == WANG["name"]
    only_new = MasterKeys.parse(f"2:{new_key}")
    with pool.connection() as conn, conn.transaction():
        [(_, _, body, _)] = outbox.claim_batch(conn, SERVICE_NAME,
                                               outbox.cipher(only_new, SERVICE_NAME), 10, 0)
    assert body["status"] == "verified"
    # the check in flight keeps its lease and is finished by the runner that holds it
    assert {k: v for k, v in check_rows(pool, in_flight)[1].items()
            if k != "request_enc"} == lease
    assert store.finish(claim, VERIFIED)
    [claim] = CheckStore(pool, only_new).claim_due(10, lease_s=60)
    assert (claim.account_no, claim.request) == (waiting, waiting_request)


def test_a_cancelled_account_leaves_no_check_whatever_its_state(settings, pool):
    store = CheckStore(pool, settings.master_keys)
    account, other = account_no(), account_no()
    record(store, account, version=1)
    finish_one(store)
    record(store, account, version=2)
    assert store.cancel("withdrawn", "details_withdrawn", account, 2)
    record(store, account, version=3)
    record(store, other)
    assert {v: row["status"] for v, row in check_rows(pool, account).items()} == {
        1: "done", 2: "cancelled", 3: "pending"}

    assert store.forget_account("cancelled", "account_cancelled", account)
    assert check_rows(pool, account) == {}
    assert not store.forget_account("cancelled", "account_cancelled", account)  # seen before
    assert list(check_rows(pool, other)) == [1]
