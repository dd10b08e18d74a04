"""The verification service in a real nameko container, on real RabbitMQ and PostgreSQL, with
the embedded registry and with the registry simulator as a real process."""

from __future__ import annotations

import time
import uuid

import pytest
from nameko.standalone.events import event_dispatcher

from services.accounts.contract import ACCOUNT_CANCELLED
from services.accounts.contract import SERVICE_NAME as ACCOUNTS
from services.verification import load_registry
from services.verification.service import VerificationService
from services.verification.settings import VerificationSettings
from services.verification.tests.conftest import DEMO_CSV, TOKEN
from services.verification.tests.support import (
    CHEN,
    CHEN_PERMIT,
    FinishedEvents,
    account_no,
    check_rows,
    publish_submitted,
    publish_withdrawn,
    submitted,
    wait_for,
)
from tests.support.infra import running_service, settings_for

FAST_RETRIES = {"VERIFICATION_RETRY_S": 0.2, "VERIFICATION_RETRY_MAX_S": 1.0,
                "REGISTRY_HTTP_TIMEOUT_S": 1.0, "REGISTRY_HTTP_MAX_ATTEMPTS": 2,
                "REGISTRY_HTTP_BACKOFF_S": 0.05, "REGISTRY_HTTP_BACKOFF_MAX_S": 0.1,
                "REGISTRY_BREAKER_FAILURES": 3, "REGISTRY_BREAKER_RESET_S": 0.5}


@pytest.fixture
def finished(amqp_uri):
    events = FinishedEvents(amqp_uri)
    yield events
    events.close()


@pytest.fixture
def local_settings(make_settings, pool):
    settings = make_settings(VerificationSettings, VERIFICATION_REGISTRY="local")
    load_registry.load(str(DEMO_CSV), settings)
    return settings


@pytest.fixture
def http_settings(make_settings, pool, simulator):
    def build(**overrides):
        return make_settings(VerificationSettings, **{
            "VERIFICATION_REGISTRY": "http", "REGISTRY_HTTP_URL": simulator.url,
            "REGISTRY_HTTP_TOKEN": TOKEN, **FAST_RETRIES, **overrides})
    return build


def test_the_load_command_is_idempotent_and_keeps_nothing_in_clear(make_settings, pool):
    settings = make_settings(VerificationSettings)
    assert load_registry.load(str(DEMO_CSV), settings) == (12, 3)
    assert load_registry.load(str(DEMO_CSV), settings) == (12, 3)
    with pool.connection() as conn:
        counts = conn.execute("SELECT (SELECT count(*) FROM verification.people), "
                              "(SELECT count(*) FROM verification.permits)").fetchone()
        rows = conn.execute("SELECT lookup_hash, record_enc FROM verification.people "
                            "UNION ALL SELECT lookup_hash, record_enc FROM verification.permits"
                            ).fetchall()
    assert counts == (12, 3)
    for lookup_hash, record in rows:
        for value in (b"110108202009010019", "王小明".encode(), b"JZ1101052026001"):
            assert value not in bytes(lookup_hash) and value not in bytes(record)


