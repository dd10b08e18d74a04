"""A family follows the district's work in a real Chromium on a phone: the 入学资格审核 item
by item on 查看信息审核状态 (非本市户籍), then 查看入学结果 before and after the district
publishes. Saves docs/screenshots/review-status.png, results-pending.png and results.png.

Runs in the pytest process without eventlet (PLATFORM_TESTS_EVENTLET=0, see conftest.py).
"""

from __future__ import annotations

import re

import pytest

from services.enrollment.contract import OperatorRef
from tests.browser.test_journey import FIRST_PASSWORD, browser, page, shot, sign_in  # noqa: F401
from tests.e2e.test_details import non_beijing_registration
from tests.e2e.test_results import (  # noqa: F401
    DWELLING_REASON,
    RESULTS_DISTRICT,
    SCHOOL,
    districts,
    open_school,
    place,
    results_family,
    review,
    verified_family,
)

pytestmark = pytest.mark.browser
HOME = re.compile(r"/home$")


def test_a_family_reads_the_review_of_each_item(page, stack, districts):  # noqa: F811
    from playwright.sync_api import expect

    _, account_no = verified_family(stack, **non_beijing_registration())
    for item, passed in (("employment", True), ("dwelling", False), ("permit", True)):
        review(districts["chaoyang"], account_no, item, passed,
               None if passed else DWELLING_REASON)
    sign_in(page, account_no, FIRST_PASSWORD, "朝阳区", "非本市户籍适龄儿童入学服务")
    page.wait_for_url(HOME)
    page.get_by_role("link", name="查看信息审核状态").click()
    page.wait_for_url(re.compile(r"/status$"))
    expect(page.locator(".steps [aria-current=step]")).to_contain_text("信息核验")
    items = page.locator(".review-items li")
    expect(items).to_have_count(5)
    expect(items.filter(has_text="实际住所居住材料")).to_contain_text(DWELLING_REASON)
    expect(items.filter(has_text="全家户口簿")).to_contain_text("待审核")
    expect(page.get_by_text("区教委正在审核其余材料")).to_be_visible()
    shot(page, "review-status")
    assert page.problems == []


def test_a_family_reads_its_result_before_and_after_publishing(page, stack, districts):  # noqa: F811
    from playwright.sync_api import expect

    district = districts[RESULTS_DISTRICT]
    open_school(district)
    _, account_no = results_family(stack)
    sign_in(page, account_no, FIRST_PASSWORD, "门头沟区")
    page.wait_for_url(HOME)
    page.get_by_role("link", name="查看入学结果").click()
    page.wait_for_url(re.compile(r"/results$"))
    expect(page.get_by_role("heading", name="查看入学结果")).to_be_visible()
    expect(page.locator("main")).to_contain_text("入学结果尚未公布")
    shot(page, "results-pending")

    place(district, account_no)
    district.district_publish(OperatorRef(operator="mtg01"))
    page.reload()
    expect(page.locator(".steps [aria-current=step]")).to_contain_text("查看入学结果")
    expect(page.locator(".alert-success")).to_contain_text(SCHOOL["name"])
    expect(page.locator("main")).to_contain_text(SCHOOL["address"])
    expect(page.get_by_role("heading", name="报到时间与携带材料")).to_be_visible()
    shot(page, "results")
    assert page.problems == []
