"""The OpenAPI 3.1 description of /api/v1, built from the services' contract models.

Every operation lists each status it can answer, with the codes behind it; every error has
the one shape `Error`. A method a path does not have is answered 405 `METHOD_NOT_ALLOWED`
with an `Allow` header (gateway.web), which OpenAPI has no place to declare per path.
"""

from __future__ import annotations

from functools import cache

from common.errors import CATALOG
from gateway import security
from services.accounts import contract as accounts
from services.documents import contract as documents
from services.enrollment import contract as enrollment

SERVER_FILLED = ("client_ip", "session_token", "idempotency_key")  # the last: a header
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "maxLength": 64, "pattern": "^[\\x21-\\x7e]*$"},
    "description": "可选。请求结果未知（如超时）时，用同一键和同一短信验证码重试，得到第一次的结果"
                   "（注册：同一账号与新的会话；重设、修改密码与撤销账号：成功），不会得到"
                   "“已注册”或“验证码已失效”。仅在验证码有效期内，且须为同一证件号码与手机号"
                   "（重设：同一账号与手机号；修改密码、撤销账号：同一会话）。不带此头时，"
                   "完全相同的请求同样如此。"}

QUEUE_TICKET = {
    "name": "X-Queue-Ticket", "in": "header", "required": False,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
    "description": "排队凭据：503 QUEUED 应答中的 queue_ticket。在 retry_after_s 秒后带此头"
                   "重发同一请求（可不带请求体：以排队时的请求为准），保留原排队位置；轮到时"
                   "得到该请求的结果，否则再次得到 503 QUEUED 及更新的位置。凭据只对排队时的"
                   "同一方法与路径有效，用于其他请求时不起作用（按新请求排队）。"
                   "信息采集顺序与入学次序、入学结果无关。"}
# What any operation may answer: a bug (500), overload or a service out of reach (503).
ALWAYS = ("INTERNAL_ERROR", "SERVICE_UNAVAILABLE")
# What reading a JSON body may answer (gateway.api.read_json, the body limit).
BODY = ("MALFORMED_JSON", "JSON_TOO_DEEP", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE",
        "VALIDATION_ERROR")
# The accounts service's per-client limits on the operations that create things.
RATE_LIMITED = ("RATE_LIMITED",)

ERROR = {"$ref": "#/components/schemas/Error"}
NONE, SESSION, SESSION_CSRF = (), ({"session": []},), ({"session": [], "csrf": []},)
# A link from sign-in (or registration) to what the new session may do.
SIGNED_IN_LINKS = {
    "getAccount": {"operationId": "getAccount"},
    "getJourney": {"operationId": "getJourney"},
    "getApplication": {"operationId": "getApplication"},
    **{name: {"operationId": name,
              "parameters": {f"header.{security.CSRF_HEADER}": "$response.body#/csrf_token"}}
       for name in ("logout", "changePassword", "cancelAccount")},
}


# The models the schemas nest, by name, for components/schemas: a schema's own `$defs` would be
# looked up from the document's root, where they are not.
NESTED: dict[str, dict] = {}


def schema_of(model) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    NESTED.update(schema.pop("$defs", {}))
    return schema


def _body_schema(model) -> dict:
    schema = schema_of(model)
    for name in SERVER_FILLED:
        schema.get("properties", {}).pop(name, None)
        if name in schema.get("required", []):
            schema["required"].remove(name)
    return schema


