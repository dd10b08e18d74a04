"""One 非本市户籍 family's whole journey with its district, on the running platform: it
registers, enters its details and is verified; the district's system reviews them item by item
over RPC and refuses one; the family corrects it and resubmits; the district approves the new
version; a school pre-registers the family's printed form, the district approves it and
publishes its results; the family sees its school. The guardian is texted each outcome once."""

from __future__ import annotations

import time

import pytest

from services.enrollment.contract import (
    Approval,
    ItemDecision,
    OperatorRef,
    Preregistration,
    SchoolsImport,
)
from services.enrollment.district_client import DistrictClient
from services.enrollment.rules.schools import CSV_COLUMNS
from tests.e2e.test_details import (
    application,
    journey_steps,
    non_beijing_details,
    non_beijing_registration,
    registered,
    verification_settles,
)
from tests.support.infra import district_clients

# Results are published once per district: no other test publishes in 怀柔区.
DISTRICT = "huairou"
SCHOOL = "9913100001"
AGENCIES = {"employment": "人力社保", "dwelling": "住建", "permit": "公安"}
LEASE_REFUSED = "租赁登记备案号与住建部门记录不一致，请核对后重新填写。"


@pytest.fixture
def huairou(stack):
    with district_clients(stack.env["AMQP_URI"], (DISTRICT,)) as clients:
        yield clients[DISTRICT]


def texts(stack, phone: str, purpose: str) -> list[str]:
    return [m["text"] for m in stack.sms_messages(phone) if m["purpose"] == purpose]


def review_all(client: DistrictClient, account_no: str, version: int,
               refused: dict[str, str] | None = None):
    """Every item decided by its agency: passed, or refused with the reason in `refused`."""
    refused = refused or {}
    for item in ("employment", "dwelling", "permit", "hukou_book", "no_guardianship"):
        state = client.district_review_item(ItemDecision(
            account_no=account_no, version=version, item=item, passed=item not in refused,
            reason=refused.get(item), operator="hr0003", agency=AGENCIES.get(item, "街道")))
    return state


def test_a_non_beijing_family_goes_from_registration_to_its_school(stack, huairou):
    family, body, account_no = registered(
        stack, **{**non_beijing_registration(), "district": DISTRICT,
                  "residence_district": DISTRICT, "residence_address": "怀柔区青春路1号"})
    phone = body["guardian_phone"]
    details = non_beijing_details(stack, body, DISTRICT)
    application(family)
    submitted = family.call("POST", "/api/v1/application/submissions", json={"data": details})
    assert submitted.status_code == 201, submitted.text
    assert verification_settles(family, 1)["state"]["verification"]["status"] == "verified"
    huairou.district_import_schools(SchoolsImport(operator="hr0003", csv_text=(
        f"{','.join(CSV_COLUMNS)}\n{DISTRICT},{SCHOOL},怀柔区测试第一小学,公办,小学,"
        "怀柔区测试路1号,60,是\n")))

    # The district refuses the dwelling; the family reads why, corrects and resubmits.
    returned = review_all(huairou, account_no, 1, {"dwelling": LEASE_REFUSED})
    assert returned.review.status == "returned"
    assert LEASE_REFUSED in journey_steps(family)["review"]["note"]
    withdrawn = family.call("DELETE", "/api/v1/application/submissions/current")
    assert withdrawn.status_code == 200, withdrawn.text
    details["dwelling"]["lease_registration_no"] = "ZL2027-0099881"
    again = family.call("POST", "/api/v1/application/submissions", json={"data": details})
    assert again.status_code == 201, again.text
    assert verification_settles(family, 2)["state"]["verification"]["status"] == "verified"

    approved = review_all(huairou, account_no, 2)
    assert approved.review.status == "approved"
    assert journey_steps(family)["print_form"]["status"] == "open"

    # The school sees the printed form of version 2; the district approves and publishes.
    huairou.district_preregister(Preregistration(account_no=account_no, version=2,
                                                 school=SCHOOL, operator="hr0003"))
    huairou.district_approve(Approval(account_no=account_no, school=SCHOOL, operator="hr0003"))
    assert family.call("GET", "/api/v1/application/result").json()["status"] == "not_published"
    assert huairou.district_publish(OperatorRef(operator="hr0003")).placed == 1
    result = family.call("GET", "/api/v1/application/result").json()
    assert (result["status"], result["school"]["name"]) == ("placed", "怀柔区测试第一小学")
    assert journey_steps(family)["results"]["status"] == "published"

    stack.wait_sms(phone, "result_published")
    time.sleep(2)  # a duplicate would have been texted by now
    assert len(texts(stack, phone, "verification_outcome")) == 2  # one per version
    returned_text, approved_text = texts(stack, phone, "review_outcome")
    assert "未通过" in returned_text and "已通过" in approved_text
    assert len(texts(stack, phone, "result_published")) == 1
