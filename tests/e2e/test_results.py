"""The family's side of the district's work on the running platform: the 入学资格审核 item by
item on 查看信息审核状态 (非本市户籍), and 查看入学结果 (page and API) before the district
publishes, with a place, and without one. The district's calls go through its own broker user,
as a district system's would."""

from __future__ import annotations

import pytest

from services.enrollment.contract import (
    Approval,
    ItemDecision,
    OperatorRef,
    Preregistration,
    SchoolsImport,
)
from services.enrollment.district_client import DistrictClient
from tests.e2e.test_details import (
    application,
    beijing_details,
    non_beijing_details,
    non_beijing_registration,
    registered,
    verification_settles,
)
from tests.e2e.test_pages import Page
from tests.support.infra import district_clients
from tests.support.registry import child_record, registry_holds

# Publishing is once per district and season: no other test publishes here.
RESULTS_DISTRICT = "mentougou"
SCHOOL = {"code": "9907000001", "name": "门头沟区示例第一小学", "address": "门头沟区示例路1号"}
DWELLING_REASON = "租赁合同登记备案号与住建部门记录不一致，请核对后重新填写。"
AGENCIES = {"employment": "人力社保", "dwelling": "住建", "permit": "公安"}


@pytest.fixture
def districts(stack):
    with district_clients(stack.env["AMQP_URI"], ("chaoyang", RESULTS_DISTRICT)) as clients:
        yield clients


def verified_family(stack, details: dict | None = None, **registration):
    """A family registered through the API whose first submission was verified: (its client,
    its account number)."""
    family, body, account_no = registered(stack, **registration)
    if details is None:
        details = non_beijing_details(stack, body)
    else:
        registry_holds(stack, child_record(body))
    application(family)  # opened by enrollment a moment after registration
    submitted = family.call("POST", "/api/v1/application/submissions", json={"data": details})
    assert submitted.status_code == 201, submitted.text
    check = verification_settles(family, 1)["state"]["verification"]
    assert check["status"] == "verified", check
    return family, account_no


def review(client: DistrictClient, account_no: str, item: str, passed: bool = True,
           reason: str | None = None):
    return client.district_review_item(ItemDecision(
        account_no=account_no, version=1, item=item, passed=passed, reason=reason,
        operator="cy0007", agency=AGENCIES.get(item, "街道")))


def open_school(client: DistrictClient) -> None:
    """The results district's one school, as its system imports it."""
    client.district_import_schools(SchoolsImport(operator="mtg01", csv_text=(
        "district,code,name,kind,stage,address,plan_seats,demo\n"
        f"{RESULTS_DISTRICT},{SCHOOL['code']},{SCHOOL['name']},公办,小学,"
        f"{SCHOOL['address']},120,是\n")))


def results_family(stack):
    """A verified 本市户籍 family of the results district: (its client, its account number)."""
    return verified_family(stack, beijing_details(RESULTS_DISTRICT), district=RESULTS_DISTRICT,
                           hukou_district=RESULTS_DISTRICT, residence_district=RESULTS_DISTRICT)


def place(client: DistrictClient, account_no: str) -> None:
    """学校预登记 of the printed form (version 1), then the district's approval."""
    client.district_preregister(Preregistration(account_no=account_no, version=1,
                                                school=SCHOOL["code"], operator="mtg01"))
    client.district_approve(Approval(account_no=account_no, school=SCHOOL["code"],
                                     operator="mtg01"))


def page_text(family, path: str) -> str:
    response = family.call("GET", path)
    assert response.status_code == 200, response.text
    return Page(response.text).text


def result_of(family) -> dict:
    response = family.call("GET", "/api/v1/application/result")
    assert response.status_code == 200, response.text
    return response.json()


# 入学资格审核 on 查看信息审核状态 ----------------------------------------------------------------

