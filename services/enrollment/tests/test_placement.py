"""学校预登记, its approval, the publication of results and 查看入学结果, and the district's
override of a verification: the use cases over both stores (in memory and PostgreSQL)."""

from __future__ import annotations

import pytest

from common.errors import DomainError
from services.enrollment import contract
from services.enrollment.rules import placement as rules
from services.enrollment.rules import status
from services.enrollment.rules.schools import School
from services.enrollment.tests.samples import SEASON, Clock, at, details_for, registration
from services.enrollment.usecases import details, district, placement, verification_results
from services.enrollment.usecases.context import Context
from services.enrollment.usecases.journey import journey
from services.enrollment.usecases.memory_store import MemoryStore
from services.enrollment.usecases.store import Listing

ACCOUNT, OTHER = "27000001", "27000002"
CHAOYANG = district.Operator("chaoyang", "cy0042")
HAIDIAN = district.Operator("haidian", "hd0001")
SCHOOLS = [School("chaoyang", code, name, "公办", "小学", "朝阳区团结湖路1号", 120, True)
           for code, name in (("9905000001", "朝阳区第一小学"), ("9905000002", "朝阳区第二小学"))]
PREREGISTRATION, RESULTS = at(2027, 6, 15), at(2027, 7, 5)
PHONE = "13800138000"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture(params=["memory", "postgres"])
def store(request):
    store = MemoryStore() if request.param == "memory" else request.getfixturevalue("pg_store")
    with store.transaction() as tx:
        tx.import_schools(SCHOOLS)
    return store


@pytest.fixture
def context(store, clock):
    return Context(store, SEASON, clock)


def refused(code, use_case, *args) -> DomainError:
    with pytest.raises(DomainError) as caught:
        use_case(*args)
    assert caught.value.code == code
    return caught.value


def events(store, event_type) -> list[dict]:
    return [body for kind, body in store.outbox if kind == event_type]


def verified(context, account_no=ACCOUNT, hukou_type="beijing"):
    details.open_application(context, registration(hukou_type, "chaoyang", account_no,
                                                   guardian_phone=PHONE))
    data = details_for(hukou_type)
    if hukou_type == "non_beijing":
        data["dwelling"]["district"] = "chaoyang"
    details.submit(context, account_no, data)
    verification_results.apply_result(context, account_no, 1, True)


def test_a_family_pre_registered_approved_and_published_sees_its_school_texted_once(
        context, store, clock):
    verified(context)
    verified(context, OTHER)
    clock.now = PREREGISTRATION
    placed = placement.preregister(context, CHAOYANG, ACCOUNT, 1, "9905000001")
    assert (placed.school.name, placed.application.state.placement) == (
        "朝阳区第一小学", status.Placement("9905000001", status.PREREGISTERED, 1))
    # before approval the family may come to another school; the same school again: no change
    placement.preregister(context, CHAOYANG, ACCOUNT, 1, "9905000002")
    again = placement.preregister(context, CHAOYANG, ACCOUNT, 1, "9905000002")
    assert again.application.state.placement.school == "9905000002"
    refused("NOT_PREREGISTERED", placement.approve, context, CHAOYANG, ACCOUNT, "9905000001")
    approved = placement.approve(context, CHAOYANG, ACCOUNT, "9905000002")
    assert approved.application.state.placement.status == status.APPROVED
    refused("PLACEMENT_APPROVED", placement.preregister, context, CHAOYANG, ACCOUNT, 1,
            "9905000001")
    placement.preregister(context, CHAOYANG, OTHER, 1, "9905000001")  # never approved

    assert placement.result(context, ACCOUNT).result.status == rules.NOT_PUBLISHED
    refused("PHASE_CLOSED", placement.publish, context, CHAOYANG)  # results not open yet
    clock.now = RESULTS
    published = placement.publish(context, CHAOYANG)
    assert (published.district, published.placed, published.staff_id) == ("chaoyang", 1, "cy0042")
    [text] = events(store, contract.RESULT_PUBLISHED)
    assert contract.ResultPublished.parse(text).model_dump(exclude={"event_id"}) == {
        "account_no": ACCOUNT, "guardian_phone": PHONE}
    assert placement.publish(context, CHAOYANG).placed == 1  # again: the same, no new text
    assert len(events(store, contract.RESULT_PUBLISHED)) == 1

    mine = placement.result(context, ACCOUNT)
    assert (mine.result.status, mine.school.name) == (rules.PLACED, "朝阳区第二小学")
    assert "学龄人口信息采集表" in mine.result.report and mine.published_at is not None
    assert placement.result(context, OTHER).result.status == rules.NOT_PLACED
    refused("RESULTS_PUBLISHED", placement.approve, context, CHAOYANG, OTHER, "9905000001")
    steps = {step.key: step for step in journey(context, ACCOUNT, "beijing").steps}
    assert (steps["preregistration"].status, steps["results"].status) == (
        status.APPROVED, "published")


