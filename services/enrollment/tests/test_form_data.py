"""The documents service's reads: the form's data labelled as the season labels it, unmasked,
audited apart from the districts' looks; where the application stands, masked."""

from __future__ import annotations

from services.enrollment.bootstrap import EnrollmentApp
from services.enrollment.rules import status
from services.enrollment.tests.samples import (
    ALWAYS_OPEN,
    CHILD_ID,
    FATHER_ID,
    IN_COLLECTION,
    SEASON,
    verified_family,
)
from services.enrollment.usecases import details, district, review
from services.enrollment.usecases.context import Context, transact

ACCOUNT = "27000001"


def test_the_form_data_prints_every_field_with_its_label_and_its_value_in_words(store, clock):
    context = Context(store, ALWAYS_OPEN, clock)
    verified_family(context, ACCOUNT, hukou_type="beijing")
    app = EnrollmentApp(store, ALWAYS_OPEN, clock)
    data = app.get_form_data(ACCOUNT)
    sections = {section["key"]: section for section in data["sections"]}
    assert list(sections) == ["registration", "household", "hukou_address", "residence",
                              "housing", "guardians"]
    child = {entry["label"]: entry["text"] for entry in sections["registration"]["entries"][0]}
    assert child["证件号码"] == CHILD_ID and child["儿童姓名"] == "张小明"
    assert child["性别"] == "男" and child["入学区"] == "朝阳区"
    housing = {entry["label"]: entry["text"] for entry in sections["housing"]["entries"][0]}
    # a choice's text; the fields of another kind of housing (rent) are left out
    assert housing == {"住房类型": "自有住房", "产权证类型": "不动产权证书",
                       "产权证号": "京（2019）朝阳区不动产权第0012345号",
                       "产权人与儿童关系": "父母"}
    father = {entry["label"]: entry["text"] for entry in sections["guardians"]["entries"][0]}
    assert father["证件号码"] == FATHER_ID and father["与儿童关系"] == "父亲"
    assert len(sections["guardians"]["entries"]) == 2
    assert data["version"] == 1 and data["submitted_at"]
    assert data["may_print"] and data["missing"] is None
    assert data["state"]["verification"]["label"] == "身份证及户籍信息已验证"


def test_the_form_data_read_is_audited_but_not_shown_as_a_districts_look(store, clock):
    context = Context(store, ALWAYS_OPEN, clock)
    verified_family(context, ACCOUNT, hukou_type="beijing")
    EnrollmentApp(store, ALWAYS_OPEN, clock).get_form_data(ACCOUNT)
    audited = transact(context, lambda tx, now: tx.accesses(ACCOUNT))
    assert [(access.method, access.staff_id, access.district) for access in audited] == [
        ("documents_get_form_data", "documents", "chaoyang")]
    assert district.accesses(context, ACCOUNT) == []


def test_what_is_missing_before_printing(store, clock):
    context = Context(store, ALWAYS_OPEN, clock)
    app = EnrollmentApp(store, ALWAYS_OPEN, clock)
    verified_family(context, ACCOUNT, hukou_type="non_beijing")
    standing = app.get_form_standing(ACCOUNT)
    assert standing["child_name"] == "张**" and not standing["may_print"]
    assert standing["missing"].startswith("入学资格审核尚未全部通过（在京务工就业材料")
    review.start_review(context, ACCOUNT, 1)
    for item in ALWAYS_OPEN.review_items:
        review.record_result(context, ACCOUNT, 1, item, item != "permit", "过期" if
                             item == "permit" else None)
    assert app.get_form_standing(ACCOUNT)["missing"] == "入学资格审核尚未全部通过（北京市居住证）。"
    data = app.get_form_data(ACCOUNT)
    assert [result["label"] for result in data["state"]["review"]["results"]][:2] == [
        "在京务工就业材料", "实际住所居住材料"]
    assert app.get_form_standing("27999999") is None


def test_print_missing_follows_may_print():
    state = status.ApplicationState("beijing")
    assert status.print_missing(state, SEASON) == "信息尚未提交：请先提交详细信息。"
    state = status.submit(state, ALWAYS_OPEN, IN_COLLECTION)
    assert status.print_missing(state, SEASON) == "身份证及户籍信息尚未验证通过。"
    state = status.apply_verification(state, 1, True)
    assert status.may_print(state) and status.print_missing(state, SEASON) is None


def test_a_withdrawn_version_stands_unsubmitted(store, clock):
    context = Context(store, ALWAYS_OPEN, clock)
    verified_family(context, ACCOUNT, hukou_type="beijing")
    details.withdraw(context, ACCOUNT)
    standing = EnrollmentApp(store, ALWAYS_OPEN, clock).get_form_standing(ACCOUNT)
    assert standing["version"] == 1 and not standing["submitted"]
