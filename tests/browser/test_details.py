"""A family fills in 录入详细信息 in a real Chromium on a phone: the fields that apply appear
as they choose, the summary, 确认提交, then 查看信息审核状态 until the check's result. Saves
docs/screenshots/details-form.png, details-summary.png and status.png.

Runs in the pytest process without eventlet (PLATFORM_TESTS_EVENTLET=0, see conftest.py).
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.browser.test_journey import FIRST_PASSWORD, browser, page, shot, sign_in  # noqa: F401
from tests.support.family import Family, id_number, unique_phone
from tests.support.registry import child_record, registry_holds

pytestmark = pytest.mark.browser


def test_a_family_fills_in_and_submits_its_details(page, stack):  # noqa: F811
    from playwright.sync_api import expect

    family = Family(stack)
    body = family.registration()
    response = family.call("POST", "/api/v1/accounts", json=body)
    assert response.status_code == 201, response.text
    registry_holds(stack, child_record(body))
    sign_in(page, response.json()["account_no"], FIRST_PASSWORD)
    page.wait_for_url(re.compile(r"/home$"))
    page.get_by_role("link", name="录入详细信息").click()
    page.wait_for_url(re.compile(r"/details$"))
    expect(page.locator(".steps [aria-current=step]")).to_contain_text("录入详细信息")
    expect(page.get_by_text("注册时填写的基本信息不能修改")).to_be_visible()

    def named(name: str):
        return page.locator(f'[name="{name}"]')

    named("household.head_name").fill("李大伟")
    named("household.relation_to_head").select_option(label="子女")
    named("hukou_address.district").select_option(label="海淀区")
    named("hukou_address.address").fill("海淀区中关村大街1号院")
    named("residence.district").select_option(label="海淀区")
    named("residence.address").fill("海淀区中关村大街1号院3号楼2单元101")
    # the lease's fields appear once 租住 is chosen, the deed's stay hidden
    lease = named("housing.lease_registration_no")
    expect(lease).to_be_hidden()
    named("housing.kind").select_option(label="租住")
    expect(lease).to_be_visible()
    expect(named("housing.certificate_no")).to_be_hidden()
    lease.fill("ZL2026-004321")
    named("housing.lease_start").fill("2023-08-15")
    named("guardians.0.name").fill("李大伟")
    page.locator('[name="guardians.0.relation"][value="father"]').check()
    named("guardians.0.document_type").select_option(label="居民身份证")
    named("guardians.0.document_number").fill(id_number(date(1987, 6, 1), "male"))
    named("guardians.0.phone").fill(unique_phone())
    shot(page, "details-form")

    page.get_by_role("button", name="下一步：核对信息").click()
    expect(page.get_by_role("heading", name="核对信息")).to_be_visible()
    expect(page.locator("main")).to_contain_text("ZL2026-004321")
    expect(page.locator("main")).not_to_contain_text("产权证号")
    shot(page, "details-summary")
    page.get_by_role("button", name="确认提交").click()

    page.wait_for_url(re.compile(r"/status$"))
    expect(page.get_by_role("heading", name="查看信息审核状态")).to_be_visible()
    expect(page.locator("main")).to_contain_text("已提交（信息待审核）")
    for _ in range(60):
        if "身份证及户籍信息已验证" in page.locator(".summary.state").inner_text():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator(".summary.state")).to_contain_text("身份证及户籍信息已验证")
    page.get_by_text("查看第1次提交的信息").click()
    expect(page.locator(".history")).to_contain_text("租住")
    shot(page, "status")
    assert page.problems == []