def test_a_printout_of_an_older_version_or_before_its_checks_is_refused(context, clock):
    details.open_application(context, registration("beijing", "chaoyang", ACCOUNT))
    details.submit(context, ACCOUNT, details_for("beijing"))
    clock.now = PREREGISTRATION
    refused("NOT_READY_FOR_PREREGISTRATION", placement.preregister, context, CHAOYANG,
            ACCOUNT, 1, "9905000001")
    verification_results.apply_result(context, ACCOUNT, 1, True)
    error = refused("FORM_SUPERSEDED", placement.preregister, context, CHAOYANG, ACCOUNT, 2,
                    "9905000001")
    assert error.extra == {"current_version": 1}
    refused("SCHOOL_UNKNOWN", placement.preregister, context, CHAOYANG, ACCOUNT, 1, "9905000999")
    refused("NOT_YOUR_DISTRICT", placement.preregister, context, HAIDIAN, ACCOUNT, 1, "9905000001")
    clock.now = at(2027, 6, 17)
    refused("PHASE_CLOSED", placement.preregister, context, CHAOYANG, ACCOUNT, 1, "9905000001")


def test_a_non_beijing_family_is_pre_registered_only_once_its_review_is_approved(context,
                                                                                  clock):
    verified(context, hukou_type="non_beijing")
    clock.now = PREREGISTRATION
    refused("NOT_READY_FOR_PREREGISTRATION", placement.preregister, context, CHAOYANG,
            ACCOUNT, 1, "9905000001")


def test_a_district_lists_a_schools_pre_registered_families(context, clock):
    verified(context)
    verified(context, OTHER)
    clock.now = PREREGISTRATION
    placement.preregister(context, CHAOYANG, ACCOUNT, 1, "9905000001")

    def listed(**filters):
        page = district.list_applications(context, CHAOYANG, Listing(**filters), None, 10, None)
        return [row.application.account_no for row in page.rows]
    assert listed(school="9905000001") == [ACCOUNT]
    assert listed(placement="preregistered") == [ACCOUNT]
    assert listed(placement="none") == [OTHER]
    assert listed(school="9905000002") == []


def test_the_district_overrides_a_failed_verification_and_the_guardian_is_texted(context,
                                                                                   store):
    details.open_application(context, registration("beijing", "chaoyang", ACCOUNT,
                                                   guardian_phone=PHONE))
    details.submit(context, ACCOUNT, details_for("beijing"))
    verification_results.apply_result(context, ACCOUNT, 1, False, "hukou", "户籍地址不一致。")
    refused("NOT_YOUR_DISTRICT", district.override_verification, context, HAIDIAN, ACCOUNT, 1,
            True, None, "核实")
    refused("VALIDATION_ERROR", district.override_verification, context, CHAOYANG, ACCOUNT, 1,
            False, None, "不通过")
    done = district.override_verification(context, CHAOYANG, ACCOUNT, 1, True, None,
                                          "经派出所核实户籍信息无误。")
    assert done.state.verification == status.Verification(
        1, status.VERIFIED, reason="经派出所核实户籍信息无误。", overridden=True)
    assert [body["status"] for body in events(store, contract.VERIFICATION_OUTCOME)] == [
        "failed", "verified"]
    steps = {step.key: step for step in journey(context, ACCOUNT, "beijing").steps}
    assert steps["verification"].label == "身份证及户籍信息已验证（经区教委核实）"
    refused("VERIFICATION_NOT_OVERRIDABLE", district.override_verification, context, CHAOYANG,
            ACCOUNT, 2, False, "hukou", "版本不符")
    assert "更正身份证及户籍信息核验结果：经派出所核实户籍信息无误。" in [
        access.purpose for access in district.accesses(context, ACCOUNT)]


def test_a_failed_override_ends_a_review_in_progress(context):
    verified(context, hukou_type="non_beijing")
    district.review_item(context, CHAOYANG, ACCOUNT, 1, "permit", True, None, "公安")
    done = district.override_verification(context, CHAOYANG, ACCOUNT, 1, False,
                                          "guardian_identity", "监护人证件与公安记录不符。")
    assert done.state.review is None and done.state.verification.status == status.FAILED
    assert "withdraw" in status.available_actions(done.state, SEASON, at(2027, 5, 10))
