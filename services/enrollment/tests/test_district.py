"""District systems over RPC, as they run: each logs in to the broker as its own user, which may
call the district-facing methods only, and the enrollment service knows the district from that
user (the broker validates `user_id`), never from the request. Real RabbitMQ (a vhost of the
test's own, real users) and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import psycopg
import pytest
from amqp.exceptions import AccessRefused, PreconditionFailed
from kombu import Connection, Exchange, Queue
from nameko.standalone.rpc import ClusterRpcProxy
from pydantic import ValidationError

from common.edge.rpc import RpcUnavailable, StandaloneRpc
from common.errors import DomainError
from common.registry import ROOT
from services.enrollment import contract
from services.enrollment.contract import ApplicationLookup, ApplicationQuery, ItemDecision
from services.enrollment.district_client import DistrictClient
from services.enrollment.rules.schools import CSV_COLUMNS
from services.enrollment.service import EnrollmentService
from services.enrollment.settings import EnrollmentSettings
from services.enrollment.storage import Keys, Store
from services.enrollment.tests.samples import (
    ALWAYS_OPEN,
    CHILD_ID,
    IN_COLLECTION,
    Clock,
    details_for,
    registration,
)
from services.enrollment.usecases import details, verification_results
from services.enrollment.usecases.context import Context
from tests.support.infra import (
    district_user_prefix,
    drop_process_users,
    make_district_users,
    running_service,
    settings_for,
)

RPC = Exchange("nameko-rpc", type="topic", durable=True)
PHONE = "13800138000"
CHAOYANG, HAIDIAN = "27100001", "27100002"


@pytest.fixture
def districts(own_vhost):
    """The vhost's guest URI and the URIs of the users of 朝阳 and 海淀's systems."""
    guest, _ = own_vhost
    users = make_district_users(guest, ("chaoyang", "haidian"))
    yield guest, users
    drop_process_users(users)


@pytest.fixture
def settings(districts, database_url, pool):
    guest, _ = districts
    return settings_for(EnrollmentSettings, database_url, guest, SEASON_PHASES="open",
                        DISTRICT_USER_PREFIX=district_user_prefix(guest))


@pytest.fixture
def enrollment(settings):
    with running_service(EnrollmentService, settings):
        yield


@pytest.fixture
def families(pool, settings):
    """Opens (and submits, verified) applications straight through the use cases."""
    store = Store(pool, Keys(settings.master_keys))
    context = Context(store, ALWAYS_OPEN, Clock())  # submitted during the collection

    def family(account_no, district="chaoyang", hukou_type="non_beijing", submit=True):
        details.open_application(context, registration(hukou_type, district, account_no,
                                                       guardian_phone=PHONE))
        if submit:
            data = details_for(hukou_type)
            if hukou_type == "non_beijing":
                data["dwelling"]["district"] = district
            details.submit(context, account_no, data)
            verification_results.apply_result(context, account_no, 1, True)
        return account_no
    return family


@pytest.fixture
def client(districts, enrollment):
    _, users = districts
    clients = {code: DistrictClient(uri, timeout_s=10) for code, uri in users.items()}
    yield clients
    for opened in clients.values():
        opened.close()


def audit(database_url) -> list[dict]:
    with psycopg.connect(database_url) as conn:
        conn.row_factory = psycopg.rows.dict_row
        return conn.execute("SELECT district, staff_id, agency, purpose, account_no, method, "
                            "outcome FROM enrollment.district_access ORDER BY id").fetchall()


def publish(amqp_uri, routing_key, body, **properties):
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(body, exchange=RPC, routing_key=routing_key, retry=False,
                                **properties)


def test_a_district_lists_only_its_own_applications_masked(client, families):
    families(CHAOYANG)
    families("27100003", hukou_type="beijing")
    families(HAIDIAN, district="haidian")
    page = client["chaoyang"].district_list_applications(ApplicationQuery(operator="cy0042"))
    assert [row.registration.account_no for row in page.rows] == [CHAOYANG, "27100003"]
    assert page.next_cursor is None
    row = page.rows[0]
    assert row.registration.child_name == "张**" and CHILD_ID not in row.model_dump_json()
    assert (row.details, row.verification, row.review) == ("submitted", "verified",
                                                          "not_started")
    assert page.rows[1].review is None  # 本市户籍: no review
    assert [row.registration.account_no for row in client["haidian"].district_list_applications(
        ApplicationQuery(operator="hd0001")).rows] == [HAIDIAN]


def test_filters_select_and_pages_return_each_application_once(client, families):
    accounts = [families(f"271000{n:02d}") for n in range(10, 17)]
    families("27100020", submit=False)
    query = ApplicationQuery(operator="cy0042", verification="verified", limit=3,
                             submitted_from=IN_COLLECTION.date().isoformat())
    seen, cursor = [], None
    while True:
        page = client["chaoyang"].district_list_applications(
            query.model_copy(update={"cursor": cursor}))
        assert len(page.rows) <= 3
        seen += [row.registration.account_no for row in page.rows]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == accounts
    drafts = client["chaoyang"].district_list_applications(
        ApplicationQuery(operator="cy0042", details="empty"))
    assert [row.registration.account_no for row in drafts.rows] == ["27100020"]
    assert client["chaoyang"].district_list_applications(ApplicationQuery(
        operator="cy0042", submitted_to="2000-01-01")).rows == []
    with pytest.raises(DomainError) as refused:
        client["chaoyang"].district_list_applications(
            ApplicationQuery(operator="cy0042", cursor="bm90LWFuLWFjY291bnQ="))
    assert refused.value.fields == {"cursor": "格式不正确。"}


def test_an_unmasked_view_needs_a_purpose_is_audited_and_the_family_sees_it_without_the_staff_id(
        client, families, districts, database_url):
    families(CHAOYANG)
    shown = client["chaoyang"].district_show_application(
        ApplicationLookup(account_no=CHAOYANG, purpose="核对居住证信息", operator="cy0042"))
    assert shown.registration.document_number == CHILD_ID
    assert shown.data["guardians"][0]["phone"] == PHONE
    with pytest.raises(ValidationError):  # no purpose: never sent
        ApplicationLookup(account_no=CHAOYANG, purpose=" ", operator="cy0042")

    guest, _ = districts
    with ClusterRpcProxy({"AMQP_URI": guest}, timeout=10) as cluster:
        accesses = cluster.enrollment.get_accesses({"account_no": CHAOYANG})
    assert [(a["district_name"], a["agency"], a["purpose"]) for a in accesses] == [
        ("北京市朝阳区教育委员会", None, "核对居住证信息")]
    assert "cy0042" not in json.dumps(accesses)
    assert audit(database_url)[-1] == {
        "district": "chaoyang", "staff_id": "cy0042", "agency": None,
        "purpose": "核对居住证信息", "account_no": CHAOYANG,
        "method": "district_show_application", "outcome": "ok"}


def test_another_districts_family_is_refused_and_audited_and_a_forged_district_has_no_effect(
        client, families, districts, database_url):
    families(CHAOYANG)
    with pytest.raises(DomainError) as refused:
        client["haidian"].district_show_application(
            ApplicationLookup(account_no=CHAOYANG, purpose="核对", operator="hd0001"))
    assert refused.value.code == "NOT_YOUR_DISTRICT"
    assert audit(database_url)[-1]["outcome"] == "refused"
    assert audit(database_url)[-1]["district"] == "haidian"

    # 海淀's system, unchecked by the typed client, names 朝阳 in the request: refused (the
    # request has no such field); without it, the caller is still 海淀
    _, users = districts
    raw = StandaloneRpc(users["haidian"], "enrollment", "district-haidian", 10)
    try:
        with pytest.raises(DomainError) as not_a_field:
            raw.call("district_show_application", {"account_no": CHAOYANG, "purpose": "核对",
                                                   "operator": "hd0001", "district": "chaoyang"})
        assert not_a_field.value.fields == {"district": "不支持该字段。"}
        with pytest.raises(DomainError) as still_haidian:
            raw.call("district_show_application",
                     {"account_no": CHAOYANG, "purpose": "核对", "operator": "hd0001"})
        assert still_haidian.value.code == "NOT_YOUR_DISTRICT"
    finally:
        raw.close()
    guest, _ = districts
    with ClusterRpcProxy({"AMQP_URI": guest}, timeout=10) as cluster:  # the guest: no district
        with pytest.raises(DomainError) as unknown:
            cluster.enrollment.district_show_application(
                {"account_no": CHAOYANG, "purpose": "核对", "operator": "x"})
    assert unknown.value.code == "DISTRICT_UNKNOWN"
    assert [row["outcome"] for row in audit(database_url)] == ["refused", "refused"]


def test_the_broker_refuses_a_district_user_a_parents_method_and_a_forged_user_id(
        districts, enrollment):
    _, users = districts
    with pytest.raises(AccessRefused):
        publish(users["haidian"], "enrollment.get_details",
                {"args": [{"account_no": CHAOYANG}], "kwargs": {}})
    publish(users["haidian"], "enrollment.district_list_applications",
            {"args": [], "kwargs": {}})  # its own methods: confirmed
    with pytest.raises(PreconditionFailed):
        publish(users["haidian"], "enrollment.district_list_applications",
                {"args": [], "kwargs": {}},
                user_id=district_user_prefix(districts[0]) + "chaoyang")


def test_review_items_decided_return_the_review_and_publish_one_outcome_event(
        client, families, districts, database_url):
    families(CHAOYANG)
    chaoyang = client["chaoyang"]
    guest, _ = districts
    outcomes = Queue(f"test-{uuid.uuid4().hex}", Exchange("enrollment.events", type="topic",
                                                          durable=True),
                     routing_key=contract.REVIEW_OUTCOME, auto_delete=True)

    def decide(item, passed, agency, reason=None):
        return chaoyang.district_review_item(ItemDecision(
            account_no=CHAOYANG, version=1, item=item, passed=passed, reason=reason,
            operator="cy0042", agency=agency))

    with pytest.raises(DomainError) as wrong:
        decide("employment", True, "公安")
    assert wrong.value.code == "WRONG_AGENCY"
    state = decide("permit", False, "公安", "居住证已过期，请更新后重新提交")
    assert state.review.status == "in_review"
    with Connection(guest) as conn:
        bound = outcomes(conn.default_channel)
        bound.declare()
        for item, agency in (("employment", "人力社保"), ("dwelling", "住建"),
                             ("hukou_book", "街道")):
            decide(item, True, agency)
        state = decide("no_guardianship", True, "街道")
        assert state.review.status == "returned"
        [outcome] = messages(bound, 1)
        assert (outcome["account_no"], outcome["status"], outcome["guardian_phone"]) == (
            CHAOYANG, "returned", PHONE)
        with pytest.raises(DomainError) as finished:
            decide("permit", True, "公安")
        assert finished.value.code == "REVIEW_FINISHED"
        assert messages(bound, 0, then_quiet_s=0.5) == []  # only the deciding result's
    reviewed = [row for row in audit(database_url) if row["method"] == "district_review_item"]
    assert (reviewed[0]["agency"], reviewed[0]["purpose"]) == ("公安", "入学资格审核：北京市居住证")


def messages(queue, count, timeout_s=10.0, then_quiet_s=0.0) -> list[dict]:
    """The next `count` message bodies; with `then_quiet_s`, none more comes for that long."""
    got, deadline = [], time.monotonic() + timeout_s
    while len(got) < count:
        assert time.monotonic() < deadline, f"only {got}"
        message = queue.get(no_ack=True)
        if message is None:
            time.sleep(0.05)
            continue
        got.append(json.loads(message.body))
    time.sleep(then_quiet_s)
    assert then_quiet_s == 0 or queue.get(no_ack=True) is None
    return got


def test_a_call_without_an_answer_in_time_is_unavailable(districts):
    _, users = districts  # no service running
    with DistrictClient(users["chaoyang"], timeout_s=0.5) as lonely:
        started = time.monotonic()
        with pytest.raises(RpcUnavailable):
            lonely.district_list_applications(ApplicationQuery(operator="cy0042"))
        assert time.monotonic() - started < 3


SCRIPT = """
from services.enrollment.contract import ApplicationQuery
from services.enrollment.district_client import DistrictClient

