"""Server-rendered pages: the family's whole account journey as plain HTML forms.

Mixed into GatewayService next to ApiRoutes; both share RouteHelpers (gateway.web).
Every handler: check the request, make one call, render a template or redirect (the home
page makes two: the session's account from accounts, then its journey from enrollment). What a
form sends is parsed into the contract's model (a refusal shown on the form) and sent through
the contract's typed client.
Forms post with a hidden `csrf_token`: before sign-in bound to the random `pre` cookie,
after sign-in to the session token (gateway.security). Scripts only enhance: captcha refresh,
SMS code requests and the notice countdown (static/site.js).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader
from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from common.contract_base import RpcMethod
from common.districts import BY_CODE, DISTRICTS, OUTSIDE_BEIJING, District, district_name
from common.edge.rpc import RpcUnavailable
from common.errors import DomainError
from gateway import security
from gateway.journey import journey_of
from gateway.web import RouteHelpers, route
from services.accounts import contract as accounts

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".png": "image/png", ".svg": "image/svg+xml", ".ico": "image/x-icon"}
BEIJING_TIME = timezone(timedelta(hours=8))

# What the family typed is shown again after a refusal, except these.
SECRET_FIELDS = frozenset({"password", "password_confirm", "new_password",
                           "new_password_confirm", "sms_code", "captcha_answer", "csrf_token"})
REGISTRATION_FIELDS = ("child_name", "document_type", "document_number", "sex", "birth_date",
                       "hukou_district", "residence_district", "residence_address",
                       "guardian_name", "guardian_relation", "guardian_phone", "password",
                       "password_confirm", "sms_code", "notice_token", "privacy_policy_version",
                       "idempotency_key")
LOGIN_FIELDS = ("account_no", "password", "captcha_id", "captcha_answer")
RESET_FIELDS = ("account_ref", "phone", "sms_code", "new_password", "new_password_confirm",
                "idempotency_key")
CHANGE_FIELDS = ("sms_code", "new_password", "new_password_confirm", "idempotency_key")
CANCEL_FIELDS = ("sms_code", "idempotency_key")

# Refusals that name no field, shown next to the field they concern.
CODE_FIELDS = {"INVALID_CREDENTIALS": "password", "ACCOUNT_LOCKED": "account_no",
               "CAPTCHA_INVALID": "captcha_answer", "SMS_CODE_INVALID": "sms_code",
               "CONSENT_REQUIRED": "privacy_consent"}
FIELD_ALIASES = {"captcha_id": "captcha_answer"}

ERROR_TITLES = {403: "请求被拒绝", 404: "页面不存在", 405: "请求方法不受支持",
                503: "系统繁忙"}
REGISTRATION_STEPS = ("阅读须知", "填写信息", "注册成功", "信息采集导航")


ENV = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                  trim_blocks=True, lstrip_blocks=True)


@cache
def static_url(name: str) -> str:
    """The file's URL with a content hash, so browsers may cache it and still see changes."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]
    return f"/static/{name}?v={digest}"


ENV.globals["static_url"] = static_url


def render(template: str, status: int = 200, **context) -> Response:
    context.setdefault("errors", {})
    context.setdefault("values", {})
    return Response(ENV.get_template(template).render(**context), status=status,
                    mimetype="text/html")


@dataclass(frozen=True)
class Service:
    """One district's primary-school service for one hukou type: what the URL names."""
    district: District
    hukou_type: str

    @classmethod
    def find(cls, district: str, hukou_type: str) -> Service:
        if district not in BY_CODE or hukou_type not in accounts.HUKOU_TYPES:
            raise DomainError("NOT_FOUND")
        return cls(BY_CODE[district], hukou_type)

    @classmethod
    def of_account(cls, account: accounts.AccountView) -> Service:
        return cls(BY_CODE[account.district], account.hukou_type)

    @property
    def name(self) -> str:
        return accounts.HUKOU_TYPES[self.hukou_type] + "适龄儿童入学服务"

    @property
    def url(self) -> str:
        return f"/d/{self.district.code}/{self.hukou_type}"

    @property
    def where(self) -> str:
        return f"{self.district.name} · 小学入学服务系统 · {self.name}"