def test_the_status_page_shows_each_review_item_as_the_district_decides_it(stack, districts):
    family, account_no = verified_family(stack, **non_beijing_registration())
    text = page_text(family, "/status")
    assert "入学资格审核未开始" in text and "区教委将逐项审核您提交的材料" in text

    chaoyang = districts["chaoyang"]
    review(chaoyang, account_no, "employment")
    review(chaoyang, account_no, "dwelling", False, DWELLING_REASON)
    response = family.call("GET", "/status")
    html, text = response.text, Page(response.text).text
    assert "区教委逐项审核第1次提交的材料" in text
    for label in ("在京务工就业材料", "实际住所居住材料", "北京市居住证", "全家户口簿",
                  "户籍所在地无监护条件证明"):
        assert label in text, label
    assert html.count('<span class="badge">待审核</span>') == 3
    assert f"原因：{DWELLING_REASON}" in text
    assert "区教委正在审核其余材料" in text
    assert "撤回并修改信息" not in text  # not while the district is reviewing
    assert 'class="badge badge-failed">不通过' in html

    state = family.call("GET", "/api/v1/application").json()["state"]["review"]
    assert state["status"] == "in_review" and state["label"] == "审核中"
    assert [(r["item"], r["label"], r["passed"]) for r in state["results"]] == [
        ("employment", "在京务工就业材料", True), ("dwelling", "实际住所居住材料", False)]
    assert state["results"][1]["reason"] == DWELLING_REASON
    assert [(p["item"], p["label"]) for p in state["pending"]] == [
        ("permit", "北京市居住证"), ("hukou_book", "全家户口簿"),
        ("no_guardianship", "户籍所在地无监护条件证明")]

    for item in ("permit", "hukou_book", "no_guardianship"):
        decided = review(chaoyang, account_no, item)
    assert decided.review.status == "returned" and decided.review.pending == []
    html = family.call("GET", "/status").text
    status = Page(html)
    assert "审核未通过" in status.text and "badge\">待审核" not in html
    assert "请点击“撤回并修改信息”，按上述原因修改" in status.text
    assert "入学资格审核未通过（实际住所居住材料：" in status.text  # the next step says why
    withdrawn = family.call("POST", "/details/withdraw",
                            data={"csrf_token": status.value("csrf_token")},
                            allow_redirects=False)
    assert withdrawn.status_code == 303, withdrawn.text
    assert "已撤回，可修改后重新提交" in page_text(family, "/details?done=withdrawn")


# 查看入学结果 -----------------------------------------------------------------------------------

def test_the_results_before_publication_with_a_place_and_without(stack, districts):
    district = districts[RESULTS_DISTRICT]
    open_school(district)
    placed, placed_no = results_family(stack)
    unplaced, _ = results_family(stack)

    home = placed.call("GET", "/home").text
    assert '<a class="btn btn-primary" href="/results">查看入学结果</a>' in home
    before = result_of(placed)
    assert before["status"] == "not_published" and before["school"] is None
    assert before["published_at"] is None and before["schedule"]
    text = page_text(placed, "/results")
    assert "入学结果尚未公布" in text and before["message"] in text
    assert before["schedule"] in text and "尚未公布" in text

    place(district, placed_no)
    assert result_of(placed)["status"] == "not_published"  # approved, not yet published
    district.district_publish(OperatorRef(operator="mtg01"))

    after = result_of(placed)
    assert after["status"] == "placed" and after["published_at"] and after["report"]
    assert {key: after["school"][key] for key in SCHOOL} == SCHOOL
    text = page_text(placed, "/results")
    for shown in (SCHOOL["name"], SCHOOL["address"], after["message"], "报到时间与携带材料",
                  "演示数据", "（北京时间）"):
        assert shown in text, shown
    assert "尚未公布" not in text

    nothing = result_of(unplaced)
    assert nothing["status"] == "not_placed" and nothing["school"] is None
    text = page_text(unplaced, "/results")
    assert "本区入学结果已公布" in text and nothing["message"] in text
    assert "查看入学所在区教委的联系方式" in text and SCHOOL["name"] not in text


def test_the_results_need_a_session(stack):
    family, _, _ = registered(stack)
    family.call("DELETE", "/api/v1/sessions/current")
    response = family.call("GET", "/api/v1/application/result")
    assert (response.status_code, response.json()["code"]) == (401, "NOT_AUTHENTICATED")
    page = family.call("GET", "/results", allow_redirects=False)
    assert page.status_code == 303 and page.headers["Location"].endswith("/")
    operation = family.call("GET", "/api/v1/openapi.json").json()["paths"][
        "/api/v1/application/result"]["get"]
    assert operation["security"] == [{"session": []}]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(ok["properties"]) == {"status", "message", "schedule", "published_at",
                                     "school", "report"}
