"""On opening day a family that submits its registration while every place is taken waits on
a calm page in a real Chromium: its place in line, about how long, that the order does not
affect admission; the page moves on by itself, with the form as typed, once its turn comes.
Saves docs/screenshots/waiting-room.png.

Runs in the pytest process without eventlet (PLATFORM_TESTS_EVENTLET=0, see conftest.py).
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.browser.test_journey import (  # noqa: F401
    browser,
    fill_registration,
    page,
    request_code,
    shot,
)
from tests.e2e.test_waiting_room import ONE_PLACE, PlaceTaken
from tests.support.family import id_number, unique_phone

pytestmark = pytest.mark.browser


def test_a_family_in_line_waits_on_a_calm_page_that_moves_on_by_itself(page, stack):  # noqa: F811
    from playwright.sync_api import expect

    phone = unique_phone()
    with stack.gateway_with(**ONE_PLACE):
        stack.wait_healthy()
        page.goto("/d/haidian/beijing/register")
        agree = page.get_by_label("我已认真阅读并同意该条款")
        expect(agree).to_be_enabled(timeout=10_000)
        agree.check()
        page.locator("form[data-min-read] button[type=submit]").click()
        fill_registration(page, id_number(date(2020, 9, 1), "female"), phone)
        page.get_by_label("短信验证码").fill(request_code(page, stack, phone, "register"))
        taken = PlaceTaken(stack)
        with stack.paused("accounts"):  # the only place is taken, and stays so
            taken.take()
            page.get_by_role("button", name="提交信息").click()
            expect(page.get_by_role("heading", name="正在排队，请稍候")).to_be_visible()
            expect(page.locator("#queue-position")).to_have_text("1")
            expect(page.locator("main").get_by_text("信息采集顺序与入学次序、入学结果无关")).to_be_visible()
            expect(page.get_by_text("无需重新填写")).to_be_visible()
            shot(page, "waiting-room")
            # it asks again on its own, every second, and keeps its place
            expect(page.locator("#waiting-countdown")).to_contain_text("秒后自动刷新")
            page.wait_for_timeout(2500)
            expect(page.locator("#queue-position")).to_have_text("1")
        # accounts goes on: the place frees, and the page goes on with the form as typed
        page.wait_for_url(re.compile(r"/home\?registered=1$"), timeout=20_000)
        expect(page.locator(".alert-success")).to_contain_text("信息注册成功，您的账号为：")
        assert taken.finished().status_code == 201
        assert page.problems == []