def test_the_load_command_refuses_a_malformed_file(tmp_path, make_settings, pool, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(DEMO_CSV.read_text(encoding="utf-8") + "resident_id,123,某,male,x,haidian"
                   ",,,,\n", encoding="utf-8")
    assert load_registry.main(["load_registry", str(bad)]) == 1
    assert "line 14: birth_date" in capsys.readouterr().err


def test_a_submitted_version_is_verified_against_the_local_registry(
        local_settings, amqp_uri, finished, pool):
    account = account_no()
    with running_service(VerificationService, local_settings):
        publish_submitted(amqp_uri, submitted(account))
        [event] = wait_for(lambda: finished.of(account))
    assert (event["version"], event["status"], event["items"]) == (1, "verified", [])
    [row] = check_rows(pool, account).values()
    assert (row["status"], row["result"], row["request_enc"], row["attempts"]) == (
        "done", "verified", None, 1)


def test_a_failed_check_names_its_items_without_personal_data(local_settings, amqp_uri,
                                                            finished, pool):
    account = account_no()
    with running_service(VerificationService, local_settings):
        publish_submitted(amqp_uri, submitted(account, child=CHEN,
                                              district="chaoyang", hukou_district="chaoyang"))
        [event] = wait_for(lambda: finished.of(account))
    assert event["status"] == "failed"
    assert [item["code"] for item in event["items"]] == ["HUKOU_NOT_BEIJING"]
    assert "陈" not in str(event) and "370102" not in str(event)



def test_a_non_beijing_family_is_verified_by_its_residence_permit(local_settings, amqp_uri,
                                                                 finished):
    account = account_no()
    with running_service(VerificationService, local_settings):
        publish_submitted(amqp_uri, submitted(account, child=CHEN, hukou_type="non_beijing",
                                              district="chaoyang", permits=[CHEN_PERMIT]))
        [event] = wait_for(lambda: finished.of(account))
    assert (event["status"], event["items"]) == ("verified", [])


def test_the_same_event_twice_makes_one_check(local_settings, amqp_uri, finished, pool):
    account, event_id = account_no(), str(uuid.uuid4())
    with running_service(VerificationService, local_settings):
        publish_submitted(amqp_uri, submitted(account, event_id=event_id))
        publish_submitted(amqp_uri, submitted(account, event_id=event_id))
        wait_for(lambda: finished.of(account))
        time.sleep(1)
    assert len(finished.of(account)) == 1
    assert check_rows(pool, account)[1]["attempts"] == 1


def test_a_malformed_event_is_dropped(local_settings, amqp_uri, finished, pool):
    account = account_no()
    with running_service(VerificationService, local_settings):
        publish_submitted(amqp_uri, {**submitted(account), "reference_date": "soon"})
        publish_submitted(amqp_uri, submitted(account, version=2))
        [event] = wait_for(lambda: finished.of(account))
    assert event["version"] == 2
    assert list(check_rows(pool, account)) == [2]


def test_checks_are_verified_and_failed_through_the_http_registry(http_settings, amqp_uri,
                                                                 finished, simulator):
    good, bad = account_no(), account_no()
    with running_service(VerificationService, http_settings()):
        publish_submitted(amqp_uri, submitted(good))
        publish_submitted(amqp_uri, submitted(bad, child={**CHEN, "name": "陈四远"},
                                              hukou_type="non_beijing", district="chaoyang",
                                              permits=[CHEN_PERMIT]))
        [verified] = wait_for(lambda: finished.of(good))
        [failed] = wait_for(lambda: finished.of(bad))
    assert verified["status"] == "verified"
    assert failed["status"] == "failed"
    assert [item["code"] for item in failed["items"]] == ["CHILD_NAME_MISMATCH"]
    keys = {key for _, key in simulator.stats()["idempotency_keys"]}
    assert f"{good}-v1-child" in keys and f"{bad}-v1-permit-0" in keys


def test_a_withdrawal_cancels_the_pending_check(http_settings, amqp_uri, finished, pool,
                                                 simulator):
    account = account_no()
    settings = http_settings()
    simulator.stop()
    with running_service(VerificationService, settings):
        publish_submitted(amqp_uri, submitted(account))
        wait_for(lambda: check_rows(pool, account).get(1, {}).get("attempts", 0) >= 1)
        publish_withdrawn(amqp_uri, account, 1)
        wait_for(lambda: check_rows(pool, account)[1]["status"] == "cancelled")
        simulator.start()
        time.sleep(2)
    assert finished.of(account) == []
    assert check_rows(pool, account)[1]["request_enc"] is None


def test_a_newer_version_supersedes_the_pending_one(http_settings, amqp_uri, finished, pool,
                                                    simulator):
    account = account_no()
    simulator.stop()
    with running_service(VerificationService, http_settings()):
        publish_submitted(amqp_uri, submitted(account, version=1))
        wait_for(lambda: 1 in check_rows(pool, account))
        publish_submitted(amqp_uri, submitted(account, version=2))
        wait_for(lambda: check_rows(pool, account)[1]["status"] == "cancelled")
        publish_submitted(amqp_uri, submitted(account, version=1))  # late, another event id
        simulator.start()
        [event] = wait_for(lambda: finished.of(account))
        time.sleep(1)
    assert event["version"] == 2 and len(finished.of(account)) == 1
    rows = check_rows(pool, account)
    assert (rows[1]["status"], rows[2]["status"]) == ("cancelled", "done")


def test_checks_overlap_with_a_slow_registry(http_settings, amqp_uri, finished, simulator):
    simulator.configure(latency_ms=300)
    accounts = [account_no() for _ in range(8)]
    with running_service(VerificationService, http_settings(VERIFICATION_CONCURRENCY=4)):
        started = time.monotonic()
        for account in accounts:
            publish_submitted(amqp_uri, submitted(account))
        wait_for(lambda: all(finished.of(account) for account in accounts))
        elapsed = time.monotonic() - started
    stats = simulator.stats()
    assert stats["max_in_flight"] >= 2
    assert stats["max_in_flight"] <= 4
    assert elapsed < 8 * 0.3  # one after the other would take 2.4 s
    assert all(len(finished.of(account)) == 1 for account in accounts)


def test_a_failing_registry_delays_checks_without_losing_or_doubling_any(
        http_settings, amqp_uri, finished, pool, simulator):
    simulator.configure(fail_rate=1.0)
    accounts = [account_no() for _ in range(5)]
    with running_service(VerificationService, http_settings(VERIFICATION_CONCURRENCY=3)):
        for account in accounts:
            publish_submitted(amqp_uri, submitted(account))
        wait_for(lambda: all(check_rows(pool, account).get(1, {}).get("attempts", 0) >= 2
                             for account in accounts))
        assert not any(finished.of(a) for a in accounts)
        assert all(check_rows(pool, a)[1]["status"] == "pending" for a in accounts)
        simulator.configure(fail_rate=0.0)
        wait_for(lambda: all(finished.of(account) for account in accounts))
        time.sleep(1)
    assert all(len(finished.of(account)) == 1 for account in accounts)
    assert all(check_rows(pool, a)[1]["last_error"] is None for a in accounts)
    # never two lookups of one check at once: the simulator saw each check's lookups apart
    assert simulator.stats()["max_in_flight"] <= 3


def test_a_stopped_registry_leaves_checks_pending_and_the_backlog_drains_after(
        http_settings, amqp_uri, finished, pool, simulator):
    accounts = [account_no() for _ in range(6)]
    simulator.stop()
    with running_service(VerificationService, http_settings(VERIFICATION_CONCURRENCY=2)):
        for account in accounts:
            publish_submitted(amqp_uri, submitted(account))
        wait_for(lambda: all(check_rows(pool, account).get(1, {}).get("attempts", 0) >= 1
                             for account in accounts))
        time.sleep(1)
        assert all(check_rows(pool, a)[1]["status"] == "pending" for a in accounts)
        simulator.start()
        wait_for(lambda: all(finished.of(account) for account in accounts))
        time.sleep(1)
    assert all(len(finished.of(account)) == 1 for account in accounts)
    assert simulator.stats()["max_in_flight"] <= 2


def test_a_cancelled_account_leaves_nothing(local_settings, amqp_uri, finished, pool):
    account = account_no()
    with running_service(VerificationService, local_settings):
        publish_submitted(amqp_uri, submitted(account, version=1))
        wait_for(lambda: finished.of(account))
        publish_submitted(amqp_uri, submitted(account, version=2))
        wait_for(lambda: len(finished.of(account)) == 2)
        event_dispatcher({"AMQP_URI": amqp_uri})(ACCOUNTS, ACCOUNT_CANCELLED, {
            "event_id": str(uuid.uuid4()), "account_no": account,
            "guardian_phone": "13712345678"})
        wait_for(lambda: check_rows(pool, account) == {})


def test_a_submission_arriving_after_its_account_was_cancelled_is_not_kept(
        local_settings, amqp_uri, finished, pool):
    """Two publishers, two queues: accounts' `account_cancelled` may be handled before
    enrollment's `details_submitted` of the same account (its outbox relay was late)."""
    account, later, cancellation = account_no(), account_no(), str(uuid.uuid4())
    with running_service(VerificationService, local_settings):
        event_dispatcher({"AMQP_URI": amqp_uri})(ACCOUNTS, ACCOUNT_CANCELLED, {
            "event_id": cancellation, "account_no": account, "guardian_phone": "13712345678"})
        wait_for(lambda: handled(pool, cancellation))
        publish_submitted(amqp_uri, submitted(account))
        publish_submitted(amqp_uri, submitted(later))  # handled after it, on the same queue
        wait_for(lambda: finished.of(later))
    assert check_rows(pool, account) == {}


def handled(pool, event_id: str) -> bool:
    with pool.connection() as conn:
        return conn.execute("SELECT count(*) FROM verification.processed_events "
                            "WHERE event_id = %s", (event_id,)).fetchone()[0] == 1


def test_pending_gauges(local_settings, pool):
    from services.verification.bootstrap import build
    app = build(local_settings, pool)
    assert app.checks.pending() == (0, 0.0)


def test_the_service_runs_with_its_own_broker_user(own_vhost, database_url, pool):
    """common/broker.py lets verification's user handle its events and publish its own."""
    guest_uri, users = own_vhost
    settings = settings_for(VerificationSettings, database_url, users["verification"],
                            VERIFICATION_REGISTRY="local")
    load_registry.load(str(DEMO_CSV), settings)
    account = account_no()
    events = FinishedEvents(guest_uri)
    try:
        with running_service(VerificationService, settings):
            publish_submitted(guest_uri, submitted(account))
            [event] = wait_for(lambda: events.of(account))
    finally:
        events.close()
    assert event["status"] == "verified"
