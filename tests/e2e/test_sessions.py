"""Signing in, locking out, changing and resetting passwords, over HTTP."""

import time

import pytest

from tests.support.family import Family, unique_phone


@pytest.fixture
def member(stack):
    """A registered family, signed out, with its registration details."""
    family = Family(stack)
    body = family.registration()
    response = family.call("POST", "/api/v1/accounts", json=body)
    assert response.status_code == 201, response.text
    family.http.cookies.clear()
    family.csrf = None
    time.sleep(2)  # let the SMS resend cooldown of this test platform pass
    return family, body, response.json()["account_no"]


def test_unknown_account_and_wrong_password_get_the_same_answer(stack, member):
    family, body, account_no = member
    wrong = family.login(account_no, "Wrong2027a")
    unknown = family.login("27000000" if account_no != "27000000" else "27000001", "Wrong2027a")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"code": "INVALID_CREDENTIALS",
                                              "message": "账号或密码错误。"}


def test_login_needs_the_image_captcha_once(stack, member):
    family, body, account_no = member
    captcha = family.captcha()
    captcha["captcha_answer"] = "9999"
    response = family.call("POST", "/api/v1/sessions", json={
        "account_no": account_no, "password": body["password"], **captcha})
    assert response.json()["code"] == "CAPTCHA_INVALID"
    captcha["captcha_answer"] = "2468"  # a captcha is spent by any try
    response = family.call("POST", "/api/v1/sessions", json={
        "account_no": account_no, "password": body["password"], **captcha})
    assert response.json()["code"] == "CAPTCHA_INVALID"


def test_five_failures_lock_the_account_but_only_the_right_password_hears_it(stack, member):
    family, body, account_no = member
    unknown = "27000000" if account_no != "27000000" else "27000001"
    for _ in range(6):  # the fifth locks it; wrong passwords are told nothing more, ever
        wrong = family.login(account_no, "Wrong2027a")
        assert (wrong.status_code, wrong.json()) == (401, family.login(unknown, "Wrong2027a")
                                                     .json()) == (401, {
            "code": "INVALID_CREDENTIALS", "message": "账号或密码错误。"})
    locked = family.login(account_no, body["password"])
    assert locked.status_code == 423 and locked.json()["code"] == "ACCOUNT_LOCKED"
    assert 29 * 60 < locked.json()["retry_after_s"] <= 30 * 60 + 1
    # a reset by SMS still clears the lock
    assert family.request_code("reset_password", phone=body["guardian_phone"],
                               account_ref=account_no).status_code == 201
    code = stack.latest_code(body["guardian_phone"], "reset_password")
    reset = family.call("POST", "/api/v1/password-resets", json={
        "account_ref": account_no, "phone": body["guardian_phone"], "sms_code": code,
        "new_password": "Winter2027d", "new_password_confirm": "Winter2027d"})
    assert reset.status_code == 200, reset.text
    assert family.login(account_no, "Winter2027d").status_code == 201


def test_sessions_are_cookies_rotated_at_login_and_end_at_logout(stack, member):
    family, body, account_no = member
    first = family.login(account_no, body["password"])
    assert first.status_code == 201
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    first_token = family.http.cookies["sid"]
    assert len(first_token) >= 43  # 256 bits, url-safe base64
    second = family.login(account_no, body["password"])
    assert family.http.cookies["sid"] != first_token
    assert second.json()["csrf_token"] != first.json()["csrf_token"]
    assert family.call("GET", "/api/v1/account").status_code == 200
    assert family.call("DELETE", "/api/v1/sessions/current").status_code == 200
    gone = family.call("GET", "/api/v1/account")
    assert gone.status_code == 401 and gone.json()["code"] == "NOT_AUTHENTICATED"


def test_state_changes_need_the_csrf_token(stack, member):
    family, body, account_no = member
    family.login(account_no, body["password"])
    token, family.csrf = family.csrf, None
    refused = family.call("DELETE", "/api/v1/sessions/current")
    assert refused.status_code == 403 and refused.json()["code"] == "CSRF_FAILED"
    forged = family.call("DELETE", "/api/v1/sessions/current",
                         headers={"X-CSRF-Token": "0" * 64})
    assert forged.status_code == 403
    assert family.call("DELETE", "/api/v1/sessions/current",
                       headers={"X-CSRF-Token": token}).status_code == 200


def test_change_password_ends_every_other_session(stack, member):
    family, body, account_no = member
    other_device = Family(stack)
    assert other_device.login(account_no, body["password"]).status_code == 201
    family.login(account_no, body["password"])
    assert family.request_code("change_password").status_code == 201
    code = stack.latest_code(body["guardian_phone"], "change_password")
    weak = family.call("PUT", "/api/v1/account/password", json={
        "sms_code": code, "new_password": "weak", "new_password_confirm": "weak"})
    assert weak.json()["code"] == "WEAK_PASSWORD"
    changed = family.call("PUT", "/api/v1/account/password", json={
        "sms_code": code, "new_password": "Summer2027b", "new_password_confirm": "Summer2027b"})
    assert changed.status_code == 200, changed.text
    assert family.call("GET", "/api/v1/account").status_code == 200  # this session stays
    assert other_device.call("GET", "/api/v1/account").status_code == 401
    assert Family(stack).login(account_no, body["password"]).status_code == 401
    assert Family(stack).login(account_no, "Summer2027b").status_code == 201
    reused = family.call("PUT", "/api/v1/account/password", json={
        "sms_code": code, "new_password": "Autumn2027c", "new_password_confirm": "Autumn2027c"})
    assert reused.json()["code"] == "SMS_CODE_INVALID"  # single use


