"""A family's whole account journey in a real Chromium: choose the district, read the notice,
register, sign out and in, change the password, cancel the account. Saves screenshots of
the main pages to docs/screenshots/.

Runs in the pytest process without eventlet (PLATFORM_TESTS_EVENTLET=0, see conftest.py):
`PLATFORM_TESTS_EVENTLET=0 .venv/bin/pytest -m browser tests/browser`.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from tests.support.family import id_number, unique_phone

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE_SIZE = {"width": 390, "height": 844}
DESKTOP_SIZE = {"width": 1280, "height": 900}
FIRST_PASSWORD = "Spring2027a"
NEW_PASSWORD = "Summer2027b"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run deploy/setup.sh --dev")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, stack):
    context = browser.new_context(viewport=PHONE_SIZE, locale="zh-CN", base_url=stack.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.problems = []  # console errors (a CSP violation is one) and script errors
    page.on("console", lambda m: m.type == "error" and not m.text.startswith(
        "Failed to load resource") and page.problems.append(m.text))  # (4xx form answers)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    yield page
    context.close()


def shot(page, name: str, size: dict = PHONE_SIZE) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(size)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(PHONE_SIZE)


def field(page, label: str):
    """The input whose label is exactly `label` (required ones end in an asterisk)."""
    return page.get_by_label(re.compile(rf"^\s*{label}\*?\s*$"))


def request_code(page, stack, phone: str, purpose: str) -> str:
    """Types the image captcha and clicks the button, as a family would: again after the
    countdown if the phone had a code only seconds ago. Reads the code from the outbox."""
    from playwright.sync_api import expect

    before = len([m for m in stack.sms_messages(phone) if m["purpose"] == purpose])
    button = page.locator("[data-sms]")
    sent = page.locator("#f-sms_code-status").filter(has_text=phone[:3] + "****" + phone[-4:])
    too_soon = page.locator("#f-sms_code-err").filter(has_text="秒后再获取验证码")
    for _ in range(3):
        expect(button).to_be_enabled(timeout=10_000)
        page.get_by_label("图片验证码").fill("2468")
        button.click()
        sent.or_(too_soon).wait_for()
        if sent.is_visible():
            expect(button).to_have_text(re.compile(r"重新获取（\d+秒）|获取"))
            return re.search(r"\d{6}",
                             stack.wait_sms(phone, purpose, before + 1)[-1]["text"]).group()
        expect(button).to_have_text(re.compile(r"重新获取（\d+秒）"))
    raise AssertionError(f"no {purpose} code for {phone}")


def fill_registration(page, document_number: str, phone: str, confirm: str = FIRST_PASSWORD
                      ) -> None:
    """Types the registration form as a family would, all but the SMS code: a girl born on
    2020-09-01 in 海淀区, her father's phone, FIRST_PASSWORD confirmed as `confirm`."""
    page.get_by_label("儿童姓名").fill("王小雨")
    page.get_by_label("证件类型").select_option("resident_id")
    page.get_by_label("证件号码").fill(document_number)
    field(page, "女").check()
    page.get_by_label("出生日期").fill("2020-09-01")
    page.get_by_label("户籍所在区").select_option(label="海淀区")
    page.get_by_label("居住地所在区").select_option(label="海淀区")
    page.get_by_label("居住地址").fill("海淀区学院路1号")
    page.get_by_label("监护人姓名").fill("王建国")
    page.get_by_label("父亲").check()
    page.get_by_label("监护人手机号").fill(phone)
    field(page, "密码").fill(FIRST_PASSWORD)
    page.get_by_label("确认密码").fill(confirm)
    page.get_by_label(re.compile("我已阅读并同意")).check()


def sign_in(page, account_no: str, password: str, district: str = "海淀区",
            service: str = "本市户籍适龄儿童入学服务") -> None:
    page.goto("/")
    page.get_by_role("link", name=district).click()
    page.get_by_role("link", name=service, exact=True).click()
    page.get_by_label("账号").fill(account_no)
    page.get_by_label("密码").fill(password)
    page.get_by_label("图片验证码").fill("2468")
    page.get_by_role("button", name="登录").click()


def sign_out(page) -> None:
    page.get_by_role("button", name="退出").click()
    page.wait_for_url(re.compile(r"/$"))