def _op(operation_id: str, method: str, summary: str, body=None, ok: int = 200, errors=(),
        auth=NONE, response: dict | None = None, links: dict | None = None,
        media_type: str = "application/json", headers: dict | None = None,
        queued: bool = False) -> dict:
    """`queued`: served through a waiting room (its route is expensive, gateway.web): may
    answer 503 QUEUED, and takes the ticket back in X-Queue-Ticket."""
    success = {"description": "成功"}
    if response:
        success["content"] = {media_type: {"schema": response}}
    if headers:
        success["headers"] = headers
    if links:
        success["links"] = links
    op = {"operationId": operation_id, "summary": summary, "responses": {str(ok): success}}
    if body is not None:
        op["requestBody"] = {"required": not queued, "content": {"application/json": {
            "schema": _body_schema(body)}}}
        if "idempotency_key" in body.model_fields:
            op["parameters"] = [IDEMPOTENCY_KEY]
        errors = BODY + tuple(errors)
    if queued:
        op["parameters"] = [*op.get("parameters", []), QUEUE_TICKET]
        # the ticket's format; the ticket brought again while it is waiting
        errors = tuple(errors) + ("VALIDATION_ERROR", "QUEUED", "CONCURRENT_UPDATE")
    if auth:
        op["security"] = list(auth)
        errors = ("NOT_AUTHENTICATED",) + tuple(errors)
    if method in security.STATE_CHANGING:  # the Origin check, and the CSRF token if signed in
        errors = tuple(errors) + ("CSRF_FAILED",)
    for code in dict.fromkeys(tuple(errors) + ALWAYS):
        status = str(CATALOG[code][0])
        op["responses"].setdefault(status, {"description": "", "content": {
            "application/json": {"schema": ERROR}}})
        op["responses"][status]["description"] += f"{code}: {CATALOG[code][1]} "
    return {method.lower(): op}


def _session_answer(*extra: str) -> dict:
    properties = {"account": schema_of(accounts.AccountView),
                  "csrf_token": {"type": "string"}, "idle_timeout_s": {"type": "integer"},
                  "absolute_expires_at": {"type": "string"},
                  **{name: {"type": "string"} for name in extra}}
    return {"type": "object", "required": list(properties), "properties": properties}


HISTORY = {"type": "object", "required": ["submissions"],
           "properties": {"submissions": {
               "type": "array", "description": "历次提交，最新的在前；个人信息已遮盖",
               "items": schema_of(enrollment.Submission)}}}
ACCESSES = {"type": "object", "required": ["accesses"],
            "properties": {"accesses": {
                "type": "array",
                "description": "区教委查看本家庭信息的记录（部门、时间、事由），最新的在前",
                "items": schema_of(enrollment.Access)}}}
# Saving or submitting details: the body is checked against the season's field set; each bad
# field is named in VALIDATION_ERROR's `fields` ("guardians.0.phone").
CHANGING_DETAILS = ("APPLICATION_NOT_FOUND", "PHASE_CLOSED", "ALREADY_SUBMITTED",
                    "UNDER_REVIEW", "CONCURRENT_UPDATE")

# The form's download (gateway.web.streamed_file).
DOWNLOAD_HEADERS = {
    "Content-Disposition": {
        "description": "attachment; filename=\"<ASCII 文件名>\"; "
                       "filename*=UTF-8''<UTF-8 百分号编码的中文文件名>（RFC 6266、RFC 5987），"
                       "如 学龄人口信息采集表-27000001-第1版.pdf",
        "schema": {"type": "string"}},
    "Cache-Control": {"description": "private, no-store", "schema": {"type": "string"}}}

OK = {"type": "object", "required": ["ok"], "properties": {"ok": {"const": True},
                                                          "message": {"type": "string"}}}


