"""A family prints its 学龄人口信息采集表 in a real Chromium on a phone, and a school's phone
checks the printout's QR code. Saves docs/screenshots/form.png and verify.png, and the
downloaded form's page 1 as a printer would put it on paper (pdftoppm, 100 dpi:
form-page-1.png).

Runs in the pytest process without eventlet (PLATFORM_TESTS_EVENTLET=0, see conftest.py).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.browser.test_journey import (  # noqa: F401
    FIRST_PASSWORD,
    PHONE_SIZE,
    SHOTS,
    browser,
    page,
    shot,
    sign_in,
)
from tests.e2e.test_form_pages import form_status, printed_token, verified_family

pytestmark = pytest.mark.browser


def test_a_family_downloads_its_form_and_a_school_checks_it(page, browser, stack):  # noqa: F811
    from playwright.sync_api import expect

    family, _, account_no = verified_family(stack)
    form_status(family, available=True)
    sign_in(page, account_no, FIRST_PASSWORD)
    page.wait_for_url(re.compile(r"/home$"))
    page.get_by_role("link", name="打印信息采集表").click()
    page.wait_for_url(re.compile(r"/form$"))
    expect(page.get_by_role("heading", name="学龄人口信息采集表")).to_be_visible()
    expect(page.locator(".steps [aria-current=step]")).to_contain_text("打印信息采集表")
    expect(page.locator("object.pdf-preview")).to_be_visible()
    with page.expect_download() as downloading:
        page.get_by_role("link", name="下载学龄人口信息采集表").click()
    download = downloading.value
    assert download.suggested_filename == f"学龄人口信息采集表-{account_no}-第1版.pdf"
    pdf = Path(download.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")
    subprocess.run(["pdftoppm", "-r", "100", "-f", "1", "-l", "1", "-png", "-singlefile",
                    download.path(), str(SHOTS / "form-page-1")], check=True)
    page.wait_for_timeout(3000)  # the PDF viewer paints out of Playwright's sight
    shot(page, "form")
    assert page.problems == []

    school = browser.new_context(viewport=PHONE_SIZE, locale="zh-CN", base_url=stack.url)
    try:
        scanner = school.new_page()
        scanner.goto(f"/verify/{printed_token(pdf)}")
        expect(scanner.locator(".verdict-genuine")).to_contain_text("真实有效，且为最新版本")
        expect(scanner.locator("main")).to_contain_text("第1版")
        expect(scanner.locator("main")).to_contain_text("海淀区")
        shot(scanner, "verify")
    finally:
        school.close()