def test_a_family_goes_through_the_whole_account_journey(page, stack):
    from playwright.sync_api import expect

    phone = unique_phone()
    document_number = id_number(date(2020, 9, 1), "female")

    # 区级入口选择 -> 小学入学服务系统 -> 本市户籍适龄儿童入学服务
    page.goto("/")
    expect(page.get_by_role("heading", name="区级入口选择")).to_be_visible()
    shot(page, "01-district-choice")
    shot(page, "01-district-choice-desktop", DESKTOP_SIZE)
    page.get_by_role("link", name="海淀区").click()
    expect(page.get_by_role("heading", name="小学入学服务系统")).to_be_visible()
    expect(page.get_by_text("暂未开放", exact=True)).to_be_visible()
    shot(page, "02-district-services")
    page.get_by_role("link", name="本市户籍适龄儿童入学服务", exact=True).click()
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    expect(page.locator(".captcha-img")).to_be_visible()
    old_captcha = page.locator('input[name="captcha_id"]').input_value()
    page.get_by_role("button", name="换一张").click()
    expect(page.locator('input[name="captcha_id"]')).not_to_have_value(old_captcha)
    shot(page, "03-login")

    # 注册: the notice unlocks after its minimum reading time
    page.get_by_role("link", name="注册", exact=True).click()
    agree = page.get_by_label("我已认真阅读并同意该条款")
    expect(agree).to_be_disabled()
    confirm = page.locator("form[data-min-read] button[type=submit]")
    expect(confirm).to_have_text(re.compile(r"请阅读须知（\d+秒）"))
    shot(page, "04-notice")
    expect(agree).to_be_enabled(timeout=10_000)
    agree.check()
    confirm.click()

    # 填写信息: first with passwords that differ, to see the error next to the field
    expect(page.get_by_role("button", name="提交信息")).to_be_visible()
    fill_registration(page, document_number, phone, confirm=FIRST_PASSWORD + "x")
    page.get_by_label("短信验证码").fill("000000")
    page.get_by_role("button", name="提交信息").click()
    error = page.locator("#f-password_confirm-err")
    expect(error).to_have_text("两次输入的密码不一致。")
    expect(page.get_by_label("确认密码")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("儿童姓名")).to_have_value("王小雨")  # typing kept
    expect(field(page, "密码")).to_have_value("")  # passwords never
    shot(page, "05-register-form-error")

    # 获取短信验证码 without the image captcha: told so next to the captcha
    page.locator("[data-sms]").click()
    expect(page.locator("#f-captcha_answer-err")).to_have_text("请先输入图片验证码。")
    field(page, "密码").fill(FIRST_PASSWORD)
    page.get_by_label("确认密码").fill(FIRST_PASSWORD)
    code = request_code(page, stack, phone, "register")
    expect(page.locator("#f-sms_code-status")).to_contain_text("验证码已发送至")
    page.get_by_label("短信验证码").fill(code)
    expect(page.get_by_label(re.compile("我已阅读并同意"))).to_be_checked()
    page.get_by_role("button", name="提交信息").click()

    # 注册成功 -> 信息采集导航
    page.wait_for_url(re.compile(r"/home\?registered=1$"))
    success = page.locator(".alert-success")
    expect(success).to_contain_text("信息注册成功，您的账号为：")
    account_no = re.search(r"您的账号为：(\d{8})", success.inner_text()).group(1)
    assert account_no.startswith("27")
    expect(page.get_by_role("link", name="录入详细信息")).to_have_attribute("href", "/details")
    expect(page.locator(".step-details .status").first).to_have_text("未填写")
    expect(page.locator(".step-verification .status")).to_have_text("未提交")
    assert document_number not in page.content() and phone not in page.content()
    shot(page, "06-home")
    shot(page, "06-home-desktop", DESKTOP_SIZE)

    # 退出, then sign in with the account number
    sign_out(page)
    sign_in(page, account_no, FIRST_PASSWORD)
    page.wait_for_url(re.compile(r"/home$"))
    expect(page.locator(".summary")).to_contain_text(account_no)

    # 修改密码
    page.get_by_role("link", name="修改密码").click()
    page.set_viewport_size(DESKTOP_SIZE)
    code = request_code(page, stack, phone, "change_password")
    page.get_by_label("短信验证码").fill(code)
    field(page, "新密码").fill(NEW_PASSWORD)
    page.get_by_label("确认新密码").fill(NEW_PASSWORD)
    shot(page, "07-change-password", DESKTOP_SIZE)
    page.get_by_role("button", name="确认", exact=True).click()
    expect(page.get_by_text("密码修改成功，下次登录时请使用修改后的密码。")).to_be_visible()

    # the old password no longer works, the new one does
    sign_out(page)
    sign_in(page, account_no, FIRST_PASSWORD)
    expect(page.locator("#f-password-err")).to_have_text("账号或密码错误。")
    page.get_by_label("密码").fill(NEW_PASSWORD)
    page.get_by_label("图片验证码").fill("2468")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/home$"))

    # 撤销账号
    page.get_by_role("link", name="撤销账号").click()
    expect(page.get_by_text("撤销后个人信息将被删除，账号不能再登录。")).to_be_visible()
    code = request_code(page, stack, phone, "cancel_account")
    page.get_by_label("短信验证码").fill(code)
    shot(page, "08-cancel-account")
    shot(page, "08-cancel-account-desktop", DESKTOP_SIZE)
    page.get_by_role("button", name="确认撤销").click()
    expect(page.get_by_role("heading", name="撤销成功")).to_be_visible()

    # signing in again fails
    sign_in(page, account_no, NEW_PASSWORD)
    expect(page.locator("#f-password-err")).to_have_text("账号或密码错误。")
    shot(page, "09-login-error")
    assert page.problems == []
