"""SMS verification codes: issuing limits and the check of a submitted code.

A code is 6 digits from a CSPRNG, stored only as a keyed hash bound to phone and purpose,
valid for `ttl_s`, used once, dead after `max_wrong_tries` wrong answers, superseded by a
newer one. A new code only after `cooldown_s` (per phone; per phone and account reference for
forgot-password), and phones (codes really texted) and client addresses have daily caps.

A retry after an unknown outcome gets the first answer: the action a code completed records on
the spent code a keyed hash of what a retry must repeat (`replay_subject`); the same code with
the same subject within the code's validity is a replay, anything else on a spent code a wrong
try (so a spent code cannot be probed more than `max_wrong_tries` times either).
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
    replay_digest: bytes | None = None  # recorded by the action the code completed


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def code_subject(phone: str, purpose: str, code: str) -> str:
    """What the keyed hash covers: a code is only good for its own phone and purpose."""
    return f"{phone}|{purpose}|{code}"


def replay_subject(purpose: str, subject: str, code: str, idempotency_key: str) -> str:
    """What a replay must repeat: the action, what it acted on (phone and document, phone and
    account reference, or the session), the code and the Idempotency-Key (empty if none)."""
    return f"{purpose}|{subject}|{code}|{idempotency_key}"


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
               submitted_digest: bytes, now: datetime,
               replay_digest: bytes | None = None) -> tuple[str, int | None]:
    """Checks a submitted code against the phone's codes for one purpose, newest first.

    Only the newest code can be used: a new code supersedes the earlier ones, so wrong tries
    always count against the one code that could match. Returns ('ok', its id), ('replay', its
    id) when the code is the spent one and `replay_digest` equals what its action recorded,
    ('wrong', its id, which counts the try; a spent code too) or ('dead', None) when it is
    expired or out of tries.
    """
    if not issued:
        return "dead", None
    code_id, code = issued[0]
    if now >= code.expires_at or code.wrong_tries >= policy.max_wrong_tries:
        return "dead", None
    right = secrets.compare_digest(code.digest, submitted_digest)
    if not code.used:
        return ("ok" if right else "wrong"), code_id
    if right and code.replay_digest is not None and replay_digest is not None and \
            secrets.compare_digest(code.replay_digest, replay_digest):
        return "replay", code_id
    return "wrong", code_id


def refuse_code(field: str = "sms_code") -> DomainError:
    return DomainError("SMS_CODE_INVALID", fields={field: "短信验证码错误或已失效，请重新获取。"})