@cache
def openapi_document(session_cookie: str = security.SESSION_COOKIE) -> dict:
    """`session_cookie`: the session cookie's name, `__Host-sid` when cookies are Secure."""
    paths = _paths()
    return {
        "openapi": "3.1.0",
        "info": {"title": "北京市义务教育入学服务平台 API", "version": "1.0.0",
                 "description": "家长端接口。错误统一为 {code, message, fields?, retry_after_s?}，"
                                "code 为稳定机器码。路径不支持的请求方法返回 405 "
                                "METHOD_NOT_ALLOWED，并以 Allow 头列出支持的方法。"
                                "改变状态的请求若带有其他站点的 Origin（或 Referer）返回 403 "
                                "CSRF_FAILED。耗时较多的请求（注册、登录、修改与重设密码、"
                                "撤销账号、下载信息采集表）在繁忙时排队：503 QUEUED 带 "
                                "queue_position、wait_estimate_s、retry_after_s 与 "
                                "queue_ticket（见 X-Queue-Ticket）。"},
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": session_cookie,
                            "description": "登录或注册成功后设置的会话 Cookie"},
                "csrf": {"type": "apiKey", "in": "header", "name": security.CSRF_HEADER,
                         "description": "登录或注册应答中的 csrf_token"}},
            "schemas": {"Error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string", "enum": sorted(CATALOG)},
                               "message": {"type": "string"},
                               "fields": {"type": "object",
                                          "additionalProperties": {"type": "string"}},
                               "retry_after_s": {"type": "integer", "minimum": 0},
                               "queue_position": {"type": "integer", "minimum": 1},
                               "wait_estimate_s": {"type": "integer", "minimum": 0},
                               "queue_ticket": {"type": "string"}}},
                        **NESTED}},
        "paths": paths,
    }


