"""The details pages over plain HTTP against the running platform: 录入详细信息 /
录入相关审核材料信息 drawn from the season, a draft, refusals next to their fields, the summary
then 确认提交, 查看信息审核状态 until the check's result, withdrawing, and CSRF."""

from __future__ import annotations

import re
import time
from datetime import date

import pytest

from services.enrollment.rules.season import load_season
from tests.e2e.test_pages import Page, Visitor, registration
from tests.support.family import id_number, unique_phone
from tests.support.registry import child_record, registry_holds

SEASON = load_season(2027, "open")


def signed_in(stack, hukou_type: str = "beijing") -> tuple[Visitor, dict]:
    """A family registered through the pages, signed in, its application opened."""
    visitor = Visitor(stack)
    form = visitor.registration_form(hukou_type)
    phone = unique_phone()
    visitor.sms_code(form, "register", phone=phone)
    data = registration(form, phone, sms_code=stack.latest_code(phone, "register"),
                        hukou_district="haidian" if hukou_type == "beijing" else "outside")
    response = visitor.post(f"/d/haidian/{hukou_type}/register", data)
    assert response.status_code == 303, response.text
    deadline = time.monotonic() + 15
    while visitor.get("/details").status_code != 200:  # enrollment opens it from an event
        assert time.monotonic() < deadline, "the application was never opened"
        time.sleep(0.1)
    return visitor, data


@pytest.fixture
def family(stack):
    return signed_in(stack)


def details_form(visitor, path: str = "/details") -> tuple[Page, str]:
    response = visitor.get(path)
    assert response.status_code == 200
    return Page(response.text), response.text


def complete(csrf: str, **overrides) -> dict:
    """Every field a 本市户籍 family fills in, valid."""
    data = {"csrf_token": csrf,
            "household.head_name": "王建国", "household.relation_to_head": "child",
            "hukou_address.district": "haidian", "hukou_address.address": "海淀区学院路1号院",
            "residence.district": "haidian", "residence.address": "海淀区学院路1号院2号楼",
            "housing.kind": "rent", "housing.lease_registration_no": "ZL2026-001234",
            "housing.lease_start": "2024-03-01",
            "guardians.0.name": "王建国", "guardians.0.relation": "father",
            "guardians.0.document_type": "resident_id",
            "guardians.0.document_number": id_number(date(1988, 1, 1), "male"),
            "guardians.0.phone": unique_phone()}
    data.update(overrides)
    return data


def field_html(html: str, name: str) -> str:
    """The markup of one field, from its wrapper to its error slot."""
    found = re.search(rf'<(?:div|fieldset) class="field[^"]*"[^>]*>(?:(?!</fieldset>|'
                      rf'class="field).)*?id="f-{re.escape(name)}-err"[^>]*>[^<]*</p>',
                      html, re.S)
    assert found, name
    return found.group()


def status_text(visitor) -> str:
    return Page(visitor.get("/status").text).text


