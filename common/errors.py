"""The platform's one error shape: a stable machine code, a Chinese message, an HTTP status.

Services raise `DomainError`; it crosses RPC intact (registered with nameko at the edge) and
the gateway turns it into `{"code": ..., "message": ...}` with the status listed here.
"""

from __future__ import annotations

# code -> (HTTP status, default Chinese message)
CATALOG: dict[str, tuple[int, str]] = {
    "VALIDATION_ERROR": (422, "提交的信息有误，请检查标出的项目。"),
    "MALFORMED_JSON": (400, "请求内容不是有效的 JSON。"),
    "JSON_TOO_DEEP": (400, "请求内容嵌套层数过多。"),
    "PAYLOAD_TOO_LARGE": (413, "请求内容过大。"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "请求内容类型不受支持，请使用 application/json。"),
    "NOT_FOUND": (404, "您访问的页面不存在。"),
    "METHOD_NOT_ALLOWED": (405, "不支持该请求方法。"),
    "INVALID_ID_NUMBER": (422, "证件号码无效，请核对后重新输入。"),
    # A document registered by someone else: the district settles it (district_move_document).
    "ID_ALREADY_REGISTERED": (409, "该证件号码已注册，一个证件号码只允许注册一个账号。"
                                   "如该账号并非您本人注册，请携带儿童的户口簿或出生医学证明，"
                                   "联系您所选入学区的区教委（入学所在区教委）核实处理。"),
    "PHONE_ACCOUNT_LIMIT": (409, "该手机号码注册的账号已达上限（3个）。"),
    "DISTRICT_MISMATCH": (422, "适龄儿童户籍或居住地须至少有一项与所选入学区一致。"),
    "AGE_OUT_OF_RANGE": (422, "儿童年龄不符合本年度小学入学条件。"),
    "WEAK_PASSWORD": (422, "密码长度应为8～20位，且必须包括数字、小写字母、大写字母。"),
    "PASSWORD_MISMATCH": (422, "两次输入的密码不一致。"),
    "NOTICE_NOT_READ": (422, "请先认真阅读监护人须知（不少于规定时间）后再提交。"),
    "CONSENT_REQUIRED": (422, "请阅读并同意《个人信息保护政策》。"),
    "CAPTCHA_INVALID": (422, "图片验证码错误或已过期，请换一张后重新输入。"),
    "SMS_CODE_INVALID": (422, "短信验证码错误或已失效。"),
    "SMS_COOLDOWN": (429, "获取验证码过于频繁，请稍后再试。"),
    "SMS_DAILY_LIMIT": (429, "今日获取验证码次数已达上限，请明天再试。"),
    "RATE_LIMITED": (429, "操作过于频繁，请稍后再试。"),
    "SMS_BUSY": (503, "当前获取验证码的人数较多，请稍后再试。您的信息采集顺序不影响入学结果。"),
    "INVALID_CREDENTIALS": (401, "账号或密码错误。"),
    "ACCOUNT_LOCKED": (423, "连续登录失败次数过多，账号已锁定30分钟，请稍后再试。"),
    "NOT_AUTHENTICATED": (401, "请先登录。"),
    "CSRF_FAILED": (403, "页面已过期或请求来源无效，请刷新页面后重试。"),
    "RESET_FAILED": (422, "信息核验未通过，请核对后重新输入。"),
    "SPECIAL_CASE": (422, "该类适龄儿童的入学信息采集事宜请咨询入学所在区教委。"),
    # Enrollment: the family's details and their review (services/enrollment/rules/).
    "PHASE_CLOSED": (409, "当前不在开放时间内。"),  # raised with the phase's dates
    # Also for the moment after registration, before enrollment has opened the application.
    "APPLICATION_NOT_FOUND": (404, "未找到入学信息。刚注册的账号请稍候几秒再刷新页面。"),
    "ALREADY_SUBMITTED": (409, "信息已提交，如需修改请先撤回。"),
    "NOT_SUBMITTED": (409, "信息尚未提交，无需撤回。"),
    "UNDER_REVIEW": (409, "区教委已开始审核，信息不能再撤回或修改。"
                          "如有疑问，请咨询入学所在区教委。"),
    "CONCURRENT_UPDATE": (409, "信息正在被其他操作更新，请刷新页面后重试。"),
    "VERSION_MISMATCH": (409, "该申请已有更新的版本，请刷新后重试。"),
    "REVIEW_NOT_APPLICABLE": (409, "本市户籍适龄儿童无需进行入学资格审核。"),
    "REVIEW_NOT_READY": (409, "该申请尚未提交，或身份证及户籍信息尚未验证通过，暂不能审核。"),
    "REVIEW_NOT_STARTED": (409, "尚未开始审核该申请。"),
    "REVIEW_FINISHED": (409, "该申请的入学资格审核已经完成。"),
    # District systems (services/enrollment/district_client.py).
    "DISTRICT_UNKNOWN": (403, "调用方不是已登记的区教委系统。"),
    "NOT_YOUR_DISTRICT": (403, "本区没有该账号的申请，无权查看或办理。"),
    "WRONG_AGENCY": (422, "该审核项目应由对应的审核部门审核。"),
    "SCHOOL_UNKNOWN": (422, "本区没有该学校。"),
    "NOT_READY_FOR_PREREGISTRATION": (409, "该儿童尚不能进行学校入学预登记：本市户籍须身份证及户籍"
                                           "信息验证通过，非本市户籍须入学资格审核通过。"),
    "FORM_SUPERSEDED": (409, "该信息采集表不是最新版本，请家长重新打印最新的学龄人口信息采集表。"),
    "NOT_PREREGISTERED": (409, "该儿童未在该校进行入学预登记。"),
    "PLACEMENT_APPROVED": (409, "该儿童的入学预登记已经区教委审核通过，不能再更改。"),
    "RESULTS_PUBLISHED": (409, "本区入学结果已经公布，不能再更改。"),
    "VERIFICATION_NOT_OVERRIDABLE": (409, "该申请当前的核验结果不能更改（未提交、版本不符，"
                                          "或入学资格审核已完成）。"),
    "IDEMPOTENCY_KEY_REUSED": (409, "该幂等键已用于内容不同的批量请求，请使用新的幂等键。"),
    "SCHOOL_FILE_INVALID": (422, "学校文件格式不正确。"),
    # Documents: the 学龄人口信息采集表 (services/documents/).
    "FORM_NOT_AVAILABLE": (409, "暂不能打印学龄人口信息采集表。"),  # raised with what is missing
    "FORM_TOKEN_INVALID": (404, "无法核验该信息采集表：二维码无效或已被篡改。"),
    # Raised with retry_after_s, queue_position, wait_estimate_s and queue_ticket (gateway.web).
    "QUEUED": (503, "当前使用人数较多，您已进入排队，请不要关闭页面，轮到您时会自动继续。"
                    "信息采集顺序与入学次序、入学结果无关。"),
    "SERVICE_UNAVAILABLE": (503, "系统繁忙，请稍后再试。您的信息采集顺序不影响入学结果。"),
    "INTERNAL_ERROR": (500, "系统异常，请稍后再试。您已提交的信息不会丢失。"),
}


class DomainError(Exception):
    """A refusal the user can act on. `fields` maps form field names to Chinese messages."""

    def __init__(self, code: str, message: str | None = None, fields: dict | None = None,
                 extra: dict | None = None):
        if code not in CATALOG:
            raise ValueError(f"unknown error code {code}")
        message = message or CATALOG[code][1]
        fields = dict(fields or {})
        extra = dict(extra or {})
        if "retry_after_s" in extra:  # crossing RPC turns numbers into text
            extra["retry_after_s"] = int(extra["retry_after_s"])
        super().__init__(code, message, fields, extra)
        self.code, self.message, self.fields, self.extra = code, message, fields, extra

    @property
    def http_status(self) -> int:
        return CATALOG[self.code][0]

    def to_json(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        body.update(self.extra)
        return body

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
