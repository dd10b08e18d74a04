"""SMS verification codes: issuing limits and the check of a submitted code.

A code is 6 digits from a CSPRNG, stored only as a keyed hash bound to phone and purpose,
valid for `ttl_s`, used once, dead after `max_wrong_tries` wrong answers. A phone gets a new
code only after `cooldown_s`, and phones and client addresses have daily caps.
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

    Returns ('ok', id of the matching code), ('wrong', id of the newest live code, which
    counts the try) or ('dead', None) when no code is live (expired, used, or too many wrong
    tries). With the resend cooldown at most one code is live in practice.
    """
    live = [(code_id, code) for code_id, code in issued
            if not code.used and now < code.expires_at
            and code.wrong_tries < policy.max_wrong_tries]
    if not live:
        return "dead", None
    for code_id, code in live:
        if secrets.compare_digest(code.digest, submitted_digest):
            return "ok", code_id
    return "wrong", live[0][0]


def refuse_code(field: str = "sms_code") -> DomainError:
    return DomainError("SMS_CODE_INVALID", fields={field: "短信验证码错误或已失效，请重新获取。"})