def _paths() -> dict:
    return {
            "/api/v1/districts": _op("listDistricts", "GET", "18个区级入口、学段与服务类型",
                                     response={"type": "object"}),
            "/api/v1/notice": _op("getNotice", "GET", "监护人须知与个人信息保护政策（含阅读凭据）",
                                  response=schema_of(accounts.Notice)),
            "/api/v1/captchas": _op(
                "createCaptcha", "POST", "获取图片验证码", ok=201, errors=RATE_LIMITED,
                response=schema_of(accounts.Captcha),
                links={name: {"operationId": name,
                              "requestBody": {"captcha_id": "$response.body#/captcha_id"}}
                       for name in ("login", "requestSmsCode")}),
            "/api/v1/sms-codes": _op(
                "requestSmsCode", "POST", "获取短信验证码（修改密码、撤销账号时须登录）",
                accounts.SmsCodeRequest, 201,
                ("CAPTCHA_INVALID", "SMS_COOLDOWN", "SMS_DAILY_LIMIT", "SMS_BUSY")
                + RATE_LIMITED,
                auth=({},) + SESSION_CSRF, response=schema_of(accounts.SmsCodeSent)),
            "/api/v1/accounts": _op(
                "register", "POST", "注册（成功后自动登录）", accounts.Registration, 201,
                ("INVALID_ID_NUMBER", "ID_ALREADY_REGISTERED", "PHONE_ACCOUNT_LIMIT",
                 "DISTRICT_MISMATCH", "AGE_OUT_OF_RANGE", "WEAK_PASSWORD", "PASSWORD_MISMATCH",
                 "NOTICE_NOT_READ", "CONSENT_REQUIRED", "SMS_CODE_INVALID", "SPECIAL_CASE")
                + RATE_LIMITED,
                response=_session_answer("account_no"), links=SIGNED_IN_LINKS, queued=True),
            "/api/v1/sessions": _op(
                "login", "POST", "登录", accounts.Login, 201,
                ("CAPTCHA_INVALID", "INVALID_CREDENTIALS", "ACCOUNT_LOCKED") + RATE_LIMITED,
                response=_session_answer(), links=SIGNED_IN_LINKS, queued=True),
            "/api/v1/sessions/current": _op("logout", "DELETE", "退出登录", auth=SESSION_CSRF,
                                            response=OK),
            "/api/v1/account": {
                **_op("getAccount", "GET", "查看账号（信息已遮盖）", auth=SESSION,
                      response=schema_of(accounts.AccountView)),
                **_op("cancelAccount", "DELETE", "撤销账号", accounts.AccountCancellation,
                      errors=("SMS_CODE_INVALID",), auth=SESSION_CSRF, response=OK,
                      queued=True)},
            "/api/v1/journey": _op(
                "getJourney", "GET", "信息采集导航：各环节状态与下一步（刚注册时为未填写）",
                auth=SESSION, response=schema_of(enrollment.Journey)),
            "/api/v1/application": _op(
                "getApplication", "GET",
                "录入详细信息：注册信息（只读、已遮盖）、状态、本年度的填写项目、已填内容与可进行的操作",
                errors=("APPLICATION_NOT_FOUND",), auth=SESSION,
                response=schema_of(enrollment.DetailsView)),
            "/api/v1/application/draft": _op(
                "saveDraft", "PUT", "暂存（只核对已填内容的格式）", enrollment.DetailsBody,
                errors=CHANGING_DETAILS, auth=SESSION_CSRF,
                response=schema_of(enrollment.ApplicationView)),
            "/api/v1/application/submissions": _op(
                "submitApplication", "POST",
                "提交信息：核对全部必填项与各区要求，保存为新版本并进行身份证及户籍信息核验",
                enrollment.DetailsBody, 201, CHANGING_DETAILS, auth=SESSION_CSRF,
                response=schema_of(enrollment.ApplicationView)),
            "/api/v1/application/submissions/current": _op(
                "withdrawApplication", "DELETE",
                "撤回已提交的信息以便修改（区教委开始审核或采集期结束后不能撤回）",
                errors=("APPLICATION_NOT_FOUND", "PHASE_CLOSED", "NOT_SUBMITTED",
                        "UNDER_REVIEW", "CONCURRENT_UPDATE"),
                auth=SESSION_CSRF, response=schema_of(enrollment.ApplicationView)),
            "/api/v1/application/history": _op(
                "getApplicationHistory", "GET", "提交历史（每次提交为一个版本）",
                errors=("APPLICATION_NOT_FOUND",), auth=SESSION, response=HISTORY),
            "/api/v1/application/accesses": _op(
                "getApplicationAccesses", "GET",
                "谁查看了本家庭的信息：区教委及审核部门、时间与事由（不含工作人员编号）",
                errors=("APPLICATION_NOT_FOUND",), auth=SESSION, response=ACCESSES),
            "/api/v1/application/result": _op(
                "getApplicationResult", "GET",
                "查看入学结果：公布前为本区的公布安排；公布后为入学学校、报到时间与携带材料，"
                "或未安排入学学校时的办理方法",
                errors=("APPLICATION_NOT_FOUND",), auth=SESSION,
                response=schema_of(enrollment.ResultView)),
            "/api/v1/application/form": _op(
                "getApplicationForm", "GET",
                "打印信息采集表：现在能否打印学龄人口信息采集表；不能时说明还缺少什么",
                auth=SESSION, response=schema_of(documents.FormStatus)),
            "/api/v1/application/form.pdf": _op(
                "downloadApplicationForm", "GET",
                "下载学龄人口信息采集表（PDF，分块传输）。页面上的下载地址为 /form.pdf",
                errors=("FORM_NOT_AVAILABLE",), auth=SESSION,
                response={"type": "string", "format": "binary"}, media_type="application/pdf",
                headers=DOWNLOAD_HEADERS, queued=True),
            "/api/v1/account/password": _op(
                "changePassword", "PUT", "修改密码（其他登录会话全部失效）",
                accounts.PasswordChange,
                errors=("SMS_CODE_INVALID", "WEAK_PASSWORD", "PASSWORD_MISMATCH"),
                auth=SESSION_CSRF, response=OK, queued=True),
            "/api/v1/password-resets": _op(
                "resetPassword", "POST", "忘记密码：核验后重设", accounts.PasswordReset,
                errors=("SMS_CODE_INVALID", "RESET_FAILED", "WEAK_PASSWORD",
                        "PASSWORD_MISMATCH"), response=OK, queued=True),
    }