def test_an_sms_code_is_bound_to_its_purpose(stack, member):
    family, body, account_no = member
    family.login(account_no, body["password"])
    family.request_code("cancel_account")
    code = stack.latest_code(body["guardian_phone"], "cancel_account")
    response = family.call("PUT", "/api/v1/account/password", json={
        "sms_code": code, "new_password": "Summer2027b", "new_password_confirm": "Summer2027b"})
    assert response.json()["code"] == "SMS_CODE_INVALID"


def test_five_wrong_codes_kill_the_code(stack, member):
    family, body, account_no = member
    family.login(account_no, body["password"])
    family.request_code("change_password")
    code = stack.latest_code(body["guardian_phone"], "change_password")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    change = {"new_password": "Summer2027b", "new_password_confirm": "Summer2027b"}
    for _ in range(5):
        response = family.call("PUT", "/api/v1/account/password",
                               json={"sms_code": wrong, **change})
        assert response.json()["code"] == "SMS_CODE_INVALID"
    dead = family.call("PUT", "/api/v1/account/password", json={"sms_code": code, **change})
    assert dead.json()["code"] == "SMS_CODE_INVALID"


def test_sms_codes_have_a_resend_cooldown(stack):
    family = Family(stack)
    phone = unique_phone()
    assert family.request_code("register", phone=phone).status_code == 201
    again = family.request_code("register", phone=phone)
    assert again.status_code == 429
    assert again.json()["code"] == "SMS_COOLDOWN"
    assert 1 <= again.json()["retry_after_s"] <= 2
    assert again.headers["Retry-After"] == str(again.json()["retry_after_s"])


def test_a_code_needs_a_valid_captcha(stack):
    family = Family(stack)
    response = family.call("POST", "/api/v1/sms-codes", json={
        "purpose": "register", "phone": "13912345678", "captcha_id": "nope",
        "captcha_answer": "2468"})
    assert response.json()["code"] == "CAPTCHA_INVALID"


def test_forgot_password_never_reveals_whether_an_account_exists(stack, member):
    family, body, account_no = member
    stranger = Family(stack)
    real = family.request_code("reset_password", phone=body["guardian_phone"],
                               account_ref=account_no)
    unknown = stranger.request_code("reset_password", phone="13811112222",
                                    account_ref="27999999")
    assert real.status_code == unknown.status_code == 201
    assert real.json().keys() == unknown.json().keys()
    time.sleep(1)
    assert not stack.sms_messages("13811112222")  # nothing is sent to a stranger
    code = stack.latest_code(body["guardian_phone"], "reset_password")
    reset = {"phone": body["guardian_phone"], "sms_code": code,
             "new_password": "Winter2027d", "new_password_confirm": "Winter2027d"}
    response = family.call("POST", "/api/v1/password-resets",
                           json={"account_ref": body["document_number"].lower(), **reset})
    assert response.status_code == 200, response.text
    assert Family(stack).login(account_no, "Winter2027d").status_code == 201
    guess = stranger.call("POST", "/api/v1/password-resets", json={
        "account_ref": "27999999", **reset, "phone": "13811112222"})
    assert guess.status_code == 422 and guess.json()["code"] == "SMS_CODE_INVALID"


def test_a_cancelled_account_cannot_sign_in(stack, member):
    family, body, account_no = member
    family.login(account_no, body["password"])
    family.request_code("cancel_account")
    code = stack.latest_code(body["guardian_phone"], "cancel_account")
    assert family.call("DELETE", "/api/v1/account", json={"sms_code": code}).status_code == 200
    assert family.call("GET", "/api/v1/account").status_code == 401
    assert Family(stack).login(account_no, body["password"]).json()["code"] == \
        "INVALID_CREDENTIALS"


def test_a_daily_cap_per_phone_and_an_hourly_cap_per_address(strict_stack):
    phone, second, third = (unique_phone() for _ in range(3))
    assert len({phone, second, third}) == 3
    family, neighbour = Family(strict_stack), Family(strict_stack)
    for _ in range(2):
        assert family.request_code("register", phone=phone).status_code == 201
    # another address, the same phone: the phone's cap (2 a day) stops the third code
    capped = neighbour.request_code("register", phone=phone)
    assert capped.status_code == 429 and capped.json()["code"] == "SMS_DAILY_LIMIT"
    # the first address, another phone: its hourly cap (2) stops it before the daily one (3)
    last = family.request_code("register", phone=second)
    assert last.status_code == 429 and last.json()["code"] == "RATE_LIMITED"
    assert 0 < last.json()["retry_after_s"] <= 3600
    assert neighbour.request_code("register", phone=third).status_code == 201


def test_an_idle_session_expires(strict_stack):
    family = Family(strict_stack)
    body = family.registration()
    assert family.call("POST", "/api/v1/accounts", json=body).status_code == 201
    assert family.call("GET", "/api/v1/account").status_code == 200
    time.sleep(3.5)
    assert family.call("GET", "/api/v1/account").status_code == 401
