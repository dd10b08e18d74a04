"""The OpenAPI 3.1 description of /api/v1, built from the services' contract models."""

from __future__ import annotations

from functools import cache

from common.errors import CATALOG
from services.accounts import contract as accounts

SERVER_FILLED = ("client_ip", "session_token")


def _body_schema(model) -> dict:
    schema = model.model_json_schema()
    for name in SERVER_FILLED:
        schema.get("properties", {}).pop(name, None)
        if name in schema.get("required", []):
            schema["required"].remove(name)
    return schema


def _op(summary, body=None, ok=200, errors=(), auth=False, csrf=False, response=None):
    op = {"summary": summary, "responses": {
        str(ok): {"description": "成功", **({"content": {"application/json": {
            "schema": response}}} if response else {})}}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _body_schema(body)}}}
    for code in errors:
        status = str(CATALOG[code][0])
        op["responses"].setdefault(status, {"description": "", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
        op["responses"][status]["description"] += f"{code}: {CATALOG[code][1]} "
    if auth:
        op["security"] = [{"session": [], "csrf": []} if csrf else {"session": []}]
    return op


COMMON = ("VALIDATION_ERROR", "MALFORMED_JSON", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE",
          "SERVICE_UNAVAILABLE")


@cache
def openapi_document() -> dict:
    account = accounts.AccountView.model_json_schema()
    return {
        "openapi": "3.1.0",
        "info": {"title": "北京市义务教育入学服务平台 API", "version": "1.0.0",
                 "description": "家长端接口。错误统一为 {code, message}，code 为稳定机器码。"},
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "sid"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"}},
            "schemas": {"Error": {"type": "object", "required": ["code", "message"],
                                  "properties": {"code": {"type": "string"},
                                                 "message": {"type": "string"},
                                                 "fields": {"type": "object"},
                                                 "retry_after_s": {"type": "integer"}}}}},
        "paths": {
            "/api/v1/districts": {"get": _op("18个区级入口、学段与服务类型")},
            "/api/v1/notice": {"get": _op("监护人须知与个人信息保护政策（含阅读凭据）",
                                          response=accounts.Notice.model_json_schema())},
            "/api/v1/captchas": {"post": _op("获取图片验证码", ok=201,
                                             response=accounts.Captcha.model_json_schema())},
            "/api/v1/sms-codes": {"post": _op(
                "获取短信验证码", accounts.SmsCodeRequest, 201,
                COMMON + ("CAPTCHA_INVALID", "SMS_COOLDOWN", "SMS_DAILY_LIMIT", "SMS_UNAVAILABLE",
                          "NOT_AUTHENTICATED", "CSRF_FAILED"),
                response=accounts.SmsCodeSent.model_json_schema())},
            "/api/v1/accounts": {"post": _op(
                "注册（成功后自动登录）", accounts.Registration, 201,
                COMMON + ("INVALID_ID_NUMBER", "ID_ALREADY_REGISTERED", "PHONE_ACCOUNT_LIMIT",
                          "DISTRICT_MISMATCH", "AGE_OUT_OF_RANGE", "WEAK_PASSWORD",
                          "PASSWORD_MISMATCH", "NOTICE_NOT_READ", "CONSENT_REQUIRED",
                          "SMS_CODE_INVALID", "SPECIAL_CASE"))},
            "/api/v1/sessions": {"post": _op(
                "登录", accounts.Login, 201,
                COMMON + ("CAPTCHA_INVALID", "INVALID_CREDENTIALS", "ACCOUNT_LOCKED"))},
            "/api/v1/sessions/current": {"delete": _op(
                "退出登录", errors=("NOT_AUTHENTICATED", "CSRF_FAILED"), auth=True, csrf=True)},
            "/api/v1/account": {
                "get": _op("查看账号（信息已遮盖）", errors=("NOT_AUTHENTICATED",), auth=True,
                           response=account),
                "delete": _op("撤销账号", accounts.AccountCancellation,
                              errors=COMMON + ("SMS_CODE_INVALID", "NOT_AUTHENTICATED",
                                               "CSRF_FAILED"), auth=True, csrf=True)},
            "/api/v1/account/password": {"put": _op(
                "修改密码（其他登录会话全部失效）", accounts.PasswordChange,
                errors=COMMON + ("SMS_CODE_INVALID", "WEAK_PASSWORD", "PASSWORD_MISMATCH",
                                 "NOT_AUTHENTICATED", "CSRF_FAILED"), auth=True, csrf=True)},
            "/api/v1/password-resets": {"post": _op(
                "忘记密码：核验后重设", accounts.PasswordReset,
                errors=COMMON + ("SMS_CODE_INVALID", "RESET_FAILED", "WEAK_PASSWORD",
                                 "PASSWORD_MISMATCH"))},
        },
    }
