"""The 监护人须知 and the 《个人信息保护政策》, and proof that the notice was read long enough.

The notice token is stateless: the time it was issued, signed with a keyed hash. A
registration is refused unless its token is genuine and at least `min_read_s` old.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from common.errors import DomainError

NOTICE_TITLE = "监护人须知"
NOTICE_PARAGRAPHS = [
    "一、本平台用于北京市义务教育阶段适龄儿童入学信息采集，请法定监护人本人如实填报。",
    "二、带“*”的为必填项。注册时填写的基本信息（儿童姓名、证件、出生日期等）提交后不能修改，"
    "请认真核对。",
    "三、适龄儿童户籍和居住地中的任意一项，必须与所选择的入学区一致才能完成注册。",
    "四、一个证件号码只允许注册一个账号；每个监护人手机号码最多允许注册三个账号。",
    "五、密码长度应为8～20位，且必须包括数字、小写字母、大写字母。请妥善保管账号和密码。",
    "六、信息采集顺序与入学次序、入学结果无关，请不必抢先填报。",
    "七、外国籍、港澳籍、北京市户籍超龄儿童等特殊情况，请咨询入学所在区教委。",
]
POLICY_TITLE = "个人信息保护政策"
POLICY_PARAGRAPHS = [
    "本平台依据《中华人民共和国个人信息保护法》处理适龄儿童及其监护人的个人信息。",
    "儿童的个人信息属于敏感个人信息。我们仅为入学信息采集、身份及户籍核验和入学安排之目的，"
    "收集完成上述事项所必需的最少信息。",
    "证件号码、姓名、手机号码、住址等信息加密存储，页面和日志中仅显示部分遮盖的内容；"
    "区教委工作人员查看信息的行为均被记录。",
    "您可以随时撤销账号。撤销后，儿童及监护人的个人信息将被删除，仅保留法律要求的审计记录。",
    "勾选“我已阅读并同意”即表示您作为法定监护人同意上述处理。",
]
MAX_TOKEN_AGE_S = 24 * 3600


def notice_token(key: bytes, now: datetime) -> str:
    issued = str(int(now.timestamp()))
    return f"{issued}.{_sign(key, issued)}"


def check_notice_token(key: bytes, token: str, now: datetime, min_read_s: int) -> None:
    issued, _, signature = token.partition(".")
    if not issued.isdigit() or not hmac.compare_digest(signature, _sign(key, issued)):
        raise _refuse("请重新打开并阅读监护人须知。")
    age = now.timestamp() - int(issued)
    if age > MAX_TOKEN_AGE_S:
        raise _refuse("阅读监护人须知已超过24小时，请重新阅读。")
    if age < min_read_s:
        raise _refuse(f"请认真阅读监护人须知，不少于{min_read_s}秒。")


def _sign(key: bytes, issued: str) -> str:
    return hmac.new(key, f"notice:{issued}".encode(), "sha256").hexdigest()[:32]


def _refuse(message: str) -> DomainError:
    return DomainError("NOTICE_NOT_READ", message, fields={"notice": message})
