"""SMS verification codes: issuing limits and the check of a submitted code.

A code is 6 digits from a CSPRNG, stored only as a keyed hash bound to phone and purpose,
valid for `ttl_s`, used once, dead after `max_wrong_tries` wrong answers, superseded by a
newer one. A new code only after `cooldown_s` (per phone; per phone and account reference for
forgot-password), and phones (codes really texted) and client addresses have daily caps.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from common.errors import DomainError

BEIJING = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class CodePolicy:
    ttl_s: int = 300
    cooldown_s: int = 180
    daily_limit_per_phone: int = 10
    daily_limit_per_ip: int = 50
    max_wrong_tries: int = 5


@dataclass(frozen=True)
class IssuedCode:
    digest: bytes
    expires_at: datetime
    wrong_tries: int
    used: bool


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def code_subject(phone: str, purpose: str, code: str) -> str:
    """What the keyed hash covers: a code is only good for its own phone and purpose."""
    return f"{phone}|{purpose}|{code}"


def beijing_day_start(now: datetime) -> datetime:
    """Daily caps reset at midnight Beijing time."""
    local = now.astimezone(BEIJING)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def check_can_issue(policy: CodePolicy, now: datetime, last_issued_at: datetime | None,
                    issued_today_phone: int, issued_today_ip: int) -> None:
    if last_issued_at is not None:
        wait = policy.cooldown_s - (now - last_issued_at).total_seconds()
        if wait > 0:
            raise DomainError("SMS_COOLDOWN", f"请在{int(wait + 0.999)}秒后再获取验证码。",
                              extra={"retry_after_s": int(wait + 0.999)})
    if issued_today_phone >= policy.daily_limit_per_phone or \
            issued_today_ip >= policy.daily_limit_per_ip:
        raise DomainError("SMS_DAILY_LIMIT")


def check_code(policy: CodePolicy, issued: list[tuple[int, IssuedCode]],
               submitted_digest: bytes, now: datetime) -> tuple[str, int | None]:
    """Checks a submitted code against the phone's codes for one purpose, newest first.

    Only the newest code can be used: a new code supersedes the earlier ones, so wrong tries
    always count against the one code that could match. Returns ('ok', its id), ('wrong', its
    id, which counts the try) or ('dead', None) when it is expired, used or out of tries.
    """
    if not issued:
        return "dead", None
    code_id, code = issued[0]
    if code.used or now >= code.expires_at or code.wrong_tries >= policy.max_wrong_tries:
        return "dead", None
    if secrets.compare_digest(code.digest, submitted_digest):
        return "ok", code_id
    return "wrong", code_id


def refuse_code(field: str = "sms_code") -> DomainError:
    return DomainError("SMS_CODE_INVALID", fields={field: "短信验证码错误或已失效，请重新获取。"})