def wait_status(visitor, *texts: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = status_text(visitor)
        if all(t in text for t in texts):
            return text
        assert time.monotonic() < deadline, text
        time.sleep(0.3)


# the form -----------------------------------------------------------------------------------
@pytest.mark.parametrize("hukou_type", ["beijing", "non_beijing"])
def test_the_form_draws_every_section_and_field_of_the_season(stack, hukou_type):
    visitor, data = signed_in(stack, hukou_type)
    page, html = details_form(visitor)
    form = SEASON.forms[hukou_type]
    assert form.title in page.text
    for label in ("信息采集导航", "核对并提交", "信息核验"):  # where the family is
        assert label in page.by_id["main"]["text"]
    assert "aria-current=\"step\"" in html
    # the registration, read-only and masked
    assert "注册时填写的基本信息不能修改" in page.text and "王**" in page.text
    assert data["document_number"] not in html
    for section in form.sections:
        assert f"<legend>{section.title}" in html, section.key
        entries = range(section.max_entries) if section.repeated else [None]
        for index in entries:
            for spec in section.fields:
                name = f"{section.key}.{spec.key}" if index is None \
                    else f"{section.key}.{index}.{spec.key}"
                assert name in page.inputs, name
    assert "监护人信息（2）（选填）" in page.text
    for button in ("暂存", "下一步：核对信息"):
        assert button in page.text
    if hukou_type == "beijing":
        assert "租赁合同登记备案号（住房类型选择“租住”时填写）" in page.text
        assert 'data-when="housing.kind=rent"' in html
        assert page.inputs["housing.lease_start"]["type"] == "date"
        assert 'value="haidian">海淀区</option>' in html  # a district is a select
    else:
        assert "出具机关（是否已取得证明选择“是”时填写）" in page.text
        assert page.inputs["no_guardianship.has_certificate"]["type"] == "radio"
        assert "6位行政区划代码" in page.text
        assert "居住证须在2027年5月6日仍在有效期内。" in page.text  # the season's help


def test_home_leads_to_the_details_form(family):
    visitor, _ = family
    home = visitor.get("/home").text
    assert re.search(r'<a class="btn btn-primary" href="/details">录入详细信息</a>', home)
    assert 'href="/status"' not in home.split("信息采集进度")[1]  # nothing submitted yet


# a draft, refusals --------------------------------------------------------------------------
def test_a_draft_keeps_what_was_typed(family):
    visitor, _ = family
    page, _ = details_form(visitor)
    response = visitor.post("/details", {
        "csrf_token": page.value("csrf_token"), "action": "save_draft",
        "household.head_name": "王建国", "housing.kind": "own",
        "housing.certificate_no": "京（2019）海淀区不动产权第0012345号",
        "guardians.0.relation": "mother", "guardians.1.name": "王奶奶"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/details?done=saved")
    page, html = details_form(visitor, "/details?done=saved")
    assert "已暂存。信息尚未提交" in page.text
    assert page.value("household.head_name") == "王建国"
    assert page.value("housing.certificate_no") == "京（2019）海淀区不动产权第0012345号"
    assert page.value("guardians.1.name") == "王奶奶"
    assert 'value="own" selected' in html  # four kinds: a select
    assert re.search(r'name="guardians.0.relation" value="mother"\s+checked', html)
    assert "已暂存" in status_text(visitor)


def test_a_bad_value_is_refused_next_to_its_field_and_the_typing_is_kept(family):
    visitor, _ = family
    page, _ = details_form(visitor)
    sent = complete(page.value("csrf_token"), action="save_draft",
                    **{"guardians.0.phone": "12345", "residence.address": "海淀"})
    response = visitor.post("/details", sent)
    assert response.status_code == 422
    again = Page(response.text)
    assert again.field_error("guardians.0.phone") == "请输入11位手机号码。"
    phone = field_html(response.text, "guardians.0.phone")
    assert 'aria-invalid="true"' in phone and 'value="12345"' in phone
    assert "has-error" in phone
    assert again.field_error("guardians.0.name") == ""
    assert "提交的信息有误" in again.by_id["form-summary"]["text"]
    for name in ("household.head_name", "hukou_address.address", "guardians.0.document_number"):
        assert again.value(name) == sent[name], name


def test_submitting_with_required_fields_missing_marks_each(family):
    visitor, _ = family
    page, _ = details_form(visitor)
    response = visitor.post("/details", complete(page.value("csrf_token"), action="submit",
                                                 **{"housing.lease_start": "",
                                                    "household.head_name": ""}))
    assert response.status_code == 422
    again = Page(response.text)
    assert again.field_error("housing.lease_start") == "请填写起租日期。"
    assert again.field_error("household.head_name") == "请填写户主姓名。"
    assert "未填写" in status_text(visitor)  # nothing was kept


def test_forms_without_their_csrf_token_are_refused(family):
    visitor, _ = family
    response = visitor.post("/details", complete("", action="save_draft"))
    assert response.status_code == 403
    page = Page(response.text)
    assert "页面已过期或请求来源无效" in page.text
    assert page.value("household.head_name") == "王建国"  # the typing stays
    assert visitor.post("/details/withdraw", {}).status_code == 403
    assert "未填写" in status_text(visitor)


# summary, submission, status ----------------------------------------------------------------
def test_the_summary_then_submission_then_verified(family, stack):
    visitor, registered = family
    registry_holds(stack, child_record(registered))
    page, _ = details_form(visitor)
    sent = complete(page.value("csrf_token"))
    response = visitor.post("/details", {**sent, "action": "review"})
    assert response.status_code == 200
    summary = Page(response.text)
    for text in ("核对信息", "户主姓名", "王建国", "子女", "海淀区", "租住", "ZL2026-001234",
                 "父亲", "居民身份证", "确认提交", "返回修改"):
        assert text in summary.text, text
    assert "产权证号" not in summary.text  # does not apply to a rented home
    for name in ("household.head_name", "guardians.0.phone", "housing.kind"):
        assert summary.inputs[name]["type"] == "hidden" and summary.value(name) == sent[name]
    carried = {name: attrs.get("value", "") for name, attrs in summary.inputs.items()
               if attrs.get("type") == "hidden"}

    back = visitor.post("/details", {**carried, "action": "edit"})  # 返回修改
    assert back.status_code == 200
    assert Page(back.text).value("housing.lease_registration_no") == "ZL2026-001234"

    done = visitor.post("/details", {**carried, "action": "submit"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/status")
    text = status_text(visitor)
    assert "已提交（信息待审核）" in text and "第1次提交" in text and "当前" in text
    assert "身份证及户籍信息待验证" in text or "身份证及户籍信息已验证" in text
    text = wait_status(visitor, "身份证及户籍信息已验证")
    assert sent["guardians.0.phone"] not in visitor.get("/status").text  # history is masked
    assert re.search(r"提交时间：\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}（北京时间）", text)

    page, html = details_form(visitor)  # read-only now
    assert "household.head_name" not in page.inputs
    assert "撤回修改" in page.text and "王建国" in page.text
    home = visitor.get("/home").text
    assert 'href="/status"' in home and "身份证及户籍信息已验证" in home


def test_a_child_not_in_the_registry_fails_and_the_family_withdraws(family):
    visitor, _ = family
    page, _ = details_form(visitor)
    done = visitor.post("/details", complete(page.value("csrf_token"), action="submit"))
    assert done.status_code == 303
    text = wait_status(visitor, "身份证及户籍信息未通过")
    assert "人口信息库中未查到儿童的证件类型和证件号码" in text
    assert "请撤回后修改信息并重新提交" in text
    status = Page(visitor.get("/status").text)
    assert "撤回并修改信息" in status.text

    response = visitor.post("/details/withdraw", {"csrf_token": status.value("csrf_token")})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/details?done=withdrawn")
    page, _ = details_form(visitor, "/details?done=withdrawn")
    assert "已撤回，可修改后重新提交" in page.text
    assert page.value("household.head_name") == "王建国"  # editable again, as submitted
    text = status_text(visitor)
    assert "已暂存" in text and "第1次提交" in text and "已撤回" in text
    again = visitor.post("/details/withdraw", {"csrf_token": status.value("csrf_token")})
    assert again.status_code == 409 and "信息尚未提交，无需撤回" in again.text

