"""The server-rendered pages over plain HTTP against the running platform: every page, its
forms, their CSRF tokens and refusals, and what never appears on a page."""

from __future__ import annotations

import re
import time
from datetime import date
from html.parser import HTMLParser

import pytest
import requests

from common.errors import DomainError
from gateway.pages import Service, describe, render
from gateway.service import GatewayService
from services.accounts.contract import AccountView
from tests.support.clients import client_session
from tests.support.family import id_number, unique_phone

REGISTER = "/d/haidian/beijing/register"
PASSWORD = "Spring2027a"


class Page(HTMLParser):
    """What the tests read from a page: elements by id, form values by name, all text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.by_id: dict[str, dict] = {}
        self.inputs: dict[str, dict] = {}
        self.texts: list[str] = []
        self._open: list[dict] = []
        self.feed(html)
        self.text = "".join(self.texts)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        element = {"tag": tag, "attrs": attrs, "text": ""}
        if "id" in attrs:
            self.by_id[attrs["id"]] = element
        if tag in ("input", "select", "textarea") and "name" in attrs:
            self.inputs.setdefault(attrs["name"], attrs)
        if tag not in ("input", "img", "meta", "link", "br"):
            self._open.append(element)

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        self.texts.append(data)
        for element in self._open:
            element["text"] += data

    def value(self, name: str) -> str | None:
        return self.inputs[name].get("value")

    def field_error(self, name: str) -> str:
        slot = self.by_id[f"f-{name}-err"]
        return "" if "hidden" in slot["attrs"] else slot["text"].strip()

    def described_by(self, name: str) -> list[str]:
        return self.by_id[f"f-{name}"]["attrs"]["aria-describedby"].split()


class Visitor:
    """A browser without JavaScript: a cookie jar, its own client address, form posts."""

    def __init__(self, stack):
        self.stack = stack
        self.http = client_session()

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.stack.url + path, timeout=30, allow_redirects=False,
                             **kwargs)

    def post(self, path: str, data: dict, **kwargs) -> requests.Response:
        return self.http.post(self.stack.url + path, data=data, timeout=30,
                              allow_redirects=False, **kwargs)

    def page(self, path: str) -> Page:
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return Page(response.text)

    def sms_code(self, page: Page, purpose: str, csrf: str | None = None, **fields) -> dict:
        """Asks for a code as the page's script does (waiting out the phone's cooldown)."""
        headers = {"X-CSRF-Token": csrf} if csrf else {}
        captcha_id = page.value("captcha_id")
        for _ in range(3):
            response = self.http.post(self.stack.url + "/api/v1/sms-codes", headers=headers,
                                      timeout=30, json={"purpose": purpose, **fields,
                                                        "captcha_id": captcha_id,
                                                        "captcha_answer": "2468"})
            if response.status_code != 429:
                break
            time.sleep(float(response.json()["retry_after_s"]))
            captcha_id = self.http.post(self.stack.url + "/api/v1/captchas",
                                        timeout=30).json()["captcha_id"]
        assert response.status_code == 201, response.text
        return response.json()

    def registration_form(self, hukou_type: str = "beijing") -> Page:
        notice = self.page(f"/d/haidian/{hukou_type}/register")
        time.sleep(2.1)  # NOTICE_MIN_READ_S=2 in the test stack
        return self.page(f"/d/haidian/{hukou_type}/register?step=form&agree=1&notice_token="
                         + notice.value("notice_token"))


def registration(form: Page, phone: str, **overrides) -> dict:
    data = {"csrf_token": form.value("csrf_token"), "notice_token": form.value("notice_token"),
            "privacy_policy_version": form.value("privacy_policy_version"),
            "child_name": "王小雨", "document_type": "resident_id",
            "document_number": id_number(date(2020, 9, 1), "female"), "sex": "female",
            "birth_date": "2020-09-01", "hukou_district": "haidian",
            "residence_district": "haidian", "residence_address": "海淀区学院路1号",
            "guardian_name": "王建国", "guardian_relation": "father", "guardian_phone": phone,
            "password": PASSWORD, "password_confirm": PASSWORD, "sms_code": "000000",
            "privacy_consent": "yes"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def visitor(stack):
    return Visitor(stack)


@pytest.fixture
def member(stack):
    """A visitor who registered through the pages and is signed in: (visitor, facts)."""
    visitor = Visitor(stack)
    form = visitor.registration_form()
    phone = unique_phone()
    visitor.sms_code(form, "register", phone=phone)
    data = registration(form, phone, sms_code=stack.latest_code(phone, "register"))
    response = visitor.post(REGISTER, data)
    assert response.status_code == 303, response.text
    assert response.headers["Location"].endswith("/home?registered=1")
    home = visitor.page("/home?registered=1")
    account_no = re.search(r"您的账号为：(\d{8})", home.text).group(1)
    return visitor, {"phone": phone, "account_no": account_no,
                     "document_number": data["document_number"], "home": home}


# every page -------------------------------------------------------------------------------
@pytest.mark.parametrize("path, texts", [
    ("/", ["区级入口选择", "海淀区", "北京经济技术开发区", "燕山地区"]),
    ("/d/haidian", ["小学入学服务系统", "初中入学服务系统", "暂未开放",
                    "本市户籍适龄儿童入学服务", "非本市户籍适龄儿童入学服务"]),
    ("/d/haidian/beijing", ["本市户籍适龄儿童入学服务", "账号", "密码", "图片验证码", "换一张",
                            "登录", "注册", "忘记密码", "特殊情况说明"]),
    ("/d/haidian/non_beijing", ["非本市户籍适龄儿童入学服务", "登录"]),
    (REGISTER, ["监护人须知", "我已认真阅读并同意该条款", "确认", "阅读须知", "填写信息"]),
    ("/d/haidian/beijing/forgot", ["忘记密码", "儿童信息采集编号（8位账号）或儿童证件号码",
                                   "注册手机号", "获取短信验证码", "新密码", "确认新密码"]),
    ("/special-cases", ["外国籍适龄儿童", "北京市户籍超龄儿童", "港、澳籍适龄儿童", "台胞子女",
                        "华侨子女", "博士后", "随军", "北京市海淀区教育委员会"]),
    ("/special-cases?district=chaoyang", ["北京市朝阳区教育委员会", "12345"]),
    ("/dev/sms", ["已发送的短信", "生产环境中短信由真实的短信服务商发送"]),
])
def test_every_page_renders_with_its_key_text(visitor, path, texts):
    page = visitor.page(path)
    for text in texts:
        assert text in page.text, text
    assert "北京市义务教育入学服务平台" in page.text
    assert "信息采集顺序与入学次序、入学结果无关" in page.text and "12345" in page.text


def test_the_district_and_service_are_in_the_header(visitor):
    page = visitor.page("/d/xicheng/non_beijing")
    assert "西城区 · 小学入学服务系统 · 非本市户籍适龄儿童入学服务" in page.text


def test_pages_carry_the_security_headers_and_a_first_visit_gets_a_pre_cookie(visitor):
    response = visitor.get("/d/haidian/beijing")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("pre=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Strict-Transport-Security" not in response.headers  # plain http in development
    assert "Set-Cookie" not in visitor.get("/d/haidian/beijing").headers  # kept, not renewed


def test_pages_have_no_inline_script_or_style(visitor, member):
    visitor, _ = member
    for path in ("/", "/d/haidian/beijing", REGISTER, "/home", "/account/password",
                 "/details", "/status"):
        html = visitor.get(path).text
        assert "<style" not in html and " style=" not in html
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert not re.search(r"\son[a-z]+=", html), path


def test_static_files_are_served_with_their_types_and_nothing_else(visitor):
    css = visitor.get("/static/site.css")
    assert css.status_code == 200 and css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert "max-age" in css.headers["Cache-Control"]
    js = visitor.get("/static/site.js")
    assert js.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert visitor.get("/static/site.css", headers={"If-None-Match": css.headers["ETag"]}
                       ).status_code == 304
    for path in ("/static/../pages.py", "/static/..%2fpages.py", "/static/nothing.css"):
        response = requests.get(visitor.stack.url + path, timeout=10)
        assert response.status_code == 404, path
    raw = requests.Request("GET", visitor.stack.url + "/static/../../gateway/pages.py")
    prepared = raw.prepare()
    prepared.url = visitor.stack.url + "/static/../../gateway/pages.py"
    assert requests.Session().send(prepared, timeout=10).status_code == 404


def test_unknown_pages_get_the_404_page_and_unknown_api_paths_json(visitor):
    for path in ("/no/such/page", "/d/atlantis", "/d/haidian/martian", "/d/atlantis/beijing"):
        response = visitor.get(path)
        assert response.status_code == 404, path
        assert "页面不存在" in response.text and "返回首页" in response.text
        assert response.headers["Content-Security-Policy"]
    api = visitor.get("/api/v1/nothing")
    assert api.status_code == 404 and api.json()["code"] == "NOT_FOUND"


def test_the_503_page_reassures_the_family():
    response = GatewayService.render_error_page(
        DomainError("SERVICE_UNAVAILABLE", extra={"retry_after_s": 5}))
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "您的信息采集顺序不影响入学结果，请稍后再试。" in response.get_data(as_text=True)




def account_view() -> AccountView:
    return AccountView(
        account_no="27000001", district="haidian", district_name="海淀区",
        hukou_type="beijing", school_stage="primary", stage="details_pending",
        child_name="王*", document_type="resident_id", document_number="1101*************X",
        sex="male", guardian_name="王*", guardian_phone="138****5678",
        created_at="2027-05-06T08:00:00+00:00")


def test_without_enrollment_the_home_page_shows_the_account_and_a_calm_notice():
    html = render("home.html", account=account_view(), journey=None, csrf="x",
                  service=Service.of_account(account_view()), steps=(), step=0)
    page = Page(html.get_data(as_text=True))
    assert html.status_code == 200 and "27000001" in page.text and "海淀区" in page.text
    assert "入学信息采集进度暂时无法显示，请稍后刷新本页面。" in page.text
    assert "录入详细信息" not in page.text


def test_refusals_go_next_to_their_field_or_to_the_top_of_the_form():
    assert describe(DomainError("INVALID_CREDENTIALS"), ("account_no", "password")) \
        == ([], {"password": "账号或密码错误。"})
    summary, fields = describe(DomainError("VALIDATION_ERROR", fields={
        "captcha_id": "此项为必填项。", "body": "应为 JSON 对象。"}), ("captcha_answer",))
    assert fields == {"captcha_answer": "此项为必填项。"}
    assert summary == ["提交的信息有误，请检查标出的项目。", "应为 JSON 对象。"]
    assert describe(DomainError("RESET_FAILED"), ("sms_code",)) \
        == (["信息核验未通过，请核对后重新输入。"], {})


# CSRF -----------------------------------------------------------------------------------
def test_a_form_post_without_its_csrf_token_is_refused(visitor, stack):
    page = visitor.page("/d/haidian/beijing")
    response = visitor.post("/d/haidian/beijing", {
        "account_no": "27000000", "password": PASSWORD, "captcha_answer": "2468",
        "captcha_id": page.value("captcha_id")})
    assert response.status_code == 403
    assert "页面已过期或请求来源无效" in response.text
    assert Page(response.text).value("account_no") == "27000000"  # the family's typing stays

    stranger = Visitor(stack)  # a token from another visitor's cookie is no good either
    response = stranger.post("/d/haidian/beijing/forgot", {
        "csrf_token": page.value("csrf_token"), "account_ref": "27000000"})
    assert response.status_code == 403


def test_a_form_posted_from_another_site_is_refused_even_with_its_token(member, stack):
    visitor, _ = member
    token = visitor.page("/home").value("csrf_token")
    for headers in ({"Origin": "https://evil.example"},
                    {"Referer": "https://evil.example/trap.html"}, {"Origin": "null"}):
        response = visitor.post("/logout", {"csrf_token": token}, headers=headers)
        assert response.status_code == 403, headers
        assert "页面已过期或请求来源无效" in response.text
    assert visitor.get("/home").status_code == 200  # still signed in
    response = visitor.post("/logout", {"csrf_token": token}, headers={"Origin": stack.url})
    assert response.status_code == 303 and visitor.get("/home").status_code == 303


def test_signed_in_forms_need_the_session_token_not_the_pre_one(member):
    visitor, _ = member
    pre_token = visitor.page("/d/haidian/beijing").value("csrf_token")
    for path in ("/logout", "/account/password", "/account/cancel"):
        response = visitor.post(path, {"csrf_token": pre_token, "sms_code": "123456"})
        assert response.status_code == 403, path
        assert "页面已过期或请求来源无效" in response.text
    assert visitor.get("/home").status_code == 200  # still signed in


# login ----------------------------------------------------------------------------------
def test_a_wrong_password_is_shown_next_to_the_password_with_a_fresh_captcha(member, stack):
    _, facts = member
    visitor = Visitor(stack)
    page = visitor.page("/d/haidian/beijing")
    response = visitor.post("/d/haidian/beijing", {
        "csrf_token": page.value("csrf_token"), "account_no": facts["account_no"],
        "password": "Wrong2027a", "captcha_id": page.value("captcha_id"),
        "captcha_answer": "2468"})
    assert response.status_code == 401
    again = Page(response.text)
    assert again.field_error("password") == "账号或密码错误。"
    assert "f-password-err" in again.described_by("password")
    assert again.value("account_no") == facts["account_no"]
    assert again.value("password") is None
    assert again.value("captcha_id") != page.value("captcha_id")


def test_a_wrong_captcha_is_shown_next_to_the_captcha(visitor):
    page = visitor.page("/d/haidian/beijing")
    response = visitor.post("/d/haidian/beijing", {
        "csrf_token": page.value("csrf_token"), "account_no": "27000000",
        "password": PASSWORD, "captcha_id": page.value("captcha_id"), "captcha_answer": "9999"})
    assert response.status_code == 422
    assert "图片验证码错误" in Page(response.text).field_error("captcha_answer")


def test_signing_in_leads_to_the_navigation_page_and_signing_out_back_to_the_start(member,
                                                                                   stack):
    _, facts = member
    visitor = Visitor(stack)
    page = visitor.page("/d/haidian/beijing")
    response = visitor.post("/d/haidian/beijing", {
        "csrf_token": page.value("csrf_token"), "account_no": facts["account_no"],
        "password": PASSWORD, "captcha_id": page.value("captcha_id"), "captcha_answer": "2468"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/home")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("sid=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    home = visitor.page("/home")
    assert facts["account_no"] in home.text and "信息注册成功" not in home.text
    response = visitor.post("/logout", {"csrf_token": home.value("csrf_token")})
    assert response.status_code == 303 and response.headers["Location"].endswith("/")
    assert visitor.get("/home").status_code == 303


def test_pages_for_signed_in_families_send_others_to_the_start(visitor):
    for path in ("/home", "/account/password", "/account/cancel"):
        response = visitor.get(path)
        assert response.status_code == 303 and response.headers["Location"].endswith("/")
    visitor.http.cookies.set("sid", "forged-or-expired")
    assert visitor.get("/home").status_code == 303


# registration ---------------------------------------------------------------------------
def test_the_notice_step_then_the_form_with_every_field(visitor):
    html = visitor.get(REGISTER).text
    notice = Page(html)
    assert notice.by_id["f-agree"]["attrs"]["type"] == "checkbox"
    assert 'data-min-read="2"' in html  # the script counts down NOTICE_MIN_READ_S
    assert notice.value("notice_token")
    form = visitor.page(f"{REGISTER}?step=form&agree=1&notice_token="
                        + notice.value("notice_token"))
    for label in ("儿童姓名", "证件类型", "证件号码", "性别", "出生日期", "户籍所在区",
                  "居住地所在区", "居住地址", "监护人姓名", "与儿童关系", "监护人手机号", "密码",
                  "确认密码", "图片验证码", "获取短信验证码", "短信验证码", "个人信息保护政策",
                  "我已阅读并同意", "提交信息", "格式：YYYY-MM-DD",
                  "8～20位，须包括数字、小写字母、大写字母", "居民身份证", "港澳台居民居住证",
                  "其他证件（护照等）", "父亲", "母亲", "其他监护人"):
        assert label in form.text, label
    for name in ("child_name", "document_number", "birth_date", "guardian_phone", "password"):
        assert form.by_id[f"f-{name}"]["tag"] == "input"
        assert "required" in form.by_id[f"f-{name}"]["attrs"]
    assert form.by_id["f-birth_date"]["attrs"]["type"] == "date"
    assert "f-residence_address" in form.by_id and \
        "required" not in form.by_id["f-residence_address"]["attrs"]
    assert form.value("notice_token") == notice.value("notice_token")
    assert form.value("privacy_policy_version")


def test_the_form_without_ticking_the_notice_goes_back_to_the_notice(visitor):
    page = visitor.page(f"{REGISTER}?step=form&notice_token=1.abc")
    assert "我已认真阅读并同意该条款" in page.text and "提交信息" not in page.text


def test_non_beijing_children_can_only_choose_outside_beijing_as_hukou(visitor):
    notice = visitor.page("/d/haidian/non_beijing/register")
    html = visitor.get("/d/haidian/non_beijing/register?step=form&agree=1&notice_token="
                       + notice.value("notice_token")).text
    hukou = re.search(r'<select id="f-hukou_district".*?</select>', html, re.S).group()
    assert re.findall(r'value="([^"]*)"', hukou) == ["outside"] and "京外" in hukou


def test_a_registration_form_sent_again_leads_to_the_same_account(visitor, stack):
    """The answer to the first post was lost: the browser resends the form (its hidden
    idempotency key and the code in it) and the family lands on its account, not an error."""
    form = visitor.registration_form()
    key = form.value("idempotency_key")
    assert key and len(key) >= 16
    phone = unique_phone()
    visitor.sms_code(form, "register", phone=phone)
    data = registration(form, phone, sms_code=stack.latest_code(phone, "register"),
                        idempotency_key=key)
    numbers = []
    for _ in range(2):
        response = visitor.post(REGISTER, data)
        assert response.status_code == 303, response.text
        home = visitor.page("/home?registered=1")
        numbers.append(re.search(r"您的账号为：(\d{8})", home.text).group(1))
    assert numbers[0] == numbers[1]
    assert visitor.registration_form().value("idempotency_key") != key  # each form its own


def test_registering_too_soon_after_the_notice_is_refused_at_the_top(visitor):
    notice = visitor.page(REGISTER)
    form = visitor.page(f"{REGISTER}?step=form&agree=1&notice_token="
                        + notice.value("notice_token"))
    response = visitor.post(REGISTER, registration(form, unique_phone()))
    assert response.status_code == 422
    page = Page(response.text)
    assert "请认真阅读监护人须知" in page.by_id["form-summary"]["text"]
    assert "重新阅读监护人须知" in page.text


def test_form_errors_are_shown_next_to_their_fields_and_typing_is_kept(visitor):
    form = visitor.registration_form()
    phone = unique_phone()
    data = registration(form, phone, password_confirm="Spring2027b", sms_code="123456")
    response = visitor.post(REGISTER, data)
    assert response.status_code == 422
    page = Page(response.text)
    assert page.field_error("password_confirm") == "两次输入的密码不一致。"
    assert page.by_id["f-password_confirm"]["attrs"]["aria-invalid"] == "true"
    assert "f-password_confirm-err" in page.described_by("password_confirm")
    assert page.field_error("child_name") == ""
    assert "提交的信息有误" in page.by_id["form-summary"]["text"] \
        or "两次输入的密码不一致" in page.by_id["form-summary"]["text"]
    for name in ("child_name", "document_number", "birth_date", "guardian_name",
                 "guardian_phone", "residence_address"):
        assert page.value(name) == data[name], name
    for name in ("password", "password_confirm", "sms_code"):
        assert page.value(name) is None, name
    assert 'value="haidian" selected' in response.text
    assert re.search(r'value="female"\s+checked', response.text)
    assert page.value("notice_token") == data["notice_token"]
    assert "checked" in page.by_id["f-privacy_consent"]["attrs"]


def test_missing_fields_are_each_marked_required(visitor):
    form = visitor.registration_form()
    data = registration(form, "", child_name="", birth_date="", sms_code="")
    response = visitor.post(REGISTER, data)
    assert response.status_code == 422
    page = Page(response.text)
    for name in ("child_name", "birth_date", "guardian_phone", "sms_code"):
        assert page.field_error(name) == "此项为必填项。", name


def test_without_consent_the_error_is_next_to_the_checkbox(visitor):
    form = visitor.registration_form()
    response = visitor.post(REGISTER, registration(form, unique_phone(), sms_code="123456",
                                                   privacy_consent=None))
    assert response.status_code == 422
    assert Page(response.text).field_error("privacy_consent") == "请阅读并勾选同意。"


def test_other_documents_lead_to_the_special_cases_page(visitor):
    form = visitor.registration_form()
    response = visitor.post(REGISTER, registration(form, unique_phone(), sms_code="123456",
                                                   document_type="other",
                                                   document_number="E12345678"))
    assert response.status_code == 200
    assert "外国籍适龄儿童" in response.text and "北京市海淀区教育委员会" in response.text
    assert "该类适龄儿童的入学信息采集事宜请咨询入学所在区教委" in response.text


def test_a_family_registers_through_the_pages(member, stack):
    visitor, facts = member
    home = facts["home"]
    assert f"信息注册成功，您的账号为：{facts['account_no']}。" in home.text
    assert "此账号为登录账号，同时将以短信形式发送至您的手机，请妥善保存。" in home.text
    for text in ("信息采集导航", "录入详细信息", "未填写", "身份证及户籍信息核验",
                 "未提交", "打印信息采集表", "查看入学结果", "身份证及户籍信息验证通过后可办理",
                 "修改密码", "撤销账号", "退出", "王**", "海淀区", "本市户籍适龄儿童入学服务"):
        assert text in home.text, text
    assert facts["document_number"][:4] + "*" * 13 + facts["document_number"][-1] in home.text
    assert facts["document_number"][6:14] not in home.text  # no birth date beside it
    for path in ("/home", "/home?registered=1", "/account/password", "/account/cancel",
                 "/details", "/status"):
        html = visitor.get(path).text
        assert facts["document_number"] not in html and facts["phone"] not in html, path
        assert "王小雨" not in html and "王建国" not in html
    assert re.search(r'<a class="btn btn-primary" href="/details">录入详细信息</a>',
                     home_html(visitor))
    assert stack.wait_sms(facts["phone"], "account_registered")


def home_html(visitor) -> str:
    return visitor.get("/home").text


# signed in ------------------------------------------------------------------------------
def test_changing_the_password_through_the_page(member, stack):
    visitor, facts = member
    page = visitor.page("/account/password")
    assert "获取验证码" in page.text and page.value("captcha_id")
    # the page's script sends the session's token from <meta name="csrf-token">
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', visitor.get(
        "/account/password").text).group(1)
    assert meta == page.value("csrf_token")
    sent = visitor.sms_code(page, "change_password", csrf=meta)
    assert sent["phone_masked"] == facts["phone"][:3] + "****" + facts["phone"][-4:]
    code = stack.latest_code(facts["phone"], "change_password")

    wrong = visitor.post("/account/password", {
        "csrf_token": meta, "sms_code": code, "new_password": "short",
        "new_password_confirm": "short"})
    assert wrong.status_code == 422
    assert "8～20位" in Page(wrong.text).field_error("new_password")

    done = visitor.post("/account/password", {
        "csrf_token": meta, "sms_code": code, "new_password": "Summer2027b",
        "new_password_confirm": "Summer2027b"})
    assert done.status_code == 200, done.text
    assert "密码修改成功，下次登录时请使用修改后的密码。" in done.text


def test_cancelling_the_account_through_the_page(member, stack):
    visitor, facts = member
    page = visitor.page("/account/cancel")
    assert "撤销后个人信息将被删除，账号不能再登录" in page.text
    visitor.sms_code(page, "cancel_account", csrf=page.value("csrf_token"))
    code = stack.latest_code(facts["phone"], "cancel_account")
    bad = visitor.post("/account/cancel", {"csrf_token": page.value("csrf_token"),
                                           "sms_code": "000000" if code != "000000" else "111111"})
    assert bad.status_code == 422
    assert "短信验证码错误" in Page(bad.text).field_error("sms_code")
    done = visitor.post("/account/cancel", {"csrf_token": page.value("csrf_token"),
                                            "sms_code": code})
    assert done.status_code == 200 and "撤销成功" in done.text
    assert 'sid=""' in done.headers["Set-Cookie"] or "sid=;" in done.headers["Set-Cookie"]
    assert visitor.get("/home").status_code == 303


def test_resetting_a_forgotten_password_never_says_whether_the_account_exists(member, stack):
    _, facts = member
    visitor = Visitor(stack)
    page = visitor.page("/d/haidian/beijing/forgot")
    assert "如信息正确，验证码将发送至该手机" in visitor.get("/d/haidian/beijing/forgot").text
    visitor.sms_code(page, "reset_password", phone=facts["phone"],
                     account_ref=facts["account_no"])
    code = stack.latest_code(facts["phone"], "reset_password")
    page = visitor.page("/d/haidian/beijing/forgot")
    done = visitor.post("/d/haidian/beijing/forgot", {
        "csrf_token": page.value("csrf_token"), "account_ref": facts["document_number"],
        "phone": facts["phone"], "sms_code": code, "new_password": "Autumn2027c",
        "new_password_confirm": "Autumn2027c"})
    assert done.status_code == 200, done.text
    assert "密码重设成功" in done.text

    refused = visitor.post("/d/haidian/beijing/forgot", {
        "csrf_token": page.value("csrf_token"), "account_ref": "27999999",
        "phone": unique_phone(), "sms_code": "123456", "new_password": "Autumn2027c",
        "new_password_confirm": "Autumn2027c"})
    assert refused.status_code == 422
    refusal = Page(refused.text)
    assert refusal.field_error("sms_code") == "短信验证码错误或已失效，请重新获取。"
    assert refusal.value("account_ref") == "27999999"


# development ----------------------------------------------------------------------------
def test_the_dev_sms_page_lists_recent_texts_masked_newest_first(member, visitor, stack):
    _, facts = member
    page = visitor.page("/dev/sms")
    masked = facts["phone"][:3] + "****" + facts["phone"][-4:]
    assert masked in page.text and facts["phone"] not in page.text
    assert "account_registered" in page.text or "register" in page.text
    times = re.findall(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", page.text)
    assert times and times == sorted(times, reverse=True)
    assert "/dev/sms" in visitor.get("/").text  # the footer links here in development
