"""The JSON API (/api/v1). Every handler: check the request, make one call, shape the answer.

Request bodies are the services' contract models minus what the gateway fills in itself
(`client_ip`, `session_token`); unknown fields, wrong types and malformed JSON are 4xx. Calls
go through the contracts' typed clients (`self.accounts.register(Registration) -> Registered`).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate

from common.districts import DISTRICTS
from common.errors import DomainError
from common.services import HEALTH_CHECKED
from gateway import security
from gateway.form_pages import pdf_response
from gateway.journey import journey_of
from gateway.openapi import SERVER_FILLED, openapi_document
from gateway.web import RouteHelpers, json_response, route
from services.accounts import contract as accounts
from services.documents.contract import FormRef
from services.enrollment.contract import AccountRef, DetailsBody, DetailsChange

MAX_JSON_DEPTH = 32  # our bodies nest two deep; the parser recurses once per level
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[{]}")))


def json_depth(raw: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest, brackets inside strings aside.
    Counted before parsing: json.loads recurses per level, so thousands of `[` would
    exhaust the stack (a 500) instead of being refused."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(1 if b in b"[{" else -1 for b in brackets), default=0)


IDEMPOTENCY_HEADER = "Idempotency-Key"


def read_json(request, model, **server_fields):
    """The body as the contract model, with the gateway's own fields added (and the
    Idempotency-Key header, for the models that take one)."""
    if request.mimetype != "application/json":
        raise DomainError("UNSUPPORTED_MEDIA_TYPE")
    raw = request.get_data(cache=False) or b"null"
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise DomainError("JSON_TOO_DEEP")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise DomainError("MALFORMED_JSON") from None
    if not isinstance(body, dict):
        raise DomainError("VALIDATION_ERROR", fields={"body": "应为 JSON 对象。"})
    sneaked = set(SERVER_FILLED) & body.keys()
    if sneaked:
        raise DomainError("VALIDATION_ERROR", fields={k: "不支持该字段。" for k in sneaked})
    body.update(server_fields)
    if "idempotency_key" in model.model_fields:
        body["idempotency_key"] = request.headers.get(IDEMPOTENCY_HEADER, "")
    return model.parse(body)


class ApiRoutes(RouteHelpers):
    """Mixed into GatewayService; `self.accounts`, `self.enrollment`, `self.documents`,
    `self.notify`, `self.services`, `self.settings` are its dependencies. Handler names start
    with `api_`: nameko keys entrypoints by method name."""

    def _signed_in(self, request, state_changing: bool = True) -> str:
        """The session token, after checking the X-CSRF-Token of a state-changing request."""
        token = self._session_token(request)
        if state_changing and not security.csrf_valid(
                self._csrf_key(), token, "session", request.headers.get(security.CSRF_HEADER)):
            raise DomainError("CSRF_FAILED")
        return token

    def _family(self, request, state_changing: bool = False) -> AccountRef:
        """The session's application (NOT_AUTHENTICATED without a live session): enrollment
        trusts the account number it is given, so it only ever comes from accounts."""
        account = self.accounts.get_account(self._signed_in(request, state_changing))
        return AccountRef(account_no=account.account_no)

    def _details_change(self, request) -> DetailsChange:
        body = read_json(request, DetailsBody)
        return DetailsChange(account_no=self._family(request, True).account_no, data=body.data)

    def _session_response(self, session: accounts.Session, status: int,
                          extra: dict | None = None):
        body = {**(extra or {}), "account": session.account.model_dump(mode="json"),
                "csrf_token": security.csrf_token(self._csrf_key(), session.session_token,
                                                  "session"),
                "idle_timeout_s": session.idle_timeout_s,
                "absolute_expires_at": session.absolute_expires_at}
        response = json_response(body, status)
        self._set_session_cookie(response, session.session_token)
        return response

    @route("GET", "/healthz")
    def healthz(self, request):
        checks = {}
        for name in HEALTH_CHECKED:
            try:
                checks[name] = "ok" if self.services(name).ping(timeout=2).ok else "degraded"
            except Exception:  # any failure means "not reachable" for the health check
                checks[name] = "unreachable"
        healthy = all(v == "ok" for v in checks.values())
        return json_response({"status": "ok" if healthy else "degraded", "services": checks},
                             200 if healthy else 503)

    @route("GET", "/api/v1/openapi.json")
    def api_openapi(self, request):
        return json_response(openapi_document(
            security.cookie_name(security.SESSION_COOKIE, self.settings.secure_cookies)))

    @route("GET", "/api/v1/districts")
    def api_districts(self, request):
        return json_response({"districts": [d.as_dict() for d in DISTRICTS],
                              "school_stages": [{"code": "primary", "name": "小学入学服务系统",
                                                 "available": True},
                                                {"code": "junior", "name": "初中入学服务系统",
                                                 "available": False}],
                              "hukou_types": [{"code": k, "name": v + "适龄儿童入学服务"}
                                              for k, v in accounts.HUKOU_TYPES.items()]})

    @route("GET", "/api/v1/notice")
    def api_notice(self, request):
        return json_response(self.accounts.get_notice())

    @route("POST", "/api/v1/captchas")
    def api_new_captcha(self, request):
        return json_response(self.accounts.create_captcha(accounts.CaptchaRequest.parse(
            {"client_ip": self._client_ip(request)})), 201)

    @route("POST", "/api/v1/sms-codes")
    def api_new_sms_code(self, request):
        body = read_json(request, accounts.SmsCodeRequest, client_ip=self._client_ip(request))
        if body.purpose in ("change_password", "cancel_account"):
            body = accounts.SmsCodeRequest.parse(
                {**body.model_dump(), "session_token": self._signed_in(request)})
        return json_response(self.accounts.request_sms_code(body), 201)

    @route("POST", "/api/v1/accounts", expensive="accounts")
    def api_register(self, request):
        body = read_json(request, accounts.Registration, client_ip=self._client_ip(request))
        result = self.accounts.register(body)
        return self._session_response(result.session, 201, {"account_no": result.account_no})

    @route("POST", "/api/v1/sessions", expensive="accounts")
    def api_login(self, request):
        body = read_json(request, accounts.Login, client_ip=self._client_ip(request))
        return self._session_response(self.accounts.login(body), 201)

    @route("DELETE", "/api/v1/sessions/current")
    def api_logout(self, request):
        self.accounts.logout(self._signed_in(request))
        response = json_response({"ok": True})
        security.clear_session_cookie(response, self.settings.secure_cookies)
        return response

    @route("GET", "/api/v1/account")
    def api_account(self, request):
        return json_response(self.accounts.get_account(
            self._signed_in(request, state_changing=False)))

    @route("GET", "/api/v1/journey")
    def api_journey(self, request):
        account = self.accounts.get_account(self._signed_in(request, state_changing=False))
        return json_response(journey_of(self.enrollment, account))

    @route("GET", "/api/v1/application")
    def api_application(self, request):
        return json_response(self.enrollment.get_details(self._family(request)))

    @route("PUT", "/api/v1/application/draft")
    def api_save_draft(self, request):
        return json_response(self.enrollment.save_draft(self._details_change(request)))

    @route("POST", "/api/v1/application/submissions")
    def api_submit(self, request):
        return json_response(self.enrollment.submit(self._details_change(request)), 201)

    @route("DELETE", "/api/v1/application/submissions/current")
    def api_withdraw(self, request):
        return json_response(self.enrollment.withdraw(self._family(request, True)))

    @route("GET", "/api/v1/application/history")
    def api_history(self, request):
        return json_response({"submissions": [
            submission.model_dump(mode="json")
            for submission in self.enrollment.get_history(self._family(request))]})

    @route("GET", "/api/v1/application/accesses")
    def api_accesses(self, request):
        return json_response({"accesses": [
            access.model_dump(mode="json")
            for access in self.enrollment.get_accesses(self._family(request))]})

    @route("GET", "/api/v1/application/result")
    def api_result(self, request):
        return json_response(self.enrollment.get_result(self._family(request)))

    @route("GET", "/api/v1/application/form")
    def api_form_status(self, request):
        return json_response(self.documents.get_form_status(self._form(request)))

    @route("GET", "/api/v1/application/form.pdf", expensive="documents")
    def api_form_pdf(self, request):
        return pdf_response(self.documents.get_form(self._form(request)))

    def _form(self, request) -> FormRef:
        return FormRef(account_no=self._family(request).account_no)

    @route("PUT", "/api/v1/account/password", expensive="accounts")
    def api_change_password(self, request):
        body = read_json(request, accounts.PasswordChange, session_token=self._signed_in(request),
                         client_ip=self._client_ip(request))
        return json_response(self.accounts.change_password(body))

    @route("DELETE", "/api/v1/account", expensive="accounts")
    def api_cancel_account(self, request):
        body = read_json(request, accounts.AccountCancellation,
                         session_token=self._signed_in(request),
                         client_ip=self._client_ip(request))
        self.accounts.cancel_account(body)
        response = json_response({"ok": True, "message": "撤销成功。"})
        security.clear_session_cookie(response, self.settings.secure_cookies)
        return response

    @route("POST", "/api/v1/password-resets", expensive="accounts")
    def api_reset_password(self, request):
        body = read_json(request, accounts.PasswordReset, client_ip=self._client_ip(request))
        self.accounts.reset_password(body)
        return json_response({"ok": True, "message": "密码重设成功，请使用新密码登录。"})

    @route("*", "/api/<path:rest>", fallback=True)
    def api_not_found(self, request, rest):
        raise DomainError("NOT_FOUND")