def district_or_404(code: str) -> District:
    if code not in BY_CODE:
        raise DomainError("NOT_FOUND")
    return BY_CODE[code]


def typed(form, names) -> dict:
    """What the family typed, to show again: never passwords or codes."""
    return {name: form.get(name, "") for name in names if name not in SECRET_FIELDS}


def filled(form, names) -> dict:
    """The non-empty fields as contract strings; an empty one reads as missing (必填)."""
    return {name: form[name] for name in names if form.get(name, "").strip()}


def describe(error: DomainError, visible) -> tuple[list[str], dict]:
    """(messages for the top of the form, messages next to the fields they concern)."""
    fields = {FIELD_ALIASES.get(k, k): v for k, v in error.fields.items()}
    if not fields and CODE_FIELDS.get(error.code) in visible:
        return [], {CODE_FIELDS[error.code]: error.message}
    summary = [error.message]
    summary += [m for k, m in fields.items() if k not in visible and m not in summary]
    return summary, {k: m for k, m in fields.items() if k in visible}


def refusal(error: DomainError | None, visible) -> dict:
    """A form page's status and messages: a fresh form, or the one the family sent, refused."""
    if error is None:
        return {"status": 200, "summary": [], "errors": {}}
    summary, errors = describe(error, visible)
    return {"status": error.http_status, "summary": summary, "errors": errors}


def registration_options(service: Service) -> dict:
    districts = [(d.code, d.name) for d in DISTRICTS]
    hukou = ([(OUTSIDE_BEIJING, district_name(OUTSIDE_BEIJING))]
             if service.hukou_type == "non_beijing" else districts)
    return {"document_type": list(accounts.DOCUMENT_TYPES.items()),
            "sex": list(accounts.SEXES.items()),
            "guardian_relation": list(accounts.GUARDIAN_RELATIONS.items()),
            "hukou_district": hukou, "residence_district": districts}


def wait_text(seconds: int) -> str:
    """About how long, as a family reads it: 不到1分钟, 约3分钟, 约1小时20分钟."""
    if seconds < 60:
        return "不到1分钟"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"约{hours}小时{minutes}分钟" if hours else f"约{minutes}分钟"


def beijing_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone(BEIJING_TIME).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


