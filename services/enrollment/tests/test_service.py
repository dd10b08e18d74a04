"""The enrollment service in a real nameko container, on real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid

import psycopg
import pytest
from kombu import Connection, Exchange, Queue
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ClusterRpcProxy
from prometheus_client import REGISTRY

from common.errors import DomainError
from services.accounts.contract import ACCOUNT_CANCELLED, FAMILY_REGISTERED
from services.accounts.contract import SERVICE_NAME as ACCOUNTS
from services.enrollment import contract
from services.enrollment.service import EnrollmentService
from services.enrollment.settings import EnrollmentSettings
from services.enrollment.tests.samples import CHILD_ID, FATHER_ID, details_for
from services.verification import contract as checks
from tests.support.infra import running_service

ACCOUNT = "27000042"
PERSONAL = ("张小明", CHILD_ID, FATHER_ID, "张伟", "13800138000", "团结湖路")


@pytest.fixture
def settings(make_settings, pool):
    return make_settings(EnrollmentSettings, SEASON_PHASES="open")


@pytest.fixture
def enrollment(amqp_uri):
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=10) as cluster:
        yield cluster.enrollment


@pytest.fixture
def published(amqp_uri):
    """The events enrollment publishes, read from a queue bound to its exchange."""
    exchange = Exchange(f"{contract.SERVICE_NAME}.events", type="topic", durable=True)
    queue = Queue(f"test-{uuid.uuid4().hex}", exchange, routing_key="#", auto_delete=True)
    with Connection(amqp_uri) as conn:
        bound = queue(conn.default_channel)
        exchange(conn.default_channel).declare()
        bound.declare()

        def read(count: int, timeout_s: float = 10.0,
                 then_quiet_s: float = 0.0) -> list[tuple[str, dict]]:
            """The next `count` events; with `then_quiet_s`, none more comes for that long."""
            got, deadline = [], time.monotonic() + timeout_s
            while len(got) < count:
                assert time.monotonic() < deadline, f"only {got}"
                message = bound.get(no_ack=True)
                if message is None:
                    time.sleep(0.05)
                    continue
                got.append((message.delivery_info["routing_key"], json.loads(message.body)
                            if isinstance(message.body, str | bytes) else message.body))
            if then_quiet_s:
                time.sleep(then_quiet_s)
                extra = bound.get(no_ack=True)
                assert extra is None, f"also {extra.delivery_info['routing_key']}"
            return got

        yield read


def dispatch(amqp_uri, source, event_type, payload):
    event_dispatcher({"AMQP_URI": amqp_uri})(source, event_type, payload)


def register(amqp_uri, event_id=None, hukou_type="beijing"):
    dispatch(amqp_uri, ACCOUNTS, FAMILY_REGISTERED, {
        "event_id": event_id or str(uuid.uuid4()), "account_no": ACCOUNT,
        "district": "chaoyang", "hukou_type": hukou_type, "child_name": "张小明",
        "document_type": "resident_id", "document_number": CHILD_ID,
        "birth_date": "2020-09-01", "sex": "male", "guardian_name": "张伟",
        "guardian_relation": "father", "guardian_phone": "13800138000",
        "hukou_district": "chaoyang", "residence_district": "chaoyang",
        "residence_address": "朝阳区团结湖路5号院2号楼1单元301"})


def wait_for(condition, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while not (result := condition()):
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)
    return result


def rows(database_url, table, account_no=ACCOUNT) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(f"SELECT * FROM enrollment.{table} WHERE account_no = %s",
                            (account_no,)).fetchall()


def opened(database_url):
    return wait_for(lambda: rows(database_url, "applications"))


def state_of(enrollment):
    return enrollment.get_details({"account_no": ACCOUNT})["state"]


def test_ping(settings, enrollment):
    with running_service(EnrollmentService, settings):
        assert enrollment.ping() == {"service": "enrollment", "ok": True}


def test_the_family_fills_in_submits_withdraws_and_reads_its_history(
        settings, enrollment, amqp_uri, database_url, published):
    with running_service(EnrollmentService, settings):
        event_id = str(uuid.uuid4())
        register(amqp_uri, event_id)
        register(amqp_uri, event_id)  # redelivered
        register(amqp_uri)  # another event for the account: still one application
        opened(database_url)
        time.sleep(0.5)
        assert len(rows(database_url, "applications")) == 1

        page = enrollment.get_details({"account_no": ACCOUNT})
        assert page["registration"]["child_name"] == "张**"
        assert page["registration"]["document_number"] == CHILD_ID[:4] + "*" * 13 + CHILD_ID[-1]
        assert "birth_date" not in page["registration"]
        assert page["form"]["title"] == "录入详细信息" and page["data"] is None
        assert page["actions"] == ["save_draft", "submit"]
        assert enrollment.get_journey({"account_no": ACCOUNT, "hukou_type": "beijing"})[
            "steps"][0]["label"] == "未填写"

        draft = enrollment.save_draft(
            {"account_no": ACCOUNT, "data": {"household": {"head_name": "张建国"}}})
        assert draft["state"]["details"] == "draft"
        submitted = enrollment.submit({"account_no": ACCOUNT, "data": details_for("beijing")})
        assert (submitted["state"]["details"], submitted["state"]["version"]) == ("submitted", 1)
        [(kind, body)] = published(1)
        event = contract.DetailsSubmitted.parse(body)
        assert kind == contract.DETAILS_SUBMITTED
        assert (event.account_no, event.version, event.child.document_number) == (
            ACCOUNT, 1, CHILD_ID)
        assert event.guardians[0].document_number == FATHER_ID
        assert (event.residence_district, event.reference_date) == ("chaoyang", "2027-05-06")

        withdrawn = enrollment.withdraw({"account_no": ACCOUNT})
        assert withdrawn["state"]["details"] == "draft"
        [(kind, body)] = published(1)
        assert kind == contract.DETAILS_WITHDRAWN and body["version"] == 1
        enrollment.submit({"account_no": ACCOUNT, "data": details_for("beijing")})
        published(1)

        newest, oldest = enrollment.get_history({"account_no": ACCOUNT})
        assert (newest["version"], newest["current"]) == (2, True)
        assert (oldest["version"], oldest["current"]) == (1, False)
        shown = json.dumps(newest, ensure_ascii=False)
        assert not any(value in shown for value in PERSONAL)
        assert newest["data"]["guardians"][0]["phone"] == "138****8000"

    with psycopg.connect(database_url) as conn:  # nothing personal readable at rest
        stored = [row for table in ("applications", "versions", "outbox")
                  for row in conn.execute(f"SELECT * FROM enrollment.{table}").fetchall()]
    assert stored
    for row in stored:
        for value in row:
            raw = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
            assert not any(personal.encode() in raw for personal in PERSONAL)


def test_a_result_for_the_current_version_counts_and_one_for_an_older_version_does_not(
        settings, enrollment, amqp_uri, database_url):
    with running_service(EnrollmentService, settings):
        register(amqp_uri)
        opened(database_url)
        enrollment.submit({"account_no": ACCOUNT, "data": details_for("beijing")})
        enrollment.withdraw({"account_no": ACCOUNT})
        enrollment.submit({"account_no": ACCOUNT, "data": details_for("beijing")})

        def result(version, status, items=()):
            dispatch(amqp_uri, checks.SERVICE_NAME, checks.CHECK_FINISHED, {
                "event_id": str(uuid.uuid4()), "account_no": ACCOUNT, "version": version,
                "status": status, "items": list(items)})

        result(1, "verified")  # the withdrawn version's: ignored
        result(2, "failed", [{"code": "HUKOU_DISTRICT_MISMATCH", "field": "hukou_district",
                              "reason": "儿童户籍所在区与人口信息库不一致。"}])
        verification = wait_for(lambda: (found := state_of(enrollment)["verification"])
                                and found["status"] != "pending" and found)
        assert (verification["version"], verification["status"], verification["item"]) == (
            2, "failed", "hukou")
        assert verification["reason"] == "儿童户籍所在区与人口信息库不一致。"
        journey = enrollment.get_journey({"account_no": ACCOUNT, "hukou_type": "beijing"})
        assert "身份证及户籍信息未通过" in journey["next_step"]


def checks_handled():
    return REGISTRY.get_sample_value(
        "platform_events_handled_total",
        {"service": "enrollment", "event": checks.CHECK_FINISHED, "outcome": "ok"}) or 0


def test_an_applied_result_publishes_the_outcome_with_the_phone_and_an_ignored_one_nothing(
        settings, enrollment, amqp_uri, database_url, published):
    with running_service(EnrollmentService, settings):
        register(amqp_uri)
        opened(database_url)
        enrollment.submit({"account_no": ACCOUNT, "data": details_for("beijing")})
        enrollment.withdraw({"account_no": ACCOUNT})
        enrollment.submit({"account_no": ACCOUNT, "data": details_for("beijing")})
        assert [kind for kind, _ in published(3)] == [
            contract.DETAILS_SUBMITTED, contract.DETAILS_WITHDRAWN, contract.DETAILS_SUBMITTED]

        handled = checks_handled()
        dispatch(amqp_uri, checks.SERVICE_NAME, checks.CHECK_FINISHED, {
            "event_id": str(uuid.uuid4()), "account_no": ACCOUNT, "version": 1,
            "status": "verified", "items": []})  # the withdrawn version's: ignored
        wait_for(lambda: checks_handled() >= handled + 1)
        assert published(0, then_quiet_s=0.5) == []

        result_id = str(uuid.uuid4())
        for _ in range(2):  # redelivered: applied once
            dispatch(amqp_uri, checks.SERVICE_NAME, checks.CHECK_FINISHED, {
                "event_id": result_id, "account_no": ACCOUNT, "version": 2,
                "status": "verified", "items": []})
        wait_for(lambda: checks_handled() >= handled + 3)
        [(kind, body)] = published(1, then_quiet_s=0.5)
        assert kind == contract.VERIFICATION_OUTCOME
        event = contract.VerificationOutcome.parse(body)
        assert (event.account_no, event.version, event.status, event.guardian_phone) == (
            ACCOUNT, 2, "verified", "13800138000")
        assert set(body) == {"event_id", "account_no", "version", "status", "guardian_phone"}


def test_a_cancelled_family_leaves_nothing_behind(settings, enrollment, amqp_uri,
                                                  database_url):
    with running_service(EnrollmentService, settings):
        register(amqp_uri)
        opened(database_url)
        enrollment.submit({"account_no": ACCOUNT, "data": details_for("beijing")})
        dispatch(amqp_uri, ACCOUNTS, ACCOUNT_CANCELLED, {
            "event_id": str(uuid.uuid4()), "account_no": ACCOUNT,
            "guardian_phone": "13800138000"})
        wait_for(lambda: not rows(database_url, "applications"))
        assert rows(database_url, "versions") == []
        with pytest.raises(DomainError) as gone:
            enrollment.get_details({"account_no": ACCOUNT})
        assert gone.value.code == "APPLICATION_NOT_FOUND"


def test_a_registration_arriving_after_its_cancellation_opens_nothing(settings, amqp_uri,
                                                                      database_url):
    """Two queues: `account_cancelled` may be handled before `family_registered` of the same
    account (enrollment was down while the family registered and cancelled)."""
    account, later, cancellation = "27000043", "27000044", str(uuid.uuid4())
    with running_service(EnrollmentService, settings):
        dispatch(amqp_uri, ACCOUNTS, ACCOUNT_CANCELLED, {
            "event_id": cancellation, "account_no": account, "guardian_phone": "13800138000"})
        wait_for(lambda: handled(database_url, cancellation))
        for account_no in (account, later):  # the later one handled after it, on one queue
            dispatch(amqp_uri, ACCOUNTS, FAMILY_REGISTERED, {
                "event_id": str(uuid.uuid4()), "account_no": account_no,
                "district": "chaoyang", "hukou_type": "beijing", "child_name": "张小明",
                "document_type": "resident_id", "document_number": CHILD_ID,
                "birth_date": "2020-09-01", "sex": "male", "guardian_name": "张伟",
                "guardian_relation": "father", "guardian_phone": "13800138000",
                "hukou_district": "chaoyang", "residence_district": "chaoyang",
                "residence_address": "朝阳区团结湖路5号院2号楼1单元301"})
        wait_for(lambda: rows(database_url, "applications", later))
    assert rows(database_url, "applications", account) == []


def handled(database_url, event_id) -> bool:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM enrollment.processed_events "
                            "WHERE event_id = %s", (event_id,)).fetchone()[0] == 1


def test_a_malformed_request_is_a_validation_error(settings, enrollment):
    with running_service(EnrollmentService, settings):
        with pytest.raises(DomainError) as refused:
            enrollment.get_details({"account_no": "not-a-number"})
        assert refused.value.fields == {"account_no": "格式不正确。"}