with DistrictClient.from_env() as enrollment:
    page = enrollment.district_list_applications(ApplicationQuery(operator="cy0042"))
    print(" ".join(row.registration.account_no for row in page.rows))
"""


def test_a_plain_script_calls_with_the_credential_from_its_environment(
        client, families, districts):
    """No nameko service, no eventlet monkey-patching: a district system's own program."""
    families(CHAOYANG)
    _, users = districts
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=60,
                          env={**os.environ, "AMQP_URI": users["chaoyang"],
                               "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [CHAOYANG]


def test_a_district_imports_its_schools_over_rpc_audited_and_never_another_districts(
        client, database_url):
    header = ",".join(CSV_COLUMNS)
    own = "chaoyang,9905000001,朝阳区示例第一小学,公办,小学,朝阳区示例路1号,180,是"
    other = "haidian,9904000001,海淀区示例第一小学,公办,小学,海淀区示例路1号,180,是"
    with pytest.raises(DomainError) as refused:
        client["chaoyang"].district_import_schools(contract.SchoolsImport(
            operator="cy0042", csv_text=f"{header}\n{own}\n{other}\n", replace=True))
    assert (refused.value.code, refused.value.fields) == (
        "SCHOOL_FILE_INVALID", {"line 3": "district: not chaoyang, the district being loaded"})
    done = client["chaoyang"].district_import_schools(contract.SchoolsImport(
        operator="cy0042", csv_text=f"{header}\n{own}\n"))
    assert done == contract.SchoolsImported(added=1, changed=0, unchanged=0, removed=0)
    [school] = client["chaoyang"].district_list_schools(contract.SchoolQuery(operator="cy0042"))
    assert (school.code, school.name, school.demo) == ("9905000001", "朝阳区示例第一小学", True)
    assert client["haidian"].district_list_schools(contract.SchoolQuery(operator="hd0001")) == []
    imports = [(row["district"], row["staff_id"], row["purpose"], row["outcome"])
               for row in audit(database_url) if row["method"] == "district_import_schools"]
    assert imports == [("chaoyang", "cy0042", "导入学校名单", "refused"),
                       ("chaoyang", "cy0042", "导入学校名单", "ok")]

def test_a_document_moved_by_its_district_resets_the_application_with_one_event(
        client, families, districts, database_url):
    families(CHAOYANG)
    guest, _ = districts
    moved_events = Queue(f"test-{uuid.uuid4().hex}", Exchange("enrollment.events", type="topic",
                                                              durable=True),
                         routing_key=contract.DOCUMENT_MOVED, auto_delete=True)
    dispute = contract.DocumentDispute(account_no=CHAOYANG, claimant_phone="13900139000",
                                       reason="经核对出生医学证明，监护人为申请人",
                                       operator="cy0042")
    with Connection(guest) as conn:
        bound = moved_events(conn.default_channel)
        bound.declare()
        with pytest.raises(DomainError) as refused:
            client["haidian"].district_move_document(dispute.model_copy(
                update={"operator": "hd0001"}))
        assert refused.value.code == "NOT_YOUR_DISTRICT"
        settled = client["chaoyang"].district_move_document(dispute)
        assert (settled.account_no, settled.claimant_phone) == (CHAOYANG, "139****9000")
        [moved] = messages(bound, 1, then_quiet_s=0.5)
    assert (moved["account_no"], moved["district"], moved["former_phone"],
            moved["claimant_phone"]) == (CHAOYANG, "chaoyang", PHONE, "13900139000")
    shown = client["chaoyang"].district_show_application(
        ApplicationLookup(account_no=CHAOYANG, purpose="核对", operator="cy0042"))
    assert (shown.state.details, shown.state.verification, shown.data) == ("empty", None, None)
    assert shown.registration.guardian_phone == "13900139000"
    assert shown.registration.document_number == CHILD_ID
    assert [(row["district"], row["method"], row["outcome"], row["purpose"])
            for row in audit(database_url)][:2] == [
        ("haidian", "district_move_document", "refused", dispute.reason),
        ("chaoyang", "district_move_document", "ok", dispute.reason)]
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM enrollment.versions WHERE account_no = %s",
                            (CHAOYANG,)).fetchone() == (0,)