class PageRoutes(RouteHelpers):
    """Mixed into GatewayService before ApiRoutes; `self.accounts`, `self.enrollment`,
    `self.notify`, `self.settings` are the service's dependencies."""

    # rendering and cookies ------------------------------------------------------------------
    @staticmethod
    def render_error_page(error: DomainError) -> Response:
        """Called by gateway.web for a DomainError that escapes a page handler."""
        if error.code == "NOT_AUTHENTICATED":  # a page that needs sign-in: back to the start
            return redirect("/", 303)
        response = render("error.html", error.http_status, error=error,
                          title=ERROR_TITLES.get(error.http_status, "出错了"))
        if "retry_after_s" in error.extra:
            response.headers["Retry-After"] = str(error.extra["retry_after_s"])
        return response

    @staticmethod
    def render_waiting_page(request, error: DomainError) -> Response:
        """Called by gateway.web when an expensive request waits in line (QUEUED): its place,
        about how long, and a form that brings its ticket back on its own (static/site.js)
        or on a click, to the same address with the same method."""
        waiting = error.extra
        values = getattr(request, "path_values", {})
        registering = request.path.endswith("/register") and "hukou_type" in values
        response = render("waiting.html", 503, waiting=waiting,
                          wait_text=wait_text(waiting["wait_estimate_s"]),
                          method="get" if request.method == "GET" else "post",
                          action=request.path,
                          service=Service.find(values["district"], values["hukou_type"])
                          if registering else None,
                          steps=REGISTRATION_STEPS if registering else None, step=1)
        response.headers["Retry-After"] = str(waiting["retry_after_s"])
        response.headers["Cache-Control"] = "no-store"
        return response

    def _render(self, request, template: str, status: int = 200, **context) -> Response:
        """`idempotency_key`: the hidden field of the forms that take an SMS code, made when
        the form is first shown and kept when it is shown again, so that resending a form
        whose answer never came gets the first answer (rules/sms_codes.py)."""
        key = request.form.get("idempotency_key") or secrets.token_urlsafe(16)
        return render(template, status, dev=self.settings.PLATFORM_ENV == "development",
                      idempotency_key=key, **context)

    def _guest_page(self, request, template: str, status: int = 200, **context) -> Response:
        """A page before sign-in: its forms carry the token bound to the `pre` cookie, which
        a first visit gets here."""
        presession = security.presession(request, self.settings.secure_cookies)
        fresh = not presession
        if fresh:
            presession = security.new_presession()
        csrf = security.csrf_token(self._csrf_key(), presession, "pre")
        response = self._render(request, template, status, csrf=csrf, **context)
        if fresh:
            security.set_cookie(response, security.PRESESSION_COOKIE, presession,
                                self.settings.secure_cookies)
        return response

    def _member_page(self, request, token: str, template: str, status: int = 200,
                     account: accounts.AccountView | None = None, **context) -> Response:
        """A page for a signed-in family (NOT_AUTHENTICATED sends it back to the start)."""
        account = account or self.accounts.get_account(token)
        csrf = security.csrf_token(self._csrf_key(), token, "session")
        return self._render(request, template, status, account=account, csrf=csrf,
                            service=Service.of_account(account), **context)

    def _check_csrf(self, request, cookie_value: str | None, kind: str) -> None:
        if not security.csrf_valid(self._csrf_key(), cookie_value, kind,
                                   request.form.get(security.CSRF_FIELD)):
            raise DomainError("CSRF_FAILED")

    def _check_guest_csrf(self, request) -> None:
        self._check_csrf(request, security.presession(request, self.settings.secure_cookies),
                         "pre")

    def _signed_in_redirect(self, session: accounts.Session, location: str) -> Response:
        response = redirect(location, 303)
        self._set_session_cookie(response, session.session_token)
        return response

    def _captcha(self, request) -> accounts.Captcha:
        return self.accounts.create_captcha(accounts.CaptchaRequest.parse(
            {"client_ip": self._client_ip(request)}))

    # static files, entrances -------------------------------------------------------------
    @route("GET", "/static/<path:name>")
    def static_file(self, request, name):
        path = (STATIC_DIR / name).resolve()
        if not path.is_relative_to(STATIC_DIR) or not path.is_file() \
                or path.suffix not in STATIC_TYPES:
            raise DomainError("NOT_FOUND")
        response = Response(path.read_bytes(), content_type=STATIC_TYPES[path.suffix])
        response.headers["Cache-Control"] = "public, max-age=86400"
        response.add_etag()
        return response.make_conditional(request)

    @route("GET", "/")
    def index(self, request):
        return self._render(request, "index.html", districts=DISTRICTS)

    @route("GET", "/d/<district>")
    def district(self, request, district):
        district = district_or_404(district)
        services = [Service(district, code) for code in accounts.HUKOU_TYPES]
        return self._render(request, "district.html", district=district, services=services)

    @route("GET", "/special-cases")
    def special_cases(self, request):
        return self._special_cases(request, BY_CODE.get(request.args.get("district", "")))

    def _special_cases(self, request, district: District | None, **context) -> Response:
        return self._render(request, "special_cases.html", district=district,
                            contact=district.as_dict() if district else None,
                            districts=DISTRICTS, **context)

    # sign-in -----------------------------------------------------------------------------
    @route("GET", "/d/<district>/<hukou_type>")
    def login_page(self, request, district, hukou_type):
        return self._login(request, Service.find(district, hukou_type))

    @route("POST", "/d/<district>/<hukou_type>", expensive="accounts")
    def login(self, request, district, hukou_type):
        service = Service.find(district, hukou_type)
        try:
            self._check_guest_csrf(request)
            session = self.accounts.login(accounts.Login.parse({
                **filled(request.form, LOGIN_FIELDS), "client_ip": self._client_ip(request)}))
        except DomainError as error:
            return self._login(request, service, error, typed(request.form, LOGIN_FIELDS))
        return self._signed_in_redirect(session, "/home")

    def _login(self, request, service, error=None, values=None):
        return self._guest_page(request, "login.html", service=service, values=values or {},
                                captcha=self._captcha(request), **refusal(error, LOGIN_FIELDS))

    @route("POST", "/logout")
    def logout(self, request):
        token = self._session_token(request)
        self._check_csrf(request, token, "session")
        self.accounts.logout(token)
        response = redirect("/", 303)
        security.clear_session_cookie(response, self.settings.secure_cookies)
        return response

    # registration ------------------------------------------------------------------------
    @route("GET", "/d/<district>/<hukou_type>/register")
    def register_page(self, request, district, hukou_type):
        service = Service.find(district, hukou_type)
        notice = self.accounts.get_notice()
        args = request.args
        if args.get("step") == "form" and args.get("notice_token") and args.get("agree"):
            return self._registration_form(request, service, notice,
                                           {"notice_token": args["notice_token"]})
        summary = ["请阅读监护人须知，并勾选“我已认真阅读并同意该条款”。"] \
            if args.get("step") == "form" else []
        return self._guest_page(request, "register_notice.html", service=service,
                                notice=notice, summary=summary, steps=REGISTRATION_STEPS,
                                step=0)

    @route("POST", "/d/<district>/<hukou_type>/register", expensive="accounts")
    def register(self, request, district, hukou_type):
        service = Service.find(district, hukou_type)
        form = request.form
        try:
            self._check_guest_csrf(request)
            result = self.accounts.register(accounts.Registration.parse({
                **filled(form, REGISTRATION_FIELDS), "district": service.district.code,
                "hukou_type": service.hukou_type, "privacy_consent": "privacy_consent" in form,
                "client_ip": self._client_ip(request)}))
        except DomainError as error:
            if error.code == "SPECIAL_CASE":
                return self._special_cases(request, service.district, service=service,
                                           from_registration=True)
            return self._registration_form(request, service, self.accounts.get_notice(),
                                           typed(form, REGISTRATION_FIELDS), error,
                                           "privacy_consent" in form
                                           and error.code != "CONSENT_REQUIRED")
        return self._signed_in_redirect(result.session, "/home?registered=1")

    def _registration_form(self, request, service, notice, values, error=None, consent=False):
        notice_url = f"{service.url}/register"
        reload_url = notice_url + "?" + urlencode({"step": "form", "agree": "1",
                                                   "notice_token": values["notice_token"]})
        return self._guest_page(request, "register_form.html", service=service, notice=notice,
                                values=values, consent=consent, captcha=self._captcha(request),
                                options=registration_options(service),
                                steps=REGISTRATION_STEPS, step=1, notice_url=notice_url,
                                reload_url=reload_url,
                                reread=bool(error) and error.code == "NOTICE_NOT_READ",
                                **refusal(error, REGISTRATION_FIELDS + ("privacy_consent",)))

    # forgotten password ----------------------------------------------------------------------
    @route("GET", "/d/<district>/<hukou_type>/forgot")
    def forgot_page(self, request, district, hukou_type):
        return self._forgot(request, Service.find(district, hukou_type))

    @route("POST", "/d/<district>/<hukou_type>/forgot", expensive="accounts")
    def forgot(self, request, district, hukou_type):
        service = Service.find(district, hukou_type)
        try:
            self._check_guest_csrf(request)
            self.accounts.reset_password(accounts.PasswordReset.parse({
                **filled(request.form, RESET_FIELDS), "client_ip": self._client_ip(request)}))
        except DomainError as error:
            return self._forgot(request, service, error, typed(request.form, RESET_FIELDS))
        return self._render(request, "done.html", service=service, title="密码重设成功",
                            message="密码重设成功，请使用新密码登录。",
                            link=(service.url, "返回登录"))

    def _forgot(self, request, service, error=None, values=None):
        return self._guest_page(request, "forgot.html", service=service, values=values or {},
                                captcha=self._captcha(request),
                                **refusal(error, RESET_FIELDS + ("captcha_answer",)))

    # signed in ---------------------------------------------------------------------------
    @route("GET", "/home")
    def home(self, request):
        token = self._session_token(request)
        account = self.accounts.get_account(token)
        return self._member_page(request, token, "home.html", account=account,
                                 journey=self._journey_or_none(account),
                                 registered=request.args.get("registered") == "1",
                                 steps=REGISTRATION_STEPS, step=3)

    def _journey_or_none(self, account: accounts.AccountView) -> dict | None:
        """Enrollment's journey of the family, or None while enrollment is out of reach: the
        page then shows the account and says the progress cannot be shown now."""
        try:
            return journey_of(self.enrollment, account)
        except RpcUnavailable as exc:
            log.warning("journey not shown", extra={"error": str(exc)})
        except DomainError as error:
            if error.code != "SERVICE_UNAVAILABLE":  # enrollment's database is away
                raise
        return None

    @route("GET", "/account/password")
    def password_page(self, request):
        return self._code_form(request, self._session_token(request), "password.html",
                               CHANGE_FIELDS)

    @route("POST", "/account/password", expensive="accounts")
    def change_password(self, request):
        token, refused = self._submit_with_code(request, accounts.AccountsRpc.change_password,
                                                CHANGE_FIELDS)
        if refused:
            return self._code_form(request, token, "password.html", CHANGE_FIELDS, refused)
        return self._member_page(request, token, "done.html", title="密码修改成功",
                                 message="密码修改成功，下次登录时请使用修改后的密码。",
                                 note="为保护账号安全，其他设备上的登录已退出。",
                                 link=("/home", "返回信息采集导航页"))

    @route("GET", "/account/cancel")
    def cancel_page(self, request):
        return self._code_form(request, self._session_token(request), "cancel.html",
                               CANCEL_FIELDS)

    @route("POST", "/account/cancel", expensive="accounts")
    def cancel_account(self, request):
        token, refused = self._submit_with_code(request, accounts.AccountsRpc.cancel_account,
                                                CANCEL_FIELDS)
        if refused:
            return self._code_form(request, token, "cancel.html", CANCEL_FIELDS, refused)
        response = self._render(request, "done.html", title="撤销成功",
                                message="撤销成功。该账号的个人信息已删除，账号不能再登录。",
                                link=("/", "返回首页"))
        security.clear_session_cookie(response, self.settings.secure_cookies)
        return response

    def _submit_with_code(self, request, method: RpcMethod, fields: tuple[str, ...]):
        """A signed-in family's SMS-confirmed form: CSRF check, then the accounts call.
        Returns (session token, the refusal or None)."""
        token = self._session_token(request)
        try:
            self._check_csrf(request, token, "session")
            self.accounts.call(method, method.request.parse({
                **filled(request.form, fields), "session_token": token,
                "client_ip": self._client_ip(request)}))
        except DomainError as error:
            return token, error
        return token, None

    def _code_form(self, request, token, template: str, fields: tuple[str, ...], error=None):
        return self._member_page(request, token, template, captcha=self._captcha(request),
                                 **refusal(error, fields + ("captcha_answer",)))

    # development, unknown pages ------------------------------------------------------------
    @route("GET", "/dev/sms")
    def dev_sms(self, request):
        if self.settings.PLATFORM_ENV != "development":
            raise DomainError("NOT_FOUND")
        messages = [m.model_copy(update={"sent_at": beijing_time(m.sent_at)})
                    for m in self.notify.list_dev_messages(20)]
        return self._render(request, "dev_sms.html", messages=messages)

    @route("*", "/<path:rest>", fallback=True)
    def page_not_found(self, request, rest):
        raise DomainError("NOT_FOUND")
